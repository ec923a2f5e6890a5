"""End-to-end tests, one folder per product area (see tests/README.md)."""

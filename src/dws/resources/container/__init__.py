"""Container images as code resources (docs/code-resources.md)."""

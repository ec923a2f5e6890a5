"""Content-addressed object stores: one interface, several backends."""

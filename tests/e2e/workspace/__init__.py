"""CLI tests: the installed `dws` run as a subprocess in temporary directories."""

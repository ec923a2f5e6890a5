"""The `dws` command line: click commands, one module per verb, over ``dws.api``."""

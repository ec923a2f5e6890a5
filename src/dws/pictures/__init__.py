"""Pictures of a workspace as standalone SVG text (pure: no I/O): the lineage graph and
metric charts, shared by the CLI, `dws report` and the web UI."""

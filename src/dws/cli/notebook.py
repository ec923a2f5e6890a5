"""`%load_ext dws` in IPython and Jupyter: the ``%dws`` line magic runs a dws command in the
notebook's process, as the shell would (`%dws status`, `%dws snapshot v3 -m "tuned"`)."""

from __future__ import annotations

import shlex
from typing import Any


def register(ipython: Any) -> None:
    """Give ``ipython`` the ``%dws`` line magic."""
    ipython.register_magic_function(run_line, magic_kind="line", magic_name="dws")


def run_line(line: str) -> int:
    """Run ``dws LINE`` (never asking questions: a notebook has no terminal); its exit code.
    Output and errors print as the command prints them."""
    from dws.cli.main import main

    try:
        main(["--batch", *shlex.split(line)])
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return 0

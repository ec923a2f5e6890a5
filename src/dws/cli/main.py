"""Entry point: global options, command registration, errors -> exit codes."""

from __future__ import annotations

import errno
import sys
import traceback

import click

from dws.cli.commands import LazyGroup
from dws.cli.context import CliState
from dws.cli.output import Output
from dws.model.distribution import DISTRIBUTION

EPILOG = """\b
Exit codes: 0 ok, 1 error, 2 usage, 3 refused to avoid data loss,
4 integrity failure, 5 workspace locked.
"""


@click.group(cls=LazyGroup, epilog=EPILOG, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-C", "directory", default=".", metavar="DIR", help="Run as if started in DIR.")
@click.option("--batch", is_flag=True, help="Never ask questions; no progress bars.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output on stdout.")
@click.option("-v", "--verbose", is_flag=True, help="More detail; tracebacks on errors.")
@click.option("-q", "--quiet", is_flag=True, help="Only errors.")
@click.version_option(package_name=DISTRIBUTION, prog_name="dws")
@click.pass_context
def cli(
    ctx: click.Context, directory: str, batch: bool, as_json: bool, verbose: bool, quiet: bool
) -> None:
    """Data Workspaces: snapshot, restore and share the data, results and code of a
    data science project as one workspace.

    \b
    Example:
      dws init
      dws add local-files data/raw --role source-data
      dws snapshot v1 -m "baseline"
      dws restore v1
    """
    output = Output(json=as_json, quiet=quiet, verbose=verbose, batch=batch)
    ctx.obj = CliState(directory, output)


def main(argv: list[str] | None = None) -> None:
    """Run the CLI and turn dws errors into their exit codes."""
    from dws.errors import DwsError

    verbose = _global_verbose(argv if argv is not None else sys.argv[1:])
    try:
        code = cli.main(args=argv, prog_name="dws", standalone_mode=False)
    except DwsError as exc:
        if verbose:
            traceback.print_exc()
        Output().error(exc.message, exc.details)
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        Output().error("aborted", [])
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        Output().error(_INTERRUPTED, [])
        sys.exit(130)
    except BrokenPipeError:
        sys.exit(1)
    except OSError as exc:
        if verbose:
            traceback.print_exc()
        Output().error(_os_error_text(exc), _os_error_hints(exc))
        sys.exit(1)
    except Exception as exc:
        if verbose:
            traceback.print_exc()
        if _raised_while_interrupted(exc):
            Output().error(_INTERRUPTED, [])
            sys.exit(130)
        Output().error(f"internal error: {exc.__class__.__name__}: {exc} (rerun with -v)", [])
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)


_INTERRUPTED = "interrupted; nothing half-written was recorded (run the command again)"


def _raised_while_interrupted(exc: BaseException) -> bool:
    """Whether Ctrl-C started this exception: cleanup that runs while a KeyboardInterrupt
    unwinds (a thread pool joining a thread the interrupt stopped mid-start) can raise its own
    error, which then hides the interrupt."""
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, KeyboardInterrupt):
            return True
        seen.add(id(cause))
        cause = cause.__context__
    return False


def _global_verbose(args: list[str]) -> bool:
    """Whether -v/--verbose is among dws's own options, before the command name (so
    `dws run -- prog -v` or a command's own -v does not turn on tracebacks)."""
    index = 0
    while index < len(args):
        arg = args[index]
        if arg in ("-v", "--verbose") or (
            arg.startswith("-") and not arg.startswith("--") and "v" in arg and "C" not in arg
        ):
            return True
        if arg == "-C":
            index += 2
            continue
        if not arg.startswith("-") or arg == "--":
            return False
        index += 1
    return False


def _os_error_text(exc: OSError) -> str:
    """``No space left on device: /path`` (the file named when the system names one)."""
    text = exc.strerror or str(exc)
    return f"{text}: {exc.filename}" if exc.filename else text


def _os_error_hints(exc: OSError) -> list[str]:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return ["free some space and run the command again; nothing half-done was recorded"]
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return ["check the permissions of that file and its directory"]
    return []


if __name__ == "__main__":
    main()

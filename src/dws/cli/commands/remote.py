"""dws remote add / remove / list"""

from __future__ import annotations

import click

from dws.cli.context import CliState, json_option, pass_state


@click.group()
def remote() -> None:
    """Configure remotes: directories or s3://bucket/prefix URLs to push to and pull from.

    \b
    Example:
      dws remote add origin s3://team-bucket/projects/churn
      dws remote add backup /mnt/nas/churn-ws
      dws remote list
    """


@remote.command("add")
@click.argument("name")
@click.argument("url")
@click.option(
    "--endpoint-url",
    metavar="URL",
    help="S3-compatible endpoint (default: AWS_ENDPOINT_URL, else AWS itself).",
)
@click.option(
    "--no-check",
    is_flag=True,
    help="Do not contact the remote first (to set it up offline).",
)
@json_option
@pass_state
def add_remote(
    state: CliState, name: str, url: str, endpoint_url: str | None, no_check: bool
) -> None:
    """Add remote NAME at URL (a directory, or s3://bucket/prefix). Credentials never go
    into the workspace: S3 ones come from the AWS chain (environment, ~/.aws). The remote
    is checked first: an S3 bucket must exist and be readable with those credentials, a
    directory must be a remote, empty, or new in an existing directory, and neither may
    hold another workspace.

    \b
    Example:
      dws remote add origin s3://team-bucket/churn --endpoint-url http://minio:9000
    """
    from dws.core.remote.config import normalize_url

    ws = state.open()
    given = url if url.startswith("s3://") else normalize_url(url, state.abspath("."))
    added = ws.add_remote(name, given, endpoint_url=endpoint_url, check=not no_check)
    if state.output.json:
        state.output.emit_json({"name": added.name, **added.to_json()})
        return
    state.output.line(f"Remote {added.name!r} -> {added.url}")


@remote.command("remove")
@click.argument("name")
@json_option
@pass_state
def remove_remote(state: CliState, name: str) -> None:
    """Forget remote NAME (nothing on the remote is touched).

    \b
    Example:
      dws remote remove backup
    """
    removed = state.open().remove_remote(name)
    if state.output.json:
        state.output.emit_json({"name": removed.name, **removed.to_json()})
        return
    state.output.line(f"Removed remote {removed.name!r}")


@remote.command("list")
@json_option
@pass_state
def list_remotes(state: CliState) -> None:
    """List the configured remotes.

    \b
    Example:
      dws remote list --json
    """
    remotes = state.open().remotes()
    if state.output.json:
        state.output.emit_json([{"name": r.name, **r.to_json()} for r in remotes])
        return
    state.output.table(
        ["name", "url", "endpoint"], [[r.name, r.url, r.endpoint_url or ""] for r in remotes]
    )


@remote.command("unlock")
@click.argument("name")
@click.argument("locks", nargs=-1, metavar="[LOCK]...")
@json_option
@pass_state
def unlock_remote(state: CliState, name: str, locks: tuple[str, ...]) -> None:
    """Remove remote NAME's stale locks (not refreshed for 30 minutes) and those of dws
    processes of this machine that are gone; also each LOCK named (as a refusal names
    it: push-… or gc-…): only when you know its process is gone for good.

    \b
    Example:
      dws remote unlock origin
      dws remote unlock origin push-3f2a9c0d1e4b5a69
    """
    report = state.open().unlock_remote(name, list(locks))
    if state.output.json:
        state.output.emit_json(
            {"remote": report.remote, "removed": report.removed, "kept": report.kept}
        )
        return
    state.output.line(f"Removed {len(report.removed)} lock(s) on {report.remote}")
    for line in report.removed:
        state.output.line(f"  removed {line}")
    for line in report.kept:
        state.output.line(f"  kept {line}")

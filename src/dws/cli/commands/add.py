"""dws add"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import click

from dws.cli.context import CliState, json_option, pass_state

if TYPE_CHECKING:
    from dws.api import Workspace


@click.command()
@click.argument("type_name", metavar="TYPE")
@click.argument("location")
@click.option(
    "--role", "-r", required=True, help="source-data|intermediate-data|results|code (or s/i/r/c)."
)
@click.option("--name", help="Resource name (default: derived from the location).")
@click.option(
    "--keep",
    type=click.Choice(["content", "hashes", "versions"]),
    default=None,
    help="'hashes' records hashes only (huge external data); restore then only verifies. "
    "Default: 'content' for local-files, 'versions' for s3 (the bucket keeps the bytes).",
)
@click.option("--create", is_flag=True, help="Create the directory if it does not exist.")
@click.option(
    "--endpoint-url",
    metavar="URL",
    help="s3 only: the S3-compatible server (default: AWS_ENDPOINT_URL, else AWS).",
)
@click.option(
    "--path",
    "clone_path",
    metavar="DIR",
    help="git URL only: where to clone it (default: the workspace directory NAME).",
)
@click.option(
    "--container-tool",
    type=click.Choice(["docker", "podman"]),
    default=None,
    help="container only: the tool that answers for the image (default: DWS_CONTAINER_TOOL, "
    "else the first of docker and podman that is installed and answers).",
)
@json_option
@pass_state
def add(
    state: CliState,
    type_name: str,
    location: str,
    role: str,
    name: str | None,
    keep: str | None,
    create: bool,
    endpoint_url: str | None,
    clone_path: str | None,
    container_tool: str | None,
) -> None:
    """Register a resource of TYPE (local-files, git, s3 or container) at LOCATION.

    A git LOCATION is a repository's top directory, or a URL to clone (file:// too).
    An s3 LOCATION is s3://bucket/prefix/; credentials come from the AWS environment
    or profile and are never recorded. A container LOCATION is an image reference
    (registry/repo:tag, or a local name) in the local store of docker or podman.

    \b
    Examples:
      dws add local-files data/raw --role source-data --name raw
      dws add local-files /mnt/big/imagenet --role s --name images --keep hashes
      dws add local-files results --role results --create
      dws add git . --role code --name project
      dws add git https://github.com/org/lib.git --role code --name lib
      dws add s3 s3://raw-bucket/events/ --role source-data --name events
      dws add local-files notebooks --role code
      dws add container registry.example.com/team/train:cuda12 --role code --name env
    """
    ws = state.open()
    options: dict[str, Any] = {"keep": keep, "create": create, "endpoint_url": endpoint_url}
    if container_tool is not None:
        options["container_tool"] = container_tool
    if clone_path is not None:
        options["path"] = state.abspath(clone_path)
    relative_to = state.abspath(".")
    spec = ws.add_resource(type_name, location, role, name=name, relative_to=relative_to, **options)
    if state.output.json:
        state.output.emit_json(spec.to_json_obj())
    else:
        path, url = spec.params.get("path"), spec.params.get("url") or spec.params.get("ref")
        where = f"{path} (cloned from {url})" if path and url else path or url or location
        state.output.line(
            f"Added {spec.type} resource {spec.name!r} ({spec.role.value}) at {where}"
        )
    _offer_gitignore(state, ws, spec.name)


def _offer_gitignore(state: CliState, ws: Workspace, name: str) -> None:
    """Data directories inside a git repository should be ignored by git: ask on a
    terminal, otherwise say which lines to add."""
    out = state.output
    interactive = not out.batch and sys.stdin.isatty() and sys.stderr.isatty()
    for suggestion in ws.ignore_suggestions(name):
        lines = ", ".join(suggestion.lines)
        question = (
            f"git resource {suggestion.resource!r} holds data resource directories git does "
            f"not ignore; add {lines} to {suggestion.file}?"
        )
        if interactive and click.confirm(question, default=True, err=True):
            ws.apply_ignore_suggestion(suggestion)
            out.note(f"added {lines} to {suggestion.file}", "green")
        elif not interactive:
            out.note(
                f"suggestion: add {lines} to {suggestion.file} so that git ignores the data "
                f"inside the git resource {suggestion.resource!r}"
            )

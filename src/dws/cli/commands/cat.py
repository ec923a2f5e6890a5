"""dws cat"""

from __future__ import annotations

import io
import os
import shutil
import sys
from typing import BinaryIO

import click

from dws.cli.context import CliState, pass_state
from dws.cli.reading import endpoint_option, remote_option, snapshot_files
from dws.cli.targets import split_target

BLOCK = 1 << 20


@click.command()
@click.argument("target", metavar="SNAPSHOT:PATH")
@remote_option
@endpoint_option
@pass_state
def cat(state: CliState, target: str, remote: str | None, endpoint_url: str | None) -> None:
    """Write the recorded bytes of one file of a snapshot to stdout.

    The bytes are checked against the file's content id before they are written (exit
    code 4 when they do not match). Nothing is restored.

    \b
    Examples:
      dws cat v1:data/raw/train.csv | head
      dws cat HEAD:results/metrics.json
      dws cat --remote s3://bucket/project v2:data/features/part-0.parquet > part-0.parquet
    """
    ref, path = split_target(target, need_path=True)
    with snapshot_files(state, ref, remote, endpoint_url) as files, files.open(path) as handle:
        _stream(handle)


def _stream(handle: BinaryIO) -> None:
    """Copy ``handle`` to stdout: in the kernel when it is a file of its own, else in
    blocks."""
    sys.stdout.flush()
    out = getattr(sys.stdout, "buffer", None)
    if out is None:  # a text-only stream (a notebook's output): the bytes as UTF-8 text
        while block := handle.read(BLOCK):
            sys.stdout.write(block.decode("utf-8", "replace"))
        return
    try:
        source = handle.fileno()
    except (OSError, io.UnsupportedOperation):
        shutil.copyfileobj(handle, out, BLOCK)
        out.flush()
        return
    out.flush()
    offset = handle.tell()
    target = out.fileno()
    while True:
        try:
            sent = os.sendfile(target, source, offset, 1 << 30)
        except OSError:  # a destination sendfile cannot write to
            handle.seek(offset)
            shutil.copyfileobj(handle, out, BLOCK)
            out.flush()
            return
        if sent == 0:
            return
        offset += sent

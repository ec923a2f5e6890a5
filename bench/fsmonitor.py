#!/usr/bin/env python3
"""Prototype: what a file-system monitor (Linux inotify) would buy `dws status` on a huge tree.

Not part of dws. It measures, in one process, the three costs that decide whether an
inotify-based monitor (like git's fsmonitor daemon or watchman) is worth building:

1. setting up a watch on every directory of a tree (a daemon pays this once);
2. after some files change, reading the events and reducing them to the set of directories
   that changed;
3. a stat pass over only those directories, against the stat pass over the whole tree that
   a scan does today.

Usage: python bench/fsmonitor.py [--files N] [--dirs D] [--change PERCENT] [--work-dir DIR]
"""

from __future__ import annotations

import argparse
import ctypes
import os
import random
import shutil
import struct
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
IN_MODIFY, IN_ATTRIB, IN_CLOSE_WRITE = 0x2, 0x4, 0x8
IN_MOVED_FROM, IN_MOVED_TO, IN_CREATE, IN_DELETE = 0x40, 0x80, 0x100, 0x200
IN_Q_OVERFLOW, IN_NONBLOCK = 0x4000, 0o4000
MASK = IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE | IN_MOVED_FROM | IN_MOVED_TO | IN_CREATE | IN_DELETE
EVENT = struct.Struct("iIII")  # wd, mask, cookie, len (then the name, padded)

libc = ctypes.CDLL(None, use_errno=True)


def build(root: Path, files: int, dirs: int) -> None:
    """``files`` tiny files over ``dirs`` directories (content: a function of the name)."""
    per_dir = -(-files // dirs)
    for n in range(files):
        directory = root / f"d{n // per_dir:04d}"
        if n % per_dir == 0:
            directory.mkdir(parents=True, exist_ok=True)
        (directory / f"f{n:07d}").write_bytes(f"{n}\n".encode())


def stat_pass(directories: list[str]) -> int:
    """lstat every entry of these directories, as a scan's listing does; return the count."""
    count = 0
    for directory in directories:
        with os.scandir(directory) as listing:
            for entry in listing:
                entry.stat(follow_symlinks=False)
                count += 1
    return count


def watch_all(fd: int, directories: list[str]) -> dict[int, str]:
    watches: dict[int, str] = {}
    for directory in directories:
        wd = libc.inotify_add_watch(fd, os.fsencode(directory), MASK)
        if wd < 0:
            raise OSError(ctypes.get_errno(), f"inotify_add_watch {directory}")
        watches[wd] = directory
    return watches


def drain(fd: int, watches: dict[int, str]) -> tuple[set[str], set[str], int, bool]:
    """(directories with changes, paths named by the events, events read, overflowed)."""
    dirty: set[str] = set()
    paths: set[str] = set()
    events, overflow = 0, False
    while True:
        try:
            data = os.read(fd, 1 << 20)
        except BlockingIOError:
            return dirty, paths, events, overflow
        offset = 0
        while offset < len(data):
            wd, mask, _, length = EVENT.unpack_from(data, offset)
            name = data[offset + EVENT.size : offset + EVENT.size + length].rstrip(b"\0")
            offset += EVENT.size + length
            events += 1
            if mask & IN_Q_OVERFLOW:
                overflow = True
            elif wd in watches:
                dirty.add(watches[wd])
                paths.add(os.path.join(watches[wd], os.fsdecode(name)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=1_000_000)
    parser.add_argument("--dirs", type=int, default=1000)
    parser.add_argument("--change", type=float, default=1.0, help="percent of files rewritten")
    parser.add_argument("--work-dir", type=Path, default=HERE / ".work" / "fsmonitor")
    args = parser.parse_args()
    tree = args.work_dir / f"tree-{args.files}-{args.dirs}"
    if not tree.exists():
        started = time.perf_counter()
        build(tree.with_suffix(".partial"), args.files, args.dirs)
        tree.with_suffix(".partial").rename(tree)
        print(f"built {args.files:,} files in {time.perf_counter() - started:.1f} s")
    directories = sorted(str(p) for p in tree.iterdir() if p.is_dir())

    started = time.perf_counter()
    entries = stat_pass(directories)
    full = time.perf_counter() - started

    fd = libc.inotify_init1(IN_NONBLOCK)
    if fd < 0:
        raise SystemExit(f"inotify_init1 failed (errno {ctypes.get_errno()})")
    try:
        started = time.perf_counter()
        watches = watch_all(fd, directories)
        setup = time.perf_counter() - started

        rng = random.Random(1)
        changed = max(1, int(args.files * args.change / 100))
        per_dir = -(-args.files // args.dirs)
        for _ in range(changed):
            n = rng.randrange(args.files)
            path = tree / f"d{n // per_dir:04d}" / f"f{n:07d}"
            path.write_bytes(f"changed {rng.random()}\n".encode())

        started = time.perf_counter()
        dirty, paths, events, overflow = drain(fd, watches)
        reading = time.perf_counter() - started
        started = time.perf_counter()
        dirty_entries = stat_pass(sorted(dirty))
        partial = time.perf_counter() - started
        started = time.perf_counter()
        for path in paths:
            os.lstat(path)
        named = time.perf_counter() - started
    finally:
        os.close(fd)

    print(f"{args.files:,} files in {len(directories):,} directories; {changed:,} rewritten")
    print(f"stat pass over everything:      {full:7.3f} s ({entries:,} entries)")
    print(f"inotify watches set up:         {setup:7.3f} s ({len(watches):,} watches)")
    print(
        f"events read and reduced:        {reading:7.3f} s "
        f"({events:,} events, overflow: {overflow})"
    )
    print(
        f"stat pass over dirty dirs only: {partial:7.3f} s "
        f"({len(dirty):,} dirs, {dirty_entries:,} entries)"
    )
    print(f"lstat of the paths events named: {named:6.3f} s ({len(paths):,} paths)")
    if not os.environ.get("KEEP"):
        shutil.rmtree(tree)


if __name__ == "__main__":
    main()

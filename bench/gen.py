#!/usr/bin/env python3
"""Deterministic workload generator for the snapshot/restore benchmarks.

Usage:
  gen.py large  DIR [--seed N]   8 files x 128 MiB of random bytes (1 GiB)
  gen.py many   DIR [--seed N]   50,000 files x 2 KiB in 500 subdirectories (~98 MiB)
  gen.py flat   DIR [--seed N]   100,000 files of 200-3,000 random bytes, all in DIR/imgs/
                                 (~153 MiB)
  gen.py mutate DIR [--seed N]   rewrite 1% of the files (same size, new content),
                                 add 0.5% new files, delete 0.5% (at least 1 rewrite;
                                 adds and deletes are rounded, so may be 0 for tiny trees)
  gen.py manifest DIR            print "<md5>  <size>  <relpath>" for every file (sorted)

`--count N` shrinks or grows `large`, `many` and `flat`, `--size BYTES` `large` and `many`
(the smoke run uses them); with the defaults the trees are the standard workloads. A `flat`
tree of N files is the first N files of the full one, byte for byte.

Everything is a pure function of (mode, seed, parameters, existing tree): two runs with the
same arguments on the same input produce byte-identical trees. Names starting with a dot
(files and directories) are ignored by `mutate` and `manifest`, so a tool's metadata inside
the tree does not disturb them.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import sys

KiB = 1 << 10
MiB = 1 << 20

LARGE_COUNT = 8
LARGE_SIZE = 128 * MiB
MANY_COUNT = 50_000
MANY_SIZE = 2 * KiB
FILES_PER_DIR = 100
FLAT_COUNT = 100_000
FLAT_MIN = 200
FLAT_MAX = 3000


def _write(path: str, data: bytes) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def gen_large(root: str, seed: int, count: int = LARGE_COUNT, size: int = LARGE_SIZE) -> None:
    """`count` files of `size` random bytes each: blob_00.bin, blob_01.bin, ..."""
    rng = random.Random(seed)
    for i in range(count):
        _write(os.path.join(root, f"blob_{i:02d}.bin"), rng.randbytes(size))


def gen_many(root: str, seed: int, count: int = MANY_COUNT, size: int = MANY_SIZE) -> None:
    """`count` files of `size` bytes, 100 per directory: d000/f00000.dat, ..."""
    rng = random.Random(seed)
    # one big random buffer sliced into files is much faster than one call per file
    buf = rng.randbytes(count * size)
    n = 0
    d = 0
    while n < count:
        sub = os.path.join(root, f"d{d:03d}")
        os.makedirs(sub, exist_ok=True)
        for _ in range(min(FILES_PER_DIR, count - n)):
            with open(os.path.join(sub, f"f{n:05d}.dat"), "wb") as f:
                f.write(buf[n * size : (n + 1) * size])
            n += 1
        d += 1


def gen_flat(root: str, seed: int, count: int = FLAT_COUNT) -> None:
    """`count` files of FLAT_MIN..FLAT_MAX random bytes in one directory: imgs/000000.bin, ...

    Per file, one `randint` for the size, then the bytes, from one generator: the same as
    the shared workload generator's `flat` tree.
    """
    rng = random.Random(seed)
    sub = os.path.join(root, "imgs")
    os.makedirs(sub, exist_ok=True)
    for i in range(count):
        with open(os.path.join(sub, f"{i:06d}.bin"), "wb") as f:
            f.write(rng.randbytes(rng.randint(FLAT_MIN, FLAT_MAX)))


def list_files(root: str) -> list[str]:
    """Relative paths of all files under `root`, sorted, skipping dot-names."""
    out: list[str] = []
    for dp, dn, fn in os.walk(root):
        dn[:] = sorted(d for d in dn if not d.startswith("."))
        for f in fn:
            if f.startswith("."):
                continue
            out.append(os.path.relpath(os.path.join(dp, f), root))
    out.sort()
    return out


def mutate(root: str, seed: int) -> tuple[int, int, int, int]:
    """Rewrite 1% of the files, add 0.5%, delete 0.5%; returns (files, rewritten, added,
    deleted)."""
    rng = random.Random(seed * 1_000_003 + 7)
    files = list_files(root)
    n = len(files)
    n_rw = max(1, round(n * 0.01))
    n_add = round(n * 0.005)
    n_del = round(n * 0.005)
    picked = rng.sample(files, n_rw + n_del)
    rewrite, delete = picked[:n_rw], picked[n_rw:]
    for rel in rewrite:
        p = os.path.join(root, rel)
        data = rng.randbytes(os.path.getsize(p))
        # replace, never write through: hardlinked or reflinked copies stay intact
        os.remove(p)
        with open(p, "wb") as f:
            f.write(data)
    templates = rng.sample(files, n_add) if n_add else []
    for i, rel in enumerate(templates):
        size = os.path.getsize(os.path.join(root, rel))
        base, ext = os.path.splitext(rel)
        newrel = f"{base}_new{seed}_{i}{ext}"
        _write(os.path.join(root, newrel), rng.randbytes(size))
    for rel in delete:
        os.remove(os.path.join(root, rel))
    return n, n_rw, n_add, n_del


def manifest_lines(root: str) -> list[str]:
    """One "<md5>  <size>  <relpath>" line per file, sorted by path."""
    lines: list[str] = []
    for rel in list_files(root):
        h = hashlib.md5()
        p = os.path.join(root, rel)
        with open(p, "rb") as f:
            for chunk in iter(lambda: f.read(MiB), b""):
                h.update(chunk)
        lines.append(f"{h.hexdigest()}  {os.path.getsize(p)}  {rel}")
    return lines


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("mode", choices=["large", "many", "flat", "mutate", "manifest"])
    ap.add_argument("dir")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--count", type=int, default=None, help="number of files (large, many, flat)")
    ap.add_argument("--size", type=int, default=None, help="bytes per file (large, many)")
    a = ap.parse_args(argv)
    if a.mode == "flat" and a.size is not None:
        ap.error("--size does not apply to flat (its files are 200-3,000 bytes)")
    if a.mode in ("large", "many", "flat"):
        if os.path.exists(a.dir) and os.listdir(a.dir):
            print(f"refusing to write into non-empty {a.dir}", file=sys.stderr)
            return 1
        os.makedirs(a.dir, exist_ok=True)
        if a.mode == "large":
            gen_large(a.dir, a.seed, a.count or LARGE_COUNT, a.size or LARGE_SIZE)
        elif a.mode == "flat":
            gen_flat(a.dir, a.seed, a.count or FLAT_COUNT)
        else:
            gen_many(a.dir, a.seed, a.count or MANY_COUNT, a.size or MANY_SIZE)
    elif a.mode == "mutate":
        n, n_rw, n_add, n_del = mutate(a.dir, a.seed)
        print(
            f"mutate: files={n} rewritten={n_rw} added={n_add} deleted={n_del}",
            file=sys.stderr,
        )
    else:
        out = sys.stdout
        for line in manifest_lines(a.dir):
            out.write(line + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

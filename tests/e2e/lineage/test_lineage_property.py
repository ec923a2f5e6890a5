"""Property: the lineage invariant over random small pipelines.

Each example builds a fresh workspace laid out like the ``pipeline`` fixture (raw =
data/raw source-data, features = data/features intermediate-data, results = results, the
workspace itself the git code resource) and applies 3-8 random operations: steps through
`dws run` that sum the integers of one or two files into a file or into part files of a
new directory (paths on the command line, or fixed inside a script that is committed or
not, or inline with `-c`), in-place updates, moves, failing steps that leave a partial
output, hand edits and additions of source data, a symlink in the source data re-pointed
between files, hand-made files among the intermediate data, `dws rerun` and
`dws clean --stale`. Then:

1. every successful run record names exactly the outputs the step's function computes
   from the input versions the record names (looked up by content id among every content
   the test made or saw): a record never names bytes the step did not read, nor outputs
   it did not write, nor data inputs other than the paths it read (and the files its
   symlinks lead to); every record, failed ones too, names the script it ran with its
   bytes, removals only for a move, and nothing unexplained, unstable or unobserved;
2. every output present now that `dws status` does not list as stale is what its step
   computes from the current contents of the paths it reads (an in-place update or a move
   is followed to the producer of the version it consumed);
3. `dws clean --stale` deletes only stale intermediate outputs a run wrote, never a file
   made by hand, and touches nothing else; `dws rerun` that refuses (exit 3) runs nothing
   and changes nothing.

`DWS_PROPERTY_EXAMPLES` sets the number of examples (12 by default). A bug found this way
is kept below as a plain test.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from blake3 import blake3
from hypothesis import HealthCheck, given, settings
from hypothesis import event as hypothesis_event
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

import dws
from dws.model.treediff import walk_tree
from dws.store.trees import store_loader
from helpers.cli import run_dws

from .conftest import git, register_pipeline

EXAMPLES = int(os.environ.get("DWS_PROPERTY_EXAMPLES", "12"))
PY = sys.executable
ROOTS = {"raw": "data/raw", "features": "data/features", "results": "results", "code": ""}
DATA = ("data/raw", "data/features", "results")
RUNS = ".dataworkspace/lineage/runs"

# What every step does, given KIND, READS, TARGET and PARTS (the scripts define them).
ENGINE = """\
def total():
    return sum(int(x) for name in READS for x in open(name).read().split())
if KIND == "sum":
    open(TARGET, "w").write(f"{total()}\\n")
elif KIND == "dir":
    t = total()
    os.makedirs(TARGET, exist_ok=True)
    for i in range(PARTS):
        open(os.path.join(TARGET, f"part{i}.txt"), "w").write(f"{t + i}\\n")
elif KIND == "bump":
    values = [int(x) + 1 for x in open(TARGET).read().split()]
    open(TARGET, "w").write(" ".join(map(str, values)) + "\\n")
elif KIND == "move":
    os.rename(READS[0], TARGET)
elif KIND == "fail":
    open(TARGET, "w").write(f"{total() + 1000}\\n")
    sys.exit(1)
"""

# The step that takes everything from its command line: KIND PARTS TARGET READS...
STEP = (
    "import os, sys\n"
    "KIND, PARTS, TARGET, READS = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4:]\n"
    + ENGINE
)


@dataclass(frozen=True)
class Fn:
    """What one step computes: its kind, the paths it reads (workspace-relative, in
    order), its target (a file, or a directory for ``dir``) and its number of parts."""

    kind: str
    reads: tuple[str, ...]
    target: str
    parts: int = 0


def fixed_script(fn: Fn) -> str:
    """The step with its paths fixed inside the code."""
    return (
        "import os, sys\n"
        f"KIND, PARTS, TARGET, READS = {fn.kind!r}, {fn.parts!r}, {fn.target!r}, "
        f"{list(fn.reads)!r}\n" + ENGINE
    )


def ints_text(values: list[int]) -> bytes:
    return (" ".join(map(str, values)) + "\n").encode()


def total(blobs: list[bytes]) -> int:
    return sum(int(x) for data in blobs for x in data.split())


def compute(fn: Fn, read: list[bytes]) -> dict[str, bytes]:
    """What ``fn`` writes (workspace-relative path -> bytes) when it reads ``read``."""
    if fn.kind == "sum":
        return {fn.target: f"{total(read)}\n".encode()}
    if fn.kind == "dir":
        t = total(read)
        return {f"{fn.target}/part{i}.txt": f"{t + i}\n".encode() for i in range(fn.parts)}
    if fn.kind == "bump":
        return {fn.target: ints_text([int(x) + 1 for x in read[0].split()])}
    if fn.kind == "move":
        return {fn.target: read[0]}
    raise AssertionError(f"no function for {fn.kind}")


def blob(data: bytes) -> str:
    return blake3(data).hexdigest()


def ws_path(item: dict[str, Any]) -> str:
    root = ROOTS[item["resource"]]
    return f"{root}/{item['path']}".strip("/") if root else item["path"]


def make_workspace(root: Path) -> None:
    """The layout of the ``pipeline`` fixture, with two source files, a symlink between
    them and the command-line step committed."""
    for sub in ("code", "data/raw", "data/features", "results"):
        (root / sub).mkdir(parents=True)
    (root / "code/step.py").write_text(STEP)
    (root / "data/raw/a.txt").write_bytes(b"1 2\n")
    (root / "data/raw/b.txt").write_bytes(b"3\n")
    (root / "data/raw/link.txt").symlink_to("a.txt")
    register_pipeline(root)


def data_manifest(root: Path) -> dict[str, tuple[str, bytes]]:
    """Files and symlinks of the data directories: path -> (kind, bytes or link text)."""
    out: dict[str, tuple[str, bytes]] = {}
    for top in DATA:
        for dirpath, dirnames, filenames in os.walk(root / top):
            for name in sorted(dirnames + filenames):
                full = Path(dirpath) / name
                rel = full.relative_to(root).as_posix()
                if full.is_symlink():
                    out[rel] = ("symlink", os.fsencode(os.readlink(full)))
                elif full.is_file():
                    out[rel] = ("file", full.read_bytes())
    return out


# ---- the operations ------------------------------------------------------------------------

STYLES = ("argv", "script", "committed", "inline")
small_ints = st.lists(st.integers(0, 9), min_size=1, max_size=3)
pick = st.integers(0, 1000)

step_op = st.tuples(
    st.sampled_from(["sum", "dir", "fail"]),
    st.lists(pick, min_size=1, max_size=2),  # what it reads
    st.sampled_from(["features", "results"]),
    st.booleans(),  # overwrite an existing output instead of a new name
    pick,  # which one
    st.integers(1, 2),  # parts of a directory output
    st.sampled_from(STYLES),
)
operation = st.one_of(
    step_op,
    step_op,
    step_op,
    st.tuples(st.just("bump"), pick, st.sampled_from(STYLES)),
    st.tuples(st.just("move"), pick, st.sampled_from(["features", "results"])),
    st.tuples(st.just("edit_raw"), pick, small_ints),
    st.tuples(st.just("edit_raw"), pick, small_ints),
    st.tuples(st.just("add_raw"), small_ints),
    st.tuples(st.just("relink"), pick),
    st.tuples(st.just("hand"), pick, small_ints),
    st.tuples(st.just("rerun"), pick),
    st.tuples(st.just("rerun"), pick),
    st.tuples(st.just("clean")),
)
# a step first, so that the other operations have something to work on
operations = st.builds(
    lambda first, rest: [first, *rest], step_op, st.lists(operation, min_size=2, max_size=7)
)


@dataclass
class Harness:
    """One workspace and what the test knows about it."""

    root: Path
    contents: dict[str, bytes] = field(default_factory=dict)  # content id -> bytes
    fns: dict[tuple[str, ...], Fn] = field(default_factory=dict)  # argv -> function
    hand: dict[str, bytes] = field(default_factory=dict)  # made by hand, never by a run
    known: set[str] = field(default_factory=set)  # run record ids seen so far
    loaded: dict[str, dict[str, Any]] = field(default_factory=dict)  # run id -> record
    flat: dict[str, dict[str, str]] = field(default_factory=dict)  # run id -> its files
    counter: int = 0
    log: list[str] = field(default_factory=list)

    # ---- state ---------------------------------------------------------------------------

    def fresh(self, stem: str) -> str:
        self.counter += 1
        return f"{stem}{self.counter}"

    def see(self) -> None:
        """Remember every content now in the data directories."""
        for _, data in data_manifest(self.root).values():
            self.contents[blob(data)] = data

    def records(self) -> dict[str, dict[str, Any]]:
        """Every run record (they are written once: each is read once)."""
        runs = self.root / RUNS
        for path in runs.glob("*.json") if runs.is_dir() else []:
            if path.stem not in self.loaded:
                self.loaded[path.stem] = json.loads(path.read_text())
        return dict(self.loaded)

    def readable(self) -> list[str]:
        """Files (and the symlink to one) a step may read."""
        return sorted(
            path
            for path, (kind, _) in data_manifest(self.root).items()
            if kind == "file" or (self.root / path).is_file()
        )

    def pipeline_files(self) -> list[str]:
        """Files in features and results that runs made (not made by hand)."""
        return sorted(
            path
            for path, (kind, _) in data_manifest(self.root).items()
            if kind == "file" and not path.startswith("data/raw/") and path not in self.hand
        )

    def write_by_hand(self, path: str, data: bytes) -> None:
        self.contents[blob(data)] = data
        full = self.root / path
        full.parent.mkdir(parents=True, exist_ok=True)
        full.write_bytes(data)

    def dws(self, *args: str) -> Any:
        shown = [f"'<{a.splitlines()[1]}>'" if "\n" in a else a for a in args]
        self.log.append("dws " + " ".join(shown))
        return run_dws(*args, cwd=self.root)

    def stale(self) -> set[str]:
        result = self.dws("--json", "status")
        assert result.code == 0, result.err
        return {item["path"] for item in json.loads(result.out)["stale"]}

    # ---- running steps -------------------------------------------------------------------

    def command(self, fn: Fn, style: str) -> list[str]:
        if style == "argv":
            return [PY, "code/step.py", fn.kind, str(fn.parts), fn.target, *fn.reads]
        if style == "inline":
            return [PY, "-c", fixed_script(fn)]
        name = f"code/{self.fresh('gen')}.py"
        (self.root / name).write_text(fixed_script(fn))
        if style == "committed":
            git(self.root, "add", name)
            git(self.root, "commit", "-qm", name)
        return [PY, name]

    def run_step(self, fn: Fn, style: str) -> None:
        argv = self.command(fn, style)
        self.fns[tuple(argv)] = fn
        self.log.append(f"# {fn} ({style})")
        result = self.dws("--json", "run", "--", *argv)
        expected = 1 if fn.kind == "fail" else 0
        assert result.code == expected, f"exit {result.code}\n{result.err}"

    # ---- the operations ------------------------------------------------------------------

    def apply(self, op: tuple[Any, ...]) -> None:
        kind = op[0]
        if kind in ("sum", "dir", "fail"):
            self.step(*op)
        elif kind == "bump":
            files = self.pipeline_files()
            if files:
                target = files[op[1] % len(files)]
                self.run_step(Fn("bump", (target,), target), op[2])
        elif kind == "move":
            files = self.pipeline_files()
            if files:
                src = files[op[1] % len(files)]
                dst = f"{ROOTS[op[2]]}/{self.fresh('m')}.txt"
                self.run_step(Fn("move", (src,), dst), "inline")
        elif kind == "edit_raw":
            raw = [p for p in self.readable() if p.startswith("data/raw/") and p != LINK]
            path = raw[op[1] % len(raw)]
            self.log.append(f"# edit {path} by hand")
            self.write_by_hand(path, ints_text(op[2]))
        elif kind == "add_raw":
            path = f"data/raw/{self.fresh('r')}.txt"
            self.log.append(f"# add {path} by hand")
            self.write_by_hand(path, ints_text(op[1]))
        elif kind == "relink":
            raw = [p for p in self.readable() if p.startswith("data/raw/") and p != LINK]
            target = os.path.basename(raw[op[1] % len(raw)])
            self.log.append(f"# point {LINK} at {target}")
            (self.root / LINK).unlink()
            (self.root / LINK).symlink_to(target)
        elif kind == "hand":
            self.hand_file(op[1], op[2])
        elif kind == "rerun":
            self.rerun(op[1])
        elif kind == "clean":
            self.clean()
        else:
            raise AssertionError(kind)

    def step(
        self,
        kind: str,
        reads: list[int],
        where: str,
        overwrite: bool,
        which: int,
        parts: int,
        style: str,
    ) -> None:
        readable = self.readable()
        chosen = tuple(dict.fromkeys(readable[i % len(readable)] for i in reads))
        if kind == "dir":
            target = f"{ROOTS[where]}/{self.fresh('d')}"
        else:
            existing = [p for p in self.pipeline_files() if p not in chosen]
            if overwrite and existing:
                target = existing[which % len(existing)]
            else:
                target = f"{ROOTS[where]}/{self.fresh('s')}.txt"
        self.run_step(Fn(kind, chosen, target, parts if kind == "dir" else 0), style)

    def hand_file(self, which: int, values: list[int]) -> None:
        """A file made by hand among the intermediate data: a new name, or a new file
        inside a directory a step made."""
        dirs = sorted(
            {
                os.path.dirname(p)
                for p in self.pipeline_files()
                if os.path.dirname(p) not in ("data/features", "results")
            }
        )
        choices = ["data/features", *dirs]
        path = f"{choices[which % len(choices)]}/{self.fresh('h')}.txt"
        self.log.append(f"# make {path} by hand")
        self.hand[path] = ints_text(values)
        self.write_by_hand(path, self.hand[path])

    def rerun(self, which: int) -> None:
        outputs = sorted(
            {
                ws_path(out)
                for record in self.records().values()
                if record["status"] == "succeeded"
                for out in record["outputs"]
            }
        )
        if not outputs:
            return
        before = data_manifest(self.root)
        runs_before = set(self.records())
        result = self.dws("rerun", outputs[which % len(outputs)])
        event(f"rerun exit {result.code}")
        assert "Traceback" not in result.err, result.err
        if result.code == 3:
            assert set(self.records()) == runs_before, "a refused rerun ran something"
            assert data_manifest(self.root) == before, "a refused rerun changed data"
        else:
            new = [r for i, r in self.records().items() if i not in runs_before]
            assert result.code == 0 or any(r["status"] == "failed" for r in new), (
                f"rerun exited {result.code} with no failed step\n{result.err}"
            )

    def clean(self) -> None:
        stale = self.stale()
        before = data_manifest(self.root)
        written = self.written_files()
        result = self.dws("clean", "--stale")
        assert result.code == 0, result.err
        after = data_manifest(self.root)
        for path, entry in after.items():
            assert before.get(path) == entry, f"clean --stale changed or made {path}"
        for path, data in self.hand.items():
            assert after.get(path) == ("file", data), f"clean --stale removed {path} (by hand)"
        event(f"clean --stale deleted {'some' if before.keys() - after.keys() else 'nothing'}")
        for path in before.keys() - after.keys():
            assert path.startswith("data/features/"), f"clean --stale deleted {path}"
            assert path in stale, f"clean --stale deleted {path}, which was not stale"
            assert (path, blob(before[path][1])) in written, (
                f"clean --stale deleted {path}, which no run wrote with that content"
            )

    # ---- what the records say ------------------------------------------------------------

    def flat_outputs(self, record: dict[str, Any]) -> dict[str, str]:
        """A record's outputs file by file (directory outputs through their tree)."""
        if record["id"] in self.flat:
            return self.flat[record["id"]]
        out: dict[str, str] = {}
        for item in record["outputs"]:
            if item["kind"] == "dir":
                store = dws.Workspace.open(str(self.root))._ws.store
                for path, entry in walk_tree(store_loader(store), item["id"], ws_path(item)):
                    if not entry.is_dir:
                        out[path] = entry.id
            else:
                out[ws_path(item)] = item["id"]
        self.flat[record["id"]] = out
        return out

    def written_files(self) -> set[tuple[str, str]]:
        """(path, content id) of every file a successful run wrote."""
        return {
            pair
            for record in self.records().values()
            if record["status"] == "succeeded"
            for pair in self.flat_outputs(record).items()
        }

    def known_bytes(self, oid: str, what: str) -> bytes:
        assert oid in self.contents, f"{what}: content {oid[:12]} never existed on disk"
        return self.contents[oid]

    def read_version(self, record: dict[str, Any], path: str, depth: int = 0) -> bytes:
        """The bytes of ``path`` the record says the step read (through symlinks)."""
        items = [i for i in record["inputs"] if ws_path(i) == path]
        assert items, f"run {record['id'][:12]} read {path} but its record does not name it"
        (item,) = items
        if item["kind"] == "symlink" and depth < 8:
            text = self.known_bytes(item["id"], f"link {path}").decode()
            return self.read_version(
                record, os.path.normpath(os.path.join(os.path.dirname(path), text)), depth + 1
            )
        assert item["kind"] == "file", f"{path} read as {item['kind']}"
        return self.known_bytes(item["id"], f"input {path}")

    def allowed_inputs(self, record: dict[str, Any], fn: Fn) -> set[str]:
        """The data paths the step reads, and the files its symlinks lead to."""
        allowed: set[str] = set()
        pending = list(fn.reads)
        while pending:
            path = pending.pop()
            if path in allowed:
                continue
            allowed.add(path)
            for item in record["inputs"]:
                if ws_path(item) == path and item["kind"] == "symlink":
                    text = self.known_bytes(item["id"], f"link {path}").decode()
                    pending.append(os.path.normpath(os.path.join(os.path.dirname(path), text)))
        return allowed

    def check_record(self, record: dict[str, Any]) -> None:
        """Check 1: a successful record names what its step computes from what it read."""
        fn = self.fns.get(tuple(record["argv"]))
        assert fn is not None, f"a run nobody started: {record['argv']}"
        label = f"run {record['id'][:12]} of {fn}"
        # one Python process, nothing else touching the files: the recorder saw it all
        assert record["observer"] == "python", label
        for key in ("unexplained", "unstable", "unobserved", "external_code"):
            assert not record.get(key), f"{label}: {key} {record[key]}"
        removed = {ws_path(i): i for i in record.get("removed", [])}
        assert set(removed) == ({fn.reads[0]} if fn.kind == "move" else set()), (
            f"{label} removed {sorted(removed)}"
        )
        if record["argv"][1].endswith(".py"):  # the script ran: its bytes are code input
            script = (self.root / record["argv"][1]).read_bytes()
            code = {i["path"]: i["id"] for i in record["inputs"] if i["resource"] == "code"}
            assert code.get(record["argv"][1]) == blob(script), f"{label}: code {code}"
        if record["status"] != "succeeded":
            assert fn.kind == "fail", f"{fn} failed"
            return
        assert fn.kind != "fail", "a failing step recorded as succeeded"
        data_inputs = {ws_path(i) for i in record["inputs"] if i["resource"] != "code"}
        extra = data_inputs - self.allowed_inputs(record, fn)
        assert not extra, f"{label} names inputs it never read: {sorted(extra)}"
        if fn.kind == "move":
            read = [self.known_bytes(removed[fn.reads[0]]["id"], f"{label} removed")]
        else:
            read = [self.read_version(record, path) for path in fn.reads]
        made = compute(fn, read)
        expected = {path: blob(data) for path, data in made.items()}
        assert self.flat_outputs(record) == expected, (
            f"{label}: outputs {self.flat_outputs(record)} but the inputs it names give {expected}"
        )
        # what it wrote, even where a later step of the same rerun moved or changed it
        self.contents.update((blob(data), data) for data in made.values())

    def check_new_records(self) -> None:
        for run_id, record in sorted(self.records().items(), key=lambda kv: kv[1]["started"]):
            if run_id in self.known:
                continue
            self.known.add(run_id)
            self.check_record(record)
            for path in [*self.flat_outputs(record), *map(ws_path, record.get("removed", []))]:
                self.hand.pop(path, None)

    # ---- staleness -----------------------------------------------------------------------

    def producers(self, path: str, oid: str, exclude: str | None = None) -> list[dict[str, Any]]:
        """Successful runs with an output file ``path`` holding ``oid``, latest first."""
        found = [
            record
            for record in self.records().values()
            if record["status"] == "succeeded"
            and record["id"] != exclude
            and self.flat_outputs(record).get(path) == oid
        ]
        return sorted(found, key=lambda r: (r["ended"], r["id"]), reverse=True)

    def reproduces(
        self, record: dict[str, Any], path: str, data: bytes, seen: frozenset[str]
    ) -> str | None:
        """Why ``record``'s step, run on what is there now, would not give ``data`` at
        ``path`` (None: it would, or it cannot be told)."""
        if record["id"] in seen:
            return None
        seen = seen | {record["id"]}
        fn = self.fns[tuple(record["argv"])]
        if fn.kind in ("sum", "dir"):
            if not all((self.root / p).is_file() for p in fn.reads):
                return None
            now = compute(fn, [(self.root / p).read_bytes() for p in fn.reads])
            if now.get(path) == data:
                return None
            return f"{fn} gives {now.get(path)!r} at {path} from the current inputs, not {data!r}"
        # an in-place update or a move: what it consumed must come from a current run
        source = fn.reads[0]
        items = record.get("removed", []) if fn.kind == "move" else record["inputs"]
        oid = next(i["id"] for i in items if ws_path(i) == source)
        makers = self.producers(source, oid, exclude=record["id"])
        if not makers:
            return None
        problems = [self.reproduces(m, source, self.contents[oid], seen) for m in makers]
        if any(p is None for p in problems):
            return None
        return f"{fn} consumed {source} made by stale runs: {problems[0]}"

    def check_staleness(self) -> None:
        """Check 2: outputs not listed as stale are what their steps make of the inputs
        as they are now."""
        stale = self.stale()
        event(f"stale at the end: {len(stale)}")
        for path, (kind, data) in data_manifest(self.root).items():
            if kind != "file" or path.startswith("data/raw/") or path in stale:
                continue
            makers = self.producers(path, blob(data))
            if makers:
                problem = self.reproduces(makers[0], path, data, frozenset())
                event(f"checked a current output of {self.fns[tuple(makers[0]['argv'])].kind}")
                assert problem is None, f"{path} is not listed as stale, but {problem}"


LINK = "data/raw/link.txt"


def event(text: str) -> None:
    """A hypothesis statistic (--hypothesis-show-statistics), when inside a test."""
    with contextlib.suppress(InvalidArgument):
        hypothesis_event(text)


def run_pipeline(root: Path, ops: list[tuple[Any, ...]]) -> Harness:
    make_workspace(root)
    harness = Harness(root)
    harness.see()
    try:
        for op in ops:
            harness.apply(op)
            harness.see()
            harness.check_new_records()
        harness.check_staleness()
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n--- commands:\n" + "\n".join(harness.log)) from None
    return harness


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(ops=operations)
def test_lineage_invariant_over_random_pipelines(
    ops: list[tuple[Any, ...]], tmp_path: Path
) -> None:
    with tempfile.TemporaryDirectory(dir=tmp_path) as tmp:
        run_pipeline(Path(tmp) / "pipe", ops)


def test_rerun_of_a_current_moved_output_runs_nothing(pipeline: Path) -> None:
    (pipeline / "data/raw/t.txt").write_text("1 2\n")
    ws = Harness(pipeline)
    ws.run_step(Fn("sum", ("data/raw/t.txt",), "data/features/s.txt"), "inline")
    ws.run_step(Fn("move", ("data/features/s.txt",), "data/features/m.txt"), "inline")
    assert ws.stale() == set()
    runs = set(ws.records())
    result = ws.dws("rerun", "data/features/m.txt")
    assert result.code == 0, result.err
    assert set(ws.records()) == runs, f"ran {len(set(ws.records()) - runs)} step(s)\n{result.err}"

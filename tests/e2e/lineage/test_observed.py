"""Lineage by observation: each run record names the bytes a step read, wrote and ran.

Every test recomputes what it checks from the input versions the records name (a tiny
deterministic step: the sum of the numbers in its inputs), or checks a refusal changed
nothing. The scripts name their paths themselves unless a test is about the command line.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from blake3 import blake3

from helpers.cli import run_dws

SUM = """\
import sys
total = 0
for name in sys.argv[1:-1]:
    total += sum(int(x) for x in open(name).read().split())
open(sys.argv[-1], "w").write(f"{total}\\n")
"""

FIXED = """\
total = sum(int(x) for x in open("data/raw/t.csv").read().split())
open("data/features/n.txt", "w").write(f"{total}\\n")
"""


def ok(result: Any) -> Any:
    assert result.code == 0, f"exit {result.code}\n{result.out}\n{result.err}"
    return result


def run(root: Path, *args: str) -> dict[str, Any]:
    """`dws --json run ...`, returning the run record."""
    record: dict[str, Any] = json.loads(ok(run_dws("--json", "run", *args, cwd=root)).out)
    return record


def run_record(root: Path, run_id: str) -> dict[str, Any]:
    path = root / ".dataworkspace/lineage/runs" / f"{run_id}.json"
    loaded: dict[str, Any] = json.loads(path.read_text())
    return loaded


def stale(root: Path) -> list[str]:
    doc = json.loads(ok(run_dws("--json", "status", cwd=root)).out)
    return sorted(item["path"] for item in doc["stale"])


def paths(items: list[dict[str, Any]]) -> set[tuple[str, str]]:
    return {(i["resource"], i["path"]) for i in items}


def blob(data: bytes) -> str:
    return blake3(data).hexdigest()


@pytest.fixture
def ws(pipeline: Path) -> Path:
    (pipeline / "code/sum.py").write_text(SUM)
    (pipeline / "code/fixed.py").write_text(FIXED)
    (pipeline / "data/raw/t.csv").write_text("1 2 3\n")
    (pipeline / "data/raw/u.csv").write_text("10\n")
    return pipeline


def recompute_sum(root: Path, record: dict[str, Any], versions: dict[str, bytes]) -> int:
    """The sum a SUM/FIXED run must have written, from the data input versions its record
    names (``versions``: content id -> bytes seen in the test)."""
    total = 0
    for item in record["inputs"]:
        if item["resource"] in ("raw", "features") and item["kind"] == "file":
            total += sum(int(x) for x in versions[item["id"]].split())
    return total


def test_fixed_paths_are_observed_and_recomputable(ws: Path) -> None:
    record = run(ws, "--", sys.executable, "code/fixed.py")
    assert record["observer"] == "python"
    assert paths(record["inputs"]) >= {("raw", "t.csv"), ("code", "code/fixed.py")}
    assert paths(record["outputs"]) == {("features", "n.txt")}
    versions = {blob(b"1 2 3\n"): b"1 2 3\n"}
    written = (ws / "data/features/n.txt").read_bytes()
    assert record["outputs"][0]["id"] == blob(written)
    assert int(written) == recompute_sum(ws, record, versions)
    (ws / "data/raw/t.csv").write_text("4\n")
    assert stale(ws) == ["data/features/n.txt"]


def test_a_directory_output_claims_only_what_the_run_wrote(ws: Path) -> None:
    parts = ws / "data/features/parts"
    parts.mkdir()
    (parts / "labels.csv").write_text("made by hand\n")
    (parts / "part2.txt").write_text("left over\n")
    script = (
        "import os\n"
        "os.makedirs('data/features/parts', exist_ok=True)\n"
        "open('data/features/parts/part1.txt','w').write(open('data/raw/t.csv').read())\n"
    )
    record = run(ws, "-o", "data/features/parts", "--", sys.executable, "-c", script)
    assert paths(record["outputs"]) == {("features", "parts/part1.txt")}
    assert ("features", "parts/labels.csv") not in paths(record["unexplained"])
    (ws / "data/raw/t.csv").write_text("9\n")
    assert stale(ws) == ["data/features/parts/part1.txt"]
    ok(run_dws("clean", "--stale", cwd=ws))
    assert (parts / "labels.csv").read_text() == "made by hand\n"
    assert (parts / "part2.txt").exists() and not (parts / "part1.txt").exists()


def test_an_output_not_written_is_not_credited(ws: Path) -> None:
    caching = (
        "import os, sys\n"
        "if not os.path.exists('data/features/n.txt'):\n"
        "    open('data/features/n.txt','w').write(open('data/raw/t.csv').read())\n"
    )
    first = run(ws, "-o", "data/features/n.txt", "--", sys.executable, "-c", caching)
    assert paths(first["outputs"]) == {("features", "n.txt")}
    (ws / "data/raw/t.csv").write_text("7\n")
    second = run(ws, "-o", "data/features/n.txt", "--", sys.executable, "-c", caching)
    assert second["outputs"] == []
    assert stale(ws) == ["data/features/n.txt"]  # still made from the old input


def test_same_script_different_inputs_keep_their_chains(ws: Path) -> None:
    s = run(ws, "--", sys.executable, "code/sum.py", "data/raw/t.csv", "data/features/s.txt")
    t = run(ws, "--", sys.executable, "code/sum.py", "data/features/s.txt", "data/features/t.txt")
    assert s["step"] == t["step"] == "sum"
    assert ("features", "s.txt") in paths(t["inputs"])
    assert paths(t["outputs"]) == {("features", "t.txt")}
    (ws / "data/raw/t.csv").write_text("5\n")
    assert stale(ws) == ["data/features/s.txt", "data/features/t.txt"]
    ok(run_dws("rerun", "data/features/t.txt", cwd=ws))
    assert (ws / "data/features/t.txt").read_text() == "5\n"
    assert stale(ws) == []


def test_in_place_update_is_current_and_never_rerun_blindly(ws: Path) -> None:
    copy = "open('data/features/c.txt','w').write(open('data/raw/u.csv').read())"
    bump = "p='data/features/c.txt'; v=int(open(p).read()); open(p,'w').write(f'{v+1}\\n')"
    run(ws, "-n", "copy", "--", sys.executable, "-c", copy)
    record = run(ws, "-n", "bump", "--", sys.executable, "-c", bump)
    assert paths(record["inputs"]) >= {("features", "c.txt")}
    assert paths(record["outputs"]) == {("features", "c.txt")}
    assert (ws / "data/features/c.txt").read_text() == "11\n"
    assert stale(ws) == []  # what the update left is there: current, not stale forever
    # upstream changes: copy runs first, so bump reads what it read before: exact again
    (ws / "data/raw/u.csv").write_text("20\n")
    assert stale(ws) == ["data/features/c.txt"]
    ok(run_dws("rerun", "data/features/c.txt", cwd=ws))
    assert (ws / "data/features/c.txt").read_text() == "21\n"
    assert stale(ws) == []
    # edited by hand: running bump again would add 1 to bytes it never read: refused
    (ws / "data/features/c.txt").write_text("100\n")
    refused = run_dws("rerun", "data/features/c.txt", cwd=ws)
    assert refused.code == 3 and "in place" in refused.err
    assert (ws / "data/features/c.txt").read_text() == "100\n"


def test_imported_module_and_uncommitted_code_are_recorded(ws: Path) -> None:
    (ws / "code/helper.py").write_text("FACTOR = 2\n")
    script = ws / "code/use_helper.py"
    script.write_text(
        "import sys; sys.path.insert(0, 'code'); import helper\n"
        "v = int(open('data/raw/u.csv').read()) * helper.FACTOR\n"
        "open('data/features/h.txt','w').write(f'{v}\\n')\n"
    )
    record = run(ws, "--", sys.executable, "code/use_helper.py")
    assert ("code", "code/helper.py") in paths(record["inputs"])
    helper_id = next(i["id"] for i in record["inputs"] if i["path"] == "code/helper.py")
    assert helper_id == blob(b"FACTOR = 2\n")
    (ws / "code/helper.py").write_text("FACTOR = 2\n# an edit never committed\n")
    edited = run(ws, "--", sys.executable, "code/use_helper.py")
    edited_id = next(i["id"] for i in edited["inputs"] if i["path"] == "code/helper.py")
    ok(run_dws("gc", cwd=ws))  # the code a run ran stays in the store
    import dws

    store = dws.Workspace.open(str(ws))._ws.store
    assert store.get_bytes(edited_id) == b"FACTOR = 2\n# an edit never committed\n"
    assert stale(ws) == []
    (ws / "code/helper.py").write_text("FACTOR = 3\n")
    assert stale(ws) == ["data/features/h.txt"]


def test_code_outside_every_resource_is_external_code(ws: Path, tmp_path: Path) -> None:
    outside = tmp_path / "tools"
    outside.mkdir()
    (outside / "tool.py").write_text(FIXED)
    record = run(ws, "--", sys.executable, str(outside / "tool.py"))
    (external,) = record["external_code"]
    assert external["path"] == str(outside / "tool.py") and external["id"] == blob(FIXED.encode())
    (outside / "tool.py").write_text(FIXED + "\n")
    assert stale(ws) == ["data/features/n.txt"]


def test_symlinks_and_their_targets_are_inputs(ws: Path) -> None:
    raw = ws / "data/raw"
    (raw / "v1").mkdir()
    (raw / "v2").mkdir()
    (raw / "v1/x.csv").write_text("1\n")
    (raw / "v2/x.csv").write_text("2\n")
    (raw / "latest").symlink_to("v1")
    (raw / "a.csv").write_text("3\n")
    (raw / "current.csv").symlink_to("a.csv")
    script = (
        "a = int(open('data/raw/current.csv').read())\n"
        "b = int(open('data/raw/latest/x.csv').read())\n"
        "open('data/features/l.txt','w').write(f'{a + b}\\n')\n"
    )
    record = run(ws, "--", sys.executable, "-c", script)
    assert paths(record["inputs"]) >= {
        ("raw", "current.csv"),
        ("raw", "a.csv"),
        ("raw", "latest"),
        ("raw", "v1/x.csv"),
    }
    (raw / "a.csv").write_text("30\n")
    assert stale(ws) == ["data/features/l.txt"]
    (raw / "a.csv").write_text("3\n")
    assert stale(ws) == []
    (raw / "latest").unlink()
    (raw / "latest").symlink_to("v2")
    assert stale(ws) == ["data/features/l.txt"]


def test_a_later_overwrite_is_an_output_and_failed_runs_produce_nothing(ws: Path) -> None:
    write = "open('results/r.txt','w').write(open('data/raw/{}').read())"
    first = run(ws, "-n", "first", "--", sys.executable, "-c", write.format("t.csv"))
    second = run(ws, "-n", "second", "--", sys.executable, "-c", write.format("u.csv"))
    assert paths(second["outputs"]) == {("results", "r.txt")}
    assert ("results", "r.txt") not in paths(second["inputs"])
    doc = json.loads(ok(run_dws("--json", "lineage", "show", "results/r.txt", cwd=ws)).out)
    assert [p["run"] for p in doc["produced_by"]] == [second["id"]] != [first["id"]]


def test_writing_into_source_data_is_refused_after_the_fact(ws: Path) -> None:
    append = "open('data/raw/t.csv','a').write('4\\n')"
    result = run_dws("run", "-n", "append", "--", sys.executable, "-c", append, cwd=ws)
    assert result.code == 3 and "source data" in result.err
    (record_file,) = (ws / ".dataworkspace/lineage/runs").iterdir()
    record = json.loads(record_file.read_text())
    assert record["status"] == "failed"


def test_deletions_are_recorded(ws: Path) -> None:
    (ws / "data/features/old.txt").write_text("old\n")
    record = run(
        ws, "-n", "rm", "--", sys.executable, "-c", "import os; os.remove('data/features/old.txt')"
    )
    assert paths(record["removed"]) == {("features", "old.txt")}
    assert record["removed"][0]["id"] == blob(b"old\n")


def test_identical_upstream_rerun_leaves_downstream_current(ws: Path) -> None:
    run(ws, "--", sys.executable, "code/sum.py", "data/raw/t.csv", "data/features/s.txt")
    run(ws, "--", sys.executable, "code/sum.py", "data/features/s.txt", "results/f.txt")
    (ws / "data/raw/t.csv").write_text("3 3\n")  # same sum
    assert stale(ws) == ["data/features/s.txt", "results/f.txt"]
    plan = ok(run_dws("rerun", "--dry-run", "results/f.txt", cwd=ws)).out
    assert "only if" in plan
    rerun = ok(run_dws("rerun", "results/f.txt", cwd=ws))
    assert "skipped" in rerun.err or "skipped" in rerun.out
    assert stale(ws) == []
    runs = list((ws / ".dataworkspace/lineage/runs").iterdir())
    assert len(runs) == 3  # the downstream step did not run again


def test_a_step_that_moves_its_input_is_not_stale(ws: Path) -> None:
    (ws / "data/features/s.txt").write_text("6\n")
    move = "import os; os.rename('data/features/s.txt', 'data/features/final.txt')"
    record = run(ws, "-n", "move", "--", sys.executable, "-c", move)
    assert paths(record["removed"]) == {("features", "s.txt")}
    assert paths(record["outputs"]) == {("features", "final.txt")}
    assert stale(ws) == []
    ok(run_dws("clean", "--stale", cwd=ws))
    assert (ws / "data/features/final.txt").read_text() == "6\n"


def test_python_step_refuses_a_missing_input(ws: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import dws

    monkeypatch.chdir(ws)
    workspace = dws.Workspace.open(str(ws))
    with (
        pytest.raises(dws.UsageError, match="does not exist"),
        workspace.step("typo", inputs=["data/featurs"]),
    ):
        pass
    assert not (ws / ".dataworkspace/lineage/runs").exists() or not list(
        (ws / ".dataworkspace/lineage/runs").iterdir()
    )


def test_unexplained_changes_are_credited_to_nobody(ws: Path) -> None:
    script = (
        "import subprocess\n"
        "subprocess.run(['sh', '-c', 'echo 1 > data/features/by-shell.txt'])\n"
        "open('data/features/mine.txt','w').write('2\\n')\n"
    )
    result = ok(run_dws("--json", "run", "--", sys.executable, "-c", script, cwd=ws))
    record = json.loads(result.out)
    assert paths(record["outputs"]) == {("features", "mine.txt")}
    assert paths(record["unexplained"]) == {("features", "by-shell.txt")}
    assert record["unobserved"] == ["sh"]
    assert "not observed: sh" in result.err and "writer unknown" in result.err
    assert "name it with -o PATH" in result.err
    # lineage says what happened: it appeared during this run, by an unobserved write
    shown = ok(run_dws("lineage", "show", "data/features/by-shell.txt", cwd=ws))
    assert "appeared during a run of step" in shown.out and record["id"][:10] in shown.out
    assert "no recorded run produced it" not in shown.out
    doc = json.loads(ok(run_dws("--json", "lineage", "show", "data/features/by-shell.txt",
                                cwd=ws)).out)  # fmt: skip
    assert doc["unobserved_writer"] == record["id"] and doc["produced_by"] == []
    # once it changes again, the run no longer explains it
    (ws / "data/features/by-shell.txt").write_text("changed by hand\n")
    later = ok(run_dws("lineage", "show", "data/features/by-shell.txt", cwd=ws))
    assert "appeared during" not in later.out


def test_python_step_observes_its_own_process(ws: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import dws

    monkeypatch.chdir(ws)
    workspace = dws.Workspace.open(str(ws))
    with workspace.step("inline", outputs=["results/s.txt"]) as step:
        total = sum(int(x) for x in Path("data/raw/t.csv").read_text().split())
        Path("results/s.txt").write_text(f"{total}\n")
    record = step.record
    assert record is not None and record.observer == "python"
    assert ("raw", "t.csv") in {(i.resource, i.path) for i in record.inputs}
    assert [(o.resource, o.path) for o in record.outputs] == [("results", "s.txt")]
    assert [c.path for c in record.external_code] == [__file__]  # this test is the code


def test_a_notebook_cell_is_recorded_as_its_source(
    ws: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import linecache

    import dws

    monkeypatch.chdir(ws)
    cell = (
        "with workspace.step('cell') as step:\n"
        "    open('results/c.txt', 'w').write(open('data/raw/u.csv').read())\n"
    )
    name = "<ipython-input-7-0123456789ab>"
    linecache.cache[name] = (len(cell), None, cell.splitlines(True), name)
    scope: dict[str, Any] = {"workspace": dws.Workspace.open(str(ws))}
    exec(compile(cell, name, "exec"), scope)
    record = scope["step"].record
    (code,) = record.external_code
    assert code.path == name and code.id == blob(cell.encode())
    store = dws.Workspace.open(str(ws))._ws.store
    assert store.get_bytes(code.id) == cell.encode()


def test_a_directory_output_keeps_its_producer_when_another_step_adds_beside_it(
    ws: Path,
) -> None:
    make = (
        "import os; os.makedirs('results/rf0')\n"
        "for n in ('x', 'y'): open(f'results/rf0/{n}.txt', 'w').write(n)\n"
    )
    first = run(ws, "-n", "make", "--", sys.executable, "-c", make)
    assert [(o["path"], o["kind"]) for o in first["outputs"]] == [("rf0", "dir")]
    run(ws, "-n", "add", "--", sys.executable, "-c", "open('results/rf0/z.txt','w').write('z')")
    doc = json.loads(ok(run_dws("--json", "lineage", "runs", cwd=ws)).out)
    assert {r["step"] for r in doc} == {"make", "add"}
    shown = json.loads(ok(run_dws("--json", "lineage", "show", "results/rf0/x.txt", cwd=ws)).out)
    assert [p["step"] for p in shown["produced_by"]] == ["make"]


def test_python_module_steps_are_named_by_module(ws: Path) -> None:
    pkg = ws / "code/pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "total.py").write_text(FIXED)
    result = run_dws(
        "--json", "run", "--", sys.executable, "-m", "pkg.total",
        cwd=ws, env={"PYTHONPATH": str(ws / "code")},
    )  # fmt: skip
    record = json.loads(ok(result).out)
    assert record["step"] == "pkg.total"
    assert ("code", "code/pkg/total.py") in paths(record["inputs"])


def test_code_edited_during_the_run_is_not_credited(ws: Path) -> None:
    """Someone edits the step's code while it runs: the record cannot vouch for it."""
    import subprocess
    import time

    from helpers.common import DWS

    (ws / "code/slow.py").write_text(
        "import os, time\n"
        "open('results/started', 'w').close()\n"
        "while not os.path.exists('results/go'):\n"
        "    time.sleep(0.02)\n"
        "total = sum(int(x) for x in open('data/raw/t.csv').read().split())\n"
        "open('data/features/n.txt', 'w').write(f'{total}\\n')\n"
    )
    command = [DWS, "--json", "run", "--", sys.executable, "code/slow.py"]
    with subprocess.Popen(command, cwd=ws, stdout=subprocess.PIPE, text=True) as proc:
        deadline = time.monotonic() + 60
        while not (ws / "results/started").exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        with open(ws / "code/slow.py", "a") as code:
            code.write("# edited while it ran\n")
        (ws / "results/go").touch()
        out, _ = proc.communicate(timeout=60)
    record = json.loads(out)
    assert ("code", "code/slow.py") in paths(record["unstable"])
    assert ("results", "go") in paths(record["unexplained"])
    assert stale(ws) == ["data/features/n.txt", "results/started"]


def test_an_input_rewritten_while_the_step_reads_it(ws: Path) -> None:
    script = (
        "import subprocess, sys\n"
        "data = open('data/features/s.txt').read()\n"
        "subprocess.run([sys.executable, '-c', "
        "\"open('data/features/s.txt', 'w').write('999\\\\n')\"])\n"
        "open('results/r.txt', 'w').write(data)\n"
    )
    (ws / "data/features/s.txt").write_text("5\n")
    record = run(ws, "-n", "reader", "--", sys.executable, "-c", script)
    assert ("features", "s.txt") in paths(record["inputs"])
    s_input = next(i for i in record["inputs"] if i["path"] == "s.txt")
    assert s_input["id"] == blob(b"5\n")  # the bytes it read, not the ones left after
    # the child that rewrote it was observed too: it is an output of this run
    assert ("features", "s.txt") in paths(record["outputs"])


def test_rerun_keeps_the_observer_and_env_and_sees_new_glob_matches(ws: Path) -> None:
    glob_sum = (
        "import glob, os\n"
        "total = sum(int(open(p).read()) for p in sorted(glob.glob('data/raw/part-*.csv')))\n"
        "open('results/g.txt', 'w').write(f'{total}:{os.environ.get(\"SCALE\", \"-\")}\\n')\n"
    )
    (ws / "data/raw/part-a.csv").write_text("10\n")
    (ws / "data/raw/part-b.csv").write_text("20\n")
    env = {"SCALE": "3"}
    result = run_dws(
        "--json", "run", "-n", "globber", "--env", "SCALE", "--", sys.executable, "-c", glob_sum,
        cwd=ws, env=env,
    )  # fmt: skip
    first = json.loads(ok(result).out)
    assert ("raw", "") in paths(first["inputs"]) or any(
        i["kind"] == "listing" for i in first["inputs"]
    )
    (ws / "data/raw/part-c.csv").write_text("30\n")
    assert stale(ws) == ["results/g.txt"]
    ok(run_dws("rerun", "results/g.txt", cwd=ws))  # SCALE is not set here
    assert (ws / "results/g.txt").read_text() == "60:3\n"
    runs = [json.loads(p.read_text()) for p in (ws / ".dataworkspace/lineage/runs").iterdir()]
    again = max(runs, key=lambda r: r["ended"])
    assert again["observer"] == "python" and again["environment"]["env.SCALE"] == "3"
    assert ("raw", "part-c.csv") in paths(again["inputs"])


def test_rerun_refuses_a_python_recorded_step_before_running_anything(
    ws: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dws

    run(ws, "--", sys.executable, "code/sum.py", "data/raw/t.csv", "data/features/s.txt")
    monkeypatch.chdir(ws)
    workspace = dws.Workspace.open(str(ws))
    with workspace.step("py", outputs=["results/p.txt"]):
        Path("results/p.txt").write_text(Path("data/features/s.txt").read_text())
    (ws / "data/raw/t.csv").write_text("8\n")
    before = (ws / "data/features/s.txt").read_bytes()
    refused = run_dws("rerun", "results/p.txt", cwd=ws)
    assert refused.code == 3 and "Python" in refused.err
    assert (ws / "data/features/s.txt").read_bytes() == before  # sum did not run
    dry_refused = run_dws("rerun", "--dry-run", "results/p.txt", cwd=ws)
    assert dry_refused.code == 3


def test_swap_then_rerun_reads_the_swapped_in_bytes(ws: Path, tmp_path: Path) -> None:
    record = run(ws, "--", sys.executable, "code/fixed.py")
    assert record["outputs"][0]["id"] == blob(b"6\n")
    ok(run_dws("snapshot", "v1", cwd=ws))
    december = tmp_path / "raw-dec"
    december.mkdir()
    (december / "t.csv").write_text("100 200\n")
    (december / "u.csv").write_text("10\n")
    ok(run_dws("swap", "raw", str(december), cwd=ws))
    assert stale(ws) == ["data/features/n.txt"]
    ok(run_dws("rerun", "data/features/n.txt", cwd=ws))
    assert (ws / "data/features/n.txt").read_text() == "300\n"
    runs = [json.loads(p.read_text()) for p in (ws / ".dataworkspace/lineage/runs").iterdir()]
    again = max(runs, key=lambda r: r["ended"])
    t_input = next(i for i in again["inputs"] if (i["resource"], i["path"]) == ("raw", "t.csv"))
    assert t_input["id"] == blob(b"100 200\n")
    assert stale(ws) == []


@pytest.mark.usefixtures("traceable")
def test_strace_sees_writes_into_source_data_and_deletions(ws: Path) -> None:
    (ws / "data/features/old.txt").write_text("old\n")
    result = run_dws(
        "--json", "run", "--trace", "-n", "sh-append", "--",
        "sh", "-c", "echo 4 >> data/raw/t.csv; rm data/features/old.txt",
        cwd=ws,
    )  # fmt: skip
    assert result.code == 3 and "source data" in result.err
    (record_file,) = (ws / ".dataworkspace/lineage/runs").iterdir()
    record = json.loads(record_file.read_text())
    assert record["status"] == "failed" and record["observer"] == "strace"
    assert paths(record["removed"]) == {("features", "old.txt")}


def test_a_failed_open_for_writing_credits_nothing(ws: Path) -> None:
    (ws / "data/features/kept.txt").write_text("kept\n")
    script = (
        "try:\n"
        "    open('data/features/kept.txt', 'x')\n"
        "except FileExistsError:\n"
        "    pass\n"
        "open('data/features/other.txt', 'w').write('1\\n')\n"
    )
    record = run(ws, "--", sys.executable, "-c", script)
    assert paths(record["outputs"]) == {("features", "other.txt")}


def test_a_directory_read_whole_is_one_input(ws: Path) -> None:
    shards = ws / "data/raw/shards"
    shards.mkdir()
    for i in range(70):
        (shards / f"s{i:02}.txt").write_text(f"{i}\n")
    script = (
        "import os\n"
        "d = 'data/raw/shards'\n"
        "total = sum(int(open(f'{d}/{n}').read()) for n in os.listdir(d))\n"
        "open('results/total.txt', 'w').write(f'{total}\\n')\n"
    )
    record = run(ws, "--", sys.executable, "-c", script)
    data_inputs = [i for i in record["inputs"] if i["resource"] == "raw"]
    assert [(i["path"], i["kind"]) for i in data_inputs if i["kind"] != "listing"] == [
        ("shards", "dir")
    ]
    assert (ws / "results/total.txt").read_text() == f"{sum(range(70))}\n"
    (shards / "s05.txt").write_text("5\n")  # same bytes: current
    assert stale(ws) == []
    (shards / "s05.txt").write_text("6\n")
    assert stale(ws) == ["results/total.txt"]


def test_an_observer_that_cannot_see_the_command_says_so(ws: Path) -> None:
    result = run_dws(
        "--json", "run", "--observe", "python", "--",
        "sh", "-c", "cat data/raw/t.csv > data/features/copy.txt",
        cwd=ws,
    )  # fmt: skip
    record = json.loads(ok(result).out)
    assert record["unobserved"] and "did not load" in record["unobserved"][0]
    assert record["outputs"] == []  # nobody observed the write: credited to nobody
    assert paths(record["unexplained"]) == {("features", "copy.txt")}
    assert "not observed" in result.err


def test_an_unknown_observer_is_refused_before_running(
    ws: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dws

    monkeypatch.chdir(ws)
    workspace = dws.Workspace.open(str(ws))
    plan = workspace.plan_run([sys.executable, "code/fixed.py"], observed=True)
    with pytest.raises(dws.UsageError, match="unknown observer"):
        workspace.run(plan, observer="ptrace")
    assert not (ws / "data/features/n.txt").exists()
    bad = run_dws("run", "--observe", "ptrace", "--", sys.executable, "code/fixed.py", cwd=ws)
    assert bad.code == 2 and not (ws / "data/features/n.txt").exists()


@pytest.mark.usefixtures("traceable")
def test_programs_outside_the_workspace_are_not_kept_as_code(ws: Path, tmp_path: Path) -> None:
    """strace sees every program run; a compiled tool is the environment, a script is code."""
    import shutil

    tools = tmp_path / "tools"
    tools.mkdir()
    shutil.copy("/bin/true", tools / "compiled-tool")
    (tools / "script.sh").write_text("#!/bin/sh\ncat data/raw/t.csv > data/features/s.txt\n")
    (tools / "script.sh").chmod(0o755)
    command = f"{tools}/compiled-tool; {tools}/script.sh"
    record = run(ws, "--observe", "strace", "--", "sh", "-c", command)
    assert [c["path"] for c in record["external_code"]] == [str(tools / "script.sh")]
    assert paths(record["outputs"]) == {("features", "s.txt")}


def test_run_dry_run_says_what_the_record_will_name_and_runs_nothing(ws: Path) -> None:
    argv = ("--", sys.executable, "code/sum.py", "data/raw/t.csv", "data/features/s.txt")
    observed = json.loads(ok(run_dws("--json", "run", "--dry-run", "-i", "data/raw/u.csv",
                                     *argv, cwd=ws)).out)  # fmt: skip
    assert observed["observer"] == "python"
    assert observed["inputs"] == ["data/raw/u.csv"] and observed["outputs"] == []
    text = ok(run_dws("run", "--dry-run", *argv, cwd=ws)).out
    assert "observed with python" in text and "declared inputs: none" in text
    declared = json.loads(
        ok(run_dws("--json", "run", "--dry-run", "--observe", "none", *argv, cwd=ws)).out
    )
    assert declared["observer"] == "declared"
    assert "data/raw/t.csv" in declared["inputs"]
    assert declared["outputs"] == ["data/features/s.txt"]
    assert not (ws / "data/features/s.txt").exists()
    runs = ws / ".dataworkspace/lineage/runs"
    assert not runs.exists() or not list(runs.iterdir())

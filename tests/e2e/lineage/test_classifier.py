"""The argument classifier's rules, as examples and as properties (hypothesis)."""

from __future__ import annotations

import fnmatch

from hypothesis import given
from hypothesis import strategies as st

from dws.model.argclass import (
    ArgKind,
    PathFacts,
    classify_argv,
    is_glob,
    is_option,
    looks_like_path,
    parameters,
)
from dws.model.roles import Role

ROOTS = {
    "data/raw": Role.SOURCE_DATA,
    "data/feat": Role.INTERMEDIATE_DATA,
    "res": Role.RESULTS,
    "code": Role.CODE,
}


def make_lookup(
    existing: set[str],
    produced: set[str] = frozenset(),
    own: set[str] = frozenset(),
    remembered: dict[str, ArgKind] | None = None,
):  # type: ignore[assignment]
    remembered = remembered or {}

    def lookup(value: str) -> PathFacts | None:
        path = value.removeprefix("./")
        for root, role in ROOTS.items():
            if path == root or path.startswith(root + "/"):
                return PathFacts(
                    key=path,
                    resource=root.replace("/", "_"),
                    path=path[len(root) + 1 :],
                    role=role,
                    exists=path in existing,
                    produced_by_other_step=path in produced,
                    output_of_this_step=path in own,
                    remembered=remembered.get(path),
                )
        return None

    return lookup


def kinds(argv: list[str], lookup, overrides=None) -> list[str]:  # type: ignore[no-untyped-def]
    return [c.kind.value for c in classify_argv(argv, lookup, overrides)]


def test_the_rules_by_example() -> None:
    lookup = make_lookup(
        existing={
            "code/prep.py",
            "data/raw/a.csv",
            "data/feat/made.csv",
            "data/feat/hand.csv",
            "res/own.json",
        },
        produced={"data/feat/made.csv"},
        own={"res/own.json"},
    )
    argv = [
        "python", "code/prep.py", "data/raw/a.csv", "data/feat/made.csv", "data/feat/new.csv",
        "data/feat/hand.csv", "res/own.json", "--epochs", "5", "--out=res/m.json", "-v", "adam",
    ]  # fmt: skip
    assert kinds(argv, lookup) == [
        "program", "code", "input", "input", "output", "ambiguous", "output",
        "flag", "param", "output", "flag", "param",
    ]  # fmt: skip


def test_remembered_answers_and_overrides() -> None:
    lookup = make_lookup(
        existing={"data/feat/hand.csv"}, remembered={"data/feat/hand.csv": ArgKind.OUTPUT}
    )
    assert kinds(["x", "data/feat/hand.csv"], lookup) == ["program", "output"]
    assert kinds(["x", "data/feat/hand.csv"], lookup, {"data/feat/hand.csv": ArgKind.INPUT}) == [
        "program",
        "input",
    ]


def test_bare_words_missing_are_params_and_source_paths_always_inputs() -> None:
    lookup = make_lookup(existing=set())
    assert kinds(["x", "data/feat/model", "data/raw/missing.csv"], lookup) == [
        "program",
        "output",
        "input",
    ]
    assert not looks_like_path("model") and looks_like_path("model.pkl") and looks_like_path("a/b")


def test_parameters() -> None:
    lookup = make_lookup(existing=set())
    classified = classify_argv(
        ["x", "--epochs", "5", "--lr=0.1", "adam", "--verbose", "-n", "-3"], lookup
    )
    assert parameters(classified) == {
        "epochs": "5",
        "lr": "0.1",
        "verbose": True,
        "arg4": "adam",
        "n": "-3",
    }
    assert not is_option("-3") and not is_option("-") and is_option("-n") and is_option("--x")


tokens = st.one_of(
    st.sampled_from(
        [
            "data/raw/a.csv",
            "data/feat/x.csv",
            "data/feat/made.csv",
            "res/m.json",
            "code/p.py",
            "5",
            "adam",
            "--",
            "-v",
            "--epochs",
            "-3",
        ]
    ),
    st.builds(
        lambda opt, val: f"--{opt}={val}",
        st.sampled_from(["in", "out"]),
        st.sampled_from(["data/raw/a.csv", "data/feat/n.csv", "res/m.json", "7"]),
    ),
    st.text(alphabet="abc./-_=", min_size=1, max_size=12),
)


@given(
    st.lists(tokens, min_size=1, max_size=12),
    st.sets(
        st.sampled_from(["data/raw/a.csv", "data/feat/x.csv", "data/feat/made.csv", "code/p.py"])
    ),
)
def test_every_token_gets_exactly_one_kind_in_order(argv: list[str], existing: set[str]) -> None:
    lookup = make_lookup(existing, produced={"data/feat/made.csv"})
    out = classify_argv(argv, lookup)
    assert [c.index for c in out] == list(range(len(argv)))
    assert [c.token for c in out] == argv
    for item in out:
        if item.facts is not None and item.facts.role is Role.SOURCE_DATA:
            assert item.kind in (ArgKind.INPUT, ArgKind.PARAM) or item.index == 0
        if item.index > 0 and item.facts is None:
            assert item.kind in (ArgKind.PARAM, ArgKind.FLAG)


@given(
    st.sampled_from(
        ["data/raw/a.csv", "data/feat/x.csv", "data/feat/made.csv", "res/m.json", "code/p.py", "7"]
    ),
    st.sets(st.sampled_from(["data/feat/x.csv", "data/feat/made.csv", "code/p.py"])),
)
def test_equals_and_separate_value_are_classified_alike(value: str, existing: set[str]) -> None:
    lookup = make_lookup(existing, produced={"data/feat/made.csv"})
    joined = classify_argv(["x", f"--opt={value}"], lookup)[1]
    separate = classify_argv(["x", "--opt", value], lookup)[2]
    assert joined.kind is separate.kind and joined.option == separate.option == "--opt"


@given(
    st.lists(
        st.sampled_from(["data/raw/a.csv", "data/feat/x.csv", "res/m.json", "code/p.py"]),
        min_size=1,
        max_size=5,
    ),
    st.sampled_from([ArgKind.INPUT, ArgKind.OUTPUT]),
)
def test_overrides_always_win(paths: list[str], kind: ArgKind) -> None:
    lookup = make_lookup(existing={"data/feat/x.csv", "code/p.py"})
    out = classify_argv(["x", *paths], lookup, dict.fromkeys(paths, kind))
    assert all(c.kind is kind for c in out[1:])


def test_secret_arguments_are_found() -> None:
    from dws.model.argclass import looks_secret, secret_arguments

    lookup = make_lookup(existing=set())
    argv = ["x", "--password", "hunter2", "--api-key=abc", "--epochs", "3", "https://u:pw@h/x"]
    found = secret_arguments(classify_argv(argv, lookup))
    assert found == ["--password", "--api-key", "a URL with a password"]
    assert secret_arguments(classify_argv(["x", "--epochs", "3", "https://h/x"], lookup)) == []
    assert looks_secret("AWS_SECRET_ACCESS_KEY") and looks_secret("--db-token")
    assert not looks_secret("--keyboard") and not looks_secret("MONKEY")


def make_expand(existing: set[str]):  # type: ignore[no-untyped-def]
    """Matches among ``existing`` (``*`` and ``**`` both cross '/' here; order kept sorted)."""

    def expand(pattern: str) -> list[str]:
        return sorted(p for p in existing if fnmatch.fnmatchcase(p, pattern.replace("**", "*")))

    return expand


def located(argv: list[str], lookup, overrides=None, expand=None):  # type: ignore[no-untyped-def]
    return [
        (c.index, c.value, c.option, c.kind.value)
        for c in classify_argv(argv, lookup, overrides, expand=expand)
    ]


GLOB_FILES = {
    "data/raw/a.csv",
    "data/raw/b.csv",
    "data/raw/sub/c.parquet",
    "data/feat/hand.csv",
    "data/feat/own.csv",
    "data/feat/made.csv",
    "code/p.py",
    "elsewhere/z.csv",
}


def test_a_glob_is_classified_by_its_matches() -> None:
    lookup = make_lookup(GLOB_FILES, produced={"data/feat/made.csv"}, own={"data/feat/own.csv"})
    argv = [
        "x", "data/raw/*.csv", "--in=data/feat/*.csv", "data/raw/**/*.parquet",
        "data/raw/[ab].csv", "code/*.py", "data/feat/none*.csv", "*/z.csv",
    ]  # fmt: skip
    assert located(argv, lookup, expand=make_expand(GLOB_FILES)) == [
        (0, "x", None, "program"),
        (1, "data/raw/a.csv", None, "input"),
        (1, "data/raw/b.csv", None, "input"),
        (2, "data/feat/hand.csv", "--in", "input"),
        (2, "data/feat/made.csv", "--in", "input"),
        (2, "data/feat/own.csv", "--in", "input"),
        (3, "data/raw/sub/c.parquet", None, "input"),
        (4, "data/raw/a.csv", None, "input"),
        (4, "data/raw/b.csv", None, "input"),
        (5, "code/p.py", None, "code"),
        (6, "data/feat/none*.csv", None, "param"),
        (7, "*/z.csv", None, "param"),
    ]
    out = classify_argv(argv, lookup, expand=make_expand(GLOB_FILES))
    assert {c.token for c in out if c.index == 2} == {"--in=data/feat/*.csv"}
    assert parameters(out) == {"arg6": "data/feat/none*.csv", "arg7": "*/z.csv"}


def test_a_glob_is_never_an_output() -> None:
    lookup = make_lookup(
        {"data/feat/own.csv"},
        own={"data/feat/own.csv"},
        remembered={"data/feat/own.csv": ArgKind.OUTPUT},
    )
    expand = make_expand({"data/feat/own.csv"})
    # without expand, or with no match, a glob is a parameter (it used to be a missing output)
    assert kinds(["x", "data/feat/*.csv", "--out=res/*.json"], lookup) == [
        "program",
        "param",
        "param",
    ]
    assert kinds(["x", "res/*.json", "data/feat/[xy].csv"], lookup) == ["program", "param", "param"]
    assert located(["x", "data/feat/*.csv"], lookup, expand=expand)[1][3] == "input"
    # a literal path with glob characters that is there is that path
    literal = make_lookup({"data/feat/a[1].csv"}, own={"data/feat/a[1].csv"})
    assert kinds(["x", "data/feat/a[1].csv"], literal) == ["program", "output"]
    # -o still wins for a matched path
    overridden = located(
        ["x", "data/feat/*.csv"], lookup, {"data/feat/own.csv": ArgKind.OUTPUT}, expand
    )
    assert overridden[1] == (1, "data/feat/own.csv", None, "output")


def test_comma_separated_lists_are_split_into_paths() -> None:
    lookup = make_lookup({"data/raw/a.csv", "data/raw/b.csv", "data/feat/x,y.csv"})
    argv = ["x", "--inputs", "data/raw/a.csv,data/raw/b.csv", "--files=data/raw/a.csv,res/s.txt"]
    assert located(argv, lookup) == [
        (0, "x", None, "program"),
        (1, "--inputs", None, "flag"),
        (2, "data/raw/a.csv", "--inputs", "input"),
        (2, "data/raw/b.csv", "--inputs", "input"),
        (3, "data/raw/a.csv", "--files", "input"),
        (3, "res/s.txt", "--files", "output"),
    ]
    assert parameters(classify_argv(argv, lookup)) == {}
    # a path with a comma that is there stays whole; a list of words stays one parameter
    assert located(["x", "data/feat/x,y.csv", "--cols", "a,b"], lookup) == [
        (0, "x", None, "program"),
        (1, "data/feat/x,y.csv", None, "ambiguous"),
        (2, "--cols", None, "flag"),
        (3, "a,b", "--cols", "param"),
    ]
    # the words of a list that also names a path are its parameter, joined again
    mixed = classify_argv(["x", "--files=data/raw/a.csv,extra,more", "5"], lookup)
    assert [c.kind.value for c in mixed] == ["program", "input", "param", "param", "param"]
    assert parameters(mixed) == {"files": "extra,more", "arg2": "5"}
    # parts may be globs
    expand = make_expand({"data/raw/a.csv", "data/raw/b.csv"})
    assert located(["x", "data/raw/a*,data/raw/b*"], lookup, expand=expand) == [
        (0, "x", None, "program"),
        (1, "data/raw/a.csv", None, "input"),
        (1, "data/raw/b.csv", None, "input"),
    ]


def test_values_attached_to_one_letter_options() -> None:
    lookup = make_lookup({"data/raw/a.csv"})
    argv = ["x", "-idata/raw/a.csv", "-ores/s.txt", "-n", "-3", "-1e5", "-xvf", "-n1.5", "5"]
    assert located(argv, lookup) == [
        (0, "x", None, "program"),
        (1, "data/raw/a.csv", "-i", "input"),
        (2, "res/s.txt", "-o", "output"),
        (3, "-n", None, "flag"),
        (4, "-3", "-n", "param"),
        (5, "-1e5", None, "param"),
        (6, "-xvf", None, "flag"),
        (7, "-n1.5", None, "flag"),
        (8, "5", "-n1.5", "param"),
    ]
    # a path-like value outside every resource keeps the option a flag, as before
    assert kinds(["x", "-o/tmp/s.txt", "7"], lookup) == ["program", "flag", "param"]
    assert parameters(classify_argv(["x", "-ores/s.txt", "-n", "-3"], lookup)) == {"n": "-3"}


def test_key_value_tokens_name_paths() -> None:
    lookup = make_lookup({"data/raw/a.csv"})
    argv = [
        "x", "inp=data/raw/a.csv", "data.path=data/raw/a.csv", "+out=res/x.txt",
        "~old_key=res/y.txt", "a=b", "lr=0.1", "1x=data/raw/a.csv", "a/b=res/z.txt",
    ]  # fmt: skip
    assert located(argv, lookup) == [
        (0, "x", None, "program"),
        (1, "data/raw/a.csv", "inp", "input"),
        (2, "data/raw/a.csv", "data.path", "input"),
        (3, "res/x.txt", "+out", "output"),
        (4, "res/y.txt", "~old_key", "output"),
        (5, "a=b", None, "param"),
        (6, "lr=0.1", None, "param"),
        (7, "1x=data/raw/a.csv", None, "param"),
        (8, "a/b=res/z.txt", None, "param"),
    ]
    assert parameters(classify_argv(argv, lookup)) == {
        "arg5": "a=b",
        "arg6": "lr=0.1",
        "arg7": "1x=data/raw/a.csv",
        "arg8": "a/b=res/z.txt",
    }
    # after a flag that takes no value, and with globs and lists in the value
    expand = make_expand({"data/raw/a.csv", "data/raw/b.csv"})
    argv = ["x", "--verbose", "data.files=data/raw/*.csv", "out=res/a.txt,res/b.txt"]
    out = classify_argv(argv, lookup, expand=expand)
    assert [(c.value, c.option, c.kind.value) for c in out[2:]] == [
        ("data/raw/a.csv", "data.files", "input"),
        ("data/raw/b.csv", "data.files", "input"),
        ("res/a.txt", "out", "output"),
        ("res/b.txt", "out", "output"),
    ]
    assert parameters(out) == {"verbose": True}


glob_tokens = st.builds(
    lambda root, pattern: f"{root}/{pattern}",
    st.sampled_from(["data/raw", "data/feat", "res", "code", "elsewhere"]),
    st.sampled_from(["*", "*.csv", "**/*.csv", "[ab].csv", "?.csv", "x*"]),
)
wrapped_globs = st.one_of(
    glob_tokens,
    st.builds(lambda g: f"--in={g}", glob_tokens),
    st.builds(lambda g: f"-i{g}", glob_tokens),
    st.builds(lambda g: f"key={g}", glob_tokens),
    st.builds(lambda g, h: f"{g},{h}", glob_tokens, glob_tokens),
)
FILES = ["data/raw/a.csv", "data/feat/b.csv", "data/feat/x.csv", "res/a.csv", "code/p.py"]


@given(
    st.lists(st.one_of(tokens, wrapped_globs), min_size=1, max_size=10),
    st.sets(st.sampled_from(FILES)),
    st.sets(st.sampled_from(FILES)),
    st.dictionaries(st.sampled_from(FILES), st.sampled_from([ArgKind.INPUT, ArgKind.OUTPUT])),
)
def test_globs_are_never_outputs_and_every_token_is_covered(
    argv: list[str], existing: set[str], own: set[str], remembered: dict[str, ArgKind]
) -> None:
    lookup = make_lookup(existing, own=own, remembered=remembered)
    for expand in (None, make_expand(existing)):
        out = classify_argv(argv, lookup, expand=expand)
        assert sorted({c.index for c in out}) == list(range(len(argv)))
        assert [c.index for c in out] == sorted(c.index for c in out)
        assert all(c.token == argv[c.index] for c in out)
        for item in out:
            if item.index > 0 and is_glob(item.token.rpartition("=")[2]):
                assert item.kind is not ArgKind.OUTPUT
                assert item.value in existing or item.kind in (ArgKind.PARAM, ArgKind.FLAG)

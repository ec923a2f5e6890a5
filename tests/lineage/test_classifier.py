"""The argument classifier's rules, as examples and as properties (hypothesis)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from dws.model.argclass import (
    ArgKind,
    PathFacts,
    classify_argv,
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

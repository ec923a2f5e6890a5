"""Replay the corpus on every run: each crafted or once-bug-finding input is refused with a
documented error (``refuse-*``), each seed is accepted and meets the invariants
(``accept-*``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from .decoders import DECODERS
from .seeds import CASES
from .support import REFUSALS, all_corpus_cases

# inputs that still break a decoder this suite does not own (reported, not yet fixed)
KNOWN_OPEN: dict[tuple[str, str], str] = {}

CASES_ON_DISK = list(all_corpus_cases())


@pytest.mark.parametrize(
    ("decoder", "path"), CASES_ON_DISK, ids=[f"{d}/{p.name}" for d, p in CASES_ON_DISK]
)
def test_corpus_input(decoder: str, path: Path) -> None:
    known = KNOWN_OPEN.get((decoder, path.name))
    if known:
        pytest.xfail(known)
    data = path.read_bytes()
    under_test = DECODERS[decoder]
    if path.name.startswith("accept-"):
        under_test.check(under_test.decode(data), data)
    else:
        with pytest.raises(REFUSALS):
            under_test.decode(data)


def test_every_decoder_has_a_corpus_with_both_outcomes() -> None:
    for decoder in DECODERS:
        names = {path.name.split("-")[0] for d, path in CASES_ON_DISK if d == decoder}
        assert names == {"accept", "refuse"}, decoder


def test_crafted_cases_are_all_on_disk() -> None:
    """The corpus holds every crafted input of seeds.py (run make_corpus after adding)."""
    on_disk = {(decoder, path.name) for decoder, path in CASES_ON_DISK}
    for decoder, build in CASES.items():
        for name in build():
            assert (decoder, name) in on_disk, (
                f"{decoder}/{name}: run python -m tests.fuzz.make_corpus"
            )

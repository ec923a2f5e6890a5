"""Hypothesis fuzzing of every decoder of data read from `.dataworkspace/` or a remote:
arbitrary bytes and mutations of valid encodings (seeds from the corpus) are either refused
with FormatError/IntegrityError or accepted and then valid and canonical.

Bounded in CI; ``DWS_FUZZ_EXAMPLES=20000 pytest tests/fuzz`` (``make fuzz``) runs long."""

from __future__ import annotations

import random

import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from .decoders import DECODERS
from .seeds import reseal_run, reseal_snapshot
from .support import (
    arbitrary_bytes,
    corpus_seeds,
    decode_or_none,
    fuzz_settings,
    mutate_bytes,
    mutated_json_inputs,
)

BINARY_DECODERS = ["pack_index", "chunk_list", "pack_entry", "entry_name"]
JSON_DECODERS = [name for name in DECODERS if name not in BINARY_DECODERS]
RESEAL = {"snapshot": reseal_snapshot, "run_record": reseal_run}
# reported to the S3 resource's owner; see test_corpus.KNOWN_OPEN
OPEN_S3_FAILURES = (UnicodeDecodeError, RecursionError)


def _run(decoder: str, data: bytes) -> None:
    under_test = DECODERS[decoder]
    try:
        value = decode_or_none(under_test.decode, data)
    except OPEN_S3_FAILURES:
        if decoder != "s3_key_record":
            raise
        event("s3 key record: known open failure")
        return
    event("accepted" if value is not None else "refused")
    if value is not None:
        under_test.check(value, data)


@pytest.mark.parametrize("decoder", list(DECODERS))
@fuzz_settings(ci_examples=60)
@given(data=arbitrary_bytes)
def test_arbitrary_bytes(decoder: str, data: bytes) -> None:
    _run(decoder, data)


@pytest.mark.parametrize("decoder", JSON_DECODERS)
@fuzz_settings(ci_examples=150)
@given(data=st.data())
def test_mutated_encodings(decoder: str, data: st.DataObject) -> None:
    strategy = mutated_json_inputs(corpus_seeds(decoder), RESEAL.get(decoder))
    _run(decoder, data.draw(strategy))


@pytest.mark.parametrize("decoder", BINARY_DECODERS)
@fuzz_settings(ci_examples=150)
@given(seed_index=st.integers(0, 100), rng_seed=st.integers(0, 2**32), rounds=st.integers(1, 4))
def test_mutated_binary_inputs(decoder: str, seed_index: int, rng_seed: int, rounds: int) -> None:
    seeds = corpus_seeds(decoder)
    rng = random.Random(rng_seed)
    data = seeds[seed_index % len(seeds)]
    for _ in range(rounds):
        data = mutate_bytes(data, rng)
    _run(decoder, data)

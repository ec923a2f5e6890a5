"""Forked children streaming their results (workers.fork_streams): each child's results
come back in its order as the reader asks, a child that fails or dies ends its stream
only, and closing stops children blocked on results no one reads."""

from __future__ import annotations

import os

from dws.resources.local_files import workers


def tenfold(item: int) -> int:
    if item == 13:
        raise ValueError("unlucky")
    if item == 99:
        os._exit(9)  # dies as a killed process would, mid-stream
    return item * 10


def drain(streams: workers.Streams[int], child: int) -> list[int]:
    found = []
    while (result := streams.next(child)) is not None:
        found.append(result)
    return found


def test_each_child_streams_its_results_in_order() -> None:
    streams = workers.fork_streams([[1, 2, 3], [4, 5]], tenfold)
    try:
        assert streams.next(1) == 40
        assert streams.next(0) == 10
        assert streams.next(0) == 20
        assert drain(streams, 1) == [50]
        assert drain(streams, 0) == [30]
        assert streams.next(0) is None  # and stays ended
    finally:
        streams.close()


def test_a_child_that_fails_or_dies_ends_its_own_stream_only() -> None:
    streams = workers.fork_streams([[1, 13, 2], [3, 99, 4], [5, 6]], tenfold)
    try:
        assert drain(streams, 0) == [10]
        assert drain(streams, 1) == [30]
        assert drain(streams, 2) == [50, 60]
    finally:
        streams.close()


def big(item: int) -> bytes:
    return bytes([item]) * (512 << 10)


def test_closing_stops_children_blocked_on_results_no_one_reads() -> None:
    streams = workers.fork_streams([list(range(40)), list(range(40))], big)
    assert streams.next(1) == big(0)  # the others wait in full pipes
    streams.close()  # returns: the children are killed, not waited for
    assert streams.next(0) is None
    assert streams.next(1) is None

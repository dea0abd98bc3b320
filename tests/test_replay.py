"""Replaying timed writes into a real link: order, notes, speed, loops, stopping."""

from __future__ import annotations

import threading

import pytest

from rig.capture import read_capture
from rig.line import LineSettings
from rig.links import SerialLink
from rig.replay import LOOP_GAP_S, ReplayStats, replay

FAST = LineSettings(115200, 8, "N", 1)
WRITES = [
    (0.0, b"\x7e\xa0\x01", {"list": 1, "expect": {"p_import_w": 1}}),
    (0.08, b"\x7e\xa0\x02", None),
    (0.08, b"\x7e\xa0\x03", {"fault": "garbage:3", "note": "noise"}),
    (0.2, b"\x7e\xa0\x04", {"counts": {"frames_ok": 1}}),
]


@pytest.fixture
def link(tmp_path):
    with SerialLink("loop://", FAST, log_path=tmp_path / "line.jsonl") as lk:
        yield lk


def test_replay_writes_in_order_with_notes_and_never_early(link, tmp_path):
    seen: list[ReplayStats] = []
    stats = replay(WRITES, link, speed=2.0, progress=lambda s: seen.append(ReplayStats(**vars(s))))
    assert (stats.chunks, stats.bytes, stats.passes, stats.stopped) == (4, 12, 1, False)
    assert [s.chunks for s in seen] == [1, 2, 3, 4]
    link.close()
    capture = read_capture(tmp_path / "line.jsonl")
    assert [(c.data, c.annotations() or None) for c in capture.chunks] == [(d, n) for _, d, n in WRITES]
    start = capture.chunks[0].t
    for chunk, (t, _, _) in zip(capture.chunks, WRITES, strict=True):
        assert chunk.t - start >= t / 2.0 - 1e-5  # sleeps end at their deadline or after it, never before
    assert stats.elapsed_s >= 0.2 / 2.0


def test_loop_plays_again_until_stopped(link):
    stop = threading.Event()

    def progress(stats: ReplayStats) -> None:
        if stats.chunks == 2 * len(WRITES) + 1:
            stop.set()

    stats = replay(WRITES, link, speed=20.0, loop=True, progress=progress, stop=stop)
    assert (stats.chunks, stats.passes, stats.stopped) == (2 * len(WRITES) + 1, 2, True)
    # pass 3 began (WRITES[-1].t + LOOP_GAP_S) * 2 / speed after the start
    assert stats.elapsed_s >= (0.2 + LOOP_GAP_S) * 2 / 20.0
    assert link.port.read(link.port.in_waiting) == b"".join(d for _, d, _ in WRITES) * 2 + WRITES[0][1]


def test_a_stop_set_before_the_start_writes_nothing(link):
    stop = threading.Event()
    stop.set()
    stats = replay(WRITES, link, stop=stop)
    assert (stats.chunks, stats.stopped) == (0, True)


def test_a_stop_during_a_long_wait_ends_it_at_once(link):
    stop = threading.Event()
    threading.Timer(0.1, stop.set).start()
    stats = replay([(0.0, b"a", None), (3600.0, b"b", None)], link, stop=stop)
    assert (stats.chunks, stats.stopped) == (1, True)
    assert stats.elapsed_s < 60


def test_bad_arguments(link):
    assert replay([], link) == ReplayStats()
    with pytest.raises(ValueError, match="time order"):
        replay([(1.0, b"a", None), (0.5, b"b", None)], link)
    with pytest.raises(ValueError, match="speed"):
        replay(WRITES, link, speed=0)
    with pytest.raises(ValueError, match="unknown chunk key"):
        replay([(0.0, b"a", {"colour": "red"})], link)

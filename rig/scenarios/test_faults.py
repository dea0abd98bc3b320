"""Damaged frames are dropped and counted, never published, and the next frame still decodes."""

from __future__ import annotations

from rig.emulators.faults import truncate, with_bad_fcs


def test_bad_fcs_is_counted_and_not_published(harness) -> None:
    h = harness(speed=4)
    good, bad, after = h.frames(3)

    result = h.stream([good, with_bad_fcs(bad), after])

    assert not result.problems(), "\n".join(result.problems())
    assert result.dut_counters["checksum_errors"] == 1  # counted over this stream
    assert result.dut_counters["frames_ok"] == 2


def test_truncated_frame_is_counted_and_the_next_decodes(harness) -> None:
    h = harness(speed=4)
    first, second = h.frames(2)
    h.send(truncate(first.data, 20))
    h.send(second.data)
    h.wait_for(lambda: (r := h.http.meter()) and r["timestamp"] == second.reading["timestamp"],
               timeout=3, what="the frame after the truncated one on /meter")
    counters = h.health()["counters"]
    lost = sum(counters[k] for k in ("checksum_errors", "framing_errors", "truncated"))
    assert lost >= 1, counters
    assert counters["frames_ok"] == 1


def test_garbage_between_frames_is_skipped(harness) -> None:
    h = harness(speed=4)
    first, second = h.frames(2)
    h.send(b"\x00\x13\x37\xff" + first.data + b"\x55" * 7 + second.data)
    h.wait_for(lambda: (r := h.http.meter()) and r["timestamp"] == second.reading["timestamp"],
               timeout=3, what="the second frame on /meter")
    counters = h.health()["counters"]
    assert counters["frames_ok"] == 2
    assert counters["framing_errors"] >= 1

"""Pacer deadline arithmetic (exact, no sleeping) and the write loop driven by a fake clock."""

import math

import pytest

from rig.line import LineSettings
from rig.links.pacing import Pacer

LINE = LineSettings(2400, 8, "E", 1)  # 11 bits per char
CT = 11 / 2400


class FakeClock:
    def __init__(self, t: float = 100.0, late: float = 0.0) -> None:
        self.t = t
        self.late = late  # every sleep overshoots by this much
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.t

    def sleep(self, s: float) -> None:
        assert s > 0
        self.sleeps.append(s)
        self.t += s + self.late


def test_char_time_scales_with_speed():
    assert Pacer(LINE).char_time_s == pytest.approx(CT, rel=1e-12)
    assert Pacer(LINE, speed=120).char_time_s == pytest.approx(CT / 120, rel=1e-12)
    assert Pacer(LineSettings(115200, 8, "N", 1)).char_time_s == pytest.approx(10 / 115200)
    with pytest.raises(ValueError):
        Pacer(LINE, speed=0)


def test_deadlines_are_absolute():
    p = Pacer(LINE)
    assert p.deadline(10.0, 0) == 10.0 + CT
    assert p.deadline(10.0, 239) == 10.0 + 240 * CT
    assert p.end_time(10.0, 240) == pytest.approx(11.1)
    assert p.duration(240) == pytest.approx(1.1)


def test_due_counts_bytes_whose_deadline_is_within_lead():
    p = Pacer(LINE, lead_s=0.0005)
    t0 = 50.0
    assert p.due(t0, 10, t0) == 0
    assert p.due(t0, 10, t0 + CT - 0.0006) == 0
    assert p.due(t0, 10, t0 + CT - 0.0005) == 1  # exactly lead_s early: due
    for i in range(10):  # at each deadline, bytes 0..i are due (never off by one through float error)
        assert p.due(t0, 10, p.deadline(t0, i)) == i + 1
        assert p.due(t0, 10, p.deadline(t0, i) - p.lead_s) == i + 1
    assert p.due(t0, 10, t0 + 1000) == 10  # clipped to n
    assert p.due(t0, 10, t0 - 5) == 0


def test_start_time_queues_behind_busy_line():
    p = Pacer(LINE)
    assert p.start_time(5.0) == 5.0  # idle line: start now
    p.busy_until = 7.0
    assert p.start_time(5.0) == 7.0  # still busy: continue from the previous end
    assert p.start_time(8.0) == 8.0


def test_plan_at_line_rate_is_one_byte_per_deadline():
    p = Pacer(LINE)
    plan = p.plan(5, 0.0)
    assert [(a, b) for _, a, b in plan] == [(0, 1), (1, 2), (2, 3), (3, 4), (4, 5)]
    for i, (t, _, _) in enumerate(plan):
        assert t == p.deadline(0.0, i)


def test_plan_at_high_speed_writes_chunks_and_sleeps_at_least_lead():
    p = Pacer(LINE, speed=120)  # 38.2 us per char: ~14 chars per 0.5 ms
    plan = p.plan(240, 0.0)
    assert plan[0] == (0.0, 0, math.floor(0.0005 / p.char_time_s + 1e-9))
    assert sum(b - a for _, a, b in plan) == 240
    assert all(b > a for _, a, b in plan)
    gaps = [t2 - t1 for (t1, _, _), (t2, _, _) in zip(plan, plan[1:], strict=False)]
    assert min(gaps) > p.lead_s  # never a sleep shorter than lead: no busy loop
    assert plan[-1][0] <= p.end_time(0.0, 240)


def test_pace_with_fake_clock_follows_plan():
    clock = FakeClock(100.0)
    p = Pacer(LINE, clock=clock, sleep=clock.sleep)
    writes: list[tuple[float, bytes]] = []
    start, end = p.pace(b"abcd", lambda chunk: writes.append((clock.t, chunk)))
    assert start == 100.0
    assert end == p.end_time(100.0, 4)
    assert [c for _, c in writes] == [b"a", b"b", b"c", b"d"]
    assert [t for t, _ in writes] == pytest.approx([p.deadline(100.0, i) for i in range(4)])
    assert p.busy_until == end
    assert len(clock.sleeps) == 4


def test_back_to_back_write_continues_from_previous_end():
    clock = FakeClock(0.0)
    p = Pacer(LINE, lead_s=0.0005, clock=clock, sleep=clock.sleep)
    _, end1 = p.pace(b"xy", lambda c: None)
    clock.t = end1 - 0.0003  # the caller is back while the last byte is still on the line
    start2, end2 = p.pace(b"z", lambda c: None)
    assert start2 == end1
    assert end2 == pytest.approx(end1 + CT)
    clock.t = end2 + 1.0  # idle gap: next write starts now
    start3, _ = p.pace(b"w", lambda c: None)
    assert start3 == end2 + 1.0


def test_late_process_reports_actual_end_and_catches_up_in_chunks():
    clock = FakeClock(0.0, late=3 * CT)  # every sleep wakes three chars late
    p = Pacer(LINE, clock=clock, sleep=clock.sleep)
    chunks: list[bytes] = []
    _, end = p.pace(bytes(10), chunks.append)
    assert b"".join(chunks) == bytes(10)
    assert any(len(c) > 1 for c in chunks)  # missed deadlines are written together
    assert end > p.end_time(0.0, 10)  # honest: the last byte was late


def test_empty_write_returns_start():
    clock = FakeClock(3.0)
    p = Pacer(LINE, clock=clock, sleep=clock.sleep)
    assert p.pace(b"", lambda c: pytest.fail("no write expected")) == (3.0, 3.0)

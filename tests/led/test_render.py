"""LED timelines: the events file parsed (bad lines named), a pattern as events, drive sampled into light."""

from __future__ import annotations

import numpy as np
import pytest

from rig.led.patterns import load_patterns
from rig.led.render import EventsError, drive_at, latest_run, light, parse_events, pattern_events


def test_parse_events_skips_a_line_still_being_written() -> None:
    assert parse_events("0 32 0 0\n5 0 32 0\n12 255") == [(0.0, 32, 0, 0), (5.0, 0, 32, 0)]
    with pytest.raises(EventsError, match="line 2"):
        parse_events("0 32 0 0\nbanana\n")
    with pytest.raises(EventsError, match="out of 0..255"):
        parse_events("0 300 0 0\n")


def test_latest_run_and_pattern_events() -> None:
    assert latest_run([(0, 1, 1, 1), (9, 2, 2, 2), (0, 3, 3, 3), (4, 4, 4, 4)]) == [(0, 3, 3, 3), (4, 4, 4, 4)]
    table = load_patterns()
    events = pattern_events(table.state("read_ok"), table, 100.0, (0, 32, 0))
    assert events == [(100.0, 255, 0, 255), (200.0, 0, 32, 0)]


def test_light_has_a_rise_time() -> None:
    events = [(0.0, 0, 0, 0), (10.0, 255, 0, 0)]
    assert np.array_equal(drive_at(events, np.array([5.0, 10.0]))[:, 0], [0, 255])
    step = light(events, 0.0, 10_000, 300, rise_ms=1.0)[:, 0]
    assert step[99] < 0.01 and 0.55 < step[110] < 0.7 and step[299] > 0.99  # 1 - e^-1 one time constant in

"""The LED timeline picture: expected and measured rows drawn into a PNG of the right size."""

from __future__ import annotations

import io

import matplotlib.image

from rig.led.decoder import segments_from_events
from rig.led.patterns import load_patterns
from rig.report.led_timeline import expected_segments, timeline_png


def test_expected_segments_follow_the_table() -> None:
    table = load_patterns()
    segs = expected_segments(table.state("read_failed"), table, 300.0, 2000.0, (0, 32, 0))
    assert [(s.label(), s.start_ms, s.duration_ms) for s in segs] == [
        ("dim green", 0.0, 300.0), ("high red", 300.0, 125.0), ("off", 425.0, 125.0), ("high red", 550.0, 125.0),
        ("off", 675.0, 125.0), ("dim green", 800.0, 1200.0)]
    repeating = expected_segments(table.state("factory_reset"), table, 0.0, 1000.0, (0, 32, 0))
    assert repeating[-1].end_ms == 1000.0 and len(repeating) == 8


def test_png_has_a_row_per_instrument() -> None:
    measured = segments_from_events([(0, 0, 32, 0), (310, 255, 0, 0), (440, 0, 32, 0)], end_ms=2000)
    png = timeline_png("LED read_failed", [("expected", measured), ("photodiode", measured), ("camera", measured)],
                       ["photodiode: FAIL expected 2 red blinks, saw 1"])
    assert png.startswith(b"\x89PNG")
    image = matplotlib.image.imread(io.BytesIO(png), format="png")
    assert image.shape[1] == 810 and image.shape[0] > 100

"""The LED timeline picture of a scenario: what the pattern table expects against what each instrument
measured, as coloured bars on one time axis (matplotlib, PNG bytes)."""

from __future__ import annotations

import io
from collections.abc import Sequence

from rig.led.decoder import Segment, segments_from_events
from rig.led.patterns import Pattern, PatternTable
from rig.led.render import pattern_events

RGB = {"red": (1, 0, 0), "green": (0, 0.7, 0), "blue": (0, 0, 1), "magenta": (1, 0, 1), "cyan": (0, 0.8, 0.8),
       "yellow": (0.9, 0.9, 0), "white": (0.85, 0.85, 0.85)}


def _colour(seg: Segment) -> tuple[float, float, float, float]:
    if seg.intensity == "off":
        return (0.1, 0.1, 0.1, 1.0)
    r, g, b = RGB.get(seg.colour or "", (0.6, 0.6, 0.6))
    alpha = 1.0 if seg.intensity == "high" else 0.35
    return (r, g, b, alpha)


def expected_segments(pattern: Pattern, table: PatternTable, start_ms: float, end_ms: float,
                      base: tuple[int, int, int]) -> list[Segment]:
    """The pattern as a correct LED shows it from ``start_ms``, the base colour around it."""
    cycles = 100 if pattern.repeating else 1
    events = [(min(0.0, start_ms), *base), *pattern_events(pattern, table, start_ms, base, cycles)]
    events = [e for e in events if e[0] <= end_ms]
    return [s for s in segments_from_events(events, end_ms, start_ms=0.0) if s.duration_ms > 0]


def timeline_png(title: str, rows: Sequence[tuple[str, Sequence[Segment]]], verdicts: Sequence[str] = (),
                 width_in: float = 9.0) -> bytes:
    """A PNG of one bar per row (label, segments in ms), the verdicts written underneath."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    height = 0.9 + 0.45 * len(rows) + 0.22 * len(verdicts)
    fig, ax = plt.subplots(figsize=(width_in, height), dpi=90)
    try:
        for i, (_, segs) in enumerate(rows):
            y = len(rows) - 1 - i
            bars = [(s.start_ms, s.duration_ms) for s in segs]
            ax.broken_barh(bars, (y - 0.35, 0.7), facecolors=[_colour(s) for s in segs], edgecolor="none")
        ax.set_yticks(range(len(rows)), [label for label, _ in reversed(rows)])
        ax.set_xlabel("ms from the start of the record")
        ax.set_facecolor((0.93, 0.93, 0.93))
        ax.set_title(title, fontsize=10)
        ends = [s.end_ms for _, segs in rows for s in segs]
        if ends:
            ax.set_xlim(0, max(ends))
        for k, text in enumerate(verdicts):
            fig.text(0.01, 0.01 + 0.22 * (len(verdicts) - 1 - k) / height, text, fontsize=7, family="monospace")
        fig.subplots_adjust(bottom=(0.55 + 0.22 * len(verdicts)) / height, left=0.13, right=0.98,
                            top=1 - 0.35 / height)
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
        return buf.getvalue()
    finally:
        plt.close(fig)

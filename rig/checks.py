"""Checks: what the DUT must show after each frame, how an observation is judged, and latency figures.

Pure logic; the engine feeds it frames sent and observations made. Values are judged at the resolution of
the meter's format and of the interface (``rig.resolution``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from rig.reading import Mismatch, Reading, compare
from rig.resolution import INTERFACE_FIELDS, tolerances, view


class ExpectedState:
    """The meter state a reader shows: each field from the latest frame that carried it."""

    def __init__(self) -> None:
        self._state: Reading = {}

    def apply(self, reading: Reading) -> Reading:
        """Merge a frame's reading in and return a copy of the state after it."""
        self._state.update(reading)
        return dict(self._state)


@dataclass
class SentFrame:
    """One frame put on the line, and what every interface must show after it."""

    index: int
    at: datetime
    list_no: int
    reading: Reading
    expected: Reading
    t_end: float  # time.monotonic() when its last byte was on the line
    deadline: float  # by when every interface must show it
    partial: bool = False  # the expected reading names only some fields (a capture's expectations)
    t_start: float | None = None  # time.monotonic() when its first byte went on the line (t_end if unknown)

    @property
    def timestamp(self) -> str | None:
        """The meter clock the frame carries (what tells it apart on HTTP and MQTT), None if none."""
        return self.reading.get("timestamp")


class Outcome(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    OVERTAKEN = "overtaken"  # a newer frame replaced it before a poll could see it (not a failure)


@dataclass
class Check:
    """The verdict of one interface on one frame (``frame`` -1: a message that belongs to no frame).

    ``latency_s``: from the end of the frame on the line to when the interface showed it (None when it
    did not, or when it cannot be told); ``at_s``: when the verdict was made, in seconds since the run
    started.
    """

    interface: str
    frame: int
    outcome: Outcome
    latency_s: float | None = None
    mismatches: list[Mismatch] = field(default_factory=list)
    detail: str = ""
    at_s: float | None = None

    def describe(self) -> str:
        what = "; ".join([*(str(m) for m in self.mismatches), *([self.detail] if self.detail else [])])
        where = f"frame {self.frame}" if self.frame >= 0 else "a message"
        latency = f" ({self.latency_s * 1000:.0f} ms)" if self.latency_s is not None else ""
        head = f"{where} on {self.interface}: {self.outcome.value}{latency}"
        return f"{head}: {what}" if what else head

    def as_dict(self, text: bool = True) -> dict[str, object]:
        """The check as data: ``frame`` (None for a message of no frame), ``interface``, ``outcome``,
        ``latency_ms``, ``mismatches`` (field, sent, published, tolerance), ``detail``, ``at_s`` and
        (unless ``text`` is False) ``text`` (``describe()``)."""
        data: dict[str, object] = {
            "frame": self.frame if self.frame >= 0 else None,
            "interface": self.interface,
            "outcome": self.outcome.value,
            "latency_ms": None if self.latency_s is None else round(self.latency_s * 1000, 2),
            "mismatches": [m.as_dict() for m in self.mismatches],
            "detail": self.detail,
            "at_s": None if self.at_s is None else round(self.at_s, 6),
        }
        if text:
            data["text"] = self.describe()
        return data


def judge(interface: str, expected: Reading, observed: Reading, partial: bool = False,
          meter_format: str | None = None) -> list[Mismatch]:
    """Mismatches between what an interface shows and what it should show, within the resolution of the
    meter's format and of the interface (``rig.resolution``; the interface's alone when ``meter_format``
    is None).

    ``partial``: judge only the fields ``expected`` names (net power only when both sides are named).
    """
    fields = INTERFACE_FIELDS[interface]
    if partial:
        named = set(expected)
        if {"p_import_w", "p_export_w"} <= named:
            named.add("p_net_w")
        fields = [f for f in fields if f in named]
    return compare(view(interface, expected), view(interface, observed), tolerances(interface, meter_format), fields)


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100) by linear interpolation; NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100.0
    lo, hi = math.floor(pos), math.ceil(pos)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


LATENCY_BIN_MS = 0.1
"""Resolution of streamed latency figures: each latency is kept as the centre of its 0.1 ms bin, so a
quantile is within half a bin (0.05 ms) of the exact one; the maximum is kept exactly."""


class LatencyHistogram:
    """Latencies (seconds) in fixed 0.1 ms bins: quantiles in memory bounded by the range of values,
    not by their number (a bin per distinct 0.1 ms, a day or a week alike)."""

    def __init__(self) -> None:
        self.bins: dict[int, int] = {}
        self.n = 0
        self.max_s: float | None = None

    def add(self, latency_s: float) -> None:
        key = round(latency_s * 1000 / LATENCY_BIN_MS)
        self.bins[key] = self.bins.get(key, 0) + 1
        self.n += 1
        if self.max_s is None or latency_s > self.max_s:
            self.max_s = latency_s

    def quantile(self, q: float) -> float:
        """The q-th percentile (0-100) in seconds, interpolated as :func:`percentile` does between the
        bins' centres (within ``LATENCY_BIN_MS / 2`` of the exact figure; q = 100: the exact maximum);
        NaN when empty."""
        if not self.n:
            return math.nan
        if q >= 100:
            return float(self.max_s)  # type: ignore[arg-type]
        pos = (self.n - 1) * q / 100.0
        lo, hi = math.floor(pos), math.ceil(pos)
        lo_v = hi_v = None
        seen = 0
        for key in sorted(self.bins):
            seen += self.bins[key]
            if lo_v is None and seen > lo:
                lo_v = key * LATENCY_BIN_MS / 1000
            if seen > hi:
                hi_v = key * LATENCY_BIN_MS / 1000
                break
        assert lo_v is not None and hi_v is not None
        return lo_v + (hi_v - lo_v) * (pos - lo)


@dataclass
class InterfaceSummary:
    """Counts and latency figures of one interface over a run (latencies streamed into a histogram)."""

    interface: str
    passed: int = 0
    failed: int = 0
    overtaken: int = 0
    latencies: LatencyHistogram = field(default_factory=LatencyHistogram)

    @property
    def judged(self) -> int:
        """Checks on a frame this interface was seen to show or fail (not overtaken)."""
        return self.passed + self.failed

    def add(self, check: Check) -> None:
        """Count a check; its latency joins the figures whatever its outcome (a late value included)."""
        if check.outcome is Outcome.PASS:
            self.passed += 1
        elif check.outcome is Outcome.FAIL:
            self.failed += 1
        else:
            self.overtaken += 1
        if check.latency_s is not None:
            self.latencies.add(check.latency_s)

    def as_dict(self) -> dict[str, object]:
        def ms(q: float) -> float | None:
            value = self.latencies.quantile(q)
            return None if math.isnan(value) else round(value * 1000, 2)

        return {
            "passed": self.passed,
            "failed": self.failed,
            "overtaken": self.overtaken,
            "latency_ms": {"p50": ms(50), "p99": ms(99), "max": ms(100), "n": self.latencies.n,
                           "resolution_ms": LATENCY_BIN_MS},
        }

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

    def as_dict(self) -> dict[str, object]:
        """The check as data: ``frame`` (None for a message of no frame), ``interface``, ``outcome``,
        ``latency_ms``, ``mismatches`` (field, sent, published, tolerance), ``detail``, ``at_s`` and
        ``text`` (``describe()``)."""
        return {
            "frame": self.frame if self.frame >= 0 else None,
            "interface": self.interface,
            "outcome": self.outcome.value,
            "latency_ms": None if self.latency_s is None else round(self.latency_s * 1000, 2),
            "mismatches": [m.as_dict() for m in self.mismatches],
            "detail": self.detail,
            "at_s": None if self.at_s is None else round(self.at_s, 6),
            "text": self.describe(),
        }


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


@dataclass
class InterfaceSummary:
    """Counts and latency figures of one interface over a run."""

    interface: str
    passed: int = 0
    failed: int = 0
    overtaken: int = 0
    latencies: list[float] = field(default_factory=list)

    def add(self, check: Check) -> None:
        """Count a check; its latency joins the figures whatever its outcome (a late value included)."""
        if check.outcome is Outcome.PASS:
            self.passed += 1
        elif check.outcome is Outcome.FAIL:
            self.failed += 1
        else:
            self.overtaken += 1
        if check.latency_s is not None:
            self.latencies.append(check.latency_s)

    def as_dict(self) -> dict[str, object]:
        def ms(q: float) -> float | None:
            value = percentile(self.latencies, q)
            return None if math.isnan(value) else round(value * 1000, 2)

        return {
            "passed": self.passed,
            "failed": self.failed,
            "overtaken": self.overtaken,
            "latency_ms": {"p50": ms(50), "p99": ms(99), "max": ms(100), "n": len(self.latencies)},
        }

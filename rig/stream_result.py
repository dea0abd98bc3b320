"""What a stream produced, and the judging it was held to: the frames to publish, each interface's checks, the
counters a correct reader counts against the DUT's (``rig.engine`` streams and fills it in).

A result keeps counters, each interface's summary (latency quantiles from a fixed-bin histogram,
``rig.checks.LatencyHistogram``) and the first failures; ``sent`` and ``checks`` hold every frame and
check only when the stream was asked to keep them (every frame and check is on disk either way).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

from rig.checks import Check, InterfaceSummary, Outcome, SentFrame

# Allowance for host scheduling jitter on top of one frame interval. Outliers of 5-70 ms are seen on a
# loaded 2-core machine; at x1 the interval (2 s) dwarfs it, at x120 (16.7 ms) it dominates, so
# compressed runs check loss and values strictly and timing only to this allowance.
MARGIN_S = 0.1
INTERFACES = ("http", "modbus", "mqtt")
ERROR_COUNTERS = ("checksum_errors", "framing_errors", "truncated", "oversized", "unknown_format",
                  "decrypt_errors", "replays", "decoder_restarts")
JUDGED_COUNTERS = ("frames_ok",) + ERROR_COUNTERS
MAX_KEPT_FAILURES = 1000  # failed checks a result keeps (every check is in checks.jsonl)
CAPTURE_INTERVAL_S = 2.0  # how long each interface may take to show a replayed frame (meter seconds)


@dataclass
class Progress:
    """Where a stream is, for a live view."""

    sent: int
    total: int
    by_list: Counter[int]
    failures: int


@dataclass
class StreamResult:
    """What one stream produced: the frames to publish, the checks, the DUT's counters over the stream.

    ``frames_sent`` and ``frames_by_list`` count the frames to publish, ``interfaces`` each interface's
    checks and latencies, ``failures`` the first ``MAX_KEPT_FAILURES`` failed checks (every check is in
    checks.jsonl; ``failures_total`` counts them all); ``sent`` and ``checks`` hold every frame and check
    only when the stream was asked to keep them. ``expected_counts`` is what a correct reader counts (the
    sum of the counts of the writes made); ``faults`` how many writes each injection shaped. ``error``
    says why a stream stopped early (the DUT died, a probe failed); ``interrupted``: it was asked to stop.
    What was sent and checked until then is kept either way. ``counters_error`` says why the DUT's
    counters could not be read (``dut_counters`` is then empty: unknown, not zero). ``window_peak``: the
    most frames the judges held at once; ``timing``: where the stream's real time went (seconds).
    """

    sent: list[SentFrame]
    checks: list[Check]
    dut_counters: dict[str, int]
    expected_counts: Counter[str] = field(default_factory=Counter)
    faults: Counter[str] = field(default_factory=Counter)
    writes: int = 0
    unjudged: int = 0  # good frames whose values the stream does not know (a recording without expectations)
    held: int = 0  # writes a P1 meter held back because the reader did not raise its data-request line
    error: str | None = None
    interrupted: bool = False
    counters_error: str | None = None
    meter_format: str | None = None  # the format values were judged at (rig.resolution); None: interfaces'
    frames_sent: int = 0
    frames_by_list: Counter[int] = field(default_factory=Counter)
    interfaces: dict[str, InterfaceSummary] = field(
        default_factory=lambda: {name: InterfaceSummary(name) for name in INTERFACES})
    failures: list[Check] = field(default_factory=list)
    window_peak: int = 0
    timing: dict[str, float] = field(default_factory=dict)
    line_dropped: int = 0  # bytes the line could not deliver: the DUT's input was full (it stopped reading)

    def __post_init__(self) -> None:
        """A result made from lists of frames and checks gets its counters and summaries from them."""
        if self.checks and not any(s.passed + s.failed + s.overtaken for s in self.interfaces.values()):
            for check in self.checks:
                self.interfaces.setdefault(check.interface, InterfaceSummary(check.interface)).add(check)
                if check.outcome is Outcome.FAIL and len(self.failures) < MAX_KEPT_FAILURES:
                    self.failures.append(check)
        if self.sent and not self.frames_sent:
            self.frames_sent = len(self.sent)
            self.frames_by_list.update(f.list_no for f in self.sent)

    @property
    def failures_total(self) -> int:
        return sum(s.failed for s in self.interfaces.values())

    def for_interface(self, interface: str) -> list[Check]:
        return [c for c in self.checks if c.interface == interface]

    def count_mismatches(self) -> list[str]:
        """Counters of the DUT that differ from what a correct reader counts over this stream (or why they
        are unknown)."""
        if self.counters_error:
            return [f"the DUT's counters are unknown: {self.counters_error}"]
        if self.error:
            return []  # a stream cut short cannot be counted; the error says why
        out = []
        for name in JUDGED_COUNTERS:
            want, got = self.expected_counts.get(name, 0), self.dut_counters.get(name, 0)
            if want != got:
                out.append(f"counter {name}: a correct reader counts {want}, the DUT counted {got}")
        if out and self.line_dropped:
            out.append(f"the line dropped {self.line_dropped:,} bytes the DUT did not read in time (its serial "
                       "input was full: the DUT stopped reading for longer than its buffer lasts, as a UART "
                       "overruns); the frames they carried never reached it")
        return out

    def problems(self) -> list[str]:
        """Everything that went wrong, one line each (empty when the stream passed)."""
        return (([f"stream stopped: {self.error}"] if self.error else []) + self.count_mismatches()
                + [c.describe() for c in self.failures])


_HOW = {
    "http": "polled back to back (one request at a time, as fast as the DUT answers)",
    "modbus": "polled back to back (one request at a time, as fast as the DUT answers)",
    "mqtt": "every message checked as it arrives (push)",
}


def checking_policy(interfaces: Mapping[str, InterfaceSummary], frames: int) -> dict[str, str]:
    """How each interface was checked and how many of the ``frames`` to publish it judged, one sentence
    each: MQTT pushes every frame, so every frame is judged; HTTP and Modbus are polled as often as the
    DUT answers, and a frame a newer one replaced before a poll saw it is overtaken, not judged (at x1440
    a frame lasts 1.4 ms, less than a request's round trip)."""
    out = {}
    for name, summary in interfaces.items():
        label = {"http": "HTTP", "modbus": "Modbus", "mqtt": "MQTT"}.get(name, name)
        checks = summary.passed + summary.failed + summary.overtaken
        if not checks:
            out[name] = f"{label}: not checked (not on this bench, or nothing was sent)"
            continue
        judged = min(summary.judged, frames) if frames else summary.judged
        text = f"{label}: {judged:,} of {frames:,} frames judged, {_HOW.get(name, 'checked')}"
        if summary.overtaken:
            text += (f"; the other {summary.overtaken:,} were overtaken: a newer frame was shown before a "
                     "poll could see them")
        out[name] = text
    return out

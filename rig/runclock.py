"""One time base for every log of a run: seconds since the run started, on the monotonic clock.

Each log file states the wall-clock start once in its header (``RunClock.header``); each line then
carries ``RunClock.elapsed()``, so the DUT log, the broker log, the line capture and the frame log of one
run line up without converting between clocks.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime


@dataclass(frozen=True)
class RunClock:
    """The instant a run started, on the monotonic clock and on the wall clock (UTC)."""

    t0: float = field(default_factory=time.monotonic)
    started: datetime = field(default_factory=lambda: datetime.now(UTC))

    def elapsed(self, at: float | None = None) -> float:
        """Seconds since the run started (of ``at``, a ``time.monotonic()`` reading, when given)."""
        return (time.monotonic() if at is None else at) - self.t0

    def stamp(self, at: float | None = None) -> str:
        """The elapsed time as a log line prefix: ``+12.345678``."""
        return f"+{self.elapsed(at):.6f}"

    def header(self, what: str) -> str:
        """The first line of a log: what it is, and when (wall clock) its time base starts."""
        return f"# {what}; times are seconds since the run started at {self.started.isoformat(timespec='milliseconds')}"

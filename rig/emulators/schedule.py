"""When a Kaifa meter sends which list, as a pure function of the meter clock, and meter/real time.

One frame every 2 s on even seconds; List 2 when seconds % 10 == 0, otherwise List 1; at XX:00:10
List 3 is sent instead of List 2, carrying the instant values of XX:00:00 (its clock reads XX:00:10).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

FRAME_INTERVAL_S = 2
LIST3_VALUES_AGE_S = 10  # List 3 at XX:00:10 carries the values of XX:00:00


def list_at(at: datetime) -> int | None:
    """The list sent at meter time ``at``, or None when no frame is sent then (odd or fractional s)."""
    if at.microsecond or at.second % FRAME_INTERVAL_S:
        return None
    if at.second % 10:
        return 1
    if at.minute == 0 and at.second == 10:
        return 3
    return 2


def next_frame_time(at: datetime) -> datetime:
    """The first frame time at or after ``at``."""
    base = at.replace(microsecond=0)
    if base < at:
        base += timedelta(seconds=1)
    return base + timedelta(seconds=base.second % FRAME_INTERVAL_S)


def values_time(at: datetime, list_no: int) -> datetime:
    """The instant whose values a frame sent at ``at`` carries (List 3: 10 s earlier)."""
    return at - timedelta(seconds=LIST3_VALUES_AGE_S) if list_no == 3 else at


def frame_times(
    start: datetime, count: int | None = None, until: datetime | None = None
) -> Iterator[tuple[datetime, int]]:
    """``(at, list_no)`` of the frames from ``start`` on; stops after ``count`` frames or before
    ``until`` (exclusive); endless when both are None."""
    at = next_frame_time(start)
    step = timedelta(seconds=FRAME_INTERVAL_S)
    sent = 0
    while (count is None or sent < count) and (until is None or at < until):
        yield at, list_at(at)  # type: ignore[misc]
        sent += 1
        at += step


@dataclass(frozen=True)
class Clock:
    """Maps meter time to real seconds elapsed since the stream began, at ``speed`` meter seconds per
    real second (1 = real time, 120 = two meter minutes per second). Pure arithmetic, no sleeping."""

    start: datetime
    speed: float = 1.0

    def __post_init__(self) -> None:
        if not self.speed > 0:
            raise ValueError(f"speed must be positive, got {self.speed}")

    def meter_time(self, elapsed_s: float) -> datetime:
        """Meter time after ``elapsed_s`` real seconds."""
        return self.start + timedelta(seconds=elapsed_s * self.speed)

    def elapsed_s(self, at: datetime) -> float:
        """Real seconds from the start until the meter clock reads ``at``."""
        return (at - self.start).total_seconds() / self.speed

"""When a meter sends which list, as a pure function of the meter clock, and meter/real time.

Each profile owns a :class:`Schedule`:

- :class:`PeriodicSchedule`: one list every ``interval_s`` seconds, on the seconds of the minute
  divisible by it (Landis+Gyr E360 P1: list 1 every 10 s, on :00, :10, ...).
- :class:`KaifaSchedule`: one frame every 2 s on even seconds; List 2 when seconds % 10 == 0,
  otherwise List 1; at XX:00:10 List 3 is sent instead of List 2, carrying the instant values of
  XX:00:00 (its clock reads XX:00:10).

Meter time is absolute: frames follow each other every interval of real (UTC) time, and the clock a
frame shows is the local wall clock of the meter's time zone, a naive ``datetime`` whose ``fold`` is 1 in
the second pass of a repeated hour (as :mod:`zoneinfo` sets it). On the 23-hour day the clock jumps
(01:59:58 -> 03:00:00 in Europe/Oslo); on the 25-hour day 02:00-03:00 is shown twice. A schedule works
on the wall clock's minute and second, which a whole-hour change leaves alone, so List 3 appears in
every hour the clock shows: twice in the repeated hour, never in the skipped one.

The module-level ``list_at``, ``next_frame_time``, ``values_time`` and ``frame_times`` are the Kaifa
schedule's. ``to_utc`` and ``to_local`` look the UTC offset up once per hour (:func:`clock_hour`), as a
meter sends thousands of frames per hour.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

FRAME_INTERVAL_S = 2  # Kaifa
LIST3_VALUES_AGE_S = 10  # Kaifa List 3 at XX:00:10 carries the values of XX:00:00
_LIST3_VALUES_AGE = timedelta(seconds=LIST3_VALUES_AGE_S)


@lru_cache(maxsize=32)
def zone(timezone: str) -> ZoneInfo:
    """The IANA zone ``timezone``; ValueError naming it when unknown."""
    try:
        return ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {timezone!r}") from exc


def exists(local: datetime, timezone: str) -> bool:
    """Whether the wall clock of ``timezone`` ever shows ``local`` (False in the skipped hour)."""
    aware = local.replace(tzinfo=zone(timezone))
    return aware.astimezone(UTC).astimezone(aware.tzinfo).replace(tzinfo=None) == local.replace(tzinfo=None)


def _exact_utc(local: datetime, timezone: str, strict: bool) -> datetime:
    if strict and not exists(local, timezone):
        raise ValueError(f"{local.isoformat()} does not exist in {timezone}: the clock skips that hour "
                         "(daylight saving time begins)")
    return local.replace(tzinfo=zone(timezone)).astimezone(UTC)


def _exact_local(utc: datetime, timezone: str | None) -> datetime:
    instant = utc if utc.tzinfo is not None else utc.replace(tzinfo=UTC)
    if timezone is None:
        return instant.astimezone(UTC).replace(tzinfo=None)
    return instant.astimezone(zone(timezone)).replace(tzinfo=None)


@dataclass(frozen=True)
class ClockHour:
    """One pass of a wall-clock hour throughout which the UTC offset stays the same: it begins at
    ``start`` (naive HH:00:00, ``fold`` 1 in the second pass of a repeated hour), the instant ``utc``
    (aware UTC). ``repeated``: the clock shows this hour twice (this is one of its passes)."""

    start: datetime
    utc: datetime
    repeated: bool


@lru_cache(maxsize=1024)
def _clock_hour(timezone: str, year: int, month: int, day: int, hour: int, fold: int) -> ClockHour | None:
    start = datetime(year, month, day, hour, fold=fold)
    last = start.replace(minute=59, second=59, microsecond=999_999)
    if not (exists(start, timezone) and exists(last, timezone)):
        return None
    utc = _exact_utc(start, timezone, strict=True)
    if _exact_utc(last, timezone, strict=True) - utc != last - start:
        return None
    return ClockHour(start, utc, repeated=utc != _exact_utc(start.replace(fold=1 - fold), timezone, strict=True))


def clock_hour(local: datetime, timezone: str) -> ClockHour | None:
    """The pass (by ``fold``) of the wall-clock hour of ``timezone`` in which the naive ``local`` falls;
    None when the clock skips any of that hour or its UTC offset changes within it."""
    return _clock_hour(timezone, local.year, local.month, local.day, local.hour, local.fold)


@lru_cache(maxsize=1024)
def _utc_hour_offset(timezone: str, year: int, month: int, day: int, hour: int) -> tuple[timedelta, int] | None:
    """(wall clock minus UTC, ``fold``) throughout an hour of UTC; None when either changes within it."""
    start = datetime(year, month, day, hour)
    last = start.replace(minute=59, second=59, microsecond=999_999)
    first_local, last_local = _exact_local(start, timezone), _exact_local(last, timezone)
    if last_local - first_local != last - start or first_local.fold != last_local.fold:
        return None
    return first_local - start, first_local.fold


def to_utc(local: datetime, timezone: str | None, strict: bool = True) -> datetime:
    """The aware UTC instant of the naive wall-clock time ``local`` in ``timezone`` (``fold`` 1: the
    second pass of a repeated hour). ``timezone`` None is a clock without DST (``local`` read as UTC).
    A time in the skipped hour is a ValueError when ``strict``, else read with the offset before the change.
    """
    if local.tzinfo is not None:
        return local.astimezone(UTC)
    if timezone is None:
        return local.replace(tzinfo=UTC)
    hour = clock_hour(local, timezone)
    if hour is None:
        return _exact_utc(local, timezone, strict)
    return hour.utc + (local - hour.start)


def to_local(utc: datetime, timezone: str | None) -> datetime:
    """The naive wall clock of ``timezone`` at the instant ``utc`` (aware, or naive UTC), with ``fold``
    1 in the second pass of a repeated hour. ``timezone`` None: ``utc`` itself, naive."""
    if utc.tzinfo is not None or timezone is None:
        return _exact_local(utc, timezone)
    offset = _utc_hour_offset(timezone, utc.year, utc.month, utc.day, utc.hour)
    if offset is None:
        return _exact_local(utc, timezone)
    local = utc + offset[0]
    return local.replace(fold=1) if offset[1] else local


class Schedule(Protocol):
    """Which list a meter sends at which meter time, and the instant whose values each frame carries."""

    @property
    def frame_interval_s(self) -> float: ...

    @property
    def description(self) -> str: ...

    def list_at(self, at: datetime) -> int | None: ...

    def next_frame_time(self, at: datetime) -> datetime: ...

    def values_time(self, at: datetime, list_no: int) -> datetime: ...

    def frame_times(
        self, start: datetime, count: int | None = None, until: datetime | None = None,
        timezone: str | None = None,
    ) -> Iterator[tuple[datetime, int]]: ...


@dataclass(frozen=True)
class PeriodicSchedule:
    """List ``list_no`` every ``interval_s`` seconds, on the seconds of the minute divisible by it."""

    interval_s: int
    list_no: int = 1

    def __post_init__(self) -> None:
        if self.interval_s <= 0 or 60 % self.interval_s:
            raise ValueError(f"the frame interval must divide a minute, got {self.interval_s} s")

    @property
    def frame_interval_s(self) -> float:
        """Seconds between two frames."""
        return float(self.interval_s)

    @property
    def description(self) -> str:
        """When frames are sent, for messages."""
        return f"every {self.interval_s} s, on seconds divisible by {self.interval_s}"

    def _is_frame_time(self, at: datetime) -> bool:
        return not at.microsecond and not at.second % self.interval_s

    def list_at(self, at: datetime) -> int | None:
        """The list sent at meter time ``at``, or None when no frame is sent then."""
        return self.list_no if self._is_frame_time(at) else None

    def next_frame_time(self, at: datetime) -> datetime:
        """The first frame time at or after ``at``."""
        base = at.replace(microsecond=0)
        if base < at:
            base += timedelta(seconds=1)
        return base + timedelta(seconds=-base.second % self.interval_s)

    def values_time(self, at: datetime, list_no: int) -> datetime:
        """The instant whose values a frame of ``list_no`` sent at ``at`` carries."""
        return at

    def frame_times(
        self, start: datetime, count: int | None = None, until: datetime | None = None,
        timezone: str | None = None,
    ) -> Iterator[tuple[datetime, int]]:
        """``(at, list_no)`` of the frames from ``start`` on; stops after ``count`` frames or before
        ``until`` (exclusive, in real time); endless when both are None.

        ``start`` and ``until`` are naive wall-clock times of ``timezone`` (``fold`` picks the pass of a
        repeated hour; a ``start`` in the skipped hour is a ValueError); the frames follow each other in
        real time and ``at`` is the wall clock they show. ``timezone`` None: a clock without DST.
        """
        utc = to_utc(start, timezone).replace(tzinfo=None)
        end = None if until is None else to_utc(until, timezone, strict=False).replace(tzinfo=None)
        utc = self.next_frame_time(utc)
        step = timedelta(seconds=self.interval_s)
        sent = 0
        while (count is None or sent < count) and (end is None or utc < end):
            at = to_local(utc, timezone)
            yield at, self.list_at(at)  # type: ignore[misc]
            sent += 1
            utc += step


@dataclass(frozen=True)
class KaifaSchedule(PeriodicSchedule):
    """Kaifa KFM_001: List 1 every 2 s, List 2 every 10 s, List 3 at XX:00:10 with XX:00:00 values."""

    interval_s: int = FRAME_INTERVAL_S

    @property
    def description(self) -> str:
        """When frames are sent, for messages."""
        return "every 2 s, even s"

    def list_at(self, at: datetime) -> int | None:
        """The list sent at meter time ``at``, or None when no frame is sent then (odd or fractional s)."""
        if not self._is_frame_time(at):
            return None
        if at.second % 10:
            return 1
        if at.minute == 0 and at.second == 10:
            return 3
        return 2

    def values_time(self, at: datetime, list_no: int) -> datetime:
        """The instant whose values a frame sent at ``at`` carries (List 3: 10 s earlier)."""
        return at - _LIST3_VALUES_AGE if list_no == 3 else at


KAIFA = KaifaSchedule()


def list_at(at: datetime) -> int | None:
    """Kaifa: the list sent at meter time ``at``, or None when no frame is sent then."""
    return KAIFA.list_at(at)


def next_frame_time(at: datetime) -> datetime:
    """Kaifa: the first frame time at or after ``at``."""
    return KAIFA.next_frame_time(at)


def values_time(at: datetime, list_no: int) -> datetime:
    """Kaifa: the instant whose values a frame sent at ``at`` carries (List 3: 10 s earlier)."""
    return KAIFA.values_time(at, list_no)


def frame_times(
    start: datetime, count: int | None = None, until: datetime | None = None, timezone: str | None = None
) -> Iterator[tuple[datetime, int]]:
    """Kaifa: ``(at, list_no)`` of the frames from ``start`` on (see :meth:`PeriodicSchedule.frame_times`)."""
    return KAIFA.frame_times(start, count=count, until=until, timezone=timezone)


@dataclass(frozen=True)
class Clock:
    """Maps meter time to real seconds elapsed since the stream began, at ``speed`` meter seconds per
    real second (1 = real time, 120 = two meter minutes per second). Pure arithmetic, no sleeping.

    Meter time runs in absolute time: ``start`` and the clock readings are naive wall-clock times of
    ``timezone`` (``fold`` 1 in the second pass of a repeated hour); None is a clock without DST.
    """

    start: datetime
    speed: float = 1.0
    timezone: str | None = None

    def __post_init__(self) -> None:
        if not self.speed > 0:
            raise ValueError(f"speed must be positive, got {self.speed}")

    def meter_time(self, elapsed_s: float) -> datetime:
        """The meter clock after ``elapsed_s`` real seconds."""
        return to_local(to_utc(self.start, self.timezone) + timedelta(seconds=elapsed_s * self.speed), self.timezone)

    def elapsed_s(self, at: datetime) -> float:
        """Real seconds from the start until the meter clock reads ``at`` (its first pass unless ``fold``)."""
        return (to_utc(at, self.timezone) - to_utc(self.start, self.timezone)).total_seconds() / self.speed

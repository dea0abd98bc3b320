"""A meter playing a profile: the model's values, encoded on the profile's schedule."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from rig.emulators.model import MeterModel
from rig.emulators.profiles import MeterProfile, get_profile, profile_timezone
from rig.emulators.schedule import exists, to_local, to_utc
from rig.reading import FIELDS, Reading

DEFAULT_START = datetime(2024, 10, 1, 19, 0, 0)


@dataclass(frozen=True)
class Frame:
    """One frame as sent: meter time, list number, the bytes, and the reading those bytes carry.

    ``at`` is the clock the meter shows (naive local wall-clock time, ``fold`` 1 in the second pass of a
    repeated hour); ``utc`` is the instant it is sent (aware, UTC), what paces and orders frames.
    ``corrupt`` marks a frame a fault injector damaged (see ``rig.emulators.faults``): a reader must
    count it as an error and publish none of it.
    """

    at: datetime
    list: int
    data: bytes
    reading: Reading
    corrupt: bool = False
    utc: datetime | None = None


@lru_cache(maxsize=256)
def _is_repeated(hour: datetime, timezone: str) -> bool:
    """Whether the wall clock of ``timezone`` shows ``hour`` (a naive full hour) twice."""
    return exists(hour, timezone) and to_utc(hour, timezone) != to_utc(hour.replace(fold=1), timezone)


class Meter:
    """``Meter(profile, seed=1, start=datetime(...), meter_id=None)``: frames of a seeded meter.

    ``start`` is naive local wall-clock time (default 2024-10-01 19:00:00) in the profile's
    ``timezone``, in which the meter's clock runs (daylight-saving changes included). The profile gives the
    schedule and the meter id: Kaifa defaults to ``6970631407262986`` and needs 16 digits; a meter
    whose messages carry no id (Landis+Gyr E360 P1) has ``meter_id`` None and accepts none.
    """

    def __init__(
        self,
        profile: MeterProfile | str,
        seed: int = 1,
        start: datetime | None = None,
        meter_id: str | None = None,
        load: str | None = None,
    ) -> None:
        self.profile = get_profile(profile) if isinstance(profile, str) else profile
        self.seed = seed
        self.start = start or DEFAULT_START
        self.meter_id = self.profile.resolve_meter_id(meter_id)
        self.model = MeterModel(seed=seed, wiring=self.profile.wiring, load=load)  # load: a scenario name
        self.timezone = profile_timezone(self.profile)

    def utc_of(self, at: datetime) -> datetime:
        """The instant (aware UTC) the meter clock reads ``at``; ValueError in the skipped hour."""
        return to_utc(at, self.timezone)

    def local_of(self, utc: datetime) -> datetime:
        """The meter clock (naive local, ``fold`` 1 in the repeated hour's second pass) at ``utc``."""
        return to_local(utc, self.timezone)

    def _model_time(self, utc: datetime) -> datetime:
        """The model's (naive, monotonic) time of an instant: the wall clock, except that the two real
        hours the clock spends in a repeated hour map onto that one hour at half rate, so the energy
        registers never run backwards."""
        local = self.local_of(utc)
        hour = local.replace(minute=0, second=0, microsecond=0, fold=0)
        if not _is_repeated(hour, self.timezone):
            return local.replace(fold=0)
        into = (local.replace(fold=0) - hour) / 2
        return hour + into + (timedelta(minutes=30) if local.fold else timedelta(0))

    def frame_at(
        self, at: datetime, list_no: int | None = None, overrides: Mapping[str, Any] | None = None
    ) -> Frame:
        """The frame sent at meter time ``at``; ``list_no`` None means the scheduled list (ValueError if
        no frame is due at ``at``). ``overrides`` sets normalized fields (SI units) explicitly; the rest
        come from the model, or are derived as the meter derives them (E360: the totals not set come
        from the printed phases). Fields the list does not carry are ignored; ``timestamp`` is ``at``.
        ``at`` is the meter's wall clock (``fold`` 1: the repeated hour's second pass); a time the clock
        skips, which no schedule sends, is encoded as given and sent at the instant ``zoneinfo`` maps it to.
        """
        schedule = self.profile.schedule
        if list_no is None:
            list_no = schedule.list_at(at)
            if list_no is None:
                raise ValueError(f"{self.profile.id} sends no frame at {at.isoformat()} ({schedule.description})")
        overrides = dict(overrides or {})
        unknown = sorted(set(overrides) - set(FIELDS))
        if unknown or "timestamp" in overrides:
            raise ValueError(f"cannot override {unknown or ['timestamp']}; fields: {', '.join(FIELDS)}")
        utc = to_utc(at, self.timezone, strict=False)
        age = at.replace(fold=0) - schedule.values_time(at.replace(fold=0), list_no)
        values = self.model.reading_at(self._model_time(utc - age))
        values["meter_type"] = self.profile.model
        if self.meter_id is not None:
            values["meter_id"] = self.meter_id
        values = self.profile.frame_values(values, overrides)
        reading = self.profile.quantize(list_no, values, at)
        data = self.profile.encode(list_no, reading, at)
        return Frame(at=at, list=list_no, data=data, reading=reading, utc=utc)

    def frames(
        self, start: datetime | None = None, count: int | None = None, until: datetime | None = None
    ) -> Iterator[Frame]:
        """The frames on the real schedule from ``start`` (default: the meter's start), stopping after
        ``count`` frames or before ``until`` (exclusive, in real time); endless when both are None.
        Frames follow each other in real time across daylight-saving changes (see ``schedule``)."""
        times = self.profile.schedule.frame_times(start or self.start, count=count, until=until,
                                                  timezone=self.timezone)
        for at, list_no in times:
            yield self.frame_at(at, list_no)

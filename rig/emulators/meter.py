"""A meter playing a profile: the model's values, encoded on the profile's schedule."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from rig.emulators.ciphered import seal
from rig.emulators.model import ENERGY_FIELDS, MeterModel
from rig.emulators.profiles import MeterProfile, get_profile, profile_security, profile_timezone
from rig.emulators.schedule import ClockHour, clock_hour, to_local, to_utc
from rig.emulators.security import FRAME_COUNTER_MAX, Security
from rig.reading import FIELDS, Reading

DEFAULT_START = datetime(2024, 10, 1, 19, 0, 0)
_ENERGIES = frozenset(ENERGY_FIELDS)
_HALF_HOUR = timedelta(minutes=30)


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


def _model_time_in(hour: ClockHour, into: timedelta) -> datetime:
    """The model time ``into`` a pass of a wall-clock hour: a repeated hour's two passes map onto that one
    hour at half rate (see ``Meter._model_time``)."""
    if not hour.repeated:
        return hour.start + into  # the wall clock (fold 0)
    return hour.start + into / 2 + (_HALF_HOUR if hour.start.fold else timedelta(0))


class Meter:
    """``Meter(profile, seed=1, start=datetime(...), meter_id=None)``: frames of a seeded meter.

    ``start`` is naive local wall-clock time (default 2024-10-01 19:00:00) in the profile's
    ``timezone``, in which the meter's clock runs (daylight-saving changes included). The profile gives the
    schedule and the meter id: Kaifa defaults to ``6970631407262986`` and needs 16 digits; a meter
    whose messages carry no id (Landis+Gyr E360 P1) has ``meter_id`` None and accepts none.

    ``security`` ciphers every frame (general-glo-ciphering on the profile's carrier); None takes the
    profile's own (``profile.security``: the meters that encrypt by default), if any. The frame counter
    starts at ``security.frame_counter`` and increases by one per frame encoded (``frame_counter`` is the
    next one).
    """

    def __init__(
        self,
        profile: MeterProfile | str,
        seed: int = 1,
        start: datetime | None = None,
        meter_id: str | None = None,
        load: str | None = None,
        security: Security | None = None,
    ) -> None:
        self.profile = get_profile(profile) if isinstance(profile, str) else profile
        self.security: Security | None = security or profile_security(self.profile)
        self.frame_counter = self.security.frame_counter if self.security else 0
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
        hour = clock_hour(local, self.timezone)
        if hour is None:  # the clock skips part of this hour, or its UTC offset changes within it
            return local.replace(fold=0)
        return _model_time_in(hour, local - hour.start)

    def _instants(self, at: datetime, age: timedelta) -> tuple[datetime, datetime]:
        """(the instant the clock reads ``at``, aware UTC; the model time of the instant ``age`` before it)."""
        hour = clock_hour(at, self.timezone) if at.tzinfo is None else None
        if hour is None or at - hour.start < age:  # an aware or skipped time, or values of the hour before
            utc = to_utc(at, self.timezone, strict=False)
            return utc, self._model_time(utc - age)
        into = at - hour.start
        return hour.utc + into, _model_time_in(hour, into - age)

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
        if overrides:
            unknown = sorted(overrides.keys() - FIELDS.keys())
            if unknown or "timestamp" in overrides:
                raise ValueError(f"cannot override {unknown or ['timestamp']}; fields: {', '.join(FIELDS)}")
        utc, model_at = self._instants(at, at - schedule.values_time(at, list_no))
        energies = not _ENERGIES.isdisjoint(self.profile.fields(list_no))  # most lists carry none
        values = self.model.reading_at(model_at, energies=energies)
        values["meter_type"] = self.profile.model
        if self.meter_id is not None:
            values["meter_id"] = self.meter_id
        values = self.profile.frame_values(values, overrides)
        reading = self.profile.quantize(list_no, values, at)
        data = self.profile.encode(list_no, reading, at)
        if self.security is not None:
            data = self._seal(data)
        return Frame(at=at, list=list_no, data=data, reading=reading, utc=utc)

    def _seal(self, data: bytes) -> bytes:
        if self.frame_counter > FRAME_COUNTER_MAX:
            raise ValueError(f"the frame counter ran out ({FRAME_COUNTER_MAX}): the meter cannot cipher more frames")
        segment = getattr(self.profile, "segment_bytes", None)
        sealed = seal(data, self.security, self.frame_counter, **({"segment_bytes": segment} if segment else {}))
        self.frame_counter += 1
        return sealed

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

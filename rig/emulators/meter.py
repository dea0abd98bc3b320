"""A meter playing a profile: the model's values, encoded on the profile's schedule."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from rig.emulators.model import MeterModel
from rig.emulators.profiles import MeterProfile, get_profile
from rig.reading import FIELDS, Reading

DEFAULT_START = datetime(2024, 10, 1, 19, 0, 0)


@dataclass(frozen=True)
class Frame:
    """One frame as sent: meter time, list number, the bytes, and the reading those bytes carry.

    ``corrupt`` marks a frame a fault injector damaged (see ``rig.emulators.faults``): a reader must
    count it as an error and publish none of it.
    """

    at: datetime
    list: int
    data: bytes
    reading: Reading
    corrupt: bool = False


class Meter:
    """``Meter(profile, seed=1, start=datetime(...), meter_id=None)``: frames of a seeded meter.

    ``start`` is naive local wall-clock time (default 2024-10-01 19:00:00). The profile gives the
    schedule and the meter id: Kaifa defaults to ``6970631407262986`` and needs 16 digits; a meter
    whose messages carry no id (Landis+Gyr E360 P1) has ``meter_id`` None and accepts none.
    """

    def __init__(
        self,
        profile: MeterProfile | str,
        seed: int = 1,
        start: datetime | None = None,
        meter_id: str | None = None,
    ) -> None:
        self.profile = get_profile(profile) if isinstance(profile, str) else profile
        self.seed = seed
        self.start = start or DEFAULT_START
        self.meter_id = self.profile.resolve_meter_id(meter_id)
        self.model = MeterModel(seed=seed, wiring=self.profile.wiring)

    def frame_at(
        self, at: datetime, list_no: int | None = None, overrides: Mapping[str, Any] | None = None
    ) -> Frame:
        """The frame sent at meter time ``at``; ``list_no`` None means the scheduled list (ValueError if
        no frame is due at ``at``). ``overrides`` sets normalized fields (SI units) explicitly; the rest
        come from the model, or are derived as the meter derives them (E360: the totals not set come
        from the printed phases). Fields the list does not carry are ignored; ``timestamp`` is ``at``.
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
        values = self.model.reading_at(schedule.values_time(at, list_no))
        values["meter_type"] = self.profile.model
        if self.meter_id is not None:
            values["meter_id"] = self.meter_id
        values = self.profile.frame_values(values, overrides)
        reading = self.profile.quantize(list_no, values, at)
        return Frame(at=at, list=list_no, data=self.profile.encode(list_no, reading, at), reading=reading)

    def frames(
        self, start: datetime | None = None, count: int | None = None, until: datetime | None = None
    ) -> Iterator[Frame]:
        """The frames on the real schedule from ``start`` (default: the meter's start), stopping after
        ``count`` frames or before ``until`` (exclusive); endless when both are None."""
        for at, list_no in self.profile.schedule.frame_times(start or self.start, count=count, until=until):
            yield self.frame_at(at, list_no)

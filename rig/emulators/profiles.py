"""The registry of meter profiles the emulator can play."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol

from rig.emulators.aidon import AIDON_6534
from rig.emulators.austria import E450_BURGENLAND, MA309_NETZNOE
from rig.emulators.kaifa import MA304H3E, MA304H4
from rig.emulators.kaifa_variants import VARIANTS as KAIFA_VARIANTS
from rig.emulators.kamstrup import OMNIPOWER
from rig.emulators.landis_gyr import E360
from rig.emulators.schedule import Schedule
from rig.emulators.security import Security
from rig.emulators.smarty import SMARTY
from rig.line import LineSettings
from rig.reading import Reading


class MeterProfile(Protocol):
    """What the rig needs to know about a meter model to play it.

    ``schedule`` says which list is sent at which meter time and whose values it carries;
    ``frame_interval_s`` is the schedule's. ``resolve_meter_id`` gives the meter id a ``Meter`` uses
    (the default for None; ValueError when the meter cannot carry the one given); ``frame_values``
    applies explicit overrides to the model's values and derives what the meter derives.
    ``timezone`` is the IANA zone of the meter's clock (read it with :func:`profile_timezone`, which
    falls back to Europe/Oslo for a profile without one). A meter that encrypts by default also has
    ``security`` (a :class:`rig.emulators.security.Security` with test keys), read with :func:`profile_security`.
    """

    id: str
    make: str
    model: str
    country: str
    protocol: str
    wiring: str
    line: LineSettings
    lists: dict[int, str]
    list_fields: dict[int, tuple[str, ...]]
    timezone: str

    @property
    def schedule(self) -> Schedule: ...

    @property
    def frame_interval_s(self) -> float: ...

    def fields(self, list_no: int) -> tuple[str, ...]: ...

    def resolve_meter_id(self, meter_id: str | None) -> str | None: ...

    def frame_values(self, values: Reading, overrides: Mapping[str, Any]) -> Reading: ...

    def quantize(self, list_no: int, values: Reading, at: datetime) -> Reading: ...

    def encode(self, list_no: int, reading: Reading, at: datetime) -> bytes: ...


_PROFILES: dict[str, MeterProfile] = {
    p.id: p for p in (MA304H4, MA304H3E, E360, *KAIFA_VARIANTS, AIDON_6534, OMNIPOWER,
                      MA309_NETZNOE, E450_BURGENLAND, SMARTY)
}


DEFAULT_TIMEZONE = "Europe/Oslo"


def profile_timezone(profile: object) -> str:
    """The IANA time zone of a profile's meter clock (Europe/Oslo when the profile names none)."""
    return str(getattr(profile, "timezone", None) or DEFAULT_TIMEZONE)


def profile_security(profile: object) -> Security | None:
    """The security a profile encrypts with by default (test keys), or None for a plain meter."""
    return getattr(profile, "security", None)


def get_profile(profile_id: str) -> MeterProfile:
    """The profile with this id; KeyError naming the known ids otherwise."""
    try:
        return _PROFILES[profile_id]
    except KeyError:
        known = ", ".join(sorted(_PROFILES))
        raise KeyError(f"unknown meter profile {profile_id!r}; known: {known}") from None


def list_profiles() -> list[MeterProfile]:
    """Every known profile, sorted by id."""
    return [_PROFILES[k] for k in sorted(_PROFILES)]

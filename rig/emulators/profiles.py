"""The registry of meter profiles the emulator can play."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from rig.emulators.kaifa import MA304H3E, MA304H4
from rig.line import LineSettings
from rig.reading import Reading


class MeterProfile(Protocol):
    """What the rig needs to know about a meter model to play it."""

    id: str
    make: str
    model: str
    country: str
    protocol: str
    wiring: str
    line: LineSettings
    frame_interval_s: float
    lists: dict[int, str]
    list_fields: dict[int, tuple[str, ...]]

    def fields(self, list_no: int) -> tuple[str, ...]: ...

    def quantize(self, list_no: int, values: Reading, at: datetime) -> Reading: ...

    def encode(self, list_no: int, reading: Reading, at: datetime) -> bytes: ...


_PROFILES: dict[str, MeterProfile] = {p.id: p for p in (MA304H4, MA304H3E)}


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

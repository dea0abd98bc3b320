"""Meter emulators: seeded meter models, profiles and their wire encoders (pure: values and times in,
bytes out). Never imports the reader firmware: the emulator is the independent oracle."""

from rig.emulators.meter import Frame, Meter
from rig.emulators.model import MeterModel
from rig.emulators.profiles import MeterProfile, get_profile, list_profiles

__all__ = ["Frame", "Meter", "MeterModel", "MeterProfile", "get_profile", "list_profiles"]

"""Aidon 65xx on the Norwegian HAN port (HAN-NVE lists, ``AIDON_V0001``): normalized readings -> HDLC frames.

Frame: ``7E A0/A1 xx | 41 | 08 83 | 13 (UI) | HCS | E6 E7 00 | 0F 40000000 00 | body | FCS 7E``; the
notification carries no date-time (``00``). Body: ``01 NN`` (array), each element a structure of the
OBIS code and the value, registers with their scaler-unit: ``02 02 (09 06 OBIS)(0A text)`` or
``02 03 (09 06 OBIS)(value)(02 02 0F scaler 16 unit)``. P/Q ``06`` W/var (scaler 0), I ``10`` int16
0.1 A, U ``12`` uint16 0.1 V, energies ``06`` 10 Wh/varh (scaler +1). Objects a meter variant lacks
are not sent (single-phase: IL1 and UL1 only).

Schedule: one frame every 2.5 s, on the 2.5 s grid of the minute; List 2 instead of List 1 when the
clock reads whole seconds divisible by 10; List 3 at XX:00:10 instead of List 2, carrying the values and
the clock of XX:00:00. Only List 3 carries the clock (item ``0-0:1.0.0``), as the meter's local
wall-clock time with deviation ``0000`` and status ``00`` and the day of week numbered Sunday = 0 (both
as in a real list 3 of 2025-12-14, a Sunday, logged at 16:00:11 with its clock at 16:00:00). The
deviation 0 is a placeholder, not the clock's offset (the clock is local time, summer and winter), so the
reading's ``timestamp`` is the local wall-clock time without an offset, as Kaifa's. Lists 1 and 2 carry
no clock, so their readings have no ``timestamp``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from rig.emulators import axdr, dlms, hdlc
from rig.emulators.profile_base import ListedProfile, gs1_meter_id
from rig.emulators.schedule import PeriodicSchedule
from rig.line import LineSettings
from rig.reading import Reading

LIST_VERSION = "AIDON_V0001"
DEFAULT_METER_ID = "7359992890497997"
DEST_ADDRESS = b"\x41"
SOURCE_ADDRESS = b"\x08\x83"
CONTROL = 0x13
INVOKE_ID_AND_PRIORITY = 0x40000000
NO_DATE_TIME = b"\x00"  # null-data: the notification states no date-time
CLOCK_DEVIATION = 0
CLOCK_STATUS = 0x00
LIST3_VALUES_AGE_S = 10

INTEGER = 0x0F
ENUM = 0x16
UNITS = {"W": 27, "var": 29, "Wh": 30, "varh": 32, "A": 33, "V": 35}  # COSEM unit enumeration


def obis(code: str) -> bytes:
    """The six bytes of an OBIS code written ``A.B.C.D.E.F`` (``1.0.1.7.0.255``)."""
    parts = [int(p) for p in code.split(".")]
    if len(parts) != 6 or not all(0 <= p <= 255 for p in parts):
        raise ValueError(f"OBIS code {code!r} must be six numbers 0..255")
    return bytes(parts)


# A-XDR type of a register value -> (encoder, smallest, largest)
WIRE_TYPES: dict[str, tuple[Callable[[int], bytes], int, int]] = {
    "double-long-unsigned": (axdr.double_long_unsigned, 0, 0xFFFFFFFF),
    "long": (axdr.long, -0x8000, 0x7FFF),
    "long-unsigned": (axdr.long_unsigned, 0, 0xFFFF),
}


@dataclass(frozen=True)
class Register:
    """A numeric field on the wire: OBIS code, A-XDR type and the decimal scaler of its unit."""

    name: str
    obis: str
    wire_type: str
    scaler: int
    unit: str

    def to_wire(self, value: Any) -> int:
        """The wire integer of an SI value, rounded to the wire resolution (233.04 V -> 2330)."""
        if value is None:
            raise ValueError(f"{self.name} has no value, but the frame must carry it")
        try:
            scale = 10 ** abs(self.scaler)
            raw = round(float(value) * scale if self.scaler < 0 else float(value) / scale)
        except (TypeError, ValueError, OverflowError):
            raise ValueError(f"{self.name}={value!r} is not a number") from None
        _, lo, hi = WIRE_TYPES[self.wire_type]
        if not lo <= raw <= hi:
            raise ValueError(f"{self.name}={value} is outside the {self.wire_type} range of the wire "
                             f"({self.from_wire(lo)}..{self.from_wire(hi)} {self.unit})")
        return raw

    def from_wire(self, raw: int) -> int | float:
        """The SI value of a wire integer (an int when the scaler is not negative)."""
        return raw * 10**self.scaler if self.scaler >= 0 else raw / 10**-self.scaler

    def value(self, raw: int) -> bytes:
        """The encoded value alone (tag + content)."""
        return WIRE_TYPES[self.wire_type][0](raw)

    def scaler_unit(self) -> bytes:
        """``02 02 0F <scaler> 16 <unit>``."""
        return axdr.structure(bytes([INTEGER, self.scaler & 0xFF]), bytes([ENUM, UNITS[self.unit]]))


TEXT_OBIS = {"list_version": "1.1.0.2.129.255", "meter_id": "0.0.96.1.0.255", "meter_type": "0.0.96.1.7.255"}
TEXT_FIELDS = tuple(TEXT_OBIS)
CLOCK_OBIS = "0.0.1.0.0.255"
POWERS = (
    Register("p_import_w", "1.0.1.7.0.255", "double-long-unsigned", 0, "W"),
    Register("p_export_w", "1.0.2.7.0.255", "double-long-unsigned", 0, "W"),
    Register("q_import_var", "1.0.3.7.0.255", "double-long-unsigned", 0, "var"),
    Register("q_export_var", "1.0.4.7.0.255", "double-long-unsigned", 0, "var"),
)
CURRENTS = tuple(Register(f"i_l{k}_a", f"1.0.{20 * k + 11}.7.0.255", "long", -1, "A") for k in (1, 2, 3))
VOLTAGES = tuple(Register(f"u_l{k}_v", f"1.0.{20 * k + 12}.7.0.255", "long-unsigned", -1, "V") for k in (1, 2, 3))
ENERGIES = (
    Register("e_import_wh", "1.0.1.8.0.255", "double-long-unsigned", 1, "Wh"),
    Register("e_export_wh", "1.0.2.8.0.255", "double-long-unsigned", 1, "Wh"),
    Register("r_import_varh", "1.0.3.8.0.255", "double-long-unsigned", 1, "varh"),
    Register("r_export_varh", "1.0.4.8.0.255", "double-long-unsigned", 1, "varh"),
)
REGISTERS = {r.name: r for r in POWERS + CURRENTS + VOLTAGES + ENERGIES}
LISTS: dict[int, str] = {
    1: "every 2.5 s (P+)",
    2: "every 10 s, when seconds % 10 == 0, instead of List 1",
    3: "hourly at XX:00:10 instead of List 2 (values and clock of XX:00:00)",
}


@dataclass(frozen=True)
class AidonSchedule(PeriodicSchedule):
    """Aidon HAN-NVE: one frame every 2.5 s; List 2 on whole seconds divisible by 10, List 3 at XX:00:10."""

    interval_s: float = 2.5  # type: ignore[assignment]

    @property
    def description(self) -> str:
        """When frames are sent, for messages."""
        return "every 2.5 s, on :00.0, :02.5, :05.0, ..."

    def _is_frame_time(self, at: datetime) -> bool:
        return not (at.second * 1_000_000 + at.microsecond) % 2_500_000

    def list_at(self, at: datetime) -> int | None:
        """The list sent at meter time ``at``, or None when no frame is sent then."""
        if not self._is_frame_time(at):
            return None
        if at.microsecond or at.second % 10:
            return 1
        return 3 if at.minute == 0 and at.second == LIST3_VALUES_AGE_S else 2

    def next_frame_time(self, at: datetime) -> datetime:
        """The first frame time at or after ``at``."""
        minute = at.replace(second=0, microsecond=0)
        into = at.second * 1_000_000 + at.microsecond
        return minute + timedelta(microseconds=-(-into // 2_500_000) * 2_500_000)

    def values_time(self, at: datetime, list_no: int) -> datetime:
        """The instant whose values a frame sent at ``at`` carries (List 3: 10 s earlier)."""
        return at - timedelta(seconds=LIST3_VALUES_AGE_S) if list_no == 3 else at


def clock_bytes(at: datetime) -> bytes:
    """The 12-byte clock as Aidon sends it: day of week 0 on Sunday, deviation 0, status 00."""
    raw = axdr.date_time(at.replace(microsecond=0), deviation=CLOCK_DEVIATION, clock_status=CLOCK_STATUS)
    return raw[:4] + bytes([at.isoweekday() % 7]) + raw[5:]


def format_timestamp(at: datetime) -> str:
    """The clock item as a normalized timestamp: local wall-clock time, no offset (deviation 0 is a
    placeholder)."""
    return at.strftime("%Y-%m-%dT%H:%M:%S")


@dataclass(frozen=True)
class AidonProfile(ListedProfile):
    """An Aidon meter on the Norwegian HAN port sending the HAN-NVE lists (``phases`` 3 or 1).

    A single-phase meter sends IL1 and UL1 only; its power totals are those of phase 1 (derived from
    the model's per-phase values unless set explicitly); its energy registers are the model's.
    """

    id: str
    model: str
    phases: int = 3
    make: str = "Aidon"
    country: str = "NO"
    protocol: str = "HDLC/DLMS AIDON_V0001"
    wiring: str = "TN"
    timezone: str = "Europe/Oslo"
    line: LineSettings = field(default_factory=lambda: LineSettings(2400, 8, "E", 1))
    list_version: str = LIST_VERSION
    schedule: AidonSchedule = field(default_factory=AidonSchedule)
    lists: dict[int, str] = field(default_factory=lambda: dict(LISTS))
    list_fields: dict[int, tuple[str, ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.phases not in (1, 3):
            raise ValueError(f"an Aidon meter has 1 or 3 phases, got {self.phases}")
        if not self.list_fields:
            k = self.phases
            list2 = TEXT_FIELDS + tuple(r.name for r in POWERS + CURRENTS[:k] + VOLTAGES[:k])
            fields = {1: ("p_import_w",), 2: list2, 3: list2 + tuple(r.name for r in ENERGIES)}
            object.__setattr__(self, "list_fields", fields)

    def resolve_meter_id(self, meter_id: str | None) -> str:
        """The meter id sent in Lists 2 and 3: ``DEFAULT_METER_ID`` when None; must be 16 digits."""
        return gs1_meter_id(meter_id, DEFAULT_METER_ID)

    def frame_values(self, values: Reading, overrides: Mapping[str, Any]) -> Reading:
        """``values`` with ``overrides`` applied; a single-phase meter's totals are its phase 1."""
        merged = {**values, **overrides}
        if self.phases == 1:
            for total, phase in (("p_import_w", "p_l1_import_w"), ("p_export_w", "p_l1_export_w"),
                                 ("q_import_var", "q_l1_import_var"), ("q_export_var", "q_l1_export_var")):
                if total not in overrides and merged.get(phase) is not None:
                    merged[total] = merged[phase]
        return merged

    def _text(self, name: str, values: Reading) -> str:
        value = values.get(name) or {"list_version": self.list_version, "meter_type": self.model}.get(name)
        if value is None:
            raise ValueError(f"the frame needs {name}")
        text = str(value)
        if not text.isascii():
            raise ValueError(f"{name}={text!r} must be ASCII")
        return text

    def quantize(self, list_no: int, values: Reading, at: datetime) -> Reading:
        """The reading a frame sent at ``at`` carries: exactly the list's fields, at wire resolution;
        ``timestamp`` only for List 3 (the clock item, ``values_time``)."""
        names = self.fields(list_no)
        reading: Reading = {}
        if list_no == 3:
            reading["timestamp"] = format_timestamp(self.schedule.values_time(at, 3))
        for name in names:
            if name in TEXT_OBIS:
                reading[name] = self._text(name, values)
            else:
                register = REGISTERS[name]
                reading[name] = register.from_wire(register.to_wire(values.get(name)))
        return reading

    def encode(self, list_no: int, reading: Reading, at: datetime) -> bytes:
        """The HDLC frame of list ``list_no`` carrying ``reading`` (SI units), sent at meter time ``at``."""
        items = []
        for name in self.fields(list_no):
            if name == "e_import_wh":  # List 3: the clock item precedes the energies
                clock = axdr.octet_string(clock_bytes(self.schedule.values_time(at, 3)))
                items.append(axdr.structure(axdr.octet_string(obis(CLOCK_OBIS)), clock))
            if name in TEXT_OBIS:
                text = axdr.visible_string(self._text(name, reading))
                items.append(axdr.structure(axdr.octet_string(obis(TEXT_OBIS[name])), text))
            else:
                r = REGISTERS[name]
                value = r.value(r.to_wire(reading.get(name)))
                items.append(axdr.structure(axdr.octet_string(obis(r.obis)), value, r.scaler_unit()))
        apdu = dlms.data_notification(INVOKE_ID_AND_PRIORITY, NO_DATE_TIME, axdr.array(*items))
        return hdlc.build_frame(dlms.llc_pdu(apdu), DEST_ADDRESS, SOURCE_ADDRESS, CONTROL)


AIDON_6534 = AidonProfile(id="aidon-6534", model="6534")
AIDON_6515 = AidonProfile(id="aidon-6515", model="6515", phases=1)  # single-phase (not registered)

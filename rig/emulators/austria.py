"""Austrian meters as their grid operators configure them, encrypted by default (test keys).

- **Kaifa MA309, Netz NOE** (``kaifa-ma309-netznoe``): wired M-Bus (2400 8E1) every 5 s, long frames of at
  most 245 data bytes (``68 FA FA 68 53 FF 00 01 67 ...`` then ``... 11 01 67 ...``), general-glo-ciphering
  with SC 0x20. The APDU is ``0F`` + invoke id + ``0C`` date-time + a flat structure of 35 items: the clock
  (``09 0C``), then OBIS code, value and scaler-unit for A+ and A- (Wh, ``06``), P+ and P- (W, ``06``),
  U1..U3 (``12``, 0.1 V), I1..I3 (``12``, 0.01 A) and the power factor (``12``, 0.001), and last the meter
  number (``09 0C``). The clock is local time with its deviation (FF88 in summer, FFC4 in winter) and the
  daylight-saving bit, so the reading's timestamp states its offset.
- **Landis+Gyr E450, Netz Burgenland** (``landis-gyr-e450-burgenland``): HDLC (``E6 E7 00 DB ...``) every
  5 s, SC 0x30 (AES-GCM with AAD = SC || AK). The APDU is ``0F`` + invoke id + ``0C`` date-time (deviation
  unspecified) + a structure of 14 values, no OBIS codes: U1..U3 (``12``, 1 V), I1..I3 (``12``, 0.01 A),
  P+ and P- (W, ``06``), A+ and A- (Wh, ``06``), three long-unsigned items whose meaning no public source
  states (sent as configured, not part of the reading), and the meter number (``09``).

The default keys are public test keys (the Netz NOE documentation's example key; the keys posted with the
E450 example frames): never a real meter's.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from rig.emulators import axdr, dlms, hdlc, mbus
from rig.emulators.profile_base import ListedProfile
from rig.emulators.schedule import PeriodicSchedule, zone
from rig.emulators.security import Security
from rig.line import LineSettings
from rig.reading import Reading

PHASES = (1, 2, 3)
VOLTAGES = tuple(f"u_l{k}_v" for k in PHASES)
CURRENTS = tuple(f"i_l{k}_a" for k in PHASES)
FIELDS = ("meter_id", "e_import_wh", "e_export_wh", "p_import_w", "p_export_w", *VOLTAGES, *CURRENTS)
# One list, numbered 3 as readers number a list that carries the energy registers (Kaifa, Aidon: List 3)
LIST_NO = 3
LISTS = {LIST_NO: "every 5 s (the full list: energies, powers, voltages, currents)"}

# Netz NOE documentation example: published test key, Kaifa system title "KFMgP..." (4B464D6750000009).
NETZNOE_TEST_SECURITY = Security(key=bytes.fromhex("36C66639E48A8CA4D6BC8B282A793BBB"),
                                 system_title=bytes.fromhex("4B464D6750000009"), security_control=0x20,
                                 frame_counter=1)
# The keys posted publicly with the Netz Burgenland E450 example frames (test keys), system title "LGZgr...".
BURGENLAND_TEST_SECURITY = Security(key=bytes.fromhex("34743677397A24432646294A404E6352"),
                                    auth_key=bytes.fromhex("C0C1C2C3C4C5C6C7C8C9CACBCCCDCECF"),
                                    system_title=bytes.fromhex("4C475A6772A9A111"), security_control=0x30,
                                    frame_counter=1)


def _wire(name: str, value: Any, per_si: int, bits: int) -> int:
    if value is None:
        raise ValueError(f"{name} has no value, but the frame must carry it")
    raw = round(value * per_si)
    if not 0 <= raw < 1 << bits:
        raise ValueError(f"{name}={value} is outside the uint{bits} range of the wire")
    return raw


def _si(raw: int, per_si: int) -> int | float:
    return raw if per_si == 1 else raw / per_si


def _text_id(meter_id: str | None, default: str) -> str:
    resolved = default if meter_id is None else str(meter_id)
    if not 1 <= len(resolved) <= 32 or not resolved.isascii() or not resolved.isprintable():
        raise ValueError(f"meter id must be 1 to 32 printable ASCII characters, got {resolved!r}")
    return resolved


def power_factor(reading: Mapping[str, Any]) -> float:
    """|P| / S with S the sum of U·I over the phases, in 0..1 (1 with no current)."""
    apparent = sum((reading.get(u) or 0) * (reading.get(i) or 0) for u, i in zip(VOLTAGES, CURRENTS, strict=True))
    active = (reading.get("p_import_w") or 0) + (reading.get("p_export_w") or 0)
    return 1.0 if apparent <= 0 else min(1.0, active / apparent)


@dataclass(frozen=True)
class _Value:
    """A measured value of the list: its field, wire integer per SI unit, A-XDR tag and bits."""

    name: str
    per_si: int
    tag: int
    bits: int

    def item(self, reading: Mapping[str, Any]) -> bytes:
        raw = _wire(self.name, reading.get(self.name), self.per_si, self.bits)
        return struct.pack(">BI" if self.bits == 32 else ">BH", self.tag, raw)

    def quantized(self, value: Any) -> int | float:
        return _si(_wire(self.name, value, self.per_si, self.bits), self.per_si)


_U32, _U16 = axdr.DOUBLE_LONG_UNSIGNED, axdr.LONG_UNSIGNED


@dataclass(frozen=True)
class _AustrianProfile(ListedProfile):
    """What both Austrian profiles share: one list every 5 s with the same fields, a text meter number."""

    id: str
    model: str
    make: str
    protocol: str
    default_meter_id: str
    security: Security
    country: str = "AT"
    timezone: str = "Europe/Vienna"
    wiring: str = "TN"
    line: LineSettings = field(default_factory=lambda: LineSettings(2400, 8, "E", 1))
    schedule: PeriodicSchedule = field(default_factory=lambda: PeriodicSchedule(5, LIST_NO))
    lists: dict[int, str] = field(default_factory=lambda: dict(LISTS))
    list_fields: dict[int, tuple[str, ...]] = field(default_factory=lambda: {LIST_NO: FIELDS})
    layout: tuple[_Value, ...] = field(kw_only=True)  # the values of the list, in the order they are sent

    def resolve_meter_id(self, meter_id: str | None) -> str:
        """The meter number sent (text): the profile's default when None."""
        return _text_id(meter_id, self.default_meter_id)

    def frame_values(self, values: Reading, overrides: Mapping[str, Any]) -> Reading:
        """The model's values with ``overrides`` applied."""
        if "meter_id" in overrides:
            _text_id(overrides["meter_id"], self.default_meter_id)
        return {**values, **overrides}

    def timestamp(self, at: datetime) -> str:
        return at.isoformat(timespec="seconds")[:19]

    def quantize(self, list_no: int, values: Reading, at: datetime) -> Reading:
        """The reading a frame sent at ``at`` carries: its fields at wire resolution."""
        self.fields(list_no)
        reading: Reading = {"timestamp": self.timestamp(at), "meter_id": _text_id(values.get("meter_id"),
                                                                                   self.default_meter_id)}
        for value in self.layout:
            reading[value.name] = value.quantized(values.get(value.name))
        return reading


@dataclass(frozen=True)
class KaifaNetzNoeProfile(_AustrianProfile):
    """Kaifa MA309 on wired M-Bus as Netz NOE configures it (see the module docstring)."""

    invoke_id: int = 0x8006870E
    segment_bytes: int = mbus.SEGMENT_BYTES

    def _deviation(self, at: datetime) -> tuple[int, bool]:
        local = zone(self.timezone)
        offset = local.utcoffset(at) if at.tzinfo is None else at.utcoffset()
        dst = local.dst(at) if at.tzinfo is None else at.dst()
        return -round(offset.total_seconds() / 60), bool(dst)  # type: ignore[union-attr]

    def timestamp(self, at: datetime) -> str:
        deviation, _ = self._deviation(at)
        sign, minutes = ("+" if deviation <= 0 else "-"), abs(deviation)
        return f"{super().timestamp(at)}{sign}{minutes // 60:02d}:{minutes % 60:02d}"

    def apdu(self, reading: Reading, at: datetime) -> bytes:
        """The plain DATA-NOTIFICATION of ``reading`` at meter time ``at``."""
        deviation, dst = self._deviation(at)
        clock = axdr.date_time(at, hundredths=0, deviation=deviation, clock_status=0x80 if dst else 0x00)
        items = [axdr.octet_string(clock)]
        for (obis, scaler, unit), value in zip(_NOE_OBIS, self.layout, strict=True):
            items += [axdr.octet_string(obis), value.item(reading), _scaler_unit(scaler, unit)]
        pf = round(power_factor(reading) * 1000)
        items += [axdr.octet_string(bytes((1, 0, 13, 7, 0, 255))), axdr.long_unsigned(pf), _scaler_unit(-3, 0xFF)]
        meter_id = _text_id(reading.get("meter_id"), self.default_meter_id)
        items.append(axdr.octet_string(meter_id.encode("ascii")))
        return dlms.data_notification(self.invoke_id, bytes([len(clock)]) + clock, axdr.structure(*items))

    def encode(self, list_no: int, reading: Reading, at: datetime) -> bytes:
        """The plain M-Bus long frames of the list (the meter ciphers them: ``Meter`` applies ``security``)."""
        self.fields(list_no)
        return mbus.encode(self.apdu(reading, at), self.segment_bytes)


def _scaler_unit(scaler: int, unit: int) -> bytes:
    return bytes((axdr.STRUCTURE, 2, 0x0F, scaler & 0xFF, 0x16, unit))


_NOE_VALUES = (
    _Value("e_import_wh", 1, _U32, 32), _Value("e_export_wh", 1, _U32, 32),
    _Value("p_import_w", 1, _U32, 32), _Value("p_export_w", 1, _U32, 32),
    *(_Value(name, 10, _U16, 16) for name in VOLTAGES), *(_Value(name, 100, _U16, 16) for name in CURRENTS),
)
_NOE_OBIS = (  # (OBIS, scaler, unit) of each value: Wh 1E, W 1B, V 23, A 21
    (bytes((1, 0, 1, 8, 0, 255)), 0, 0x1E), (bytes((1, 0, 2, 8, 0, 255)), 0, 0x1E),
    (bytes((1, 0, 1, 7, 0, 255)), 0, 0x1B), (bytes((1, 0, 2, 7, 0, 255)), 0, 0x1B),
    *((bytes((1, 0, c, 7, 0, 255)), -1, 0x23) for c in (32, 52, 72)),
    *((bytes((1, 0, c, 7, 0, 255)), -2, 0x21) for c in (31, 51, 71)),
)


@dataclass(frozen=True)
class LandisGyrBurgenlandProfile(_AustrianProfile):
    """Landis+Gyr E450 on HDLC as Netz Burgenland configures it (see the module docstring)."""

    invoke_id: int = 0x002180FC
    unknown_items: tuple[int, int, int] = (400, 53, 295)  # the three unnamed long-unsigned items, as sent
    dest_address: bytes = b"\xce\xff"
    source_address: bytes = b"\x03"
    control: int = 0x13

    def apdu(self, reading: Reading, at: datetime) -> bytes:
        """The plain DATA-NOTIFICATION of ``reading`` at meter time ``at``."""
        clock = axdr.date_time(at, clock_status=0x00)
        items = [value.item(reading) for value in self.layout]
        items += [axdr.long_unsigned(n) for n in self.unknown_items]
        meter_id = _text_id(reading.get("meter_id"), self.default_meter_id)
        items.append(axdr.octet_string(meter_id.encode("ascii")))
        return dlms.data_notification(self.invoke_id, bytes([len(clock)]) + clock, axdr.structure(*items))

    def encode(self, list_no: int, reading: Reading, at: datetime) -> bytes:
        """The plain HDLC frame of the list (the meter ciphers it: ``Meter`` applies ``security``)."""
        self.fields(list_no)
        return hdlc.build_frame(dlms.llc_pdu(self.apdu(reading, at)), self.dest_address, self.source_address,
                                self.control)


_BURGENLAND_VALUES = (
    *(_Value(name, 1, _U16, 16) for name in VOLTAGES), *(_Value(name, 100, _U16, 16) for name in CURRENTS),
    _Value("p_import_w", 1, _U32, 32), _Value("p_export_w", 1, _U32, 32),
    _Value("e_import_wh", 1, _U32, 32), _Value("e_export_wh", 1, _U32, 32),
)

MA309_NETZNOE = KaifaNetzNoeProfile(
    id="kaifa-ma309-netznoe", model="MA309", make="Kaifa", default_meter_id="181220000009",
    protocol="M-Bus/DLMS, general-glo-ciphering SC 0x20 (Netz NOE)", security=NETZNOE_TEST_SECURITY,
    layout=_NOE_VALUES)
E450_BURGENLAND = LandisGyrBurgenlandProfile(
    id="landis-gyr-e450-burgenland", model="E450", make="Landis+Gyr", default_meter_id="30137181",
    protocol="HDLC/DLMS, general-glo-ciphering SC 0x30 (Netz Burgenland)", security=BURGENLAND_TEST_SECURITY,
    layout=_BURGENLAND_VALUES)

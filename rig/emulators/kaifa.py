"""Kaifa KFM_001 values-only lists (Norway and Sweden, M-Bus HAN port): normalized readings <-> HDLC frames.

Wire units: W, var, mA, 0.1 V, Wh, varh, every number a ``06`` uint32 (the energies of the CT meter
MA304T4 a ``15`` uint64); header date-time ``09 0C`` + local wall-clock time with hundredths FF,
deviation 0x8000, status 00. Three-phase lists carry 13 / 18 items (List 2 / 3), the single-phase
MA105H2E's 9 / 14 (one current, one voltage). Norwegian meters send from HDLC address ``02 01``,
Swedish ones from ``00 01``. The Swedish OBIS-code variant of the lists is in ``kaifa_se``.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import cached_property
from typing import Any, NamedTuple

from rig.emulators import axdr, dlms, hdlc
from rig.emulators.profile_base import ListedProfile, gs1_meter_id
from rig.emulators.schedule import KaifaSchedule
from rig.line import LineSettings
from rig.reading import Reading

LIST_VERSION = "KFM_001"
DEFAULT_METER_ID = "6970631407262986"
DEST_ADDRESS = b"\x01"
SOURCE_ADDRESS = b"\x02\x01"  # Norway
SOURCE_ADDRESS_SE = b"\x00\x01"  # Sweden
CONTROL = 0x10
INVOKE_ID_AND_PRIORITY = 0x40000000
CLOCK_STATUS = 0x00
_TAGS = {32: axdr.DOUBLE_LONG_UNSIGNED, 64: axdr.LONG64_UNSIGNED}  # A-XDR tag of a number by its bits
# DATA-NOTIFICATION tag and long-invoke-id-and-priority: the first five bytes of every APDU
_NOTIFICATION_HEAD = dlms.data_notification(INVOKE_ID_AND_PRIORITY, b"", b"")

TEXT_FIELDS = ("list_version", "meter_id", "meter_type")
INSTANT_FIELDS = (
    "p_import_w", "p_export_w", "q_import_var", "q_export_var",
    "i_l1_a", "i_l2_a", "i_l3_a",
    "u_l1_v", "u_l2_v", "u_l3_v",
)  # fmt: skip
ENERGY_FIELDS = ("e_import_wh", "e_export_wh", "r_import_varh", "r_export_varh")

# Fields of each list in wire order (List 3 has the clock item between instants and energies).
LIST_FIELDS: dict[int, tuple[str, ...]] = {
    1: ("p_import_w",),
    2: TEXT_FIELDS + INSTANT_FIELDS,
    3: TEXT_FIELDS + INSTANT_FIELDS + ENERGY_FIELDS,
}
# Single phase (MA105H2E): List 2 is items 1-8 then U1, List 3 adds the clock and the energies.
INSTANT_FIELDS_1P = ("p_import_w", "p_export_w", "q_import_var", "q_export_var", "i_l1_a", "u_l1_v")
LIST_FIELDS_1P: dict[int, tuple[str, ...]] = {
    1: ("p_import_w",),
    2: TEXT_FIELDS + INSTANT_FIELDS_1P,
    3: TEXT_FIELDS + INSTANT_FIELDS_1P + ENERGY_FIELDS,
}
LISTS: dict[int, str] = {
    1: "every 2 s, on even seconds (P+)",
    2: "every 10 s, when seconds % 10 == 0",
    3: "hourly at XX:00:10 instead of List 2 (values of XX:00:00)",
}

# Wire integer per SI unit of each numeric field.
WIRE_SCALE: dict[str, int] = {name: 1 for name in INSTANT_FIELDS + ENERGY_FIELDS}
WIRE_SCALE.update({f"i_l{k}_a": 1000 for k in (1, 2, 3)})
WIRE_SCALE.update({f"u_l{k}_v": 10 for k in (1, 2, 3)})


def to_wire(name: str, value: float, bits: int = 32) -> int:
    """The wire integer of a field's SI value, rounded to the wire resolution (235.6 V -> 2356);
    ValueError outside the range of an unsigned integer of ``bits`` (32 or 64)."""
    if value is None:
        raise ValueError(f"{name} has no value, but the frame must carry it")
    raw = round(value * WIRE_SCALE[name])
    if not 0 <= raw < 1 << bits:
        raise ValueError(f"{name}={value} is outside the uint{bits} range of the wire")
    return raw


def from_wire(name: str, raw: int) -> int | float:
    """The SI value of a wire integer (an int when the wire unit is the SI unit)."""
    scale = WIRE_SCALE[name]
    return raw if scale == 1 else raw / scale


def format_timestamp(at: datetime) -> str:
    """Meter clock as the normalized ``YYYY-MM-DDTHH:MM:SS`` (Kaifa states no offset, so both passes of
    a repeated hour read the same)."""
    return at.isoformat(timespec="seconds")[:19]  # without the UTC offset of an aware time


class _Number(NamedTuple):
    """A numeric field as a list carries it: its size and A-XDR tag, and whether the meter measures it."""

    name: str
    bits: int  # 32 or 64
    tag: int  # ``06`` uint32 or ``15`` uint64
    measured: bool  # False: sent as a placeholder 0, read as None


@dataclass(frozen=True)
class _ListLayout:
    """A list as sent, worked out once per profile: its text fields (first in every list), then its numbers
    in wire order, packed together with List 3's clock item (before the energies) by one format."""

    texts: tuple[str, ...]
    numbers: tuple[_Number, ...]
    clock_index: int | None  # the clock item precedes ``numbers[clock_index]``
    numbers_format: str  # struct format of the numbers' items (tag and value), the clock item included
    structure_head: bytes  # ``02 n``: n items, the clock item included

    def pack_numbers(self, reading: Reading, clock: bytes) -> bytes:
        """The encoded number items of ``reading`` (and the 14-byte clock item, where the list has one)."""
        values: list[int | bytes] = []
        for name, bits, tag, measured in self.numbers:
            values.append(tag)
            values.append(to_wire(name, reading.get(name), bits) if measured else 0)
        if self.clock_index is not None:
            values.insert(2 * self.clock_index, clock)
        return struct.pack(self.numbers_format, *values)


def _date_time_field(at: datetime) -> bytes:
    # Local wall clock, deviation 0x8000 (unspecified) and status 00 all year: the real Norwegian frames
    # of summer time (2024-10-01, CEST) carry no DST bit, so neither do these, in either pass of a
    # repeated hour.
    return axdr.octet_string(axdr.date_time(at, clock_status=CLOCK_STATUS))


@dataclass(frozen=True)
class KaifaProfile(ListedProfile):
    """A Kaifa meter on the M-Bus HAN port sending the KFM_001 values-only lists.

    ``phases`` 1 is the single-phase meter (its lists name one current and one voltage; the powers are
    those of line 1). ``unmeasured`` are fields the meter sends as a placeholder 0 and that the reading
    holds as None: by default U2 on IT meters. ``energy_bits`` 64 sends the energies as uint64 (``15``).
    """

    id: str
    model: str
    wiring: str  # "TN" (phase voltages) or "IT" (3-wire, line voltages, U2 not measured)
    make: str = "Kaifa"
    country: str = "NO"
    timezone: str = "Europe/Oslo"
    protocol: str = "HDLC/DLMS KFM_001"
    line: LineSettings = field(default_factory=lambda: LineSettings(2400, 8, "E", 1))
    list_version: str = LIST_VERSION
    schedule: KaifaSchedule = field(default_factory=KaifaSchedule)
    lists: dict[int, str] = field(default_factory=lambda: dict(LISTS))
    list_fields: dict[int, tuple[str, ...]] = field(default_factory=lambda: dict(LIST_FIELDS))
    phases: int = 3
    unmeasured: tuple[str, ...] | None = None
    energy_bits: int = 32
    source_address: bytes = SOURCE_ADDRESS

    @property
    def meter_type(self) -> str:
        """The meter type string sent in Lists 2 and 3."""
        return self.model

    def resolve_meter_id(self, meter_id: str | None) -> str:
        """The meter id sent in Lists 2 and 3: ``DEFAULT_METER_ID`` when None; must be 16 digits."""
        return gs1_meter_id(meter_id, DEFAULT_METER_ID)

    def frame_values(self, values: Reading, overrides: Mapping[str, Any]) -> Reading:
        """``values`` (the model's) with ``overrides`` applied. A single-phase meter's powers not
        overridden are line 1's of the model (the model's totals are three-phase); the fields the meter
        does not measure are None unless overridden (e.g. the model's I2 on the MA304T3)."""
        merged = {**values, **overrides}
        for name in self.unmeasured_fields:
            if name not in overrides:
                merged[name] = None
        if self.phases == 1:
            for total in ("p_import_w", "p_export_w", "q_import_var", "q_export_var"):
                kind, direction, unit = total.split("_")
                phase = f"{kind}_l1_{direction}_{unit}"
                if total not in overrides and phase in merged:
                    merged[total] = merged[phase]
        return merged

    @property
    def unmeasured_fields(self) -> tuple[str, ...]:
        """Fields sent as a placeholder 0 and read as None (IT meters: U2 unless set otherwise)."""
        if self.unmeasured is not None:
            return self.unmeasured
        return ("u_l2_v",) if self.wiring == "IT" else ()

    def _not_measured(self, name: str) -> bool:
        return name in self.unmeasured_fields

    def _check_not_measured(self, reading: Reading) -> None:
        for name in self.unmeasured_fields:
            value = reading.get(name)
            if value not in (None, 0):
                label = name[0].upper() + name[3]  # u_l2_v -> U2
                raise ValueError(f"{name}={value}: the {self.model} does not measure {label} (it sends 0)")

    def _bits(self, name: str) -> int:
        return self.energy_bits if name in ENERGY_FIELDS else 32

    @cached_property
    def _layouts(self) -> dict[int, _ListLayout]:
        """Each list's layout, worked out on first use."""
        layouts = {}
        for list_no, names in self.list_fields.items():
            texts = tuple(name for name in names if name in TEXT_FIELDS)
            if names[:len(texts)] != texts:
                raise ValueError(f"{self.id} List {list_no}: the text fields must come first, got {names}")
            numbers = tuple(self._number(name) for name in names[len(texts):])
            clock_index = next((k for k, n in enumerate(numbers) if n.name == "e_import_wh"), None)
            items = ["BQ" if n.bits == 64 else "BI" for n in numbers]
            if clock_index is not None:
                items.insert(clock_index, "14s")  # 09 0C + the 12-byte date-time
            head = axdr.structure_head(len(texts) + len(items))
            layouts[list_no] = _ListLayout(texts, numbers, clock_index, ">" + "".join(items), head)
        return layouts

    def _number(self, name: str) -> _Number:
        bits = self._bits(name)
        return _Number(name, bits, _TAGS[bits], not self._not_measured(name))

    def _layout(self, list_no: int) -> _ListLayout:
        if list_no not in self._layouts:
            self.fields(list_no)  # ValueError naming the lists
        return self._layouts[list_no]

    def _text(self, name: str, values: Reading, list_no: int) -> str:
        if name in values:
            value = values[name]
        else:
            value = self.list_version if name == "list_version" else self.model if name == "meter_type" else None
        if value is None:
            raise ValueError(f"List {list_no} needs {name}")
        return str(value)

    def field_item(self, name: str, reading: Reading, list_no: int) -> bytes:
        """The A-XDR item of a field: ``09`` text, ``06`` uint32, or ``15`` uint64 for 64-bit energies."""
        if name in TEXT_FIELDS:
            return axdr.octet_string(self._text(name, reading, list_no).encode("ascii"))
        raw = 0 if self._not_measured(name) else to_wire(name, reading.get(name), self._bits(name))
        if self._bits(name) == 64:
            return axdr.long64_unsigned(raw)
        return axdr.double_long_unsigned(raw)

    def quantize(self, list_no: int, values: Reading, at: datetime) -> Reading:
        """The reading a frame sent at ``at`` carries: exactly the list's fields, at wire resolution.

        Text fields default to the profile's list version and meter type. The ``unmeasured_fields``
        are None (IT meters: ``u_l2_v``).
        """
        layout = self._layout(list_no)
        self._check_not_measured(values)
        reading: Reading = {"timestamp": format_timestamp(at)}
        for name in layout.texts:
            reading[name] = self._text(name, values, list_no)
        for name, bits, _, measured in layout.numbers:
            reading[name] = from_wire(name, to_wire(name, values.get(name), bits)) if measured else None
        return reading

    def encode(self, list_no: int, reading: Reading, at: datetime) -> bytes:
        """The HDLC frame of list ``list_no`` carrying ``reading`` (SI units), sent at meter time ``at``."""
        layout = self._layout(list_no)
        self._check_not_measured(reading)
        clock = _date_time_field(at)
        texts = [axdr.octet_string(self._text(name, reading, list_no).encode("ascii")) for name in layout.texts]
        apdu = b"".join((_NOTIFICATION_HEAD, clock, layout.structure_head, *texts, layout.pack_numbers(reading, clock)))
        return self.frame(apdu)

    def frame(self, apdu: bytes) -> bytes:
        """The HDLC frame (from the profile's source address) of an APDU."""
        return hdlc.build_frame(dlms.llc_pdu(apdu), DEST_ADDRESS, self.source_address, CONTROL)


MA304H4 = KaifaProfile(id="kaifa-ma304h4", model="MA304H4", wiring="TN")
MA304H3E = KaifaProfile(id="kaifa-ma304h3e", model="MA304H3E", wiring="IT")
MA105H2E = KaifaProfile(id="kaifa-ma105h2e", model="MA105H2E", wiring="TN", phases=1,
                        list_fields=dict(LIST_FIELDS_1P))
# CT meters. The MA304T3 (3-wire, Aron connection) measures neither U2 nor I2 and sends 0 for both.
MA304T3 = KaifaProfile(id="kaifa-ma304t3", model="MA304T3", wiring="IT", unmeasured=("i_l2_a", "u_l2_v"))
MA304T4 = KaifaProfile(id="kaifa-ma304t4", model="MA304T4", wiring="TN", energy_bits=64)
# Sweden: the same lists from address 00 01 (the OBIS-code variant is kaifa_se.MA304H4_SE).
_SE = {"country": "SE", "timezone": "Europe/Stockholm", "source_address": SOURCE_ADDRESS_SE}
MA304H4D_SE = KaifaProfile(id="kaifa-ma304h4d-se", model="MA304H4D", wiring="TN", **_SE)
MA105H2E_SE = replace(MA105H2E, id="kaifa-ma105h2e-se", **_SE)
MA304T4_SE = replace(MA304T4, id="kaifa-ma304t4-se", **_SE)

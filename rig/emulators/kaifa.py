"""Kaifa KFM_001 values-only lists (Norway HAN port): normalized readings <-> HDLC frames.

Wire units: W, var, mA, 0.1 V, Wh, varh, every number a ``06`` uint32; header date-time
``09 0C`` + local wall-clock time with hundredths FF, deviation 0x8000, status 00.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from rig.emulators import axdr, dlms, hdlc
from rig.emulators.schedule import KaifaSchedule
from rig.line import LineSettings
from rig.reading import Reading

LIST_VERSION = "KFM_001"
DEFAULT_METER_ID = "6970631407262986"
DEST_ADDRESS = b"\x01"
SOURCE_ADDRESS = b"\x02\x01"
CONTROL = 0x10
INVOKE_ID_AND_PRIORITY = 0x40000000
CLOCK_STATUS = 0x00

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
LISTS: dict[int, str] = {
    1: "every 2 s, on even seconds (P+)",
    2: "every 10 s, when seconds % 10 == 0",
    3: "hourly at XX:00:10 instead of List 2 (values of XX:00:00)",
}

# Wire integer per SI unit of each numeric field.
WIRE_SCALE: dict[str, int] = {name: 1 for name in INSTANT_FIELDS + ENERGY_FIELDS}
WIRE_SCALE.update({f"i_l{k}_a": 1000 for k in (1, 2, 3)})
WIRE_SCALE.update({f"u_l{k}_v": 10 for k in (1, 2, 3)})


def to_wire(name: str, value: float) -> int:
    """The wire integer of a field's SI value, rounded to the wire resolution (235.6 V -> 2356)."""
    if value is None:
        raise ValueError(f"{name} has no value, but the frame must carry it")
    raw = round(value * WIRE_SCALE[name])
    if not 0 <= raw <= 0xFFFFFFFF:
        raise ValueError(f"{name}={value} is outside the uint32 range of the wire")
    return raw


def from_wire(name: str, raw: int) -> int | float:
    """The SI value of a wire integer (an int when the wire unit is the SI unit)."""
    scale = WIRE_SCALE[name]
    return raw if scale == 1 else raw / scale


def format_timestamp(at: datetime) -> str:
    """Meter clock as the normalized ``YYYY-MM-DDTHH:MM:SS`` (Kaifa states no offset)."""
    return at.strftime("%Y-%m-%dT%H:%M:%S")


def _date_time_field(at: datetime) -> bytes:
    return axdr.octet_string(axdr.date_time(at, clock_status=CLOCK_STATUS))


@dataclass(frozen=True)
class KaifaProfile:
    """A Kaifa meter on the Norwegian HAN port sending the KFM_001 values-only lists."""

    id: str
    model: str
    wiring: str  # "TN" (phase voltages) or "IT" (3-wire, line voltages, U2 not measured)
    make: str = "Kaifa"
    country: str = "NO"
    protocol: str = "HDLC/DLMS KFM_001"
    line: LineSettings = field(default_factory=lambda: LineSettings(2400, 8, "E", 1))
    list_version: str = LIST_VERSION
    schedule: KaifaSchedule = field(default_factory=KaifaSchedule)
    lists: dict[int, str] = field(default_factory=lambda: dict(LISTS))
    list_fields: dict[int, tuple[str, ...]] = field(default_factory=lambda: dict(LIST_FIELDS))

    @property
    def frame_interval_s(self) -> float:
        """Seconds between two frames (any list)."""
        return self.schedule.frame_interval_s

    @property
    def meter_type(self) -> str:
        """The meter type string sent in Lists 2 and 3."""
        return self.model

    def fields(self, list_no: int) -> tuple[str, ...]:
        """The normalized fields a list carries, besides ``timestamp``."""
        try:
            return self.list_fields[list_no]
        except KeyError:
            raise ValueError(f"{self.id} has no list {list_no}; lists: {sorted(self.list_fields)}") from None

    def resolve_meter_id(self, meter_id: str | None) -> str:
        """The meter id sent in Lists 2 and 3: ``DEFAULT_METER_ID`` when None; must be 16 digits."""
        resolved = DEFAULT_METER_ID if meter_id is None else str(meter_id)
        if len(resolved) != 16 or not resolved.isdigit():
            raise ValueError(f"meter id must be 16 digits, got {resolved!r}")
        return resolved

    def frame_values(self, values: Reading, overrides: Mapping[str, Any]) -> Reading:
        """``values`` (the model's) with ``overrides`` applied; nothing is derived."""
        return {**values, **overrides}

    def _not_measured(self, name: str) -> bool:
        return self.wiring == "IT" and name == "u_l2_v"

    def _check_not_measured(self, reading: Reading) -> None:
        value = reading.get("u_l2_v")
        if self.wiring == "IT" and value not in (None, 0):
            raise ValueError(f"u_l2_v={value}: a 3-wire IT meter does not measure U2 (it sends 0)")

    def quantize(self, list_no: int, values: Reading, at: datetime) -> Reading:
        """The reading a frame sent at ``at`` carries: exactly the list's fields, at wire resolution.

        Text fields default to the profile's list version and meter type. For IT meters ``u_l2_v`` is
        None (not measured).
        """
        self._check_not_measured(values)
        defaults = {"list_version": self.list_version, "meter_type": self.model}
        reading: Reading = {"timestamp": format_timestamp(at)}
        for name in self.fields(list_no):
            if name in TEXT_FIELDS:
                value = values.get(name, defaults.get(name))
                if value is None:
                    raise ValueError(f"List {list_no} needs {name}")
                reading[name] = str(value)
            elif self._not_measured(name):
                reading[name] = None
            else:
                reading[name] = from_wire(name, to_wire(name, values.get(name)))
        return reading

    def encode(self, list_no: int, reading: Reading, at: datetime) -> bytes:
        """The HDLC frame of list ``list_no`` carrying ``reading`` (SI units), sent at meter time ``at``."""
        self._check_not_measured(reading)
        defaults = {"list_version": self.list_version, "meter_type": self.model}
        items = []
        for name in self.fields(list_no):
            if name in TEXT_FIELDS:
                value = reading.get(name, defaults.get(name))
                if value is None:
                    raise ValueError(f"List {list_no} needs {name}")
                items.append(axdr.octet_string(str(value).encode("ascii")))
            else:
                if name == "e_import_wh":  # List 3: the clock item precedes the energies
                    items.append(_date_time_field(at))
                raw = 0 if self._not_measured(name) else to_wire(name, reading.get(name))
                items.append(axdr.double_long_unsigned(raw))
        apdu = dlms.data_notification(INVOKE_ID_AND_PRIORITY, _date_time_field(at), axdr.structure(*items))
        return hdlc.build_frame(dlms.llc_pdu(apdu), DEST_ADDRESS, SOURCE_ADDRESS, CONTROL)


MA304H4 = KaifaProfile(id="kaifa-ma304h4", model="MA304H4", wiring="TN")
MA304H3E = KaifaProfile(id="kaifa-ma304h3e", model="MA304H3E", wiring="IT")

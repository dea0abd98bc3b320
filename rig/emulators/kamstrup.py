"""Kamstrup Omnipower on the Norwegian HAN port (``Kamstrup_V0001``): normalized readings -> HDLC frames.

Frame: ``7E A0/A1 xx | 2B | 21 | 13 (UI) | HCS | E6 E7 00 | 0F 00000000 0C <date-time> | body | FCS 7E``.
Body: a flat structure, ``02 19`` (List 1) or ``02 23`` (List 2): first ``0A 0E "Kamstrup_V0001"``
without OBIS code, then pairs of ``09 06 <OBIS, B = 1>`` and the value. Meter id (``1.1.0.0.5.255``,
16 characters) and meter type (``1.1.96.1.1.255``, 18 characters) are ``0A`` visible strings; P/Q
``06`` W/var, I ``06`` 0.01 A, U ``12`` uint16 1 V; List 2 adds the clock (``0.1.1.0.0.255``,
``09 0C`` + date-time) and the energies, ``06`` in 10 Wh/varh. No scaler-unit is sent.

The date-time (header and clock item alike) is the local wall-clock time, hundredths ``FF``, deviation
``8000`` (unspecified), clock status ``80`` while daylight-saving time is in force in the meter's time
zone, else ``00``. The reading's timestamp therefore has no offset.

Schedule: List 1 every 10 s on :00, :10, ...; List 2 hourly at XX:00:05 (between two List 1 frames),
carrying the values of its own instant.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from rig.emulators import axdr, dlms, hdlc
from rig.emulators.aidon import Register, obis
from rig.emulators.profile_base import ListedProfile, gs1_meter_id
from rig.emulators.schedule import PeriodicSchedule
from rig.line import LineSettings
from rig.reading import Reading

LIST_VERSION = "Kamstrup_V0001"
DEFAULT_METER_ID = "5706567202753025"
DEFAULT_METER_TYPE = "6841131BN243101040"
DEST_ADDRESS = b"\x2b"
SOURCE_ADDRESS = b"\x21"
CONTROL = 0x13
INVOKE_ID_AND_PRIORITY = 0x00000000
DATE_TIME = 0x0C  # the notification's date-time: the 12 octets behind their length, no type tag
DST_ACTIVE = 0x80
LIST1_INTERVAL_S = 10
LIST2_SECOND = 5

TEXT_OBIS = {"meter_id": "1.1.0.0.5.255", "meter_type": "1.1.96.1.1.255"}
TEXT_LENGTHS = {"meter_id": 16, "meter_type": 18}
TEXT_FIELDS = ("list_version", *TEXT_OBIS)
CLOCK_OBIS = "0.1.1.0.0.255"
_DLU = "double-long-unsigned"
INSTANTS = (
    Register("p_import_w", "1.1.1.7.0.255", _DLU, 0, "W"),
    Register("p_export_w", "1.1.2.7.0.255", _DLU, 0, "W"),
    Register("q_import_var", "1.1.3.7.0.255", _DLU, 0, "var"),
    Register("q_export_var", "1.1.4.7.0.255", _DLU, 0, "var"),
    *(Register(f"i_l{k}_a", f"1.1.{20 * k + 11}.7.0.255", _DLU, -2, "A") for k in (1, 2, 3)),
    *(Register(f"u_l{k}_v", f"1.1.{20 * k + 12}.7.0.255", "long-unsigned", 0, "V") for k in (1, 2, 3)),
)
ENERGIES = (
    Register("e_import_wh", "1.1.1.8.0.255", _DLU, 1, "Wh"),
    Register("e_export_wh", "1.1.2.8.0.255", _DLU, 1, "Wh"),
    Register("r_import_varh", "1.1.3.8.0.255", _DLU, 1, "varh"),
    Register("r_export_varh", "1.1.4.8.0.255", _DLU, 1, "varh"),
)
REGISTERS = {r.name: r for r in INSTANTS + ENERGIES}
LIST_FIELDS: dict[int, tuple[str, ...]] = {
    1: TEXT_FIELDS + tuple(r.name for r in INSTANTS),
    2: TEXT_FIELDS + tuple(r.name for r in INSTANTS + ENERGIES),
}
LISTS: dict[int, str] = {1: "every 10 s, on seconds divisible by 10", 2: "hourly at XX:00:05"}


@dataclass(frozen=True)
class KamstrupSchedule(PeriodicSchedule):
    """Kamstrup HAN-NVE: List 1 every 10 s on :00, :10, ...; List 2 hourly at XX:00:05."""

    interval_s: int = LIST1_INTERVAL_S
    list2_second: int = LIST2_SECOND

    @property
    def description(self) -> str:
        """When frames are sent, for messages."""
        return f"every 10 s on seconds divisible by 10, and at XX:00:{self.list2_second:02d}"

    def list_at(self, at: datetime) -> int | None:
        """The list sent at meter time ``at``, or None when no frame is sent then."""
        if at.microsecond:
            return None
        if not at.second % self.interval_s:
            return 1
        return 2 if at.minute == 0 and at.second == self.list2_second else None

    def next_frame_time(self, at: datetime) -> datetime:
        """The first frame time at or after ``at``."""
        base = at.replace(microsecond=0)
        if base < at:
            base += timedelta(seconds=1)
        while self.list_at(base) is None:
            base += timedelta(seconds=1)
        return base

    def frame_times(
        self, start: datetime, count: int | None = None, until: datetime | None = None,
        timezone: str | None = None,
    ) -> Iterator[tuple[datetime, int]]:
        """``(at, list_no)`` of the frames from ``start`` on; stops after ``count`` frames or before
        ``until`` (exclusive); endless when both are None (times as :meth:`PeriodicSchedule.frame_times`)."""
        sent = 0
        for at, _ in PeriodicSchedule(5).frame_times(start, until=until, timezone=timezone):
            if count is not None and sent >= count:
                return
            list_no = self.list_at(at)
            if list_no is not None:
                sent += 1
                yield at, list_no


def date_time(at: datetime, timezone: str) -> bytes:
    """The 12-byte date-time: local time, hundredths FF, deviation unspecified, DST flag from the zone."""
    dst = at.replace(tzinfo=ZoneInfo(timezone)).dst()
    return axdr.date_time(at.replace(microsecond=0), clock_status=DST_ACTIVE if dst else 0x00)


@dataclass(frozen=True)
class KamstrupProfile(ListedProfile):
    """A three-phase Kamstrup meter on the Norwegian HAN port sending the ``Kamstrup_V0001`` lists."""

    id: str
    model: str
    meter_type: str = DEFAULT_METER_TYPE
    make: str = "Kamstrup"
    country: str = "NO"
    protocol: str = "HDLC/DLMS Kamstrup_V0001"
    wiring: str = "TN"
    timezone: str = "Europe/Oslo"
    line: LineSettings = field(default_factory=lambda: LineSettings(2400, 8, "N", 1))
    list_version: str = LIST_VERSION
    schedule: KamstrupSchedule = field(default_factory=KamstrupSchedule)
    lists: dict[int, str] = field(default_factory=lambda: dict(LISTS))
    list_fields: dict[int, tuple[str, ...]] = field(default_factory=lambda: dict(LIST_FIELDS))

    def resolve_meter_id(self, meter_id: str | None) -> str:
        """The meter id (GS1 number) sent in every list: ``DEFAULT_METER_ID`` when None; 16 digits."""
        return gs1_meter_id(meter_id, DEFAULT_METER_ID)

    def frame_values(self, values: Reading, overrides: Mapping[str, Any]) -> Reading:
        """``values`` with ``overrides`` applied; the meter type is the type number unless set."""
        merged = {**values, **overrides}
        if "meter_type" not in overrides:
            merged["meter_type"] = self.meter_type
        return merged

    def _text(self, name: str, values: Reading) -> str:
        defaults = {"list_version": self.list_version, "meter_type": self.meter_type}
        value = values.get(name) or defaults.get(name)
        if value is None:
            raise ValueError(f"the frame needs {name}")
        text = str(value)
        size = TEXT_LENGTHS.get(name)
        if not text.isascii() or (size is not None and len(text) != size):
            raise ValueError(f"{name}={text!r} must be {size or 'any number of'} ASCII characters")
        return text

    def quantize(self, list_no: int, values: Reading, at: datetime) -> Reading:
        """The reading a frame sent at ``at`` carries: exactly the list's fields, at wire resolution."""
        reading: Reading = {"timestamp": at.strftime("%Y-%m-%dT%H:%M:%S")}
        for name in self.fields(list_no):
            if name in TEXT_FIELDS:
                reading[name] = self._text(name, values)
            else:
                register = REGISTERS[name]
                reading[name] = register.from_wire(register.to_wire(values.get(name)))
        return reading

    def encode(self, list_no: int, reading: Reading, at: datetime) -> bytes:
        """The HDLC frame of list ``list_no`` carrying ``reading`` (SI units), sent at meter time ``at``."""
        clock = date_time(at, self.timezone)
        items = []
        for name in self.fields(list_no):
            if name == "e_import_wh":  # List 2: the clock item precedes the energies
                items += [axdr.octet_string(obis(CLOCK_OBIS)), axdr.octet_string(clock)]
            if name == "list_version":
                items.append(axdr.visible_string(self._text(name, reading)))
            elif name in TEXT_OBIS:
                items += [axdr.octet_string(obis(TEXT_OBIS[name])), axdr.visible_string(self._text(name, reading))]
            else:
                r = REGISTERS[name]
                items += [axdr.octet_string(obis(r.obis)), r.value(r.to_wire(reading.get(name)))]
        header_time = bytes([DATE_TIME]) + clock
        apdu = dlms.data_notification(INVOKE_ID_AND_PRIORITY, header_time, axdr.structure(*items))
        return hdlc.build_frame(dlms.llc_pdu(apdu), DEST_ADDRESS, SOURCE_ADDRESS, CONTROL)


OMNIPOWER = KamstrupProfile(id="kamstrup-omnipower", model="Omnipower")

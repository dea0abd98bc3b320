"""Kaifa KFM_001 with OBIS codes (Swedish MA304H4 on the M-Bus HAN port): normalized readings -> HDLC frames.

The body is a structure of OBIS/value pairs, ``02 2N`` then for each field ``09 06 <OBIS>`` and its
value (the same types and wire units as the values-only lists). The APDU carries no header date-time
(``00``); List 3's clock item (``0-0:1.0.0``) is the meter clock with hundredths FF, deviation FFC4
(UTC+01:00, all year: the meter stays on normal time) and status 00, so the reading's timestamp states
``+01:00``. Lists 1 and 2 carry no clock at all, and their readings no timestamp. Only List 3 has been
seen (18 pairs, ``02 24``); Lists 1 and 2 are assumed to be its first 1 and 13 pairs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from rig.emulators import axdr, dlms
from rig.emulators.kaifa import (
    INVOKE_ID_AND_PRIORITY,
    SOURCE_ADDRESS_SE,
    KaifaProfile,
    format_timestamp,
)
from rig.reading import Reading

DEVIATION_MIN = -60  # minutes from local time to UTC: the clock runs on UTC+01:00
UTC_OFFSET = "+01:00"
NO_DATE_TIME = b"\x00"
CLOCK_OBIS = bytes([0, 0, 1, 0, 0, 0xFF])

# OBIS code (A B C D E F) of each field, as sent.
OBIS_CODES: dict[str, bytes] = {
    "list_version": bytes([1, 0, 0, 2, 129, 0xFF]),
    "meter_id": bytes([0, 0, 96, 1, 0, 0xFF]),
    "meter_type": bytes([0, 0, 96, 1, 7, 0xFF]),
    "p_import_w": bytes([1, 0, 1, 7, 0, 0xFF]),
    "p_export_w": bytes([1, 0, 2, 7, 0, 0xFF]),
    "q_import_var": bytes([1, 0, 3, 7, 0, 0xFF]),
    "q_export_var": bytes([1, 0, 4, 7, 0, 0xFF]),
    **{f"i_l{k}_a": bytes([1, 0, 11 + 20 * k, 7, 0, 0xFF]) for k in (1, 2, 3)},
    **{f"u_l{k}_v": bytes([1, 0, 12 + 20 * k, 7, 0, 0xFF]) for k in (1, 2, 3)},
    "e_import_wh": bytes([1, 0, 1, 8, 0, 0xFF]),
    "e_export_wh": bytes([1, 0, 2, 8, 0, 0xFF]),
    "r_import_varh": bytes([1, 0, 3, 8, 0, 0xFF]),
    "r_export_varh": bytes([1, 0, 4, 8, 0, 0xFF]),
}
LISTS: dict[int, str] = {
    1: "every 2 s, on even seconds (P+; no clock)",
    2: "every 10 s, when seconds % 10 == 0 (no clock)",
    3: "hourly at XX:00:10 instead of List 2 (values of XX:00:00, clock UTC+01:00)",
}


def clock_field(at: datetime) -> bytes:
    """The clock item's value: ``09 0C`` + the date-time at UTC+01:00 (``... FF FF C4 00``)."""
    return axdr.octet_string(axdr.date_time(at, deviation=DEVIATION_MIN, clock_status=0x00))


@dataclass(frozen=True)
class KaifaObisProfile(KaifaProfile):
    """A Kaifa meter sending the KFM_001 lists as OBIS/value pairs (Sweden, MA304H4)."""

    def quantize(self, list_no: int, values: Reading, at: datetime) -> Reading:
        """As the values-only lists, but the timestamp is List 3's clock (``+01:00``); Lists 1 and 2 have none."""
        reading = super().quantize(list_no, values, at)
        del reading["timestamp"]
        if "e_import_wh" in self.fields(list_no):
            return {"timestamp": format_timestamp(at) + UTC_OFFSET, **reading}
        return reading

    def encode(self, list_no: int, reading: Reading, at: datetime) -> bytes:
        """The HDLC frame of list ``list_no`` carrying ``reading`` (SI units), sent at meter time ``at``."""
        self._check_not_measured(reading)
        items = []
        for name in self.fields(list_no):
            if name == "e_import_wh":  # List 3: the clock pair precedes the energies
                items += [axdr.octet_string(CLOCK_OBIS), clock_field(at)]
            items += [axdr.octet_string(OBIS_CODES[name]), self.field_item(name, reading, list_no)]
        apdu = dlms.data_notification(INVOKE_ID_AND_PRIORITY, NO_DATE_TIME, axdr.structure(*items))
        return self.frame(apdu)


MA304H4_SE = KaifaObisProfile(
    id="kaifa-ma304h4-se", model="MA304H4", wiring="TN", country="SE", timezone="Etc/GMT-1",
    protocol="HDLC/DLMS KFM_001 with OBIS codes", lists=dict(LISTS), source_address=SOURCE_ADDRESS_SE,
)

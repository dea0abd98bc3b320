"""An encrypted DSMR P1 meter, the Luxembourg Smarty way (``sagemcom-smarty``), encrypted by default.

Every 10 s (115200 8N1) the meter sends a DSMR 5 telegram (ident ``/Lux5\\253663629_D``, its own ``!CRC``)
as the plaintext of a general-glo-ciphering APDU, as raw bytes on the P1 line (no HDLC):
``DB 08 ST 82 LLLL 30 IC ciphertext tag``. SC 0x30 with the AAD key every Smarty uses,
``00112233445566778899AABBCCDDEEFF``; the encryption key defaults to a public test key.

Printed resolution: energies 1 Wh / 1 varh (6.3 kWh), powers 1 W / 1 var (2.3 kW; the reactive powers
carry no unit, as the Smarty prints them), currents 1 A (3 digits). The clock line is local time
(Europe/Luxembourg) with ``S`` in summer time and ``W`` otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from rig.emulators.p1 import ObisLine, encode_telegram_lines
from rig.emulators.profile_base import ListedProfile
from rig.emulators.schedule import PeriodicSchedule, zone
from rig.emulators.security import Security
from rig.line import LineSettings
from rig.reading import Reading

IDENT = "Lux5\\253663629_D"
SMARTY_AAD_KEY = bytes.fromhex("00112233445566778899AABBCCDDEEFF")
# A public test key (the openHAB DSMR binding's Smarty test), Sagemcom system title "SAGgp..."
SMARTY_TEST_SECURITY = Security(key=bytes.fromhex("D491470F47126332B07D1923B3504188"), auth_key=SMARTY_AAD_KEY,
                                system_title=bytes.fromhex("534147677001BD54"), security_control=0x30,
                                frame_counter=1)
TEXT_FIELDS = ("list_version", "meter_type")


def ident_type(ident: str) -> str:
    """The meter type in an IEC 62056-21 ident (three letters of maker code, one baud-rate digit, an optional
    enhanced identification ``\\W``, then the type): ``Lux5\\253663629_D`` -> ``53663629_D``."""
    return ident[6:] if ident[4:5] == "\\" else ident[4:]


@dataclass(frozen=True)
class _Number:
    name: str
    line: ObisLine
    per_kilo: bool  # printed in k-units (kWh, kW): the reading's unit is 1/1000 of the printed one

    def count(self, value: Any) -> int:
        if value is None:
            raise ValueError(f"{self.name} has no value, but the telegram must carry it")
        return round(value)

    def printed(self, count: int) -> Decimal:
        return Decimal(count).scaleb(-3) if self.per_kilo else Decimal(count)


NUMBERS = (
    _Number("e_import_wh", ObisLine("1-0:1.8.0", 6, 3, "kWh"), True),
    _Number("e_export_wh", ObisLine("1-0:2.8.0", 6, 3, "kWh"), True),
    _Number("r_import_varh", ObisLine("1-0:3.8.0", 6, 3, "kvarh"), True),
    _Number("r_export_varh", ObisLine("1-0:4.8.0", 6, 3, "kvarh"), True),
    _Number("p_import_w", ObisLine("1-0:1.7.0", 2, 3, "kW"), True),
    _Number("p_export_w", ObisLine("1-0:2.7.0", 2, 3, "kW"), True),
    _Number("q_import_var", ObisLine("1-0:3.7.0", 2, 3), True),
    _Number("q_export_var", ObisLine("1-0:4.7.0", 2, 3), True),
)
CURRENTS = tuple(_Number(f"i_l{k}_a", ObisLine(f"1-0:{20 * k + 11}.7.0", 3, 0, "A"), False) for k in (1, 2, 3))
_TEXT = {code: ObisLine(code) for code in ("1-3:0.2.8", "0-0:1.0.0", "0-0:42.0.0", "0-0:17.0.0", "0-0:96.3.10",
                                           "0-0:96.7.21", "0-0:96.13.0", "0-0:96.13.2", "0-0:96.13.3",
                                           "0-0:96.13.4", "0-0:96.13.5")}
_COUNTERS = tuple(ObisLine(f"1-0:{c}.{k}.0") for k in (32, 36) for c in (32, 52, 72))


@dataclass(frozen=True)
class SmartyProfile(ListedProfile):
    """A Sagemcom Smarty (Luxembourg): DSMR 5 telegrams ciphered with SC 0x30, raw on P1."""

    id: str
    model: str
    security: Security
    make: str = "Sagemcom"
    country: str = "LU"
    timezone: str = "Europe/Luxembourg"
    protocol: str = "P1 DSMR 5 in general-glo-ciphering SC 0x30 (raw DB APDU on the P1 line)"
    wiring: str = "TN"
    line: LineSettings = field(default_factory=lambda: LineSettings(115200, 8, "N", 1))
    ident: str = IDENT
    device_name: str = "SAG1030700114004"
    schedule: PeriodicSchedule = field(default_factory=lambda: PeriodicSchedule(10, 1))
    lists: dict[int, str] = field(default_factory=lambda: {1: "every 10 s"})
    list_fields: dict[int, tuple[str, ...]] = field(
        default_factory=lambda: {1: TEXT_FIELDS + tuple(n.name for n in (*NUMBERS, *CURRENTS))})

    def resolve_meter_id(self, meter_id: str | None) -> None:
        """None: the telegram carries no meter id line, so none can be set."""
        if meter_id is not None:
            raise ValueError(f"{self.id} sends no meter id, so none can be set (got {meter_id!r})")
        return None

    def frame_values(self, values: Reading, overrides: Mapping[str, Any]) -> Reading:
        """The model's values with ``overrides`` applied; the text fields are the ident's."""
        texts = {"list_version": self.ident, "meter_type": ident_type(self.ident)}
        for name, value in texts.items():
            if name in overrides and overrides[name] != value:
                raise ValueError(f"{name} {overrides[name]!r}: this meter's ident /{self.ident} gives {value!r}")
        return {**values, **overrides, **texts}

    def clock_text(self, at: datetime) -> str:
        """``YYMMDDhhmmssX``: X = S in summer time, W otherwise."""
        dst = zone(self.timezone).dst(at) if at.tzinfo is None else at.dst()
        return at.strftime("%y%m%d%H%M%S") + ("S" if dst else "W")

    def quantize(self, list_no: int, values: Reading, at: datetime) -> Reading:
        """The reading a telegram sent at ``at`` carries: its fields at printed resolution."""
        self.fields(list_no)
        reading: Reading = {"timestamp": at.strftime("%Y-%m-%dT%H:%M:%S"), "list_version": self.ident,
                            "meter_type": ident_type(self.ident)}
        for number in (*NUMBERS, *CURRENTS):
            reading[number.name] = number.count(values.get(number.name))
            if number.name.startswith("i_"):
                reading[number.name] = float(reading[number.name])
        return reading

    def encode(self, list_no: int, reading: Reading, at: datetime) -> bytes:
        """The plain telegram carrying ``reading`` (``Meter`` ciphers it with ``security``)."""
        self.fields(list_no)
        lines: list[tuple[ObisLine, Any]] = [
            (_TEXT["1-3:0.2.8"], "42"), (_TEXT["0-0:1.0.0"], self.clock_text(at)),
            (_TEXT["0-0:42.0.0"], (self.device_name * 3).encode("ascii").hex().upper()),
        ]
        lines += [(n.line, n.printed(n.count(reading.get(n.name)))) for n in NUMBERS]
        lines += [(_TEXT["0-0:17.0.0"], "77.376"), (_TEXT["0-0:96.3.10"], "1"), (_TEXT["0-0:96.7.21"], "00000")]
        lines += [(line, "00000") for line in _COUNTERS]
        lines += [(_TEXT[code], "") for code in ("0-0:96.13.0", "0-0:96.13.2", "0-0:96.13.3", "0-0:96.13.4",
                                                 "0-0:96.13.5")]
        lines += [(n.line, n.printed(n.count(reading.get(n.name)))) for n in CURRENTS]
        return encode_telegram_lines(self.ident, lines)


SMARTY = SmartyProfile(id="sagemcom-smarty", model="Smarty", security=SMARTY_TEST_SECURITY)

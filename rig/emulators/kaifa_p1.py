"""Kaifa on the P1 port (Swedish RJ12 HAN port, ident ``/KFM5KAIFA-METER``): normalized readings -> telegrams.

One telegram every 10 s (list 1), 115200 8N1, with the line set of the real Kaifa telegram in the
captures (``kaifa_pl_gh1067_p1_ascii``), in its order:

- the clock ``0-0:1.0.0(YYMMDDhhmmssX)``: local wall-clock time, X = ``S`` while Central European
  summer time is in force, ``W`` otherwise;
- the meter id ``0-0:96.1.0`` as hex-encoded ASCII (``30057775`` -> ``3330303537373735``);
- energies ``1-0:1.8.0`` and ``2.8.0`` with tariffs ``.1`` to ``.4`` (6.3 kWh; a single-tariff meter:
  everything on tariff 1), powers ``1-0:1.7.0`` to ``4.7.0`` (2.3 kW / kvar), voltages ``1-0:32/52/72.7.0``
  (3.1 V), no currents;
- fixed lines the reading does not name: three ``0-0:17.0.0(00000)`` around the equipment id
  ``0-0:96.1.1`` (the model, hex-encoded ASCII), ``0-0:94.98.31`` / ``32`` (00000), ``0-0:96.13.0(3)`` and
  an empty ``0-0:96.13.0()``.

Resolution is the printed one: 1 Wh, 1 W / 1 var, 0.1 V. The reading's ``list_version`` is the ident
and ``meter_type`` what follows the maker code and baud digit (``KAIFA-METER``), as a reader takes them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from rig.emulators.landis_gyr import NumberLine
from rig.emulators.p1 import ObisLine, Value, encode_telegram_lines
from rig.emulators.profile_base import ListedProfile
from rig.emulators.schedule import PeriodicSchedule
from rig.line import LineSettings
from rig.reading import Reading

IDENT = "KFM5KAIFA-METER"
DEFAULT_METER_ID = "30000001"
CLOCK_LINE = ObisLine("0-0:1.0.0")
METER_ID_LINE = ObisLine("0-0:96.1.0")
EQUIPMENT_LINE = ObisLine("0-0:96.1.1")
TEXT_FIELDS = ("list_version", "meter_id", "meter_type")


def _energy(name: str, obis: str) -> NumberLine:
    return NumberLine(name, ObisLine(obis, 6, 3, "kWh"))


def _power(name: str, obis: str, unit: str) -> NumberLine:
    return NumberLine(name, ObisLine(obis, 2, 3, unit))


def _fixed(obis: str, value: str) -> tuple[ObisLine, str]:
    return ObisLine(obis), value


E_IMPORT = _energy("e_import_wh", "1-0:1.8.0")
E_EXPORT = _energy("e_export_wh", "1-0:2.8.0")
# tariff registers: tariff 1 repeats the total, tariffs 2-4 stay 0
_TARIFFS = {e.name: tuple(ObisLine(f"{e.line.obis[:-1]}{t}", 6, 3, "kWh") for t in (1, 2, 3, 4))
            for e in (E_IMPORT, E_EXPORT)}
INSTANTS: tuple[NumberLine, ...] = (
    _power("p_import_w", "1-0:1.7.0", "kW"),
    _power("p_export_w", "1-0:2.7.0", "kW"),
    _power("q_import_var", "1-0:3.7.0", "kvar"),
    _power("q_export_var", "1-0:4.7.0", "kvar"),
    *(NumberLine(f"u_l{k}_v", ObisLine(f"1-0:{20 * k + 12}.7.0", 3, 1, "V"), per_si=10) for k in (1, 2, 3)),
)
NUMBER_LINES: tuple[NumberLine, ...] = (E_IMPORT, E_EXPORT, *INSTANTS)
# the fixed lines around the equipment id, as the real telegram prints them
BEFORE_EQUIPMENT = (_fixed("0-0:17.0.0", "00000"),)
AFTER_EQUIPMENT = (_fixed("0-0:17.0.0", "00000"), _fixed("0-0:17.0.0", "00000"),
                   _fixed("0-0:94.98.31", "00000"), _fixed("0-0:94.98.32", "00000"),
                   _fixed("0-0:96.13.0", "3"), _fixed("0-0:96.13.0", ""))
LIST_FIELDS: dict[int, tuple[str, ...]] = {1: TEXT_FIELDS + tuple(n.name for n in NUMBER_LINES)}
LISTS: dict[int, str] = {1: "every 10 s"}


def _last_sunday(year: int, month: int) -> datetime:
    day = datetime(year, month, 31)  # March and October have 31 days
    return day - timedelta(days=(day.weekday() + 1) % 7)


def central_european_dst(at: datetime) -> bool:
    """Whether summer time is in force in Sweden (CET/CEST) at the naive wall-clock time ``at``.

    The EU rule: from the last Sunday of March 02:00 (-> 03:00) to the last Sunday of October 03:00
    (-> 02:00), local time. In the repeated hour 02:00-03:00 of October ``at.fold`` 0 is the first pass
    (summer), 1 the second; in the skipped hour of March fold 0 reads winter and 1 summer (``zoneinfo``).
    """
    start = _last_sunday(at.year, 3).replace(hour=2)
    end = _last_sunday(at.year, 10).replace(hour=2)
    hour = timedelta(hours=1)
    if start <= at < start + hour:
        return at.fold == 1
    if end <= at < end + hour:
        return at.fold == 0
    return start + hour <= at < end


def clock_text(at: datetime) -> str:
    """The value of the ``0-0:1.0.0`` line: ``YYMMDDhhmmssX`` (X = S in summer time, W otherwise)."""
    return at.strftime("%y%m%d%H%M%S") + ("S" if central_european_dst(at) else "W")


def hex_ascii(text: str) -> str:
    """Text as the hex-encoded ASCII of a P1 id line: ``MA309M`` -> ``4D413330394D``."""
    return text.encode("ascii").hex().upper()


@dataclass(frozen=True)
class KaifaP1Profile(ListedProfile):
    """A Kaifa meter sending the P1 telegram of ``kaifa_pl_gh1067_p1_ascii``'s line set every 10 s."""

    id: str
    model: str
    make: str = "Kaifa"
    country: str = "SE"
    timezone: str = "Europe/Stockholm"
    protocol: str = "P1 (IEC 62056-21 mode D, DSMR 5.0.2 physical layer)"
    wiring: str = "TN"
    line: LineSettings = field(default_factory=lambda: LineSettings(115200, 8, "N", 1))
    ident: str = IDENT
    schedule: PeriodicSchedule = field(default_factory=lambda: PeriodicSchedule(10, 1))
    lists: dict[int, str] = field(default_factory=lambda: dict(LISTS))
    list_fields: dict[int, tuple[str, ...]] = field(default_factory=lambda: dict(LIST_FIELDS))

    @property
    def meter_type(self) -> str:
        """The type a reader takes from the ident: after the maker code and the baud digit."""
        return self.ident[4:]

    def resolve_meter_id(self, meter_id: str | None) -> str:
        """The meter id of the ``0-0:96.1.0`` line: ``DEFAULT_METER_ID`` when None; 1-32 letters or digits."""
        resolved = DEFAULT_METER_ID if meter_id is None else str(meter_id)
        if not (1 <= len(resolved) <= 32 and resolved.isascii() and resolved.isalnum()):
            raise ValueError(f"meter id must be 1 to 32 ASCII letters or digits, got {resolved!r}")
        return resolved

    def frame_values(self, values: Reading, overrides: Mapping[str, Any]) -> Reading:
        """``values`` (the model's) with ``overrides`` applied; the type is the ident's unless overridden."""
        merged = {**values, **overrides}
        if "meter_type" not in overrides:
            merged["meter_type"] = self.meter_type
        return merged

    def _text(self, values: Reading) -> dict[str, str]:
        texts = {"list_version": self.ident, "meter_type": self.meter_type,
                 "meter_id": self.resolve_meter_id(values.get("meter_id"))}
        for name in ("list_version", "meter_type"):
            if values.get(name) not in (None, texts[name]):
                raise ValueError(f"{name} {values[name]!r}: the {self.id} telegram states /{self.ident} "
                                 f"({name} {texts[name]!r})")
        return texts

    def quantize(self, list_no: int, values: Reading, at: datetime) -> Reading:
        """The reading a telegram sent at ``at`` carries: exactly its fields, at printed resolution."""
        self.fields(list_no)
        reading: Reading = {"timestamp": at.strftime("%Y-%m-%dT%H:%M:%S"), **self._text(values)}
        for n in NUMBER_LINES:
            reading[n.name] = n.si(n.count(values.get(n.name)))
        return reading

    def encode(self, list_no: int, reading: Reading, at: datetime) -> bytes:
        """The telegram carrying ``reading`` (SI units), sent at meter time ``at``."""
        self.fields(list_no)
        texts = self._text(reading)
        lines: list[tuple[ObisLine, Value]] = [(CLOCK_LINE, clock_text(at)),
                                               (METER_ID_LINE, hex_ascii(texts["meter_id"]))]
        for energy in (E_IMPORT, E_EXPORT):
            printed = energy.printed(energy.count(reading.get(energy.name)))
            lines.append((energy.line, printed))
            lines += [(tariff, printed if t == 0 else 0) for t, tariff in enumerate(_TARIFFS[energy.name])]
        lines += [(n.line, n.printed(n.count(reading.get(n.name)))) for n in INSTANTS]
        lines += [*BEFORE_EQUIPMENT, (EQUIPMENT_LINE, hex_ascii(self.model)), *AFTER_EQUIPMENT]
        return encode_telegram_lines(self.ident, lines)


MA304H4E = KaifaP1Profile(id="kaifa-p1-se", model="MA304H4E")

"""Landis+Gyr E360 on the Finnish P1 port (SK 13-1, Swedish data set): normalized readings -> telegrams.

One telegram every 10 s (list 1), ident ``/LGF5E360``, no meter id line. Resolution is the printed
one: 1 Wh / 1 varh (8.3 kWh), 1 W / 1 var (4.3 kW), 0.1 V (3.1), 0.1 A (3.1). The clock line
``0-0:1.0.0(YYMMDDhhmmssX)`` is the local wall-clock time, X = ``S`` while daylight-saving time is in
force in Finland and ``W`` otherwise.

Totals and phases: a phase's active (reactive) power goes to the phase's import line when positive
and to its export line when negative. The meter prints its totals on separate lines; this meter
derives them from the printed phases, so they agree exactly: the net total is the sum over phases of
(import - export), each already rounded to 1 W (1 var), and goes to the total import line when
positive, the total export line when negative. A total set explicitly is printed as given.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from rig.emulators.p1 import ObisLine, encode_telegram
from rig.emulators.profile_base import ListedProfile
from rig.emulators.schedule import PeriodicSchedule
from rig.line import LineSettings
from rig.reading import FIELDS, Reading

IDENT = "LGF5E360"
CLOCK_LINE = ObisLine("0-0:1.0.0")
TEXT_FIELDS = ("list_version", "meter_type")


@dataclass(frozen=True)
class NumberLine:
    """A normalized field on a numeric telegram line; ``per_si`` counts of the last digit make 1 SI unit."""

    name: str
    line: ObisLine
    per_si: int = 1

    def count(self, value: Any) -> int:
        """The printed integer (count of the last digit) of an SI value: 230.66 V -> 2307 (230.7)."""
        if value is None:
            raise ValueError(f"{self.name} has no value, but the telegram must carry it")
        try:
            raw = round(float(value) * self.per_si)
        except (TypeError, ValueError, OverflowError):
            raise ValueError(f"{self.name}={value!r} is not a number") from None
        limit = 10 ** (self.line.digits + self.line.decimals)
        if not 0 <= raw < limit:
            layout = f"{self.line.digits}.{self.line.decimals} {self.line.unit}"
            raise ValueError(f"{self.name}={value} does not fit the {layout} line {self.line.obis}: "
                             f"0 to {self.si(limit - 1)} {FIELDS[self.name]}")
        return raw

    def si(self, count: int) -> int | float:
        """The SI value of a printed integer (an int when the last digit is 1 SI unit)."""
        return count if self.per_si == 1 else count / self.per_si

    def printed(self, count: int) -> Decimal:
        """The printed number of a count: 2721126 Wh -> 2721.126 (kWh)."""
        return Decimal(count).scaleb(-self.line.decimals)


def _energy(name: str, obis: str, unit: str) -> NumberLine:
    return NumberLine(name, ObisLine(obis, 8, 3, unit))


def _power(name: str, obis: str, unit: str) -> NumberLine:
    return NumberLine(name, ObisLine(obis, 4, 3, unit))


_PHASES = (1, 2, 3)
_DIRECTIONS = (("import", 0), ("export", 1))  # OBIS C of a phase: 20 * phase + 1 (P+), 2 (P-), 3 (Q+), 4 (Q-)
_P_PHASES = tuple(_power(f"p_l{k}_{d}_w", f"1-0:{20 * k + 1 + o}.7.0", "kW")
                  for k in _PHASES for d, o in _DIRECTIONS)
_Q_PHASES = tuple(_power(f"q_l{k}_{d}_var", f"1-0:{20 * k + 3 + o}.7.0", "kVAr")
                  for k in _PHASES for d, o in _DIRECTIONS)
# The lines after the clock, in telegram order (han-protocols.md section 3).
NUMBER_LINES: tuple[NumberLine, ...] = (
    _energy("e_import_wh", "1-0:1.8.0", "kWh"),
    _energy("e_export_wh", "1-0:2.8.0", "kWh"),
    _energy("r_import_varh", "1-0:3.8.0", "kVArh"),
    _energy("r_export_varh", "1-0:4.8.0", "kVArh"),
    _power("p_import_w", "1-0:1.7.0", "kW"),
    _power("p_export_w", "1-0:2.7.0", "kW"),
    _power("q_import_var", "1-0:3.7.0", "kVAr"),
    _power("q_export_var", "1-0:4.7.0", "kVAr"),
    *_P_PHASES,
    *_Q_PHASES,
    *(NumberLine(f"u_l{k}_v", ObisLine(f"1-0:{20 * k + 12}.7.0", 3, 1, "V"), per_si=10) for k in _PHASES),
    *(NumberLine(f"i_l{k}_a", ObisLine(f"1-0:{20 * k + 11}.7.0", 3, 1, "A"), per_si=10) for k in _PHASES),
)
_BY_NAME = {n.name: n for n in NUMBER_LINES}
LINES: tuple[ObisLine, ...] = (CLOCK_LINE, *(n.line for n in NUMBER_LINES))
LIST_FIELDS: dict[int, tuple[str, ...]] = {1: TEXT_FIELDS + tuple(n.name for n in NUMBER_LINES)}
LISTS: dict[int, str] = {1: "every 10 s"}
# total field -> the per-phase (import, export) fields it is the net sum of
_TOTALS = {
    ("p_import_w", "p_export_w"): tuple((f"p_l{k}_import_w", f"p_l{k}_export_w") for k in _PHASES),
    ("q_import_var", "q_export_var"): tuple((f"q_l{k}_import_var", f"q_l{k}_export_var") for k in _PHASES),
}


def _last_sunday(year: int, month: int) -> datetime:
    day = datetime(year, month, 31)  # March and October have 31 days
    return day - timedelta(days=(day.weekday() + 1) % 7)


def finnish_dst(at: datetime) -> bool:
    """Whether daylight-saving time is in force in Finland at the naive wall-clock time ``at``.

    The EU rule (in force since 1996): from the last Sunday of March 03:00 (-> 04:00) to the last
    Sunday of October 04:00 (-> 03:00), local time. In the repeated hour 03:00-04:00 of October,
    ``at.fold`` 0 is the first pass (summer) and 1 the second (winter); in the skipped hour of March,
    which a meter clock never shows, fold 0 reads winter and 1 summer (as ``zoneinfo`` does).
    """
    start = _last_sunday(at.year, 3).replace(hour=3)
    end = _last_sunday(at.year, 10).replace(hour=3)
    hour = timedelta(hours=1)
    if start <= at < start + hour:
        return at.fold == 1
    if end <= at < end + hour:
        return at.fold == 0
    return start + hour <= at < end


def clock_text(at: datetime) -> str:
    """The value of the ``0-0:1.0.0`` line: ``YYMMDDhhmmssX`` (X = S in summer time, W otherwise)."""
    return at.strftime("%y%m%d%H%M%S") + ("S" if finnish_dst(at) else "W")


@dataclass(frozen=True)
class P1Profile(ListedProfile):
    """A meter sending one P1 telegram of fixed lines on a fixed interval (Landis+Gyr E360, Finland)."""

    id: str
    model: str
    make: str = "Landis+Gyr"
    country: str = "FI"
    timezone: str = "Europe/Helsinki"
    protocol: str = "P1 (IEC 62056-21 mode D, DSMR 5.0.2 physical layer)"
    wiring: str = "TN"
    line: LineSettings = field(default_factory=lambda: LineSettings(115200, 8, "N", 1))
    ident: str = IDENT
    schedule: PeriodicSchedule = field(default_factory=lambda: PeriodicSchedule(10, 1))
    lists: dict[int, str] = field(default_factory=lambda: dict(LISTS))
    list_fields: dict[int, tuple[str, ...]] = field(default_factory=lambda: dict(LIST_FIELDS))

    def resolve_meter_id(self, meter_id: str | None) -> str | None:
        """None: the telegram has no meter id line (``0-0:96.1.0``), so a meter id cannot be given."""
        if meter_id is not None:
            raise ValueError(f"{self.id} sends no meter id, so none can be set (got {meter_id!r})")
        return None

    def frame_values(self, values: Reading, overrides: Mapping[str, Any]) -> Reading:
        """``values`` (the model's) with ``overrides`` applied, and the totals not overridden derived
        from the per-phase powers as printed (see the module docstring)."""
        merged = {**values, **overrides}
        if "meter_type" not in overrides:
            merged["meter_type"] = self._meter_type(self._ident(merged))
        for (imp, exp), phases in _TOTALS.items():
            net = sum(_BY_NAME[i].count(merged.get(i)) - _BY_NAME[e].count(merged.get(e)) for i, e in phases)
            if imp not in overrides:
                merged[imp] = max(net, 0)
            if exp not in overrides:
                merged[exp] = max(-net, 0)
        return merged

    def _ident(self, values: Reading) -> str:
        ident = values.get("list_version") or self.ident
        if not isinstance(ident, str) or len(ident) < 5:
            raise ValueError(f"list_version {ident!r} is not a P1 ident like {self.ident!r}")
        return ident

    @staticmethod
    def _meter_type(ident: str) -> str:
        return ident[4:]  # after the maker code and the baud-rate digit: LGF 5 E360

    def _text(self, values: Reading) -> tuple[str, str]:
        ident = self._ident(values)
        meter_type = values.get("meter_type") or self._meter_type(ident)
        if meter_type != self._meter_type(ident):
            raise ValueError(f"meter_type {meter_type!r}: the telegram states its type only in its ident "
                             f"/{ident} (type {self._meter_type(ident)!r})")
        return ident, meter_type

    def quantize(self, list_no: int, values: Reading, at: datetime) -> Reading:
        """The reading a telegram sent at ``at`` carries: exactly its fields, at printed resolution."""
        self.fields(list_no)
        ident, meter_type = self._text(values)
        reading: Reading = {"timestamp": at.strftime("%Y-%m-%dT%H:%M:%S"), "list_version": ident,
                            "meter_type": meter_type}
        for n in NUMBER_LINES:
            reading[n.name] = n.si(n.count(values.get(n.name)))
        return reading

    def encode(self, list_no: int, reading: Reading, at: datetime) -> bytes:
        """The telegram carrying ``reading`` (SI units), sent at meter time ``at``."""
        self.fields(list_no)
        ident, _ = self._text(reading)
        printed: dict[str, Any] = {CLOCK_LINE.obis: clock_text(at)}
        for n in NUMBER_LINES:
            printed[n.line.obis] = n.printed(n.count(reading.get(n.name)))
        return encode_telegram(ident, LINES, printed)


E360 = P1Profile(id="landis-gyr-e360", model="E360")

"""Named load scenarios: what happens to the household's load over time, on top of the meter model's base.

A scenario is a ``Load``; the meter model (``rig.emulators.model``) does the physics with it. Each
instant a load may hold one line at a sagged voltage, add a current to every line (an EV charger) or
scale the active part of the base current (a PV plant); it may also set the lines' shares of the base
load. Times are seconds since 2000-01-01 00:00 (the model's epoch), so ``t % DAY`` is the time of day;
every daily event recurs each day of the meter's life, so the energy registers can integrate it.

- ``household``: the base load alone (the default).
- ``ev-charging``: 3 x 16 A at pf 0.98-1 on top of the base, from 18:00 for 4 h (about 11 kW on a TN
  230/400 V net).
- ``solar-export``: a PV plant at unity power factor from 06:00 to 20:00. Its output is
  ``peak * sin^2`` of the daylight phase times the household's active consumption (``peak`` 2-3.5, by
  seed), so the net active power is the consumption times the gain ``1 - peak * sin^2(...)``: import
  while the gain is positive, export around midday while it is negative (about 09:30-16:30), with
  direction changes at instants known in closed form (``GainSegment``), reactive power unchanged.
- ``phase-imbalance``: one line (by seed) carries 80 % of the base load, the others 10 % each. On a
  3-wire IT net the currents sum to zero, so the heavy load sits between the heavy line and line 2.
- ``voltage-sag``: one line (by seed) sags to 190-200 V from 18:30 for one hour; the loads draw
  constant power, so that line's current rises by the voltage ratio and the powers stay.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass

DAY = 86400.0
HOUR = 3600.0
DEFAULT = "household"


@dataclass(frozen=True)
class DailyWindow:
    """``length_s`` seconds from ``start_s`` seconds after midnight, every day (it may cross midnight)."""

    start_s: float
    length_s: float

    def contains(self, t: float) -> bool:
        return (t - self.start_s) % DAY < self.length_s

    def _cumulative(self, t: float) -> float:
        days, into = divmod(t - self.start_s, DAY)
        return days * self.length_s + min(into, self.length_s)

    def seconds_in(self, t0: float, t1: float) -> float:
        """Seconds of the window within ``[t0, t1]`` (0 when ``t1 <= t0``)."""
        return max(self._cumulative(t1) - self._cumulative(t0), 0.0)


@dataclass(frozen=True)
class GainSegment:
    """On ``[start_s, end_s)`` after midnight the active gain is ``c0 + c1 * cos(omega * s + theta)`` (s: seconds
    after midnight) and keeps the sign ``sign`` (+1: the meter imports, -1: it exports)."""

    start_s: float
    end_s: float
    c0: float
    c1: float
    omega: float
    theta: float
    sign: int

    def gain(self, s: float) -> float:
        return self.c0 + self.c1 * math.cos(self.omega * s + self.theta)


@dataclass(frozen=True)
class Load:
    """A load scenario; this base class is the household (nothing changes the base load).

    ``line_shares``: each line's share of the base load (summing to 3), or None for the model's seeded
    ones. Subclasses override the instant hooks (``sag``, ``extra_current``, ``gain``) and the integrals
    the energy registers use (``extra_seconds``, ``gain_segments``).
    """

    name: str = DEFAULT
    line_shares: tuple[float, float, float] | None = None
    extra_a: float = 0.0  # the extra current (A) on every line while it flows
    extra_lag: float = 0.0  # its lag behind each line's star voltage (radians)
    gain_segments: tuple[GainSegment, ...] = ()  # one day of the active gain; empty: always 1

    def sag(self, t: float) -> tuple[int, float] | None:
        """(line index, volts) while a line's voltage sags, else None."""
        return None

    def extra_current(self, t: float) -> float:
        """Current (A) added to every line at ``extra_lag``: ``extra_a`` or 0."""
        return 0.0

    def extra_seconds(self, t0: float, t1: float) -> float:
        """Seconds within ``[t0, t1]`` in which the extra current flows (it is constant while it does)."""
        return 0.0

    def gain(self, t: float) -> float:
        """Factor on the active part of the base current (negative: the meter exports)."""
        s = t % DAY
        for seg in self.gain_segments:
            if seg.start_s <= s < seg.end_s:
                return seg.gain(s)
        return 1.0


@dataclass(frozen=True)
class EvCharging(Load):
    """An EV charging on all three lines at ``extra_a`` within ``window``."""

    name: str = "ev-charging"
    extra_a: float = 16.0
    window: DailyWindow = DailyWindow(18 * HOUR, 4 * HOUR)

    def extra_current(self, t: float) -> float:
        return self.extra_a if self.window.contains(t) else 0.0

    def extra_seconds(self, t0: float, t1: float) -> float:
        return self.window.seconds_in(t0, t1)


def solar_segments(rise_s: float, set_s: float, peak: float) -> tuple[GainSegment, ...]:
    """The day of a PV plant whose output is ``peak * sin^2(pi * (s - rise) / (set - rise))`` times the
    consumption: gain ``1 - peak/2 + peak/2 * cos(2 pi (s - rise) / (set - rise))`` by day, 1 by night."""
    if peak <= 1:
        raise ValueError(f"peak {peak} must exceed 1, or the plant never exports")
    length = set_s - rise_s
    omega, theta = 2 * math.pi / length, -2 * math.pi * rise_s / length
    x = math.asin(math.sqrt(1.0 / peak))  # sin^2(x) == 1/peak: the gain crosses 0
    export_from, export_to = rise_s + length * x / math.pi, rise_s + length * (math.pi - x) / math.pi
    day = (1 - peak / 2, peak / 2, omega, theta)
    return (
        GainSegment(0.0, rise_s, 1.0, 0.0, 0.0, 0.0, 1),
        GainSegment(rise_s, export_from, *day, 1),
        GainSegment(export_from, export_to, *day, -1),
        GainSegment(export_to, set_s, *day, 1),
        GainSegment(set_s, DAY, 1.0, 0.0, 0.0, 0.0, 1),
    )


@dataclass(frozen=True)
class VoltageSag(Load):
    """Line ``line`` sags to ``volts`` within ``window``."""

    name: str = "voltage-sag"
    line: int = 0
    volts: float = 195.0
    window: DailyWindow = DailyWindow(18.5 * HOUR, 1 * HOUR)

    def sag(self, t: float) -> tuple[int, float] | None:
        return (self.line, self.volts) if self.window.contains(t) else None


def _household(rng: random.Random, wiring: str) -> Load:
    return Load()


def _ev_charging(rng: random.Random, wiring: str) -> Load:
    return EvCharging(extra_lag=math.acos(rng.uniform(0.98, 1.0)))


def _solar_export(rng: random.Random, wiring: str) -> Load:
    return Load(name="solar-export", gain_segments=solar_segments(6 * HOUR, 20 * HOUR, rng.uniform(2.0, 3.5)))


def _measured_line(rng: random.Random, wiring: str) -> int:
    return rng.choice((0, 1, 2) if wiring == "TN" else (0, 2))  # IT meters measure no U2, take no I2


def _phase_imbalance(rng: random.Random, wiring: str) -> Load:
    shares = [0.3, 0.3, 0.3]
    shares[_measured_line(rng, wiring)] = 2.4
    return Load(name="phase-imbalance", line_shares=(shares[0], shares[1], shares[2]))


def _voltage_sag(rng: random.Random, wiring: str) -> Load:
    return VoltageSag(line=_measured_line(rng, wiring), volts=round(rng.uniform(190.0, 200.0), 1))


# name -> (one line for --help and docs, factory of the seeded load)
SCENARIOS: dict[str, tuple[str, Callable[[random.Random, str], Load]]] = {
    "household": ("the base household load (default)", _household),
    "ev-charging": ("3 x 16 A EV charging on top, daily from 18:00 for 4 h (about 11 kW)", _ev_charging),
    "solar-export": ("PV plant from 06:00 to 20:00, exporting around midday (about 09:30-16:30)", _solar_export),
    "phase-imbalance": ("one line carries 80 % of the load, the others 10 % each", _phase_imbalance),
    "voltage-sag": ("one line sags to 190-200 V daily from 18:30 for 1 h (constant-power loads)", _voltage_sag),
}


def scenario_names() -> list[str]:
    """The known scenario names, the default first."""
    return list(SCENARIOS)


def check_scenario(name: str) -> str:
    """``name`` if it is a known scenario; ValueError naming the known ones otherwise."""
    if name not in SCENARIOS:
        raise ValueError(f"unknown scenario {name!r}; known: {', '.join(SCENARIOS)}")
    return name


def make_load(name: str, seed: int = 1, wiring: str = "TN") -> Load:
    """The scenario ``name`` for a meter of this seed and wiring (deterministic by seed)."""
    factory = SCENARIOS[check_scenario(name)][1]
    return factory(random.Random(f"{name}:{seed}:{wiring}"), wiring)

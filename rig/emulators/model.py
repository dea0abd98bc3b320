"""A seeded, physically consistent electricity meter: voltages, a wandering load, powers, energies.

Everything is a pure function of (seed, wiring, time): the same seed and time give the same values,
in any query order. The load follows a smooth daily shape (evening and morning peaks plus
slow random wander) with small per-sample noise, so the active power changes practically every 2 s.

Powers per phase, TN net (4-wire, phase voltages): ``P_k = U_k * I_k * cos(phi_k)``,
``Q_k = U_k * I_k * sin(phi_k)`` (phi > 0 inductive, giving Q+), totals are the sums.

IT net (3-wire, 230 V between lines; Aron connection with line 2 as reference): the meter sees the line
voltages ``U1 = U12`` and ``U3 = U32`` and the line currents I1 and I3, so with phasors
(``U12`` at +30 deg, ``U32`` at +90 deg, ``I1`` at ``-phi1``, ``I3`` at ``120 deg - phi3``, all against
the star voltage of line 1) ``P + jQ = U12 * conj(I1) + U32 * conj(I3)`` (two-wattmeter sum; for a
balanced load it is ``sqrt(3) * U * I * cos(phi)``). ``I2 = -(I1 + I3)`` (no neutral). U2 is not
measured: ``u_l2_v`` is None.

Energies integrate the smooth part of the power in closed form from the meter's seeded installation
date (registers 0 then, and before it); the per-sample noise has zero mean. So they never decrease,
stay far inside uint32 for decades, and do not depend on how often or in which order they are read.
The reactive register of the direction opposite to the load's usual sign grows at a seeded 0.5-3 % of
the main one (loads that are occasionally capacitive/inductive).

A load scenario (``rig.emulators.loads``) changes the base load over time: line shares, a sagged line
voltage (constant-power loads: that line's current rises by the voltage ratio, its power stays), an
extra current on every line (added as a phasor), and a gain on the active part of each measuring path's
current (the component in phase with the voltage the meter multiplies it with: the star voltage on TN,
U12 / U32 on IT), which scales active power and leaves reactive power alone. Its energy follows in
closed form too: the extra current's while it flows, and a gain's split by its sign into the import
and export registers, day by day (cached); the net sign rule holds per instant: import and export are
never both non-zero.
"""

from __future__ import annotations

import cmath
import math
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NamedTuple

from rig.emulators.loads import DAY, DEFAULT, Load, make_load
from rig.reading import Reading

EPOCH = datetime(2000, 1, 1)
INSTALLED_EARLIEST = datetime(2017, 1, 1)
WIRINGS = ("TN", "IT")
ENERGY_FIELDS = ("e_import_wh", "e_export_wh", "r_import_varh", "r_export_varh")
_DEG = math.pi / 180.0
_TWO_PI = 2 * math.pi
# reading keys of the per-phase powers (TN): (P+, P-, Q+, Q-) of lines 1, 2, 3
_PHASE_KEYS = tuple(
    (f"p_l{k}_import_w", f"p_l{k}_export_w", f"q_l{k}_import_var", f"q_l{k}_export_var") for k in (1, 2, 3)
)


@dataclass(frozen=True)
class _Wave:
    """``amplitude * cos(2 pi t / period + phase)`` and its antiderivative."""

    amplitude: float
    period_s: float
    phase: float

    def value(self, t: float) -> float:
        return self.amplitude * math.cos(_TWO_PI * t / self.period_s + self.phase)

    def integral(self, t: float) -> float:
        w = 2 * math.pi / self.period_s
        return self.amplitude / w * math.sin(w * t + self.phase)


def _cos_integral(w: float, phase: float, t0: float, t1: float) -> float:
    """``integral of cos(w t + phase)`` over ``[t0, t1]`` (sum-to-product form: exact for short spans)."""
    if abs(w) < 1e-15:
        return math.cos(phase) * (t1 - t0)
    return 2 * math.cos(w * (t0 + t1) / 2 + phase) * math.sin(w * (t1 - t0) / 2) / w


def _scale_active(current: float, lag: float, offset: float, gain: float) -> tuple[float, float]:
    """(magnitude, lag) of a line current whose component in phase with the path voltage (which leads the
    star voltage by ``offset``) is multiplied by ``gain``."""
    psi = lag + offset
    active, reactive = current * math.cos(psi) * gain, current * math.sin(psi)
    return math.hypot(active, reactive), math.atan2(reactive, active) - offset


def _peak_at_hour(hour: float, period_s: float) -> float:
    """Phase that puts a cosine's maximum at ``hour`` o'clock (t counts from midnight)."""
    return -2 * math.pi * hour * 3600.0 / period_s


class _Instant(NamedTuple):
    """The instant values of a ``MeterState`` (see there)."""

    voltages: tuple[float, float | None, float]
    currents: tuple[float, float, float]
    phase_angles: tuple[float, float, float]
    p_w: float
    q_var: float
    p_phase_w: tuple[float, float, float] | None
    q_phase_var: tuple[float, float, float] | None


@dataclass(frozen=True)
class MeterState:
    """The exact (unquantized) physical state at one instant, SI units.

    ``phase_angles`` are the angles by which each line current lags its star voltage (radians);
    ``power_factors`` their cosines. For IT, ``voltages[1]`` is None (U2 is not measured).
    """

    at: datetime
    voltages: tuple[float, float | None, float]
    currents: tuple[float, float, float]
    phase_angles: tuple[float, float, float]
    p_w: float
    q_var: float
    p_phase_w: tuple[float, float, float] | None
    q_phase_var: tuple[float, float, float] | None
    e_import_wh: float
    e_export_wh: float
    r_import_varh: float
    r_export_varh: float

    @property
    def power_factors(self) -> tuple[float, float, float]:
        """cos(phi) per line."""
        a, b, c = self.phase_angles
        return (math.cos(a), math.cos(b), math.cos(c))


class MeterModel:
    """A seeded meter: ``MeterModel(seed, wiring="TN"|"IT", load="household")``; ``state_at(t)`` /
    ``reading_at(t)``. ``load`` is a scenario name (``rig.emulators.loads.SCENARIOS``; None: household) or
    a ``Load``; ValueError for an unknown name.

    The values are a pure function of the seed, the wiring, the load and the (naive local) time asked for.
    """

    def __init__(self, seed: int = 1, wiring: str = "TN", load: str | Load | None = DEFAULT,
                 nominal_voltage: float = 230.0) -> None:
        if wiring not in WIRINGS:
            raise ValueError(f"wiring must be one of {WIRINGS}, got {wiring!r}")
        self.seed = seed
        self.wiring = wiring
        self.load = load if isinstance(load, Load) else make_load(load or DEFAULT, seed, wiring)
        rng = random.Random(seed)
        self.installed = INSTALLED_EARLIEST + timedelta(seconds=round(rng.uniform(0, 3 * 365 * 86400)))

        day = 86400.0
        self._shape = (
            _Wave(rng.uniform(0.25, 0.4), day, _peak_at_hour(rng.uniform(17.5, 19.5), day)),
            _Wave(rng.uniform(0.1, 0.2), day / 2, _peak_at_hour(rng.uniform(7.0, 8.5), day / 2)),
            *(
                _Wave(rng.uniform(0.03, 0.1), rng.uniform(600.0, 7200.0), rng.uniform(0, 2 * math.pi))
                for _ in range(3)
            ),
        )  # 1 + sum of amplitudes stays above 0.15: the load never vanishes

        mean_w = rng.uniform(1500.0, 4500.0)
        shares = [rng.uniform(0.5, 1.5) for _ in range(3)]
        shares = [3 * s / sum(shares) for s in shares]
        if self.load.line_shares is not None:
            shares = list(self.load.line_shares)
        sign = 1.0 if rng.random() < 0.7 else -1.0  # mostly inductive loads
        self._phi0 = tuple(sign * math.acos(rng.uniform(0.93, 0.99)) for _ in range(3))
        self._u0 = tuple(nominal_voltage + rng.uniform(-2.0, 9.0) for _ in range(3))
        self._u_drift = tuple(
            _Wave(rng.uniform(0.5, 2.0), rng.uniform(1800.0, 14400.0), rng.uniform(0, 2 * math.pi))
            for _ in range(3)
        )
        star = 1.0 if wiring == "TN" else 1.0 / math.sqrt(3.0)
        self._i0 = tuple(
            mean_w * shares[k] / 3 / (self._u0[k] * star * math.cos(self._phi0[k])) for k in range(3)
        )
        self._reverse_q_share = rng.uniform(0.005, 0.03)
        # Smooth power per unit of load shape, for the closed-form energy integral.
        p_c, q_c = self._powers(self._u0, self._i0, self._phi0)[:2]
        self._p_coeff = p_c
        self._q_coeff = q_c
        self._t0 = self._seconds(self.installed)
        # Paths the meter measures: the lead of each path's voltage over the line's star voltage.
        self._path_offset = (0.0, 0.0, 0.0) if wiring == "TN" else (30 * _DEG, 0.0, -30 * _DEG)
        lag = self.load.extra_lag
        self._extra_p, self._extra_q = self._powers(self._u0, (self.load.extra_a,) * 3, (lag, lag, lag))[:2]
        self._day0 = math.floor(self._t0 / DAY)
        # integrals (s) of load * gain over its import and its export stretches, up to the start of day0 + n
        self._gain_days: list[tuple[float, float]] = [(0.0, 0.0)]

    @staticmethod
    def _seconds(at: datetime) -> float:
        return (at - EPOCH).total_seconds()

    def _load(self, t: float) -> float:
        return 1.0 + sum([w.value(t) for w in self._shape])

    def _load_integral(self, t0: float, t1: float) -> float:
        return (t1 - t0) + sum(w.integral(t1) - w.integral(t0) for w in self._shape)

    def _gain_integral(self, t0: float, t1: float) -> tuple[float, float]:
        """(import, export) integrals of ``load * |gain|`` over ``[t0, t1]``, within one day, in s."""
        day_start = math.floor(t0 / DAY) * DAY
        imported = exported = 0.0
        for seg in self.load.gain_segments:
            lo, hi = max(t0, day_start + seg.start_s), min(t1, day_start + seg.end_s)
            if hi <= lo:
                continue
            theta = seg.theta - seg.omega * day_start  # the gain as a function of absolute time
            value = seg.c0 * self._load_integral(lo, hi)
            if seg.c1:
                waves = _cos_integral(seg.omega, theta, lo, hi)
                for w in self._shape:
                    k = 2 * math.pi / w.period_s
                    waves += w.amplitude / 2 * (_cos_integral(k + seg.omega, w.phase + theta, lo, hi)
                                                + _cos_integral(k - seg.omega, w.phase - theta, lo, hi))
                value += seg.c1 * waves
            if seg.sign > 0:
                imported += value
            else:
                exported -= value
        return imported, exported

    def _gain_energy(self, t: float) -> tuple[float, float]:
        """(import, export) Wh of the smooth active power under the load's gain, from installation to ``t``."""
        if t <= self._t0:
            return 0.0, 0.0
        n = math.floor(t / DAY) - self._day0
        while len(self._gain_days) <= n:  # whole days, once, always summed in the same order
            m = len(self._gain_days) - 1
            imported, exported = self._gain_integral(max(self._t0, (self._day0 + m) * DAY), (self._day0 + m + 1) * DAY)
            last = self._gain_days[-1]
            self._gain_days.append((last[0] + imported, last[1] + exported))
        imported, exported = self._gain_integral(max(self._t0, (self._day0 + n) * DAY), t)
        base = self._gain_days[n]
        return (base[0] + imported) * self._p_coeff / 3600.0, (base[1] + exported) * self._p_coeff / 3600.0

    def _powers(
        self, u: tuple[float, ...], i: tuple[float, ...], phi: tuple[float, ...]
    ) -> tuple[float, float, tuple[float, float, float] | None, tuple[float, float, float] | None, float]:
        """(P, Q, P per phase, Q per phase, I2) for the wiring; see the module docstring."""
        if self.wiring == "TN":
            s = (u[0] * i[0], u[1] * i[1], u[2] * i[2])  # apparent power per phase
            p_ph = (s[0] * math.cos(phi[0]), s[1] * math.cos(phi[1]), s[2] * math.cos(phi[2]))
            q_ph = (s[0] * math.sin(phi[0]), s[1] * math.sin(phi[1]), s[2] * math.sin(phi[2]))
            return sum(p_ph), sum(q_ph), p_ph, q_ph, i[1]
        u12 = cmath.rect(u[0], 30 * _DEG)
        u32 = cmath.rect(u[2], 90 * _DEG)
        i1 = cmath.rect(i[0], -phi[0])
        i3 = cmath.rect(i[2], 120 * _DEG - phi[2])
        s = u12 * i1.conjugate() + u32 * i3.conjugate()
        return s.real, s.imag, None, None, abs(i1 + i3)

    def state_at(self, at: datetime) -> MeterState:
        """The physical state at meter time ``at`` (deterministic for seed, wiring and ``at``)."""
        return MeterState(at, *self._instant(at), *self._energies(self._seconds(at)))

    def _instant(self, at: datetime) -> _Instant:
        """The instant values at ``at``: voltages, currents and phase angles with their noise, and powers."""
        t = self._seconds(at)
        noise = random.Random(f"{self.seed}:{at.isoformat()}")
        load = self._load(t)
        currents = [max(0.0, self._i0[k] * load * (1 + noise.gauss(0, 0.01)) + noise.gauss(0, 0.02))
                    for k in range(3)]
        phi = [self._phi0[k] + noise.gauss(0, 0.01) for k in range(3)]
        volts = [self._u0[k] + self._u_drift[k].value(t) + noise.gauss(0, 0.25) for k in range(3)]
        self._apply_load(t, noise, volts, currents, phi)
        p, q, p_ph, q_ph, i2 = self._powers(tuple(volts), tuple(currents), tuple(phi))
        u2: float | None = volts[1]
        if self.wiring == "IT":
            currents[1] = i2
            i1 = cmath.rect(currents[0], -phi[0])
            i3 = cmath.rect(currents[2], 120 * _DEG - phi[2])
            # lag of I2 behind the star voltage of line 2 (at -120 deg)
            phi[1] = math.remainder(-120 * _DEG - cmath.phase(-(i1 + i3)), 2 * math.pi)
            u2 = None
        return _Instant((volts[0], u2, volts[2]), (currents[0], currents[1], currents[2]), (phi[0], phi[1], phi[2]),
                        p, q, p_ph, q_ph)

    def _energies(self, t: float) -> tuple[float, float, float, float]:
        """The registers (``ENERGY_FIELDS``: Wh, Wh, varh, varh) at ``t`` seconds since the epoch."""
        integral_h = max(self._load_integral(self._t0, t), 0.0) / 3600.0
        if self.load.gain_segments:
            energy_p, energy_export = self._gain_energy(t)
        else:
            energy_p, energy_export = self._p_coeff * integral_h, 0.0
        energy_q = abs(self._q_coeff) * integral_h
        energy_q_reverse = energy_q * self._reverse_q_share
        inductive = self._q_coeff >= 0
        extra_q_h = 0.0
        if self.load.extra_a:
            extra_h = self.load.extra_seconds(self._t0, t) / 3600.0
            energy_p += self._extra_p * extra_h
            extra_q_h = self._extra_q * extra_h  # to the register of its own sign
        return (
            energy_p,
            energy_export,
            (energy_q if inductive else energy_q_reverse) + max(extra_q_h, 0.0),
            (energy_q_reverse if inductive else energy_q) + max(-extra_q_h, 0.0),
        )

    def _apply_load(self, t: float, noise: random.Random, volts: list[float], currents: list[float],
                    phi: list[float]) -> None:
        """Change the base load's line values at ``t`` as the load scenario says (in place)."""
        sag = self.load.sag(t)
        if sag is not None:
            k, level = sag
            nominal = volts[k]
            volts[k] = level + nominal - self._u0[k]  # the sag keeps the line's drift and noise
            currents[k] *= nominal / volts[k]  # constant-power loads
        gain = self.load.gain(t)
        if gain != 1.0:
            for k in range(3):
                currents[k], phi[k] = _scale_active(currents[k], phi[k], self._path_offset[k], gain)
        extra = self.load.extra_current(t)
        if extra:
            for k in range(3):
                total = (cmath.rect(currents[k], -phi[k])
                         + cmath.rect(extra * (1 + noise.gauss(0, 0.003)), -self.load.extra_lag))
                currents[k], phi[k] = abs(total), -cmath.phase(total)

    def reading_at(self, at: datetime, energies: bool = True) -> Reading:
        """The state at ``at`` as a normalized reading (SI units, not quantized, no text fields);
        ``energies`` False leaves out the energy registers (``ENERGY_FIELDS``), which most lists do not carry."""
        s = self._instant(at)
        reading: Reading = {
            "p_import_w": max(s.p_w, 0.0),
            "p_export_w": max(-s.p_w, 0.0),
            "q_import_var": max(s.q_var, 0.0),
            "q_export_var": max(-s.q_var, 0.0),
            "i_l1_a": s.currents[0],
            "i_l2_a": s.currents[1],
            "i_l3_a": s.currents[2],
            "u_l1_v": s.voltages[0],
            "u_l2_v": s.voltages[1],
            "u_l3_v": s.voltages[2],
        }
        if energies:
            reading.update(zip(ENERGY_FIELDS, self._energies(self._seconds(at)), strict=True))
        if s.p_phase_w is not None and s.q_phase_var is not None:
            for keys, p, q in zip(_PHASE_KEYS, s.p_phase_w, s.q_phase_var, strict=True):
                reading[keys[0]] = max(p, 0.0)
                reading[keys[1]] = max(-p, 0.0)
                reading[keys[2]] = max(q, 0.0)
                reading[keys[3]] = max(-q, 0.0)
        return reading

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
"""

from __future__ import annotations

import cmath
import math
import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from rig.reading import Reading

EPOCH = datetime(2000, 1, 1)
INSTALLED_EARLIEST = datetime(2017, 1, 1)
WIRINGS = ("TN", "IT")
_DEG = math.pi / 180.0


@dataclass(frozen=True)
class _Wave:
    """``amplitude * cos(2 pi t / period + phase)`` and its antiderivative."""

    amplitude: float
    period_s: float
    phase: float

    def value(self, t: float) -> float:
        return self.amplitude * math.cos(2 * math.pi * t / self.period_s + self.phase)

    def integral(self, t: float) -> float:
        w = 2 * math.pi / self.period_s
        return self.amplitude / w * math.sin(w * t + self.phase)


def _peak_at_hour(hour: float, period_s: float) -> float:
    """Phase that puts a cosine's maximum at ``hour`` o'clock (t counts from midnight)."""
    return -2 * math.pi * hour * 3600.0 / period_s


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
    """A seeded meter: ``MeterModel(seed, wiring="TN"|"IT")``; ``state_at(t)`` / ``reading_at(t)``.

    The values are a pure function of the seed, the wiring and the (naive local) time asked for.
    """

    def __init__(self, seed: int = 1, wiring: str = "TN", nominal_voltage: float = 230.0) -> None:
        if wiring not in WIRINGS:
            raise ValueError(f"wiring must be one of {WIRINGS}, got {wiring!r}")
        self.seed = seed
        self.wiring = wiring
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

    @staticmethod
    def _seconds(at: datetime) -> float:
        return (at - EPOCH).total_seconds()

    def _load(self, t: float) -> float:
        return 1.0 + sum(w.value(t) for w in self._shape)

    def _load_integral(self, t0: float, t1: float) -> float:
        return (t1 - t0) + sum(w.integral(t1) - w.integral(t0) for w in self._shape)

    def _powers(
        self, u: tuple[float, ...], i: tuple[float, ...], phi: tuple[float, ...]
    ) -> tuple[float, float, tuple[float, float, float] | None, tuple[float, float, float] | None, float]:
        """(P, Q, P per phase, Q per phase, I2) for the wiring; see the module docstring."""
        if self.wiring == "TN":
            p_ph = tuple(u[k] * i[k] * math.cos(phi[k]) for k in range(3))
            q_ph = tuple(u[k] * i[k] * math.sin(phi[k]) for k in range(3))
            return sum(p_ph), sum(q_ph), p_ph, q_ph, i[1]  # type: ignore[return-value]
        u12 = cmath.rect(u[0], 30 * _DEG)
        u32 = cmath.rect(u[2], 90 * _DEG)
        i1 = cmath.rect(i[0], -phi[0])
        i3 = cmath.rect(i[2], 120 * _DEG - phi[2])
        s = u12 * i1.conjugate() + u32 * i3.conjugate()
        return s.real, s.imag, None, None, abs(i1 + i3)

    def state_at(self, at: datetime) -> MeterState:
        """The physical state at meter time ``at`` (deterministic for seed, wiring and ``at``)."""
        t = self._seconds(at)
        noise = random.Random(f"{self.seed}:{at.isoformat()}")
        load = self._load(t)
        currents = [max(0.0, self._i0[k] * load * (1 + noise.gauss(0, 0.01)) + noise.gauss(0, 0.02))
                    for k in range(3)]
        phi = [self._phi0[k] + noise.gauss(0, 0.01) for k in range(3)]
        volts = [self._u0[k] + self._u_drift[k].value(t) + noise.gauss(0, 0.25) for k in range(3)]
        p, q, p_ph, q_ph, i2 = self._powers(tuple(volts), tuple(currents), tuple(phi))
        u2: float | None = volts[1]
        if self.wiring == "IT":
            currents[1] = i2
            i1 = cmath.rect(currents[0], -phi[0])
            i3 = cmath.rect(currents[2], 120 * _DEG - phi[2])
            # lag of I2 behind the star voltage of line 2 (at -120 deg)
            phi[1] = math.remainder(-120 * _DEG - cmath.phase(-(i1 + i3)), 2 * math.pi)
            u2 = None
        integral_h = max(self._load_integral(self._t0, t), 0.0) / 3600.0
        energy_p = self._p_coeff * integral_h
        energy_q = abs(self._q_coeff) * integral_h
        energy_q_reverse = energy_q * self._reverse_q_share
        inductive = self._q_coeff >= 0
        return MeterState(
            at=at,
            voltages=(volts[0], u2, volts[2]),
            currents=(currents[0], currents[1], currents[2]),
            phase_angles=(phi[0], phi[1], phi[2]),
            p_w=p,
            q_var=q,
            p_phase_w=p_ph,
            q_phase_var=q_ph,
            e_import_wh=energy_p,
            e_export_wh=0.0,
            r_import_varh=energy_q if inductive else energy_q_reverse,
            r_export_varh=energy_q_reverse if inductive else energy_q,
        )

    def reading_at(self, at: datetime) -> Reading:
        """The state at ``at`` as a normalized reading (SI units, not quantized, no text fields)."""
        s = self.state_at(at)
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
            "e_import_wh": s.e_import_wh,
            "e_export_wh": s.e_export_wh,
            "r_import_varh": s.r_import_varh,
            "r_export_varh": s.r_export_varh,
        }
        if s.p_phase_w is not None and s.q_phase_var is not None:
            for k in range(3):
                reading[f"p_l{k + 1}_import_w"] = max(s.p_phase_w[k], 0.0)
                reading[f"p_l{k + 1}_export_w"] = max(-s.p_phase_w[k], 0.0)
                reading[f"q_l{k + 1}_import_var"] = max(s.q_phase_var[k], 0.0)
                reading[f"q_l{k + 1}_export_var"] = max(-s.q_phase_var[k], 0.0)
        return reading

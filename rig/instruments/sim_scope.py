"""A simulated photodiode scope: a SCPI server on loopback (``TCPIP0::127.0.0.1::PORT::SOCKET``) that
records light from a source, answering the subset documented in rig/instruments/scpi.py.

The source of the simulation is the software DUT's LED events file (:class:`EventsLight`): each record
is the drive the firmware wrote, through the photodiode's optical rise time, plus noise, in volts
(``full_scale_v`` at full drive). Device times map to the host's monotonic clock by ``uptime_of``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from rig.instruments.scpi import Command, ScpiError, ieee_block
from rig.instruments.sim_server import SimInstrument, number
from rig.led.render import EventsError, latest_run, light, parse_events

IDN = "HAN-RIG,SIM-PD3,0001,1.0"
MAX_POINTS = 2_000_000


class EventsLight:
    """Light of the LED whose events go to ``path``: levels (N x 3, 1.0 = full drive) for a record."""

    def __init__(self, path: str | Path, uptime_of: Callable[[float], float], *, rise_ms: float = 0.5,
                 noise: float = 0.01, seed: int | None = None) -> None:
        self.path = Path(path)
        self.uptime_of = uptime_of
        self.rise_ms = rise_ms
        self.noise = noise
        self._rng = np.random.default_rng(seed)

    def levels(self, host_t0: float, rate_hz: float, count: int) -> np.ndarray:
        try:
            events = latest_run(parse_events(self.path.read_text()))
        except (OSError, EventsError):
            events = []
        try:
            t0_ms = self.uptime_of(host_t0)
        except Exception:  # the DUT has not started (printed nothing) yet: no light
            return np.zeros((count, 3))
        seed = int(self._rng.integers(0, 2**31))
        return light(events, t0_ms, rate_hz, count, rise_ms=self.rise_ms, noise=self.noise, seed=seed)


class ScopeState:
    """The instrument's settings, record and error queue (shared by its connections)."""

    def __init__(self, source: EventsLight | Callable[[float, float, int], np.ndarray], channels: int = 3,
                 full_scale_v: float = 1.0) -> None:
        if channels not in (1, 3):
            raise ValueError(f"channels must be 1 or 3, got {channels}")
        self.levels = source.levels if isinstance(source, EventsLight) else source
        self.channels = channels
        self.full_scale_v = full_scale_v
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        self.rate = 2000.0
        self.points = 2000
        self.source = 1
        self.armed_at: float | None = None
        self.record: np.ndarray | None = None
        self.errors: list[str] = []

    def status(self) -> str:
        if self.armed_at is None:
            return "IDLE"
        return "DONE" if time.monotonic() >= self.armed_at + self.points / self.rate else "RUN"

    def _data(self) -> bytes:
        if self.status() != "DONE":
            raise ScpiError('-230,"Data corrupt or stale; no finished record (send :ARM, wait for DONE)"')
        if self.record is None:
            levels = self.levels(self.armed_at, self.rate, self.points)  # type: ignore[arg-type]
            volts = levels * self.full_scale_v
            if self.channels == 1:
                volts = volts.max(axis=1, keepdims=True)
            self.record = volts.astype("<f4")
        return ieee_block(self.record[:, self.source - 1].tobytes())

    def handle(self, cmd: Command) -> bytes | None:
        """The answer to ``cmd`` (None for a setting); ScpiError for the error queue."""
        h, args = cmd.header, cmd.args
        if h == "*IDN" and cmd.query:
            return IDN.encode()
        if h == "*RST" and not cmd.query:
            self.reset()
            return None
        if h == "*OPC" and cmd.query:
            return b"1"
        if h in ("ACQ:SRAT", "ACQUIRE:SRATE"):
            if cmd.query:
                return f"{self.rate:g}".encode()
            self.rate = number(args, 1.0, 1e6, h)
            return None
        if h in ("ACQ:POIN", "ACQUIRE:POINTS"):
            if cmd.query:
                return str(self.points).encode()
            self.points = int(number(args, 1, MAX_POINTS, h))
            return None
        if h == "CHAN:COUN" and cmd.query:
            return str(self.channels).encode()
        if h == "ARM" and not cmd.query:
            self.armed_at, self.record = time.monotonic(), None
            return None
        if h == "ACQ:STAT" and cmd.query:
            return self.status().encode()
        if h == "WAV:SOUR":
            if cmd.query:
                return f"CHAN{self.source}".encode()
            name = args[0].upper() if len(args) == 1 else ""
            if not (name.startswith("CHAN") and name[4:].isdigit() and 1 <= int(name[4:]) <= self.channels):
                raise ScpiError(f'-224,"Illegal parameter value; source CHAN1..CHAN{self.channels}, got {name!r}"')
            self.source = int(name[4:])
            return None
        if h == "WAV:XINC" and cmd.query:
            return f"{1.0 / self.rate:.9g}".encode()
        if h == "WAV:DATA" and cmd.query:
            return self._data()
        if h == "SYST:ERR" and cmd.query:
            return (self.errors.pop(0) if self.errors else '0,"No error"').encode()
        raise ScpiError(f'-113,"Undefined header; {h}{"?" if cmd.query else ""}"')


class SimScope(SimInstrument):
    """The simulated scope, serving on a free loopback port; a context manager."""

    name = "sim scope"
    state: ScopeState

    def __init__(self, state: ScopeState, host: str = "127.0.0.1") -> None:
        super().__init__(state, host)

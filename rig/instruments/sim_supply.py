"""A simulated SCPI power supply on loopback (``TCPIP0::127.0.0.1::PORT::SOCKET``) that really powers
software DUTs: it answers the subset documented in rig/instruments/supply.py, with one load per channel.

A load (:class:`DutLoad`) is the firmware process: output on starts it; output off kills it at once
(SIGKILL: no chance to clean up, as a power cut); a current limit below what it draws browns it out
(killed, and started again once the limit covers its boot draw). The current it draws follows its state
through a :class:`PowerModel`. The reader has a DC-DC converter, so it draws constant *power* whatever the
rail: the figures are milliwatts, the current is power / voltage.

Default model (mW): boot 300 (from power on to READY), idle 75, radio burst 90 (for ``burst_s`` after the
DUT sends bytes: an MQTT publish, an HTTP or Modbus answer; seen in ``/proc/PID/io`` ``wchar``). On a
5 V rail that is 60 / 15 / 18 mA; on the Kaifa HAN port (24 V, at most 500 mW / 21 mA) 12.5 / 3.1 /
3.75 mA; on P1 (5 V, at most 250 mA) 60 / 15 / 18 mA: a correct reader fits both budgets with room.
``extra_mw`` per load makes a unit that draws too much.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any, Protocol

from rig.instruments.scpi import Command, ScpiError
from rig.instruments.sim_server import SimInstrument, number

IDN = "HAN-RIG,SIM-PSU4,0001,1.0"
MAX_VOLTS = 30.0
MAX_AMPS = 3.0
MONITOR_S = 0.01  # how often the supply looks at its loads (a brown-out, a restart, the peak hold)


@dataclass(frozen=True)
class PowerModel:
    """What a reader draws per state, in mW (constant power: a DC-DC converter), and below which rail
    voltage it cannot run."""

    boot_mw: float = 300.0
    idle_mw: float = 75.0
    burst_mw: float = 90.0
    burst_s: float = 0.05
    min_volts: float = 4.5

    def milliwatts(self, state: str, extra_mw: float = 0.0) -> float:
        base = {"boot": self.boot_mw, "idle": self.idle_mw, "burst": self.burst_mw}.get(state)
        return 0.0 if base is None else base + extra_mw

    def amps(self, state: str, volts: float, extra_mw: float = 0.0) -> float:
        """The current drawn in ``state`` from a rail of ``volts`` (0 below ``min_volts``)."""
        if volts < self.min_volts:
            return 0.0
        return self.milliwatts(state, extra_mw) / 1000.0 / volts


class Load(Protocol):
    """What a channel powers."""

    extra_mw: float

    def power_on(self) -> None: ...
    def power_off(self) -> None: ...
    def state(self) -> str: ...  # "off", "boot", "idle" or "burst"


class DutLoad:
    """A software DUT (rig.dut.software.SoftwareDut) as a supply's load. ``power_on`` starts its process in
    the background (``wait_ready`` waits for READY); ``power_off`` kills it with SIGKILL."""

    def __init__(self, dut: Any, model: PowerModel | None = None, extra_mw: float = 0.0) -> None:
        self.dut = dut
        self.model = model or PowerModel()
        self.extra_mw = extra_mw
        self.on_at: float | None = None  # monotonic time of the last power on
        self.ready_at: float | None = None  # ... and of the READY line that followed it
        self.error: str | None = None  # why the last start failed
        self.starts = 0
        self.kills = 0
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._lock = threading.Lock()
        self._wchar: tuple[int, int] | None = None  # (pid, bytes written)
        self._sent_at = 0.0

    def power_on(self) -> None:
        with self._lock:
            if self._thread is not None and self._thread.is_alive() or self.dut.alive():
                return
            self.on_at, self.ready_at, self.error = time.monotonic(), None, None
            self._ready.clear()
            self._thread = threading.Thread(target=self._start, name=f"power {self.dut.serial_number}", daemon=True)
            self.starts += 1
            self._thread.start()

    def _start(self) -> None:
        try:
            self.dut.start()
            self.ready_at = time.monotonic()
            self.dut.rewrite_config = False  # from now on its config file is its flash: it survives a cut
        except Exception as exc:  # a DUT killed while booting, or one that cannot start
            self.error = str(exc)
        finally:
            self._ready.set()

    def power_off(self) -> None:
        with self._lock:
            self.dut.kill("power cut")
            if self._thread is not None:
                self._thread.join(timeout=self.dut.ready_timeout + 2)  # a start racing the cut
                self.dut.kill("power cut")
            self.kills += 1
            self._wchar = None

    def booting(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def state(self) -> str:
        if self.booting():
            return "boot"
        if not self.dut.alive():
            return "off"
        pid = self.dut.pid
        written = _written(pid)
        now = time.monotonic()
        if written is not None:
            if self._wchar is not None and self._wchar[0] == pid and written > self._wchar[1]:
                self._sent_at = now
            self._wchar = (pid, written)
        return "burst" if now - self._sent_at < self.model.burst_s else "idle"

    def wait_ready(self, timeout: float) -> float:
        """Seconds from the last power on to READY; RuntimeError when the DUT did not come up."""
        if not self._ready.wait(timeout) or self.ready_at is None or self.on_at is None:
            raise RuntimeError(f"{self.dut.serial_number} did not come up after power on: "
                               f"{self.error or f'no READY within {timeout} s'}")
        return self.ready_at - self.on_at


def _written(pid: int | None) -> int | None:
    """Bytes the process has written through system calls (sockets included), or None."""
    if pid is None:
        return None
    try:
        with open(f"/proc/{pid}/io") as f:
            for line in f:
                if line.startswith("wchar:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


class Channel:
    """One output: its settings, what it measures and the load it powers."""

    def __init__(self, number: int, model: PowerModel) -> None:
        self.number = number
        self.model = model
        self.load: Load | None = None
        self.reset()

    def reset(self) -> None:
        self.on = False
        self.volts = 0.0
        self.limit = 0.0
        self.amps = 0.0
        self.peak = 0.0
        self.starved = False  # output on, but the load is off for want of voltage or current
        self.brownouts = 0
        self.restarts = 0

    def draw(self) -> float:
        if not self.on or self.load is None:
            return 0.0
        return self.model.amps(self.load.state(), self.volts, self.load.extra_mw)


class SupplyState:
    """The instrument: its channels, error queue and the monitor that couples loads to settings."""

    def __init__(self, channels: int = 4, model: PowerModel | None = None) -> None:
        if not 1 <= channels <= 16:
            raise ValueError(f"channels must be 1..16, got {channels}")
        self.model = model or PowerModel()
        self.channels = [Channel(n + 1, self.model) for n in range(channels)]
        self.lock = threading.RLock()
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._monitor = threading.Thread(target=self._watch, name="sim supply", daemon=True)

    def attach(self, channel: int, load: Load | None) -> None:
        """Connect ``load`` to an output (None: disconnect it, powering it off)."""
        with self.lock:
            ch = self.channels[channel - 1]
            if ch.load is not None and load is not ch.load:
                ch.load.power_off()
            ch.load = load
            ch.starved = ch.on
            if ch.on and load is not None:
                self._power(ch)

    def channel(self, number: int) -> Channel:
        return self.channels[number - 1]

    def start(self) -> None:
        self._monitor.start()

    def stop(self) -> None:
        self._stop.set()
        with self.lock:
            for ch in self.channels:
                if ch.load is not None and ch.on:
                    ch.load.power_off()
                ch.on = False

    def _power(self, ch: Channel) -> None:
        """Output on (or the limit raised): start the load when the supply can carry its boot."""
        if ch.load is None:
            return
        if ch.volts >= self.model.min_volts and self.model.amps("boot", ch.volts, ch.load.extra_mw) <= ch.limit:
            ch.starved = False
            ch.load.power_on()
        else:
            ch.starved = True

    def _watch(self) -> None:
        while not self._stop.wait(MONITOR_S):
            with self.lock:
                for ch in self.channels:
                    self._tick(ch)

    def _tick(self, ch: Channel) -> None:
        if not ch.on or ch.load is None:
            ch.amps = 0.0
            return
        if ch.volts < self.model.min_volts and ch.load.state() != "off":  # the converter's undervoltage lockout
            ch.load.power_off()
            ch.starved, ch.amps = True, 0.0
            return
        amps = ch.draw()
        if amps > ch.limit:  # the supply goes into constant current, the rail collapses: a brown-out
            ch.load.power_off()
            ch.brownouts += 1
            ch.starved = True
            amps = ch.limit
        elif ch.starved and ch.load.state() == "off":
            self._power(ch)
            if not ch.starved:
                ch.restarts += 1
        ch.amps = amps
        ch.peak = max(ch.peak, amps)

    # -- SCPI ----------------------------------------------------------------------------------------
    def handle(self, cmd: Command) -> bytes | None:
        h, args = cmd.header, list(cmd.args)
        if h == "*IDN" and cmd.query:
            return IDN.encode()
        if h == "*RST" and not cmd.query:
            for ch in self.channels:
                if ch.load is not None and ch.on:
                    ch.load.power_off()
                ch.reset()
            return None
        if h == "*OPC" and cmd.query:
            return b"1"
        if h == "SYST:ERR" and cmd.query:
            return (self.errors.pop(0) if self.errors else '0,"No error"').encode()
        if h == "SYST:CHAN:COUN" and cmd.query:
            return str(len(self.channels)).encode()
        ch = self._channel_of(args, h)
        if h in ("OUTP", "OUTPUT"):
            if cmd.query:
                return b"1" if ch.on else b"0"
            word = args[0].upper() if len(args) == 1 else ""
            if word not in ("ON", "OFF", "1", "0"):
                raise ScpiError(f'-224,"Illegal parameter value; OUTP ON|OFF, got {args!r}"')
            self._output(ch, word in ("ON", "1"))
            return None
        if h in ("VOLT", "VOLTAGE"):
            if cmd.query:
                return f"{ch.volts:g}".encode()
            ch.volts = number(args, 0.0, MAX_VOLTS, h)
            if ch.on and ch.starved:
                self._power(ch)
            return None
        if h in ("CURR", "CURRENT"):
            if cmd.query:
                return f"{ch.limit:g}".encode()
            ch.limit = number(args, 0.0, MAX_AMPS, h)
            return None
        if h == "MEAS:VOLT" and cmd.query:
            return f"{ch.volts if ch.on and not ch.starved else 0.0:.4f}".encode()
        if h == "MEAS:CURR" and cmd.query:
            self._tick(ch)
            return f"{ch.amps:.7f}".encode()
        if h == "MEAS:CURR:MAX" and cmd.query:
            self._tick(ch)
            peak, ch.peak = ch.peak, ch.amps
            return f"{peak:.7f}".encode()
        raise ScpiError(f'-113,"Undefined header; {h}{"?" if cmd.query else ""}"')

    def _output(self, ch: Channel, on: bool) -> None:
        if on and not ch.on:
            ch.on, ch.peak = True, 0.0
            self._power(ch)
        elif not on and ch.on:
            ch.on, ch.starved, ch.amps = False, False, 0.0
            if ch.load is not None:
                ch.load.power_off()

    def _channel_of(self, args: list[str], header: str) -> Channel:
        """The channel a ``(@n)`` last argument names (taken off ``args``); channel 1 without one."""
        if args and args[-1].startswith("(@"):
            text = args.pop()
            number = text[2:-1] if text.endswith(")") else ""
            if not number.isdigit() or not 1 <= int(number) <= len(self.channels):
                raise ScpiError(f'-224,"Illegal parameter value; channel list (@1)..(@{len(self.channels)}), '
                                f'got {text!r}"')
            return self.channels[int(number) - 1]
        return self.channels[0]


class SimSupply(SimInstrument):
    """The simulated supply, serving on a free loopback port; a context manager. Leaving it powers every
    load off."""

    name = "sim supply scpi"
    state: SupplyState

    def __init__(self, state: SupplyState | None = None, host: str = "127.0.0.1") -> None:
        super().__init__(state or SupplyState(), host)

    def start(self) -> SimSupply:
        self.state.start()
        super().start()
        return self

    def stop(self) -> None:
        super().stop()
        self.state.stop()


__all__ = ["DutLoad", "PowerModel", "SimSupply", "SupplyState"]

"""The photodiode driver: a scope or DAQ over SCPI through pyvisa (pyvisa-py, ``@py``), named by a
VISA resource string (``TCPIP0::host::port::SOCKET``, ``TCPIP0::host::INSTR``, ``USB0::...``,
``ASRL/dev/ttyUSB1::INSTR``). It uses only the subset documented in rig/instruments/scpi.py: one record
per :meth:`Photodiode.record`, each channel read by ``query_binary_values`` as float32 volts, scaled to
light levels (1.0 = the LED at full drive, ``full_scale_v`` volts)."""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass

import numpy as np


class InstrumentError(RuntimeError):
    """The instrument cannot be reached, refuses a command or returns a bad record."""


@dataclass(frozen=True)
class Record:
    """One acquisition: levels (N x channels, 1.0 = full drive) from ``host_t0`` (monotonic s) at ``rate_hz``."""

    levels: np.ndarray
    rate_hz: float
    host_t0: float

    @property
    def channels(self) -> int:
        return int(self.levels.shape[1])

    @property
    def duration_s(self) -> float:
        return len(self.levels) / self.rate_hz


class Photodiode:
    """A photodiode instrument session; a context manager (``with Photodiode(resource) as pd``)."""

    def __init__(self, resource: str, *, full_scale_v: float = 1.0, timeout_ms: int = 5000) -> None:
        if not resource or "::" not in resource:
            raise InstrumentError(f"not a VISA resource string: {resource!r} (e.g. TCPIP0::127.0.0.1::5025::SOCKET)")
        if full_scale_v <= 0:
            raise InstrumentError(f"full_scale_v must be positive, got {full_scale_v}")
        self.resource = resource
        self.full_scale_v = full_scale_v
        self.timeout_ms = timeout_ms
        self._rm = None
        self._inst = None
        self.idn = ""
        self.channels = 0

    def open(self) -> Photodiode:
        import pyvisa

        try:
            self._rm = pyvisa.ResourceManager("@py")
            inst = self._rm.open_resource(self.resource, read_termination="\n", write_termination="\n",
                                          timeout=self.timeout_ms)
        except Exception as exc:  # pyvisa raises several kinds (VisaIOError, ValueError, OSError)
            self.close()
            raise InstrumentError(f"cannot open {self.resource}: {exc}") from exc
        self._inst = inst
        _no_delay(inst)
        try:
            self.idn = self.query("*IDN?")
        except InstrumentError as exc:
            self.close()
            raise InstrumentError(f"cannot open {self.resource}: no answer to *IDN? ({exc.__cause__ or exc})") from exc
        self.channels = int(self.query(":CHAN:COUN?"))
        if self.channels not in (1, 3):
            raise InstrumentError(f"{self.resource} has {self.channels} channels; 1 or 3 (red, green, blue) expected")
        return self

    def close(self) -> None:
        if self._inst is not None:
            try:
                self._inst.close()
            except Exception:
                pass
            self._inst = None
        # not the ResourceManager: pyvisa-py has one per process, and closing it would close every other
        # instrument's session too (a station's power supply)
        self._rm = None

    def __enter__(self) -> Photodiode:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- SCPI ----------------------------------------------------------------------------------------
    def _session(self):
        if self._inst is None:
            raise InstrumentError(f"{self.resource} is not open")
        return self._inst

    def query(self, command: str) -> str:
        try:
            return str(self._session().query(command)).strip()
        except InstrumentError:
            raise
        except Exception as exc:
            raise InstrumentError(f"{self.resource}: {command} failed: {exc}") from exc

    def write(self, command: str) -> None:
        """Send a setting, then check the instrument's error queue (InstrumentError quoting it)."""
        try:
            self._session().write(command)
        except Exception as exc:
            raise InstrumentError(f"{self.resource}: {command} failed: {exc}") from exc
        error = self.query(":SYST:ERR?")
        if not error.startswith("0"):
            raise InstrumentError(f"{self.resource} refused {command!r}: {error}")

    def configure(self, rate_hz: float, seconds: float) -> None:
        points = max(1, int(round(rate_hz * seconds)))
        self.write(f":ACQ:SRAT {rate_hz:g}")
        self.write(f":ACQ:POIN {points}")

    def arm(self) -> float:
        """Start a record now; returns the host's monotonic time of the arm."""
        t0 = time.monotonic()
        self.write(":ARM")
        return t0

    def wait_done(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while self.query(":ACQ:STAT?") != "DONE":
            if time.monotonic() > deadline:
                raise InstrumentError(f"{self.resource}: the record did not finish within {timeout_s:.1f} s")
            time.sleep(0.02)

    def read(self, host_t0: float) -> Record:
        """The finished record, every channel, as light levels."""
        rate = float(self.query(":ACQ:SRAT?"))
        columns = []
        for ch in range(1, self.channels + 1):
            self.write(f":WAV:SOUR CHAN{ch}")
            try:
                values = self._session().query_binary_values(":WAV:DATA?", datatype="f", is_big_endian=False,
                                                              container=np.array)
            except Exception as exc:
                raise InstrumentError(f"{self.resource}: :WAV:DATA? of CHAN{ch} failed: {exc}") from exc
            columns.append(np.asarray(values, dtype=float))
        if len({len(c) for c in columns}) != 1 or not len(columns[0]):
            raise InstrumentError(f"{self.resource}: channels of unequal or zero length {[len(c) for c in columns]}")
        return Record(np.column_stack(columns) / self.full_scale_v, rate, host_t0)

    def record(self, seconds: float, rate_hz: float = 2000.0) -> Record:
        """Configure, arm, wait for and read one record of ``seconds``."""
        self.configure(rate_hz, seconds)
        t0 = self.arm()
        self.wait_done(seconds + 5.0)
        return self.read(t0)


def _no_delay(inst) -> None:
    """TCP_NODELAY on a socket session (a write then a query otherwise waits ~40 ms for the delayed ACK)."""
    try:
        interface = inst.visalib.sessions[inst.session].interface
    except (AttributeError, KeyError, TypeError):
        return
    if isinstance(interface, socket.socket):
        try:
            interface.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass

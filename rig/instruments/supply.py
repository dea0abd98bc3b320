"""The power-supply driver: a programmable DC supply over SCPI through pyvisa (pyvisa-py, ``@py``), named by a
VISA resource string (``TCPIP0::host::port::SOCKET``, ``TCPIP0::host::INSTR``, ``USB0::...``).

It uses only this subset (the simulation, rig/instruments/sim_supply.py, answers exactly these). Every
channel command takes an optional channel list ``(@n)`` last, so commands never depend on a selected
channel (several slots share one instrument); without it the command is for channel 1.

| command | answer |
|---|---|
| ``*IDN?`` | maker, model, serial, version |
| ``*RST`` | (none) every output off, 0 V, current limit 0 A |
| ``SYST:CHAN:COUN?`` | the number of outputs (channels) |
| ``OUTP ON\\|OFF[,(@n)]`` / ``OUTP? [(@n)]`` | output on or off / ``1`` or ``0`` |
| ``VOLT <V>[,(@n)]`` / ``VOLT? [(@n)]`` | the voltage setting |
| ``CURR <A>[,(@n)]`` / ``CURR? [(@n)]`` | the current limit |
| ``MEAS:VOLT? [(@n)]`` | the output voltage, V |
| ``MEAS:CURR? [(@n)]`` | the output current now, A |
| ``MEAS:CURR:MAX? [(@n)]`` | the highest output current since output on or the last read of it, A (a peak hold) |
| ``SYST:ERR?`` | ``0,"No error"`` or the oldest error (``-113,"Undefined header; ..."``) |

Every setting is followed by ``SYST:ERR?``; a refused one raises :class:`InstrumentError` quoting it.
"""

from __future__ import annotations

import threading

from rig.instruments.photodiode import InstrumentError, _no_delay

__all__ = ["InstrumentError", "Supply"]


class Supply:
    """A power-supply session; a context manager (``with Supply(resource) as psu``). Thread-safe: one
    session may serve several slots (each command and its error check are one exchange)."""

    def __init__(self, resource: str, *, timeout_ms: int = 5000) -> None:
        if not resource or "::" not in resource:
            raise InstrumentError(f"not a VISA resource string: {resource!r} (e.g. TCPIP0::127.0.0.1::5025::SOCKET)")
        self.resource = resource
        self.timeout_ms = timeout_ms
        self.idn = ""
        self.channels = 0
        self._rm = None
        self._inst = None
        self._lock = threading.RLock()

    def open(self) -> Supply:
        import pyvisa

        try:
            self._rm = pyvisa.ResourceManager("@py")
            self._inst = self._rm.open_resource(self.resource, read_termination="\n", write_termination="\n",
                                                timeout=self.timeout_ms)
        except Exception as exc:  # pyvisa raises several kinds (VisaIOError, ValueError, OSError)
            self.close()
            raise InstrumentError(f"cannot open {self.resource}: {exc}") from exc
        _no_delay(self._inst)
        try:
            self.idn = self.query("*IDN?")
            self.channels = int(self.query("SYST:CHAN:COUN?"))
        except (InstrumentError, ValueError) as exc:
            self.close()
            raise InstrumentError(f"cannot open {self.resource} as a power supply: {exc}") from exc
        return self

    def close(self) -> None:
        if self._inst is not None:  # not the ResourceManager: shared by every pyvisa session of the process
            try:
                self._inst.close()
            except Exception:
                pass
        self._inst = self._rm = None

    def __enter__(self) -> Supply:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- SCPI ----------------------------------------------------------------------------------------
    def query(self, command: str) -> str:
        with self._lock:
            if self._inst is None:
                raise InstrumentError(f"{self.resource} is not open")
            try:
                return str(self._inst.query(command)).strip()
            except Exception as exc:
                raise InstrumentError(f"{self.resource}: {command} failed: {exc}") from exc

    def write(self, command: str) -> None:
        """Send a setting, then check the error queue (InstrumentError quoting the instrument's error)."""
        with self._lock:
            if self._inst is None:
                raise InstrumentError(f"{self.resource} is not open")
            try:
                self._inst.write(command)
            except Exception as exc:
                raise InstrumentError(f"{self.resource}: {command} failed: {exc}") from exc
            error = self.query("SYST:ERR?")
        if not error.startswith("0"):
            raise InstrumentError(f"{self.resource} refused {command!r}: {error}")

    def _channel(self, channel: int) -> str:
        if not isinstance(channel, int) or not 1 <= channel <= max(1, self.channels):
            raise InstrumentError(f"{self.resource} has channels 1..{self.channels}, got {channel!r}")
        return f"(@{channel})"

    def _number(self, command: str) -> float:
        text = self.query(command)
        try:
            return float(text)
        except ValueError:
            raise InstrumentError(f"{self.resource}: {command} answered {text!r}, not a number") from None

    # -- the supply -----------------------------------------------------------------------------------
    def output(self, on: bool, channel: int = 1) -> None:
        self.write(f"OUTP {'ON' if on else 'OFF'},{self._channel(channel)}")

    def output_on(self, channel: int = 1) -> bool:
        return self.query(f"OUTP? {self._channel(channel)}") == "1"

    def set_voltage(self, volts: float, channel: int = 1) -> None:
        self.write(f"VOLT {volts:g},{self._channel(channel)}")

    def set_current_limit(self, amps: float, channel: int = 1) -> None:
        self.write(f"CURR {amps:g},{self._channel(channel)}")

    def voltage_setting(self, channel: int = 1) -> float:
        return self._number(f"VOLT? {self._channel(channel)}")

    def current_limit(self, channel: int = 1) -> float:
        return self._number(f"CURR? {self._channel(channel)}")

    def measure_voltage(self, channel: int = 1) -> float:
        return self._number(f"MEAS:VOLT? {self._channel(channel)}")

    def measure_current(self, channel: int = 1) -> float:
        return self._number(f"MEAS:CURR? {self._channel(channel)}")

    def peak_current(self, channel: int = 1) -> float:
        """The highest current since output on or the last call (the instrument's peak hold), A."""
        return self._number(f"MEAS:CURR:MAX? {self._channel(channel)}")

    def reset(self) -> None:
        self.write("*RST")

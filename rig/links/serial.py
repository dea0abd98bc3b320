"""A pyserial port as a link: a USB adapter, ``rfc2217://``, ``socket://`` or ``loop://``.

A UART (local, or remote behind ``rfc2217://``) sends at its own baud rate, so ``write`` returns after
``flush()``. ``socket://`` and ``loop://`` carry bytes only, as fast as they can: those are paced at the
line rate (times ``speed``) like the pty, so the reader sees meter timing on them too.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import serial

from rig.capture import check_note
from rig.line import LineSettings
from rig.links.base import Link, LinkError
from rig.links.pacing import Pacer
from rig.runclock import RunClock

BYTES_ONLY_SCHEMES = ("socket://", "loop://")  # transports with no baud rate of their own

_PARITY = {"N": serial.PARITY_NONE, "E": serial.PARITY_EVEN, "O": serial.PARITY_ODD}
_STOPBITS = {1: serial.STOPBITS_ONE, 2: serial.STOPBITS_TWO}
_BYTESIZE = {7: serial.SEVENBITS, 8: serial.EIGHTBITS}


def open_serial(url: str, line: LineSettings, timeout: float | None = 1.0) -> serial.SerialBase:
    """The pyserial port ``url`` opened at ``line``'s settings; LinkError naming the URL if it cannot be."""
    try:
        return serial.serial_for_url(
            url, baudrate=line.baud, bytesize=_BYTESIZE[line.data_bits], parity=_PARITY[line.parity],
            stopbits=_STOPBITS[line.stop_bits], timeout=timeout, write_timeout=None)
    except (serial.SerialException, ValueError, OSError) as exc:
        raise LinkError(f"cannot open serial link {url!r} at {line}: {exc}") from exc


def set_line(port: serial.SerialBase, line: LineSettings) -> None:
    """Change an open port's baud rate and framing (LinkError if the port refuses)."""
    try:
        port.baudrate = line.baud
        port.bytesize = _BYTESIZE[line.data_bits]
        port.parity = _PARITY[line.parity]
        port.stopbits = _STOPBITS[line.stop_bits]
    except (serial.SerialException, ValueError, OSError) as exc:
        raise LinkError(f"cannot set {port.name or port.port} to {line}: {exc}") from exc


class SerialLink(Link):
    """Any pyserial URL opened with the line's baud rate and framing; ``port`` is the pyserial object."""

    def __init__(self, url: str, line: LineSettings, log_path: str | Path | None = None,
                 speed: float = 1.0, *, meter: str | None = None, clock: RunClock | None = None) -> None:
        super().__init__(log_path, clock)
        self.url = url
        self.name = url
        self.line = line
        # a UART sends at its baud rate whatever the speed: only the meter's schedule is compressed
        self.pacer = Pacer(line, speed) if url.lower().startswith(BYTES_ONLY_SCHEMES) else None
        self.port: serial.SerialBase = open_serial(url, line)
        self._closed = False
        self._open_log(line, meter, **({"speed": self.pacer.speed} if self.pacer else {}))

    def write(self, data: bytes, note: Mapping[str, Any] | None = None) -> float:
        """Write and flush ``data``; return the monotonic time after the flush."""
        if self._closed:
            raise LinkError(f"serial link {self.url!r} is closed")
        data, annotations = bytes(data), check_note(note)
        with self._write_lock:
            try:
                if self.pacer is not None:
                    start, end = self.pacer.pace(data, self.port.write)
                    self.port.flush()
                else:
                    start = time.monotonic()
                    self.port.write(data)
                    self.port.flush()
                    end = time.monotonic()
            except (serial.SerialException, OSError) as exc:
                raise LinkError(f"write to serial link {self.url!r} failed: {exc}") from exc
            if data:
                self._record(start, data, annotations)
        return end

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self.port.close()
        finally:
            self._close_log()

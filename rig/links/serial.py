"""A pyserial port as a link: a USB adapter, ``rfc2217://``, ``socket://`` or ``loop://``.

A UART (local, or remote behind ``rfc2217://``) sends at its own baud rate, so ``write`` returns after
``flush()``. ``socket://`` and ``loop://`` carry bytes only, as fast as they can: those are paced at the
line rate (times ``speed``) like the pty, so the reader sees meter timing on them too.
"""

from __future__ import annotations

import time
from pathlib import Path

import serial

from rig.line import LineSettings
from rig.links.base import Link, LinkError
from rig.links.pacing import Pacer

BYTES_ONLY_SCHEMES = ("socket://", "loop://")  # transports with no baud rate of their own

_PARITY = {"N": serial.PARITY_NONE, "E": serial.PARITY_EVEN, "O": serial.PARITY_ODD}
_STOPBITS = {1: serial.STOPBITS_ONE, 2: serial.STOPBITS_TWO}
_BYTESIZE = {7: serial.SEVENBITS, 8: serial.EIGHTBITS}


class SerialLink(Link):
    """Any pyserial URL opened with the line's baud rate and framing; ``port`` is the pyserial object."""

    def __init__(self, url: str, line: LineSettings, log_path: str | Path | None = None,
                 speed: float = 1.0) -> None:
        super().__init__(log_path)
        self.url = url
        self.name = url
        self.line = line
        # a UART sends at its baud rate whatever the speed: only the meter's schedule is compressed
        self.pacer = Pacer(line, speed) if url.startswith(BYTES_ONLY_SCHEMES) else None
        try:
            self.port: serial.SerialBase = serial.serial_for_url(
                url, baudrate=line.baud, bytesize=_BYTESIZE[line.data_bits], parity=_PARITY[line.parity],
                stopbits=_STOPBITS[line.stop_bits], timeout=1.0, write_timeout=None)
        except (serial.SerialException, ValueError, OSError) as exc:
            raise LinkError(f"cannot open serial link {url!r} at {line}: {exc}") from exc
        self._closed = False
        self._open_log(f"{url} {line}")

    def write(self, data: bytes) -> float:
        """Write and flush ``data``; return the monotonic time after the flush."""
        if self._closed:
            raise LinkError(f"serial link {self.url!r} is closed")
        data = bytes(data)
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
            self._record(start, data)
        return end

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self.port.close()
        finally:
            self._close_log()

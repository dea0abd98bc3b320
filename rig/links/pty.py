"""A pty pair paced at the line rate: the software DUT opens ``link.device`` as its serial port.

A pty forwards bytes instantly and ignores parity, so writes go through a :class:`~rig.links.pacing.Pacer`.
The rig keeps the slave side open (otherwise reading the master raises EIO when the DUT closes its
port), puts the line in raw mode, and drains (and ignores) whatever the DUT writes back. The baud rate
the DUT sets through termios is readable with :meth:`PtyLink.dut_termios`.

If the DUT does not read (not started yet, or too slow) and the pty buffer fills up, further bytes are
dropped, as a meter's would be, and counted in :attr:`PtyLink.dropped`. Bytes written while no DUT
has the port open wait in the pty for the next reader; :meth:`PtyLink.discard_unread` drops them.
"""

from __future__ import annotations

import logging
import os
import pty
import select
import termios
import threading
import tty
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rig.capture import check_note
from rig.line import LineSettings
from rig.links.base import Link, LinkError
from rig.links.pacing import Pacer

log = logging.getLogger(__name__)

#: termios speed code -> baud rate (B2400 -> 2400, ...)
BAUD_BY_CODE: dict[int, int] = {
    getattr(termios, name): int(name[1:])
    for name in dir(termios)
    if name.startswith("B") and name[1:].isdigit()
}


class PtyLink(Link):
    """A paced pty pair; ``device`` is the slave path (e.g. ``/dev/pts/7``) to give the DUT."""

    def __init__(self, line: LineSettings, speed: float = 1.0, log_path: str | Path | None = None,
                 *, url: str = "pty", meter: str | None = None) -> None:
        super().__init__(log_path)
        self.line = line
        self.url = url
        self.pacer = Pacer(line, speed)
        self.dropped = 0
        self.last_write: tuple[float, float] | None = None  # (start, end) on the line of the latest write
        self.received = 0  # bytes the DUT wrote back (ignored)
        self._master, self._slave = pty.openpty()
        try:
            tty.setraw(self._master)  # on Linux this sets the (shared) line discipline of the slave
            os.set_blocking(self._master, False)
            self.device = os.ttyname(self._slave)
        except OSError:
            os.close(self._master)
            os.close(self._slave)
            raise
        self.name = f"pty:{self.device}"
        self._closed = False
        self._wake_r, self._wake_w = os.pipe()
        self._drain = threading.Thread(target=self._drain_loop, name=f"drain {self.device}", daemon=True)
        self._drain.start()
        self._open_log(line, meter, speed=self.pacer.speed)

    @property
    def speed(self) -> float:
        return self.pacer.speed

    def write(self, data: bytes, note: Mapping[str, Any] | None = None) -> float:
        """Write ``data`` paced at the line rate; return the monotonic time its last byte is on the line."""
        if self._closed:
            raise LinkError(f"{self.name} is closed")
        data, annotations = bytes(data), check_note(note)
        with self._write_lock:
            start, end = self.pacer.pace(data, self._raw_write)
            self.last_write = (start, end)
            if data:
                self._record(start, data, annotations)
        return end

    def dut_termios(self) -> int | None:
        """The baud rate the DUT set on its side (``None`` if the speed code is unknown)."""
        attrs = termios.tcgetattr(self._master)
        return BAUD_BY_CODE.get(attrs[5])

    def discard_unread(self) -> None:
        """Throw away bytes written but not yet read by the DUT (e.g. while it was not running).

        A pty keeps them for whoever opens the slave next, where a real line would have lost them.
        """
        termios.tcflush(self._slave, termios.TCIFLUSH)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        os.write(self._wake_w, b"x")
        self._drain.join(timeout=2)
        for fd in (self._master, self._slave, self._wake_r, self._wake_w):
            try:
                os.close(fd)
            except OSError:
                pass
        self._close_log()

    def _raw_write(self, chunk: bytes) -> None:
        view = memoryview(chunk)
        while view:
            try:
                k = os.write(self._master, view)
            except BlockingIOError:
                if not self.dropped:
                    log.warning("%s: the DUT does not read; dropping bytes", self.name)
                self.dropped += len(view)
                return
            except OSError as exc:
                raise LinkError(f"{self.name}: write failed: {exc}") from exc
            view = view[k:]

    def _drain_loop(self) -> None:
        while True:
            try:
                ready, _, _ = select.select([self._master, self._wake_r], [], [], 1.0)
            except (OSError, ValueError):
                return
            if self._wake_r in ready:
                return
            if self._master in ready:
                try:
                    self.received += len(os.read(self._master, 4096))
                except BlockingIOError:
                    pass
                except OSError:  # EIO: no slave open (cannot happen while we hold it); stop quietly
                    return

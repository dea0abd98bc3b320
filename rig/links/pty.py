"""A pty pair paced at the line rate: the software DUT opens ``link.device`` as its serial port.

A pty forwards bytes instantly and ignores parity, so writes go through a :class:`~rig.links.pacing.Pacer`.
The rig keeps the slave side open (otherwise reading the master raises EIO when the DUT closes its
port), puts the line in raw mode, and drains (and ignores) whatever the DUT writes back. The baud rate
the DUT sets through termios is readable with :meth:`PtyLink.dut_termios`.

**UART mode** (``uart=True``): the link delivers what a UART set up like the DUT's side would receive.
Master and slave share one termios on Linux, so ``tcgetattr`` on the master reads what the DUT set
(:func:`line_of`): the baud rate, CSTOPB, and the parity, which a pty only half keeps (it forces CS8
and clears PARENB): INPCK (check parity on input) or PARENB means parity on, PARODD odd. The slave
starts at the meter's settings, so a reader that sets nothing reads clean bytes. When the DUT's
settings equal the meter's, bytes pass unchanged; otherwise :func:`uart_receive` resamples the meter's
bit stream at the DUT's rate (see there) and the DUT gets garbage, NULs or nothing, as from a UART.
Each write is taken to start and end on an idle line (a receiver mid-character at the end of a write
finishes it on idle bits). The data-request line (P1) is the slave's CRTSCTS flag
(:meth:`PtyLink.request_line`): modem-control ioctls fail on a pty, termios flags do not.

If the DUT does not read (not started yet, or too slow) and the pty buffer fills up, further bytes are
dropped, as a meter's would be, and counted in :attr:`PtyLink.dropped`. Bytes written while no DUT
has the port open wait in the pty for the next reader; :meth:`PtyLink.discard_unread` drops them.
"""

from __future__ import annotations

import bisect
import logging
import os
import pty
import select
import termios
import threading
import tty
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from rig.capture import check_note
from rig.line import LineSettings
from rig.links.base import Link, LinkError
from rig.links.pacing import Pacer
from rig.runclock import RunClock

log = logging.getLogger(__name__)

#: termios speed code -> baud rate (B2400 -> 2400, ...)
BAUD_BY_CODE: dict[int, int] = {
    getattr(termios, name): int(name[1:])
    for name in dir(termios)
    if name.startswith("B") and name[1:].isdigit()
}


CODE_BY_BAUD: dict[int, int] = {baud: code for code, baud in BAUD_BY_CODE.items()}


def line_of(attrs: list) -> LineSettings | None:
    """The line settings a tty's termios (``tcgetattr``) describes; None at B0 or an unknown speed.

    On a pty PARENB reads back cleared and CSIZE as CS8: INPCK counts as parity on (a reader checking
    parity sets it), PARODD as odd parity.
    """
    iflag, cflag = attrs[0], attrs[2]
    baud = BAUD_BY_CODE.get(attrs[4] or attrs[5])  # an input speed of 0 means "as the output speed"
    if not baud:
        return None
    data_bits = 7 if cflag & termios.CSIZE == termios.CS7 else 8
    if cflag & termios.PARODD:
        parity = "O"
    elif cflag & termios.PARENB or iflag & termios.INPCK:
        parity = "E"
    else:
        parity = "N"
    return LineSettings(baud, data_bits, parity, 2 if cflag & termios.CSTOPB else 1)


def _bits(data: bytes, line: LineSettings) -> bytearray:
    """The line levels of ``data`` sent at ``line``, one entry per bit: start 0, data LSB first, parity, stop 1."""
    out = bytearray()
    for byte in data:
        value = byte & ((1 << line.data_bits) - 1)
        out.append(0)
        out += bytes((value >> k) & 1 for k in range(line.data_bits))
        if line.parity != "N":
            out.append((bin(value).count("1") + (line.parity == "O")) & 1)
        out += b"\x01" * line.stop_bits
    return out


def uart_receive(data: bytes, sent: LineSettings, rx: LineSettings, iflag: int = 0) -> list[tuple[int, bytes]]:
    """What a UART set to ``rx`` delivers of ``data`` sent at ``sent``: ``[(i, bytes), ...]``, each piece
    complete once byte ``i`` of ``data`` is on the line (``i == len(data)``: on the idle line after it).

    The model (deterministic): the line is idle (1) before and after ``data``. The receiver waits for a
    falling edge, samples the start bit half a bit later at its own rate (1 there: a false start, it
    waits for the next edge), then the data bits, the parity bit and the first stop bit at the middles
    of its own bit times, and waits for the next falling edge from the stop sample on. A wrong parity
    bit is a parity error, a 0 stop bit a framing error; data, parity and stop all 0 is a break.
    What the DUT reads is what Linux delivers for ``iflag`` (as for a 8250 UART): without INPCK every
    character as sampled; with INPCK an erroneous one as NUL, dropped with IGNPAR, as FF 00 c with
    PARMRK; a break as NUL (dropped with IGNBRK).
    """
    bits = _bits(data, sent)
    n = len(bits)
    # integer time in units of 1 / (2 * sent.baud * rx.baud) s: a sent bit lasts bm, a received one br
    bm, br = 2 * rx.baud, 2 * sent.baud
    half = br // 2
    per_byte = sent.bits_per_char

    def level(t: int) -> int:
        i = t // bm
        return bits[i] if i < n else 1

    edges = [i for i in range(n) if bits[i] == 0 and (i == 0 or bits[i - 1] == 1)]
    inpck = bool(iflag & termios.INPCK)
    out: list[tuple[int, bytes]] = []
    t = 0
    while True:
        k = bisect.bisect_left(edges, -(-t // bm))  # the first edge at or after t
        if k == len(edges):
            return out
        te = edges[k] * bm
        if level(te + half):
            t = te + half
            continue
        value = 0
        for j in range(rx.data_bits):
            value |= level(te + (j + 1) * br + half) << j
        slot = rx.data_bits + 1
        parity_error = False
        parity_bit = 0
        if rx.parity != "N":
            parity_bit = level(te + slot * br + half)
            parity_error = (bin(value).count("1") + parity_bit + (rx.parity == "O")) & 1 == 1
            slot += 1
        t = te + slot * br + half
        framing_error = not level(t)
        if framing_error and value == 0 and parity_bit == 0:
            piece = b"" if iflag & termios.IGNBRK else b"\xff\x00\x00" if iflag & termios.PARMRK else b"\x00"
        elif (parity_error or framing_error) and inpck:
            piece = (b"" if iflag & termios.IGNPAR else
                     b"\xff\x00" + bytes((value,)) if iflag & termios.PARMRK else b"\x00")
        elif value == 0xFF and inpck and iflag & termios.PARMRK:
            piece = b"\xff\xff"
        else:
            piece = bytes((value,))
        if piece:
            out.append((min((t // bm) // per_byte, len(data)), piece))


class PtyLink(Link):
    """A paced pty pair; ``device`` is the slave path (e.g. ``/dev/pts/7``) to give the DUT.

    ``uart``: deliver what a UART with the DUT's settings would receive (module docstring).
    """

    def __init__(self, line: LineSettings, speed: float = 1.0, log_path: str | Path | None = None,
                 *, url: str = "pty", meter: str | None = None, uart: bool = False,
                 clock: RunClock | None = None) -> None:
        super().__init__(log_path, clock)
        self.line = line
        self.url = url
        self.uart = uart
        self.pacer = Pacer(line, speed)
        self.garbled = 0  # writes delivered through the UART model (the DUT's settings differed)
        self.dropped = 0
        self.last_write: tuple[float, float] | None = None  # (start, end) on the line of the latest write
        self.received = 0  # bytes the DUT wrote back (ignored)
        self._master, self._slave = pty.openpty()
        try:
            tty.setraw(self._master)  # on Linux this sets the (shared) line discipline of the slave
            self._start_at_meter_line()
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
            start, end = self.pacer.pace(data, self._sink(data))
            self.last_write = (start, end)
            if data:
                self._record(start, data, annotations)
        return end

    def dut_termios(self) -> int | None:
        """The baud rate the DUT set on its side (``None`` if the speed code is unknown)."""
        attrs = termios.tcgetattr(self._master)
        return BAUD_BY_CODE.get(attrs[5])

    def set_line(self, line: LineSettings) -> None:
        """Another meter (or the meter's new settings) from the next write on; the capture header keeps
        the first line settings."""
        with self._write_lock:
            busy = self.pacer.busy_until
            self.line = line
            self.pacer = Pacer(line, self.pacer.speed)
            self.pacer.busy_until = busy

    def dut_line(self) -> tuple[LineSettings | None, int]:
        """The line settings the DUT's side is set to (:func:`line_of`) and its termios input flags."""
        if self._closed:
            raise LinkError(f"{self.name} is closed")
        attrs = termios.tcgetattr(self._master)
        return line_of(attrs), attrs[0]

    def request_line(self) -> bool:
        """Whether the DUT raises the data-request line (CRTSCTS on its side of the pty)."""
        if self._closed:
            raise LinkError(f"{self.name} is closed")
        return bool(termios.tcgetattr(self._master)[2] & termios.CRTSCTS)

    def _start_at_meter_line(self) -> None:
        attrs = termios.tcgetattr(self._master)
        code = CODE_BY_BAUD.get(self.line.baud)
        if code is not None:
            attrs[4] = attrs[5] = code
        attrs[0] &= ~(termios.INPCK | termios.IGNPAR | termios.PARMRK)
        attrs[2] &= ~(termios.PARODD | termios.CSTOPB)
        if self.line.parity != "N":
            attrs[0] |= termios.INPCK
        if self.line.parity == "O":
            attrs[2] |= termios.PARODD
        if self.line.stop_bits == 2:
            attrs[2] |= termios.CSTOPB
        termios.tcsetattr(self._master, termios.TCSANOW, attrs)

    def _sink(self, data: bytes) -> Callable[[bytes], None]:
        """The pacer's write callback for ``data``: raw bytes, or (UART mode, settings differ) what the
        DUT's UART delivers, each piece once the meter byte it completes in is on the line."""
        if not self.uart:
            return self._raw_write
        rx, iflag = self.dut_line()
        if rx == self.line:
            return self._raw_write
        self.garbled += 1
        pieces = uart_receive(data, self.line, rx, iflag) if rx is not None else []
        state = {"sent": 0, "next": 0}

        def sink(chunk: bytes) -> None:
            state["sent"] += len(chunk)
            done = state["sent"] >= len(data)
            k = state["next"]
            while k < len(pieces) and (done or pieces[k][0] < state["sent"]):
                k += 1
            if k > state["next"]:
                self._raw_write(b"".join(piece for _, piece in pieces[state["next"]:k]))
                state["next"] = k
        return sink

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

"""The unix HAL's serial line (the software DUT's meter port): a tty or pty through termios, under
MicroPython's unix port and CPython.

Line: baud, 8 data bits, parity (PARENB, PARODD) and 1 stop bit, with INPCK set whenever parity is on, so
bytes with parity or framing errors arrive as NUL instead of as they were sampled. A pty keeps every flag but
PARENB (it forces CS8 and clears PARENB), so on a pty INPCK is what tells the other side that parity is on.

Data request (P1): the reader raises RTS to ask the meter for data. Modem-control ioctls fail on a pty
(ENOTTY) and MicroPython has no ioctl, so the port enables RTS/CTS flow control (CRTSCTS): a UART driver then
holds RTS asserted while it can receive, and a pty records the flag, where the rig reads it. Clearing
CRTSCTS (``set_request(False)``, and on ``close()``) lowers the request.
"""

import asyncio
import select
import sys

from .contract import SerialPort

try:
    import termios
except ImportError:     # pragma: no cover - every unix port has it
    termios = None

MICROPYTHON = sys.implementation.name == "micropython"

# Linux termios values (MicroPython's termios lacks B2400 and every parity constant).
_SPEEDS = {1200: 9, 2400: 11, 4800: 12, 9600: 13, 19200: 14, 38400: 15, 57600: 4097, 115200: 4098,
           230400: 4099, 460800: 4100}
PARENB = 0o400
PARODD = 0o1000
CSTOPB = 0o100
CSIZE = 0o60
CS8 = 0o60
INPCK = 0o20
IGNPAR = 0o4
PARMRK = 0o10
CRTSCTS = 0o20000000000
VTIME = 5
VMIN = 6


def speed_value(baud):
    """termios speed value of ``baud`` (raw Linux values where the module lacks the constant)."""
    if termios is not None:
        const = getattr(termios, "B%d" % baud, None)
        if const is not None:
            return const
    if baud in _SPEEDS:
        return _SPEEDS[baud]
    raise ValueError("unsupported baud rate %d" % baud)


def default_parity(baud):
    """8E1 at 2400 baud (Kaifa, Aidon), 8N1 otherwise (P1 at 115200, 9600)."""
    return "E" if baud == 2400 else "N"


def _configure_tty(fd, baud, parity, request=False):
    if termios is None:
        return
    if MICROPYTHON:
        termios.setraw(fd)
    else:
        import tty
        tty.setraw(fd)
    attrs = termios.tcgetattr(fd)
    speed = speed_value(baud)
    attrs[4] = speed
    attrs[5] = speed
    cflag = (attrs[2] & ~(PARENB | PARODD | CSTOPB | CSIZE | CRTSCTS)) | CS8
    iflag = attrs[0] & ~(INPCK | IGNPAR | PARMRK)
    if parity == "E":
        cflag |= PARENB
    elif parity == "O":
        cflag |= PARENB | PARODD
    if parity in ("E", "O"):
        iflag |= INPCK
    if request:
        cflag |= CRTSCTS
    attrs[0] = iflag
    attrs[2] = cflag
    cc = attrs[6]
    # MicroPython: VMIN 0, so a read returns what is there (its read(n) loops until n bytes or 0).
    # CPython: VMIN 1 on a non-blocking fd, so an empty line gives EAGAIN, not end of file.
    cc[VMIN] = 0 if MICROPYTHON else 1
    cc[VTIME] = 0
    try:
        termios.tcsetattr(fd, termios.TCSANOW, attrs)
    except Exception:
        if not cflag & PARENB:
            raise
        # A pty drops PARENB, and refuses a change that is only PARENB (EINVAL); PARODD and INPCK
        # still tell the other side which parity is on.
        attrs[2] = cflag & ~PARENB
        termios.tcsetattr(fd, termios.TCSANOW, attrs)


class _SerialBase(SerialPort):
    """What both serial classes share: line settings and the data-request line."""

    def reconfigure(self, baud, parity):
        """Put other line settings on the port (the data request stays as it is)."""
        if parity is None:
            parity = default_parity(baud)
        _configure_tty(self._fd(), baud, parity, self.request)
        self.line = (baud, parity)

    def set_request(self, on):
        """Raise (True) or lower (False) the data-request line."""
        _configure_tty(self._fd(), self.line[0], self.line[1], on)
        self.request = on


def _lower_request(port):
    if port.request:
        try:
            port.set_request(False)
        except Exception:
            pass


def _poller_for(target):
    poller = select.poll()
    poller.register(target, select.POLLIN)
    return poller


def poll_pending(poller):
    """True when bytes wait in the kernel (a poll with timeout 0)."""
    try:
        for item in poller.poll(0):
            if item[1] & select.POLLIN:
                return True
    except (OSError, ValueError):
        pass
    return False


class _MpSerial(_SerialBase):
    """MicroPython: builtin open() + asyncio.StreamReader (poll-driven)."""

    def __init__(self, device, baud, parity, request=False):
        self.device = device
        self.line = (baud, parity)
        self.request = request
        self.f = open(device, "rb")
        try:
            _configure_tty(self.f.fileno(), baud, parity, request)
        except Exception:
            self.f.close()
            raise
        self.stream = asyncio.StreamReader(self.f)
        self._poller = _poller_for(self.f)

    async def read(self, n):
        return await self.stream.read(n)

    def _fd(self):
        return self.f.fileno()

    def pending(self):
        return poll_pending(self._poller)

    def close(self):
        _lower_request(self)
        try:
            self.f.close()
        except OSError:
            pass


class _CpSerial(_SerialBase):
    """CPython: a non-blocking fd watched with loop.add_reader."""

    def __init__(self, device, baud, parity, request=False):
        import os
        self.os = os
        self.line = (baud, parity)
        self.request = request
        self.fd = os.open(device, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        try:
            _configure_tty(self.fd, baud, parity, request)
        except Exception:
            os.close(self.fd)
            raise
        self.loop = asyncio.get_event_loop()
        self.ready = asyncio.Event()
        self.loop.add_reader(self.fd, self.ready.set)
        self._poller = _poller_for(self.fd)

    async def read(self, n):
        while True:
            try:
                data = self.os.read(self.fd, n)
            except BlockingIOError:
                data = None
            if data is not None:
                return data
            self.ready.clear()
            await self.ready.wait()

    def _fd(self):
        return self.fd

    def pending(self):
        return poll_pending(self._poller)

    def close(self):
        _lower_request(self)
        try:
            self.loop.remove_reader(self.fd)
            self.os.close(self.fd)
        except OSError:
            pass


def open_serial(device, baud, parity=None, request=False):
    """A ``SerialPort`` on ``device`` (see ``Hal.open_serial``)."""
    if parity is None:
        parity = default_parity(baud)
    if MICROPYTHON:
        return _MpSerial(device, baud, parity, request)
    return _CpSerial(device, baud, parity, request)

"""Unix HAL (the software DUT): serial = a tty/pty through termios, LED = an events file,
clock = monotonic ms scaled by ``clock_scale``. Runs under MicroPython's unix port and CPython.

Serial line: baud, 8 data bits, parity (PARENB, PARODD) and 1 stop bit, with INPCK set whenever parity
is on, so bytes with parity or framing errors arrive as NUL instead of as they were sampled. A pty
keeps every flag but PARENB (it forces CS8 and clears PARENB), so on a pty INPCK is what tells the
other side that parity is on.

Data request (P1): the reader raises RTS to ask the meter for data. Modem-control ioctls fail on a
pty (ENOTTY) and MicroPython has no ioctl, so the HAL enables RTS/CTS flow control (CRTSCTS): a UART
driver then holds RTS asserted while it can receive, and a pty records the flag, where the rig reads
it. Clearing CRTSCTS (``set_request(False)``, and on ``close()``) lowers the request.
"""

import asyncio
import select
import sys
import time

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


if MICROPYTHON:
    def _ticks():
        return time.ticks_ms()

    def _diff(a, b):
        return time.ticks_diff(a, b)
else:
    def _ticks():
        return time.monotonic_ns() // 1000000

    def _diff(a, b):
        return a - b


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


class _SerialBase:
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


def _pending(poller):
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
        return _pending(self._poller)

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
        return _pending(self._poller)

    def close(self):
        _lower_request(self)
        try:
            self.loop.remove_reader(self.fd)
            self.os.close(self.fd)
        except OSError:
            pass


def _open_control(path):
    open(path, "a").close()
    f = open(path)
    f.seek(0, 2)    # what an earlier run left there is not for this one
    return f


class UnixHal:
    reset_reason = "power-on"

    def __init__(self, cfg):
        self.scale = float(cfg.get("clock_scale") or 1.0)
        self._t0 = _ticks()
        self._last = self._t0
        self._acc = 0
        self._host = cfg["http"]["host"]
        serial = cfg["device"]["serial"]
        n = 0
        for ch in serial:
            n = (n * 31 + ord(ch)) & 0xFFFFFFFF
        self._mac = "02:00:%02x:%02x:%02x:%02x" % ((n >> 24) & 255, (n >> 16) & 255, (n >> 8) & 255, n & 255)
        path = (cfg.get("led") or {}).get("events")
        self._led = open(path, "a") if path else None
        # LED/button/network control channel: lines appended to ``<events>.control`` (the rig writes it)
        self._control = _open_control(path + ".control") if path else None
        self._net = True

    # -- clock -------------------------------------------------------------------------------------
    def real_ms(self):
        """Monotonic milliseconds since start, unscaled (accumulated, so tick wrap-around is harmless)."""
        t = _ticks()
        self._acc += _diff(t, self._last)
        self._last = t
        return self._acc

    def uptime_ms(self):
        """Device time: monotonic ms since start times clock_scale."""
        real = self.real_ms()
        if self.scale == 1.0:
            return real
        return int(real * self.scale)

    def real_delay_ms(self, device_ms):
        return device_ms if self.scale == 1.0 else device_ms / self.scale

    async def sleep_ms(self, device_ms):
        """Sleep ``device_ms`` of device time (device_ms / clock_scale real ms)."""
        await asyncio.sleep(self.real_delay_ms(device_ms) / 1000)

    def epoch_ms(self):
        return time.time_ns() // 1000000

    def free_heap(self):
        """Bytes free after a collection: what the firmware can still allocate, not the garbage that
        happens to wait for the collector (a sample without it reads anything from ~0 to the heap's size)."""
        try:
            import gc
            gc.collect()
            return gc.mem_free()
        except (ImportError, AttributeError):
            return None

    # -- LED ---------------------------------------------------------------------------------------
    def led(self, r, g, b):
        if self._led is None:
            return
        self._led.write("%d %d %d %d\n" % (self.uptime_ms(), r, g, b))
        self._led.flush()

    def control_lines(self):
        """Control lines appended since the last call (button, Wi-Fi, network, update: see led.py)."""
        if self._control is None:
            return []
        data = self._control.read()
        return data.splitlines() if data else []

    # -- serial ------------------------------------------------------------------------------------
    def open_serial(self, device, baud, parity=None, request=False):
        """Open ``device`` at ``baud``/``parity`` (8 data bits, 1 stop bit), the data request raised
        when ``request``."""
        if parity is None:
            parity = default_parity(baud)
        if MICROPYTHON:
            return _MpSerial(device, baud, parity, request)
        return _CpSerial(device, baud, parity, request)

    # -- network -----------------------------------------------------------------------------------
    def network_up(self):
        return self._net

    def set_network(self, up):
        self._net = bool(up)

    def mac(self):
        return self._mac

    def ip(self):
        return self._host

    def udp_multicast(self, group, port, interface):
        """A non-blocking UDP socket bound to ``group``:``port``, joined and sending on ``interface``
        only (the software DUT: 127.0.0.1, so nothing leaves the host); see ``_Multicast``."""
        return _Multicast(group, port, interface)

    # -- files -------------------------------------------------------------------------------------
    def write_file(self, path, text):
        """Replace file ``path`` with ``text``: a power cut leaves the old file or the new (unix_fs.py)."""
        from .unix_fs import write_file
        write_file(path, text)

    # -- firmware update (unix_update.py) ----------------------------------------------------------
    store = None            # the firmware store's folder (the app sets it: next to its configuration file)
    restart_status = 75     # exit status asking the launcher to start the (new) firmware again

    def update_begin(self, size):
        """A writer for an image of ``size`` bytes: ``write``, ``abort``, ``install`` -> version, ``activate``."""
        if self.store is None:
            raise ValueError("this unit has no firmware store (no configuration file)")
        from .unix_update import ImageWriter
        return ImageWriter(self.store, size)

    # -- crypto ------------------------------------------------------------------------------------
    def aes_ecb(self, key):
        """AES-128-ECB of ``key`` (cryptolib on MicroPython), for the decoder's GCM."""
        from .aes import ecb
        return ecb(key)


def _ip4(text):
    return bytes([int(x) for x in text.split(".")])


class _Multicast:
    """UDP on a multicast group: ``recv()`` -> (data, source port, source address) or None,
    ``send_group(data)``, ``send_to(data, address)``, ``close()``; ``port`` is the group's port."""

    def __init__(self, group, port, interface):
        import socket
        self.port = port
        self.group = group
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, 2, 1)       # SO_REUSEADDR
        s.setsockopt(socket.SOL_SOCKET, 15, 1)      # SO_REUSEPORT: share the port with other responders
        s.setsockopt(0, 35, _ip4(group) + _ip4(interface))   # IP_ADD_MEMBERSHIP on this interface only
        s.setsockopt(0, 32, _ip4(interface))        # IP_MULTICAST_IF
        s.setsockopt(0, 33, 255)                    # IP_MULTICAST_TTL (RFC 6762)
        s.bind(self._addr(group, port))             # the group address: only its datagrams arrive
        s.setblocking(False)
        self.sock = s
        self._group_addr = self._addr(group, port)
        self._poller = select.poll()
        self._poller.register(s, select.POLLIN)

    @staticmethod
    def _addr(host, port):
        if MICROPYTHON:
            import socket
            return socket.getaddrinfo(host, port)[0][-1]
        return (host, port)

    def recv(self):
        """A datagram waiting, or None at once (polled first: no exception on an idle socket)."""
        if not _pending(self._poller):
            return None
        try:
            data, addr = self.sock.recvfrom(9000)
        except OSError:
            return None
        if MICROPYTHON:     # a raw struct sockaddr_in
            return data, (addr[2] << 8) | addr[3], addr
        return data, addr[1], addr

    def send_group(self, data):
        self.sock.sendto(data, self._group_addr)

    def send_to(self, data, addr):
        self.sock.sendto(data, addr)

    def close(self):
        self.sock.close()

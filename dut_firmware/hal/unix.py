"""Unix HAL (the software DUT), under MicroPython's unix port and CPython: the contract of contract.py.

Serial = a tty/pty through termios (unix_serial.py); LED = an events file, one line per colour; control
lines (button, network, update...) = lines the rig appends to ``<events>.control``; clock = monotonic ms
scaled by ``clock_scale``; files written durably (unix_fs.py); firmware images = directories in an A/B
store (unix_update.py); AES = cryptolib (aes.py); multicast = a UDP socket bound to one interface.
"""

import asyncio
import select
import time

from .contract import Hal, Multicast
from .unix_serial import MICROPYTHON, poll_pending
from .unix_serial import open_serial as _open_serial

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


def _open_control(path):
    open(path, "a").close()
    f = open(path)
    f.seek(0, 2)    # what an earlier run left there is not for this one
    return f


class UnixHal(Hal):
    reset_reason = "power-on"
    absent = ()                 # every optional operation is offered

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
        when ``request`` (unix_serial.py)."""
        return _open_serial(device, baud, parity, request)

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


class _Multicast(Multicast):
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
        if not poll_pending(self._poller):
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

"""The HAL contract: what a port's HAL offers the firmware, as plain code that runs on MicroPython.

A port subclasses ``Hal`` (and ``SerialPort``, ``Multicast``, ``UpdateImage`` for the objects its operations
return; ``AesBlock`` describes the AES object, which may be the platform's own, e.g. ``cryptolib.aes``).
Every operation here is ``not_implemented`` (it raises NotImplementedError) until a port implements it; the
comment above it is the contract (comments, not docstrings: they cost no heap). Every HAL implements
``Hal.REQUIRED``; each of ``Hal.OPTIONAL`` it implements or names in ``absent``, and the firmware asks
``hal.offers(name)`` before it uses one. conformance.py checks a HAL and the objects it returns against
this (a port runs it in its tests; the firmware never loads it).

Device time: the clock runs ``clock_scale`` times real time on the software DUT (1 on a device); durations
the firmware specifies are device ms, and ``real_delay_ms`` turns them into real ms for asyncio.

Platform-neutral, so used outside the HAL on purpose (the same on the unix and ESP32 ports): asyncio with
its TCP streams (``start_server``, ``open_connection``: the network stack is the port's, the API the same);
``open()`` to read a file (the port's VFS; ``config.load`` reads the configuration before a HAL exists);
``sys.stdout`` for the log (the REPL UART on a device); ``random``, ``json``, ``struct``, ``hashlib``,
``binascii``. Files are written only through ``write_file`` (durable) and the update store. The only other
touches of the platform are fallbacks for code run without a HAL (tests, ``rig decode``), never on the
unit's own paths: services/http.py's clock and config.save's rename (a decoder built without the HAL's AES
takes hal/aes.py's).
"""


def not_implemented(self, *args):
    raise NotImplementedError("not implemented by this HAL")


class Hal:
    """The board: clock, LED, serial, network, crypto, files; optional control lines, multicast, update."""

    REQUIRED = ("uptime_ms", "real_ms", "real_delay_ms", "sleep_ms", "epoch_ms", "free_heap", "led",
                "open_serial", "network_up", "mac", "ip", "aes_ecb", "write_file")
    OPTIONAL = ("control_lines", "set_network", "udp_multicast", "update_begin")
    absent = ()             # the optional operations this HAL does not offer
    reset_reason = None     # str: why the unit last started ("power-on", "watchdog", ...)
    restart_status = None   # with update_begin: the exit status that restarts into the new firmware
    store = None            # with update_begin: where images go (the application sets it; a port may ignore it)

    def offers(self, name):
        """True when operation ``name`` is available (every required one; an optional one not ``absent``)."""
        return name not in self.absent

    # -- clock ---------------------------------------------------------------------------------------------
    # uptime_ms() -> int: device ms since start (never decreasing; real ms times clock_scale)
    uptime_ms = not_implemented
    # real_ms() -> int: real monotonic ms since start (never decreasing, no wrap-around)
    real_ms = not_implemented
    # real_delay_ms(device_ms) -> number: the real ms that device_ms of device time take (> 0 for device_ms > 0)
    real_delay_ms = not_implemented
    # await sleep_ms(device_ms): sleep device_ms of device time, letting other tasks run
    sleep_ms = not_implemented
    # epoch_ms() -> int: wall-clock ms since 1970-01-01 UTC
    epoch_ms = not_implemented
    # free_heap() -> int or None: bytes the firmware can still allocate, after a collection (None: unknown)
    free_heap = not_implemented

    # -- LED and control lines -------------------------------------------------------------------------------
    # led(r, g, b): show colour r, g, b (0..255 each) on the status LED at once; never blocks
    led = not_implemented
    # optional; control_lines() -> [str]: the control lines that arrived since the last call (button, network,
    # Wi-Fi, update, critical: see led.py), [] when none; never blocks
    control_lines = not_implemented

    # -- serial ------------------------------------------------------------------------------------------------
    # open_serial(device, baud, parity=None, request=False) -> SerialPort: device at baud, 8 data bits, parity
    # "N", "E" or "O" (None: the port's default for baud), 1 stop bit, the data request raised when request;
    # OSError when the device cannot be opened, ValueError for a baud rate it cannot set
    open_serial = not_implemented

    # -- network -----------------------------------------------------------------------------------------------
    # network_up() -> bool: the unit has a network link
    network_up = not_implemented
    # optional; set_network(up): take the network link up or down (a bench's control)
    set_network = not_implemented
    # mac() -> str: the MAC address, "xx:xx:xx:xx:xx:xx" in lower-case hex
    mac = not_implemented
    # ip() -> str: the IPv4 address, dotted
    ip = not_implemented
    # optional; udp_multicast(group, port, interface) -> Multicast: joined and sending on interface only;
    # OSError or ValueError when it cannot be had
    udp_multicast = not_implemented

    # -- crypto, files, update ---------------------------------------------------------------------------------
    # aes_ecb(key) -> AesBlock for the 16-byte key (ValueError for another length); han/gcm.py builds GCM on it
    aes_ecb = not_implemented
    # write_file(path, text): replace file path with text so that a power cut at any point leaves the old file
    # or the new one, never a torn one; OSError when it cannot
    write_file = not_implemented
    # optional; update_begin(size) -> UpdateImage receiving an image of size bytes into the store; ValueError or
    # OSError when the unit cannot take one
    update_begin = not_implemented


class SerialPort:
    """The meter port ``Hal.open_serial`` returns. ``line``: (baud, parity) now; ``request``: the data
    request is raised."""

    REQUIRED = ("read", "reconfigure", "set_request", "pending", "close")
    line = None
    request = False
    # await read(n) -> bytes: up to n bytes once at least one arrived (a byte with a parity or framing error
    # reads as 0); b"" or OSError when the port is gone
    read = not_implemented
    # reconfigure(baud, parity): other line settings on the open port (parity None: the default for baud)
    reconfigure = not_implemented
    # set_request(on): raise (True) or lower (False) the data-request line (P1)
    set_request = not_implemented
    # pending() -> bool: received bytes wait to be read (never blocks)
    pending = not_implemented
    # close(): lower the data request and release the port; never raises
    close = not_implemented


class AesBlock:
    """AES-128 on one block: what ``Hal.aes_ecb`` returns."""

    REQUIRED = ("encrypt",)
    # encrypt(block) -> bytes: the 16-byte AES-ECB encryption of the 16-byte block
    encrypt = not_implemented


class Multicast:
    """A non-blocking UDP socket on a multicast group (mDNS). ``port``: the group's port."""

    REQUIRED = ("recv", "send_group", "send_to", "close")
    port = None
    # recv() -> (data, source port, source address) of a waiting datagram, else None at once
    recv = not_implemented
    # send_group(data): send data to the group
    send_group = not_implemented
    # send_to(data, addr): send data to addr (a source address recv gave)
    send_to = not_implemented
    # close(): leave the group and release the socket
    close = not_implemented


class UpdateImage:
    """A firmware image being received (``Hal.update_begin``)."""

    REQUIRED = ("write", "abort", "install", "activate")
    # write(data): store the next chunk; ValueError past the announced size
    write = not_implemented
    # abort(): drop what was received and staged; the running firmware stays active; never raises
    abort = not_implemented
    # install() -> str: check the complete image and stage it; its version. ValueError or OSError when refused
    install = not_implemented
    # activate(): make the staged image the one the next start runs
    activate = not_implemented

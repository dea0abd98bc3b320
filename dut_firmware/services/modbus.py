"""Modbus TCP server: two register maps (``modbus.map``), FC 03/04 read, FC 06/16 write, big-endian.

``default`` (read-only; 32-bit values high word first):

| address | register    | value                             | type   | scale  | unavailable |
|---------|-------------|-----------------------------------|--------|--------|-------------|
| 0-2     | 40001-40003 | U1..U3                            | uint16 | 0.1 V  | 0xFFFF      |
| 3-5     | 40004-40006 | I1..I3 (magnitude)                | uint16 | 0.01 A | 0xFFFF      |
| 6-7     | 40007-40008 | P total active (import - export)  | int32  | 1 W    | 0x80000000  |

(P: a side the meter never sent counts as 0; unavailable only when neither is known.)

``han2x``: modelled on the HAN2X table (``HAN2X_MAP`` below, the README has it as a table): 32-bit
values high word first (unavailable 0xFFFFFFFF unsigned, 0x80000000 signed, 0xFFFF for 16 bits),
powers in W/var, currents in mA, voltages in 0.1 V, energies in Wh/varh, the meter clock, firmware
version, uptime hours and the writable scale factor (per mille, 10..1000000, default 1000 = 1.000)
applied to powers, currents and energies of this map. Reserved addresses read 0xFFFF.

Exceptions: 01 for other function codes (and FC 06/16 on the read-only default map); 03 for a
quantity outside 1..125 (1..123 for FC 16), a byte count that does not match, a malformed request
PDU or a value out of range; 02 for an address outside the map (a read that runs past its end
included) or a write to a read-only register. A unit id other than the configured one (or 0xFF)
gets 0x0B (gateway target failed to respond). A request with a protocol id other than 0 or an
impossible MBAP length closes the connection (counted as ``malformed``).
"""

import asyncio
import struct

from ..han import reading as R
from . import close_server

MAP_SIZE = 8
# Connections the kernel queues until the server accepts them: with MicroPython's default of 5, twenty
# clients connecting at once lose SYNs and wait a 1 s retransmission (benchmarks/bench_load.py).
BACKLOG = 32
UNAVAILABLE16 = 0xFFFF
UNAVAILABLE32 = 0x80000000
UNAVAILABLE_U32 = 0xFFFFFFFF

ILLEGAL_FUNCTION = 1
ILLEGAL_ADDRESS = 2
ILLEGAL_VALUE = 3
GATEWAY_TARGET = 0x0B

MAPS = ("default", "han2x")
SCALE_MIN = 10
SCALE_MAX = 1000000
SCALE_DEFAULT = 1000

# (address, field or source, type, exp, scaled): "u32"/"i32" two registers, "u16" one; the register
# holds the field (an int in its base unit, han/reading.py) times 10**exp.
# Sources other than a reading field: "clock:N" (the meter clock, N = 0 year .. 5 second),
# "version", "temperature", "uptime_h", "scale", "digital_input".
HAN2X_MAP = (
    (0, "p_import_w", "u32", 0, True),
    (2, "p_export_w", "u32", 0, True),
    (4, "q_import_var", "u32", 0, True),
    (6, "q_export_var", "u32", 0, True),
    (8, "i_l1_ma", "i32", 0, True),
    (10, "i_l2_ma", "i32", 0, True),
    (12, "i_l3_ma", "i32", 0, True),
    (14, "u_l1_mv", "u32", -2, False),
    (16, "u_l2_mv", "u32", -2, False),
    (18, "u_l3_mv", "u32", -2, False),
    (20, "e_import_wh", "u32", 0, True),
    (22, "e_export_wh", "u32", 0, True),
    (24, "r_import_varh", "u32", 0, True),
    (26, "r_export_varh", "u32", 0, True),
    (28, "e_import_est_wh", "u32", 0, True),
    (30, "e_export_est_wh", "u32", 0, True),
    (32, "r_import_est_varh", "u32", 0, True),
    (34, "r_export_est_varh", "u32", 0, True),
    (36, "clock:0", "u16", 0, False),
    (37, "clock:1", "u16", 0, False),
    (38, "clock:2", "u16", 0, False),
    (39, "clock:3", "u16", 0, False),
    (40, "clock:4", "u16", 0, False),
    (41, "clock:5", "u16", 0, False),
    (42, "version", "u16", 0, False),
    (43, "temperature", "u16", 0, False),
    (47, "uptime_h", "u16", 0, False),
    (48, "scale", "u32", 0, False),
    (50, "digital_input", "u16", 0, False),
)
HAN2X_SIZE = 51
HAN2X_WRITABLE = (48, 49)   # the scale factor (both words, or either one alone)


def _int(value, exp):
    """``value`` (an int in its field's base unit) times 10**exp, rounded half away from zero when
    exp < 0; None stays None."""
    if value is None:
        return None
    return R.scale(value, exp)


def _u16(value, exp):
    """Non-negative magnitude of ``value`` times 10**exp; 0xFFFF when unknown."""
    n = _int(value, exp)
    if n is None:
        return UNAVAILABLE16
    if n < 0:
        n = -n
    return n if n < 0xFFFF else 0xFFFE


def _milli_to_centi(ma):
    """A current in mA -> 0.01 A (half up on the magnitude)."""
    if ma is None:
        return UNAVAILABLE16
    if ma < 0:
        ma = -ma
    n = (ma + 5) // 10
    return n if n < 0xFFFF else 0xFFFE


def registers(fields):
    """The 8 registers of the default map for the merged normalized ``fields``."""
    g = fields.get
    regs = [_u16(g(R.U_L1), -2), _u16(g(R.U_L2), -2), _u16(g(R.U_L3), -2),   # mV -> 0.1 V
            _milli_to_centi(g(R.I_L1)), _milli_to_centi(g(R.I_L2)), _milli_to_centi(g(R.I_L3))]
    pi = g(R.P_IMPORT)
    pe = g(R.P_EXPORT)
    if pi is None and pe is None:
        p = UNAVAILABLE32
    else:
        p = (pi or 0) - (pe or 0)
        if p > 0x7FFFFFFF:
            p = 0x7FFFFFFF
        elif p < -0x7FFFFFFF:
            p = -0x7FFFFFFF
        p &= 0xFFFFFFFF
    regs.append((p >> 16) & 0xFFFF)
    regs.append(p & 0xFFFF)
    return regs


def version_number(text):
    """'1.2.3' -> 10203 (major * 10000 + minor * 100 + patch); 0xFFFF when it does not parse."""
    parts = str(text).split(".")
    n = 0
    for k in range(3):
        part = parts[k] if k < len(parts) else "0"
        if not part.isdigit() or int(part) > 99:
            return UNAVAILABLE16
        n = n * 100 + int(part)
    return n if n < 0xFFFF else UNAVAILABLE16


def clock_parts(stamp):
    """'2024-10-01T19:00:10...' -> (2024, 10, 1, 19, 0, 10), or None when it does not parse."""
    if not isinstance(stamp, str) or len(stamp) < 19:
        return None
    out = []
    for a, b in ((0, 4), (5, 7), (8, 10), (11, 13), (14, 16), (17, 19)):
        part = stamp[a:b]
        if not part.isdigit():
            return None
        out.append(int(part))
    return tuple(out)


def _scaled(n, scale):
    """``n`` times ``scale``/1000, rounded half away from zero (exact when scale is 1000)."""
    if scale == SCALE_DEFAULT:
        return n
    if n < 0:
        return -((-n * scale + 500) // 1000)
    return (n * scale + 500) // 1000


def _put32(regs, addr, n, signed):
    if n is None:
        n = UNAVAILABLE32 if signed else UNAVAILABLE_U32
    elif signed:
        n = max(-0x7FFFFFFF, min(n, 0x7FFFFFFF)) & 0xFFFFFFFF
    else:
        n = max(0, min(n, 0xFFFFFFFE))
    regs[addr] = (n >> 16) & 0xFFFF
    regs[addr + 1] = n & 0xFFFF


def han2x_registers(fields, scale=SCALE_DEFAULT, uptime_ms=0, version="0.0.0"):
    """The 51 registers of the han2x map (see ``HAN2X_MAP``)."""
    regs = [UNAVAILABLE16] * HAN2X_SIZE
    clock = clock_parts(fields.get("timestamp"))
    for addr, source, kind, exp, scaled in HAN2X_MAP:
        if kind == "u16":
            if source.startswith("clock:"):
                regs[addr] = UNAVAILABLE16 if clock is None else clock[int(source[6:])]
            elif source == "version":
                regs[addr] = version_number(version)
            elif source == "uptime_h":
                regs[addr] = min(uptime_ms // 3600000, 0xFFFE)
            continue        # temperature, digital input: this device has neither (0xFFFF)
        if source == "scale":
            _put32(regs, addr, scale, False)
            continue
        n = _int(fields.get(source), exp)
        if n is not None and scaled:
            n = _scaled(n, scale)
        _put32(regs, addr, n, kind == "i32")
    return regs


def plan_write(map_name, addr, values, regs):
    """Check a write of ``values`` at ``addr`` against map ``map_name`` whose registers are ``regs``.

    Returns (exception code or 0, changes to the ``modbus`` settings)."""
    if map_name != "han2x":
        return ILLEGAL_ADDRESS, None
    for k in range(len(values)):
        if addr + k not in HAN2X_WRITABLE:
            return ILLEGAL_ADDRESS, None
    words = [regs[HAN2X_WRITABLE[0]], regs[HAN2X_WRITABLE[1]]]
    for k in range(len(values)):
        words[addr + k - HAN2X_WRITABLE[0]] = values[k]
    scale = (words[0] << 16) | words[1]
    if not SCALE_MIN <= scale <= SCALE_MAX:
        return ILLEGAL_VALUE, None
    return 0, {"scale": scale}


def exception_pdu(fc, code):
    return bytes((fc | 0x80, code))


def _read(fc, pdu, regs):
    if len(pdu) != 5:
        return exception_pdu(fc, ILLEGAL_VALUE)
    addr, count = struct.unpack(">HH", pdu[1:5])
    if not 1 <= count <= 125:
        return exception_pdu(fc, ILLEGAL_VALUE)
    if addr + count > len(regs):
        return exception_pdu(fc, ILLEGAL_ADDRESS)
    out = bytearray(2 + 2 * count)
    out[0] = fc
    out[1] = 2 * count
    for k in range(count):
        struct.pack_into(">H", out, 2 + 2 * k, regs[addr + k])
    return bytes(out)


def _write(fc, pdu, regs, write):
    if fc == 6:
        if len(pdu) != 5:
            return exception_pdu(fc, ILLEGAL_VALUE)
        addr, value = struct.unpack(">HH", pdu[1:5])
        values = [value]
    else:
        if len(pdu) < 6:
            return exception_pdu(fc, ILLEGAL_VALUE)
        addr, count = struct.unpack(">HH", pdu[1:5])
        if not 1 <= count <= 123 or pdu[5] != 2 * count or len(pdu) != 6 + 2 * count:
            return exception_pdu(fc, ILLEGAL_VALUE)
        values = [struct.unpack(">H", pdu[6 + 2 * k:8 + 2 * k])[0] for k in range(count)]
    if addr + len(values) > len(regs):
        return exception_pdu(fc, ILLEGAL_ADDRESS)
    code = write(addr, values)
    if code:
        return exception_pdu(fc, code)
    return bytes(pdu[:5])   # FC 06 echoes the request; FC 16 answers address and quantity


def process_pdu(pdu, regs, write=None):
    """Answer a request PDU (function code + data) over the register list ``regs``.

    ``write(addr, values)`` carries out FC 06/16 and returns 0 or an exception code; without it
    (a read-only map) FC 06/16 are illegal functions (01)."""
    if not pdu:
        return exception_pdu(0, ILLEGAL_FUNCTION)
    fc = pdu[0]
    if fc in (3, 4):
        return _read(fc, pdu, regs)
    if fc in (6, 16) and write is not None:
        return _write(fc, pdu, regs, write)
    return exception_pdu(fc & 0x7F, ILLEGAL_FUNCTION)


def process_adu(adu, unit_id, regs, write=None):
    """Answer one complete Modbus TCP ADU (MBAP header + PDU); None means: close the connection."""
    if len(adu) < 8:
        return None
    tid, pid, length, unit = struct.unpack(">HHHB", adu[:7])
    if pid != 0 or length != len(adu) - 6:
        return None
    pdu = adu[7:]
    if unit != unit_id and unit != 0xFF:
        resp = exception_pdu(pdu[0] & 0x7F, GATEWAY_TARGET)
    else:
        resp = process_pdu(pdu, regs, write)
    return struct.pack(">HHHB", tid, 0, len(resp) + 1, unit) + resp


class ModbusServer:
    """Started and stopped at run time; when stopped nothing listens (connection refused).

    Reads ``app.cfg["modbus"]`` (``map``, ``unit_id``, ``scale``) on every request, so a change of
    those takes effect without closing the connections; a write goes through ``app.configure``.
``app`` (a services.View): ``cfg``, ``state`` (its fields), ``hal`` (``uptime_ms``), ``configure``, ``log``."""

    def __init__(self, app):
        self.app = app
        self.server = None
        self.host = None
        self.port = None
        self.clients = []
        self.counters = {"connections": 0, "requests": 0, "exceptions": 0, "writes": 0, "malformed": 0}

    @property
    def listening(self):
        return self.server is not None

    async def start(self, host, port):
        if self.server is not None:
            if host == self.host and port == self.port:
                return
            await self.stop()
        self.server = await asyncio.start_server(self._client, host, port, backlog=BACKLOG)
        self.host, self.port = host, port
        self.app.log("INFO", "modbus listening on %s:%d" % (host, port))

    async def stop(self):
        """Close the client connections, then the listening socket."""
        if self.server is None:
            return
        server, clients = self.server, self.clients
        self.server, self.host, self.port, self.clients = None, None, None, []
        await close_server(server, clients)
        self.app.log("INFO", "modbus stopped")

    def registers(self):
        """The registers of the configured map, now."""
        m = self.app.cfg["modbus"]
        if m.get("map") == "han2x":
            from ..config import VERSION
            return han2x_registers(self.app.state.fields, m.get("scale", SCALE_DEFAULT),
                                   self.app.hal.uptime_ms(), VERSION)
        return registers(self.app.state.fields)

    async def answer(self, adu):
        """The response to one ADU (None: close the connection), counted; a write is applied."""
        m = self.app.cfg["modbus"]
        regs = self.registers()
        changes = []

        def write(addr, values):
            code, change = plan_write(m.get("map"), addr, values, regs)
            if not code:
                changes.append(change)
            return code

        resp = process_adu(adu, m["unit_id"], regs, write if m.get("map") == "han2x" else None)
        counters = self.counters
        if resp is None:
            counters["malformed"] += 1
            return None
        counters["requests"] += 1
        if resp[7] & 0x80:
            counters["exceptions"] += 1
        elif changes:
            try:
                await self.app.configure({"modbus": changes[-1]})
                counters["writes"] += 1
            except ValueError as exc:
                self.app.log("WARNING", "modbus write refused: %s" % (exc,))
                counters["exceptions"] += 1
                resp = resp[:4] + b"\x00\x03" + resp[6:7] + exception_pdu(resp[7], ILLEGAL_VALUE)
        return resp

    async def _client(self, reader, writer):
        entry = (writer, asyncio.current_task())
        self.clients.append(entry)
        self.counters["connections"] += 1
        try:
            while True:
                head = await reader.readexactly(7)
                length = (head[4] << 8) | head[5]
                if length < 2 or length > 254 or head[2] or head[3]:
                    self.counters["malformed"] += 1
                    break
                body = await reader.readexactly(length - 1)
                resp = await self.answer(head + body)
                if resp is None:
                    break
                writer.write(resp)
                await writer.drain()
        except (OSError, EOFError):
            pass
        except Exception as exc:
            self.app.log("ERROR", "modbus client: %r" % (exc,))
        finally:
            if entry in self.clients:
                self.clients.remove(entry)
            try:
                writer.close()
                await writer.wait_closed()
            except Exception:
                pass

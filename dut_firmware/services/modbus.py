"""Modbus TCP server: FC 03 and FC 04 over one register map (big-endian, 32-bit high word first).

| address | register    | value                             | type   | scale  | unavailable |
|---------|-------------|-----------------------------------|--------|--------|-------------|
| 0-2     | 40001-40003 | U1..U3                            | uint16 | 0.1 V  | 0xFFFF      |
| 3-5     | 40004-40006 | I1..I3 (magnitude)                | uint16 | 0.01 A | 0xFFFF      |
| 6-7     | 40007-40008 | P total active (import - export)  | int32  | 1 W    | 0x80000000  |

(P: a side the meter never sent counts as 0; unavailable only when neither is known.)

Values are clamped into range (0..0xFFFE for uint16). Exceptions: 01 for other function codes, 03 for
a quantity outside 1..125 or a malformed request PDU, 02 for addresses outside the map; a unit id other
than the configured one (or 0xFF) gets exception 0x0B (gateway target failed to respond). A request with
a protocol id other than 0, or an impossible MBAP length, closes the connection.
"""

import asyncio
import struct

from . import close_server

MAP_SIZE = 8
UNAVAILABLE16 = 0xFFFF
UNAVAILABLE32 = 0x80000000

ILLEGAL_FUNCTION = 1
ILLEGAL_ADDRESS = 2
ILLEGAL_VALUE = 3
GATEWAY_TARGET = 0x0B


def _u16(value, factor):
    """Non-negative magnitude of ``value`` in 1/factor units; 0xFFFF when unknown."""
    if value is None:
        return UNAVAILABLE16
    if isinstance(value, int) and not isinstance(value, bool):
        n = value * factor
    else:
        n = int(round(value * factor))
    if n < 0:
        n = -n
    return n if n < 0xFFFF else 0xFFFE


def _milli_to_centi(value):
    """A current in A -> 0.01 A, via integer mA (half up on the magnitude)."""
    if value is None:
        return UNAVAILABLE16
    if isinstance(value, int) and not isinstance(value, bool):
        ma = value * 1000
    else:
        ma = int(round(value * 1000))
    if ma < 0:
        ma = -ma
    n = (ma + 5) // 10
    return n if n < 0xFFFF else 0xFFFE


def _watts(value):
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return int(round(value))


def registers(fields):
    """The 8 holding/input registers for the merged normalized ``fields``."""
    g = fields.get
    regs = [_u16(g("u_l1_v"), 10), _u16(g("u_l2_v"), 10), _u16(g("u_l3_v"), 10),
            _milli_to_centi(g("i_l1_a")), _milli_to_centi(g("i_l2_a")), _milli_to_centi(g("i_l3_a"))]
    pi = _watts(g("p_import_w"))
    pe = _watts(g("p_export_w"))
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


def exception_pdu(fc, code):
    return bytes((fc | 0x80, code))


def process_pdu(pdu, regs):
    """Answer a request PDU (function code + data) over the register list ``regs``."""
    if not pdu:
        return exception_pdu(0, ILLEGAL_FUNCTION)
    fc = pdu[0]
    if fc not in (3, 4):
        return exception_pdu(fc & 0x7F, ILLEGAL_FUNCTION)
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


def process_adu(adu, unit_id, regs):
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
        resp = process_pdu(pdu, regs)
    return struct.pack(">HHHB", tid, 0, len(resp) + 1, unit) + resp


class ModbusServer:
    """Started and stopped at run time; when stopped nothing listens (connection refused)."""

    def __init__(self, app):
        self.app = app
        self.server = None
        self.port = None
        self.clients = []

    @property
    def listening(self):
        return self.server is not None

    async def start(self, host, port):
        if self.server is not None:
            await self.stop()
        self.server = await asyncio.start_server(self._client, host, port)
        self.port = port
        self.app.log("INFO", "modbus listening on %s:%d" % (host, port))

    async def stop(self):
        """Close the client connections, then the listening socket."""
        if self.server is None:
            return
        server, clients = self.server, self.clients
        self.server, self.port, self.clients = None, None, []
        await close_server(server, clients)
        self.app.log("INFO", "modbus stopped")

    async def _client(self, reader, writer):
        entry = (writer, asyncio.current_task())
        self.clients.append(entry)
        try:
            while True:
                head = await reader.readexactly(7)
                length = (head[4] << 8) | head[5]
                if length < 2 or length > 254:
                    break
                body = await reader.readexactly(length - 1)
                regs = registers(self.app.state.fields)
                resp = process_adu(head + body, self.app.cfg["modbus"]["unit_id"], regs)
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

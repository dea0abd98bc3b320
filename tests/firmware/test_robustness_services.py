"""Property tests (hypothesis) of the firmware's HTTP, Modbus TCP and MQTT parsers on malformed input, each
over a real loopback socket: the server (or, for MQTT, the client) reads what hypothesis sends, then the
end of stream. The million-input run is benchmarks/fuzz.py's.

HTTP: every answer a well-formed HTTP/1.1 response of a documented status (services/http.py: 200, 400,
401, 403, 404, 405, 413, 431, 503), never 500 nor an ERROR logged (a crash its last-resort handler
caught), and the connection closed. Modbus: the answers byte for byte what the rules of
services/modbus.py give (the register map, exceptions 01/02/03/0B, closing on a bad protocol id or an
impossible length). MQTT: the packets the client parses are MQTT 3.1.1's framing of the broker's bytes
and only the end of stream ends it; a session fed any bytes ends with a connection error, never another
exception. Every exchange must finish within a few seconds of the end of stream (no hang).
"""

from __future__ import annotations

import asyncio
import json
import struct

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from service_app import ServiceApp

from dut_firmware.services import http, modbus, mqtt

SETTINGS = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
DONE_S = 5  # the exchange ends within this after the end of stream, else it hangs
DOCUMENTED = {200, 400, 401, 403, 404, 405, 408, 413, 431, 503}
TZ = "CET-1CEST,M3.5.0,M10.5.0/3"
READING = {"timestamp": "2024-10-01T19:00:00", "meter_id": "6970631400000001", "p_import_w": 1234,
           "p_export_w": 0, "u_l1_mv": 230100, "u_l2_mv": 231200, "u_l3_mv": 229900, "i_l1_ma": 5123,
           "i_l2_ma": 0, "i_l3_ma": 12500}


async def _exchange(server, data: bytes) -> bytes:
    """Send ``data`` to a started server over loopback, end the stream, and read until it closes."""
    port = server.server.sockets[0].getsockname()[1]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(data)
        await writer.drain()
        writer.write_eof()
    except OSError:
        pass  # the server closed first (it may, before reading everything)
    try:
        return await asyncio.wait_for(reader.read(), DONE_S)
    except ConnectionResetError:
        return b""
    finally:
        writer.close()


def _serve(make, data: bytes) -> tuple[bytes, list]:
    async def go():
        app = ServiceApp(reading=READING)
        server = make(app)
        await server.start("127.0.0.1", 0)
        try:
            return await _exchange(server, data), app.logs
        finally:
            await server.stop()

    return asyncio.run(go())


def _mutate(seeds: list[bytes]):
    """A seed with a few bytes flipped, set, inserted or deleted, cut, or spliced with another."""
    @st.composite
    def strategy(draw):
        b = bytearray(draw(st.sampled_from(seeds)))
        for _ in range(draw(st.integers(1, 4))):
            n = len(b)
            i = draw(st.integers(0, n))
            op = draw(st.integers(0, 5))
            if op == 0 and i < n:
                b[i] ^= 1 << draw(st.integers(0, 7))
            elif op == 1 and i < n:
                b[i] = draw(st.integers(0, 255))
            elif op == 2:
                b[i:i] = draw(st.binary(min_size=1, max_size=12))
            elif op == 3:
                del b[i:i + draw(st.integers(1, 16))]
            elif op == 4:
                del b[i:]
            else:
                b += draw(st.sampled_from(seeds))
        return bytes(b)

    return st.one_of(strategy(), st.binary(max_size=400))


# -- HTTP ------------------------------------------------------------------------------------------------
_BODY = json.dumps({"modbus": {"enabled": True, "unit_id": 3}}).encode()
HTTP_SEEDS = [
    b"GET /meter HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
    b"GET /han HTTP/1.0\r\n\r\n",
    b"GET /meter/id HTTP/1.1\r\n\r\nGET /configuration HTTP/1.1\r\n\r\n",
    b"GET /nope?x=1 HTTP/1.1\r\nAuthorization: Bearer abc\r\n\r\n",
    b"POST /configuration HTTP/1.1\r\nContent-Length: %d\r\n\r\n" % len(_BODY) + _BODY,
    b"POST /configuration HTTP/1.1\r\nContent-Length: 7\r\n\r\n{\"a\":1}GET /health HTTP/1.1\r\n\r\n",
]


def _responses(out: bytes) -> list[int]:
    """The statuses of the responses in ``out``, each checked to be well-formed."""
    statuses = []
    i = 0
    while i < len(out):
        end = out.find(b"\r\n\r\n", i)
        assert end > 0, out[i:i + 80]
        lines = out[i:end].decode().split("\r\n")
        version, status, _ = lines[0].split(" ", 2)
        assert version == "HTTP/1.1"
        length = [int(h.split(":")[1]) for h in lines[1:] if h.lower().startswith("content-length:")]
        assert len(length) == 1
        body = out[end + 4:end + 4 + length[0]]
        assert len(body) == length[0]
        json.loads(body)
        statuses.append(int(status))
        i = end + 4 + length[0]
    return statuses


@SETTINGS
@given(_mutate(HTTP_SEEDS))
def test_http_answers_malformed_requests_with_documented_statuses(data):
    out, logs = _serve(http.HttpServer, data)
    statuses = _responses(out)
    assert set(statuses) <= DOCUMENTED, statuses
    assert not [msg for level, msg in logs if level == "ERROR"]


def test_http_oversized_and_odd_requests():
    """The bounds: a head over 2 KiB (431), a body over 4 KiB (413), a bad Content-Length (400)."""
    for data, status in ((b"GET /meter HTTP/1.1\r\nX: " + b"a" * 3000 + b"\r\n\r\n", 431),
                         (b"POST /configuration HTTP/1.1\r\nContent-Length: 5000\r\n\r\n", 413),
                         (b"POST /configuration HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400),
                         (b"GET /meter HTTP/1.1\r\n" + b"X: y\r\n" * 60 + b"\r\n", 431),
                         (b"\xff\xfe / HTTP/1.1\r\n\r\n", 400)):
        out, logs = _serve(http.HttpServer, data)
        assert _responses(out) == [status], data[:40]


# -- Modbus ----------------------------------------------------------------------------------------------
def _req(tid: int, unit: int, fc: int, addr: int, count: int) -> bytes:
    return struct.pack(">HHHBBHH", tid, 0, 6, unit, fc, addr, count)


MODBUS_SEEDS = [_req(1, 1, 3, 0, 8), _req(2, 1, 4, 6, 2), _req(3, 0xFF, 3, 3, 3) + _req(4, 1, 4, 0, 1),
                _req(5, 1, 3, 7, 2), _req(6, 2, 3, 0, 1), _req(7, 1, 6, 0, 1), _req(8, 1, 3, 0, 126)]


def _modbus_rules(data: bytes, regs: list[int], unit_id: int = 1) -> bytes:
    """What a Modbus TCP server with the map ``regs`` answers to ``data``, by the module's rules."""
    out = b""
    i = 0
    while len(data) - i >= 7:
        tid, pid, length, unit = struct.unpack(">HHHB", data[i:i + 7])
        if length < 2 or length > 254 or len(data) - i < 6 + length or pid != 0:
            break
        pdu = data[i + 7:i + 6 + length]
        i += 6 + length
        fc = pdu[0]
        if unit not in (unit_id, 0xFF):
            resp = bytes(((fc & 0x7F) | 0x80, 0x0B))
        elif fc not in (3, 4):
            resp = bytes(((fc & 0x7F) | 0x80, 1))
        elif len(pdu) != 5 or not 1 <= struct.unpack(">H", pdu[3:5])[0] <= 125:
            resp = bytes((fc | 0x80, 3))
        else:
            addr, count = struct.unpack(">HH", pdu[1:5])
            if addr + count > len(regs):
                resp = bytes((fc | 0x80, 2))
            else:
                resp = bytes((fc, 2 * count)) + struct.pack(f">{count}H", *regs[addr:addr + count])
        out += struct.pack(">HHHB", tid, 0, len(resp) + 1, unit) + resp
    return out


@SETTINGS
@given(_mutate(MODBUS_SEEDS))
def test_modbus_answers_malformed_requests_by_its_rules(data):
    out, logs = _serve(modbus.ModbusServer, data)
    regs = modbus.registers(ServiceApp(reading=READING).state.fields)
    assert regs[0] == 2301 and regs[7] == 1234  # the map holds the reading
    assert out == _modbus_rules(data, regs)
    assert not [msg for level, msg in logs if level == "ERROR"]


# -- MQTT ------------------------------------------------------------------------------------------------
_PUBLISH = bytes((0x30, 2 + 16 + 7)) + b"\x00\x10homeassistant/st" + b"online!"
MQTT_SEEDS = [b"\x20\x02\x00\x00", b"\x20\x02\x00\x05", b"\x90\x03\x00\x01\x00", b"\xd0\x00", _PUBLISH,
              b"\x20\x02\x00\x00\x90\x03\x00\x01\x00" + _PUBLISH + b"\xd0\x00",
              b"\x30\x80\x01\x00\x01t" + b"p" * 125]


def _mqtt_framing(data: bytes) -> tuple[list[tuple[int, bytes]], bool]:
    """MQTT 3.1.1 framing of ``data``: (packets, True if a malformed remaining length ends it)."""
    packets = []
    i = 0
    while i < len(data):
        n = shift = k = 0
        while True:
            if i + 1 + k >= len(data):
                return packets, False
            b = data[i + 1 + k]
            n |= (b & 0x7F) << shift
            k += 1
            shift += 7
            if not b & 0x80:
                break
            if k == 4:
                return packets, True
        if i + 1 + k + n > len(data):
            return packets, False
        packets.append((data[i], data[i + 1 + k:i + 1 + k + n]))
        i += 1 + k + n
    return packets, False


async def _broker(data: bytes):
    """A loopback server that sends ``data`` to whoever connects, then closes."""
    async def client(reader, writer):
        try:
            writer.write(data)
            await writer.drain()
        finally:
            writer.close()

    return await asyncio.start_server(client, "127.0.0.1", 0)


def _read_packets(data: bytes) -> tuple[list[tuple[int, bytes]], bool]:
    """(the packets the client parses from a broker sending ``data``, True if it refused a malformed one)."""
    async def go():
        server = await _broker(data)
        reader, writer = await asyncio.open_connection("127.0.0.1", server.sockets[0].getsockname()[1])
        got = []
        try:
            while True:
                got.append(await asyncio.wait_for(mqtt.read_packet(reader), DONE_S))
        except EOFError:
            return got, False
        except OSError:
            return got, True
        finally:
            writer.close()
            server.close()

    return asyncio.run(go())


@SETTINGS
@given(_mutate(MQTT_SEEDS))
def test_mqtt_client_parses_broker_bytes_as_mqtt_frames_them(data):
    assert _read_packets(data) == _mqtt_framing(data)


def test_mqtt_malformed_remaining_length_ends_the_stream():
    """A fourth remaining-length byte with the continuation bit (MQTT 3.1.1 s.2.2.3) ends the session."""
    assert _read_packets(b"\xd0\x00\x30\xff\xff\xff\xff\x01" + b"x" * 16) == ([(0xD0, b"")], True)


class _MqttApp(ServiceApp):
    def __init__(self):
        super().__init__(reading=READING)
        from dut_firmware.hal.unix import UnixHal

        self.hal = UnixHal(self.cfg)

    def on_mqtt_status(self, connected):
        pass


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_mutate(MQTT_SEEDS))
def test_mqtt_session_with_a_broker_sending_garbage_ends_with_a_connection_error(data):
    """The whole session (CONNECT, CONNACK check, receiving) against a broker that sends these bytes and
    closes: it ends with a connection error (OSError, EOFError, a timeout), never another exception."""
    async def go():
        server = await _broker(data)
        client = mqtt.MqttClient(_MqttApp())
        client.settings = {"enabled": True, "host": "127.0.0.1", "port": server.sockets[0].getsockname()[1],
                           "topic": "han/1", "client_id": "han-1", "keepalive": 2}
        try:
            await asyncio.wait_for(client._session(), mqtt.CONNECT_TIMEOUT_S + DONE_S)
        except TimeoutError:
            return "no end: the session hangs"
        except (OSError, EOFError) as exc:
            return exc
        finally:
            client._close()
            server.close()
        return "the session ended without an error"

    assert isinstance(asyncio.run(go()), (OSError, EOFError))

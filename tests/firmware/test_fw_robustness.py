"""Robustness of the reader firmware on the REAL MicroPython unix port (the software DUT), driven by the
rig's own drivers: MQTT bursts after a stall, the idle-gap flush race, bounded HTTP requests, Modbus
shutdown with clients connected. CPython-level units of the same fixes live at the end."""

from __future__ import annotations

import asyncio
import json
import os
import pty
import signal
import socket
import subprocess
import time
import tty
from datetime import datetime
from pathlib import Path

import pytest
import requests

from rig.wait import wait_until

ROOT = Path(__file__).resolve().parents[2]
FW = ROOT / "dut_firmware"
START = datetime(2024, 10, 1, 19, 0, 0)


class RawPty:
    """A raw pty pair: the DUT opens ``device``; ``write`` puts bytes into it at once (no pacing), so a
    burst lands in the kernel buffer in one piece, as after a stall of the reader."""

    def __init__(self) -> None:
        self.master, self.slave = pty.openpty()
        tty.setraw(self.master)
        self.device = os.ttyname(self.slave)

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(self.master, view):]

    def close(self) -> None:
        os.close(self.master)
        os.close(self.slave)


def _frames(count: int, list_no: int | None = None) -> list:
    from rig.emulators import Meter

    frames = Meter("kaifa-ma304h4", seed=1).frames(start=START, count=count * 5 if list_no else count)
    out = [f for f in frames if list_no is None or f.list == list_no]
    return out[:count]


def _bytes_read(pid: int) -> int:
    """Bytes the process has taken in by read() so far (its serial line and its sockets): /proc/PID/io."""
    for row in Path(f"/proc/{pid}/io").read_text().splitlines():
        if row.startswith("rchar:"):
            return int(row.split()[1])
    raise AssertionError(f"/proc/{pid}/io has no rchar")


def _stopped(pid: int) -> bool:
    """True once the process is stopped by a signal (state T in /proc/PID/stat)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat[stat.rindex(")") + 2] in "Tt"


def _read_through(dut, before: int, count: int, what: str) -> None:
    """Wait until the DUT has read ``count`` bytes more than ``before`` (a ``_bytes_read`` value)."""
    wait_until(lambda: _bytes_read(dut.pid) >= before + count, 3, f"the firmware to read {what}",
               lambda: f"it read {_bytes_read(dut.pid) - before} of {count} bytes")


def _dut(tmp_path: Path, device: str, micropython: str, **kwargs):
    from rig.dut.software import SoftwareDut

    return SoftwareDut(tmp_path / "dut", device, micropython=micropython, **kwargs).start()


def _log_clean(dut) -> None:
    text = dut.log_path.read_text(errors="replace")
    assert "Traceback" not in text, text
    assert " ERROR " not in text, text


# -- 1. MQTT: a burst after a stall is published in full --------------------------------------------
@pytest.mark.slow
def test_fw_mqtt_burst_of_60_frames_in_one_write_is_published_in_full(tmp_path, micropython):
    from rig.probes.http import HttpProbe
    from rig.probes.mqtt import MqttProbe
    from rig.services.broker import Mosquitto

    frames = _frames(60, list_no=1)
    assert len(frames) == 60
    line = RawPty()
    topic = "han/SIM-BURST"
    try:
        with Mosquitto(tmp_path / "broker") as broker:
            mqtt = {"host": broker.host, "port": broker.port, "topic": topic}
            dut = _dut(tmp_path, line.device, micropython, mqtt=mqtt)
            try:
                http = HttpProbe(dut.http_url)

                async def exchange():
                    async with MqttProbe(broker.host, broker.port, topic) as probe:
                        await probe.wait_for_status("online", timeout=10)
                        line.write(b"".join(f.data for f in frames))  # one write: ~12 frames per read
                        deadline = time.monotonic() + 10
                        while len(probe.messages) < len(frames) and time.monotonic() < deadline:
                            await asyncio.sleep(0.05)
                        await asyncio.sleep(0.3)  # nothing more may come
                        return list(probe.messages)

                messages = asyncio.run(exchange())
                health = http.health()
                http.close()
            finally:
                dut.stop()
    finally:
        line.close()
    counters = health["counters"]
    assert counters["frames_ok"] == 60, counters
    assert counters["mqtt_not_published"] == 0, counters
    assert counters["mqtt_published"] == 60, counters
    sent = [f.reading["timestamp"] for f in frames]
    got = [m.reading["timestamp"] for m in messages]
    assert got == sent
    assert [m.reading["p_import_w"] for m in messages] == [f.reading["p_import_w"] for f in frames]
    _log_clean(dut)


# -- 2. the idle-gap flush never cuts a frame whose rest already waits in the kernel ------------------
def test_fw_stall_mid_frame_does_not_count_a_truncated_frame(tmp_path, micropython):
    from rig.probes.http import HttpProbe

    frame = _frames(1)[0].data            # List 2, 122 bytes
    line = RawPty()
    try:
        dut = _dut(tmp_path, line.device, micropython)          # clock_scale 1: idle gap 500 ms
        http = HttpProbe(dut.http_url)

        def counted(name: str, value: int) -> bool:
            return http.health()["counters"][name] == value

        try:
            before = _bytes_read(dut.pid)
            line.write(frame[:50])
            _read_through(dut, before, 50, "the first 50 bytes of the frame")
            os.kill(dut.pid, signal.SIGSTOP)      # the process stalls (host load, GC, swap...)
            try:
                wait_until(lambda: _stopped(dut.pid), 3, "the DUT process to stop")
                line.write(frame[50:])            # the rest arrives while it is stopped...
                time.sleep(1.0)                   # ...and waits longer than the idle gap (the stall under test)
            finally:
                os.kill(dut.pid, signal.SIGCONT)
            wait_until(lambda: counted("frames_ok", 1), 3, "the stalled frame to be decoded")
            time.sleep(0.7)                       # one more idle gap: nothing else may be counted
            counters = http.health()["counters"]
            assert counters["frames_ok"] == 1 and counters["truncated"] == 0, counters
            # a real partial frame followed by silence is still counted as truncated
            line.write(frame[:50])
            wait_until(lambda: counted("truncated", 1), 3, "the partial frame to be counted as truncated")
            line.write(frame)
            wait_until(lambda: counted("frames_ok", 2), 3, "the next whole frame to be decoded")
        finally:
            http.close()
            dut.stop()
    finally:
        line.close()
    _log_clean(dut)


# -- 3. HTTP: bounded request head, connection cap ----------------------------------------------------
def _http_get(port: int, data: bytes, timeout: float = 5.0) -> bytes:
    """Send ``data`` (ignoring a reset once the server has answered) and read until the server closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        try:
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass
        out = b""
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                out += chunk
        except ConnectionResetError:
            pass
        return out


def _status(answer: bytes) -> int | None:
    """The status code of an HTTP answer, None when there is no status line (e.g. the connection dropped)."""
    parts = answer.split(b"\r\n", 1)[0].split()
    return int(parts[1]) if len(parts) >= 2 and parts[0] == b"HTTP/1.1" and parts[1].isdigit() else None


def _wanted(status: int, answer: bytes) -> str:
    if not answer:
        return f"wanted a {status} answer; the connection closed without one"
    return f"wanted a {status} answer, got {answer[:200]!r}"


def _health_status(port: int) -> int | None:
    return _status(_http_get(port, b"GET /health HTTP/1.1\r\nConnection: close\r\n\r\n"))


def test_fw_http_long_lines_are_refused_and_the_server_survives(tmp_path, micropython):
    line = RawPty()
    try:
        dut = _dut(tmp_path, line.device, micropython)
        port = dut.http_port
        try:
            # a 100 KB request line
            answer = _http_get(port, b"GET /" + b"A" * 100_000 + b" HTTP/1.1\r\n\r\n")
            assert _status(answer) == 431, _wanted(431, answer)
            # a 100 KB line that never ends
            answer = _http_get(port, b"GET /health HTTP/1.1\r\nX-Big: " + b"B" * 100_000)
            assert _status(answer) == 431, _wanted(431, answer)
            # too many header lines, in a head that fits the size bound
            answer = _http_get(port, b"GET /health HTTP/1.1\r\n" + b"X: 1\r\n" * 60 + b"\r\n")
            assert _status(answer) == 431 and b"header lines" in answer, _wanted(431, answer)
            # a head over the size bound made of many short lines
            answer = _http_get(port, b"GET /health HTTP/1.1\r\n" + b"X-A: 1\r\n" * 1000 + b"\r\n")
            assert _status(answer) == 431, _wanted(431, answer)
            resp = requests.get(dut.http_url + "/health", timeout=2)
            assert resp.status_code == 200 and resp.json()["type"] == "HAN_HEALTH_MESSAGE"
            # pipelined keep-alive requests in one segment are answered in order
            answer = _http_get(port, b"GET /han HTTP/1.1\r\n\r\nGET /health HTTP/1.1\r\nConnection: close\r\n\r\n")
            assert answer.count(b"HTTP/1.1 200 OK") == 2 and b"HAN_STATE_MESSAGE" in answer \
                and b"HAN_HEALTH_MESSAGE" in answer, answer[:300]
            # a POST body split from its head still arrives whole
            with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
                body = b'{"tz": "CET-1CEST,M3.5.0,M10.5.0/3"}'
                first = b"POST /configuration HTTP/1.1\r\nContent-Length: %d\r\n\r\n" % len(body) + body[:5]
                before = _bytes_read(dut.pid)
                s.sendall(first)
                _read_through(dut, before, len(first), "the head and the first bytes of the body")
                s.sendall(body[5:])
                assert _status(s.recv(4096)) == 200
        finally:
            dut.stop()
    finally:
        line.close()
    _log_clean(dut)


def test_fw_http_connection_cap(tmp_path, micropython):
    from dut_firmware.services import http as http_mod

    line = RawPty()
    socks: list[socket.socket] = []
    try:
        dut = _dut(tmp_path, line.device, micropython)
        try:
            for _ in range(http_mod.MAX_CONNECTIONS):   # each one answered, so each one is being served
                s = socket.create_connection(("127.0.0.1", dut.http_port), timeout=5)
                socks.append(s)
                s.sendall(b"GET /health HTTP/1.1\r\n\r\n")    # HTTP/1.1: the connection stays open
                assert _status(s.recv(65536)) == 200
            answer = _http_get(dut.http_port, b"GET /health HTTP/1.1\r\n\r\n")
            assert _status(answer) == 503 and b"too many connections" in answer, _wanted(503, answer)
            for s in socks:
                s.close()
            socks.clear()
            wait_until(lambda: _health_status(dut.http_port) == 200, 3, "/health to answer once the clients left")
        finally:
            for s in socks:
                s.close()
            dut.stop()
    finally:
        line.close()
    _log_clean(dut)


# -- 4. Modbus: disabling closes the connected clients and does not hang ------------------------------
def test_fw_modbus_disable_with_a_client_connected(tmp_path, micropython):
    line = RawPty()
    try:
        dut = _dut(tmp_path, line.device, micropython, modbus_enabled=True)
        try:
            host, port = dut.modbus_address
            client = socket.create_connection((host, port), timeout=5)
            client.sendall(bytes.fromhex("000100000006010300000002"))   # FC 03, 2 registers
            assert client.recv(64)[:9] == bytes.fromhex("000100000007010304")
            t0 = time.monotonic()
            resp = requests.post(dut.http_url + "/configuration", json={"modbus": {"enabled": False}},
                                 timeout=5)
            assert resp.status_code == 200 and time.monotonic() - t0 < 2
            client.settimeout(3)
            try:
                assert client.recv(64) == b""     # the firmware closed the connection
            except ConnectionResetError:
                pass
            client.close()
            with pytest.raises(ConnectionRefusedError):
                socket.create_connection((host, port), timeout=2).close()
        finally:
            dut.stop()
    finally:
        line.close()
    _log_clean(dut)


# -- CPython units -----------------------------------------------------------------------------------
def _cfg():
    from dut_firmware import config

    return config.merge(config.DEFAULTS, {"serial": {"device": "/dev/null-han"},
                                          "http": {"host": "127.0.0.1", "port": 0}})


MP_DECODER_CRASH = r"""
import sys, json
sys.path.insert(0, %(fw)r)
from dut_firmware import app, config
cfg = config.merge(config.DEFAULTS, {"serial": {"device": "/dev/null-han"}})
app = app.App(cfg)
out = [app.health_message()["counters"]["decoder_restarts"]]
def boom(data):
    raise IndexError("bug")
app.decoder.feed = boom
app.feed(b"\x7e\xa0")
c = app.health_message()["counters"]
out.append(c["decoder_restarts"])
out.append(app.state.last_error["code"])
app.feed(bytes.fromhex(%(frame)r))
c = app.health_message()["counters"]
out.append([c["frames_ok"], c["decoder_restarts"]])
print("RESULT " + json.dumps(out))
"""


def test_fw_decoder_crash_is_counted(tmp_path, micropython):
    script = tmp_path / "crash.py"
    script.write_text(MP_DECODER_CRASH % {"fw": str(ROOT), "frame": _frames(1)[0].data.hex()})
    run = subprocess.run([micropython, str(script)], capture_output=True, text=True, timeout=30,
                         cwd=tmp_path)
    lines = run.stdout.splitlines()
    result = [line for line in lines if line.startswith("RESULT ")]
    assert result, run.stdout + run.stderr
    assert json.loads(result[0][7:]) == [0, 1, "decoder", [1, 1]]
    assert any("ERROR decoder exception" in line and "decoder restarted" in line for line in lines)


class _MqttApp:
    def __init__(self):
        from dut_firmware import state as state_mod

        self.state = state_mod.State("CET-1CEST,M3.5.0,M10.5.0/3")
        self.logs = []

    def log(self, level, msg):
        self.logs.append((level, msg))


def test_fw_mqtt_queue_bounded_by_bytes_not_count():
    from dut_firmware.services import mqtt

    app = _MqttApp()
    client = mqtt.MqttClient(app)
    assert client.publish("x" * 300) is False                 # no session: not published
    client.connected = True
    text = "y" * 400
    for _ in range(60):                                       # a catch-up burst fits
        assert client.publish(text) is True
    assert len(client.queue) == 60 and app.state.mqtt_not_published == 0
    n = mqtt.QUEUE_MAX_BYTES // len(text) + 10                # past the byte bound: counted and logged
    for _ in range(n):
        client.publish(text)
    assert client.queued_bytes <= mqtt.QUEUE_MAX_BYTES
    assert app.state.mqtt_not_published == 60 + n - len(client.queue)
    assert any(level == "WARNING" and "queue" in msg for level, msg in app.logs)


def test_fw_modbus_stop_closes_clients_before_the_server():
    from dut_firmware.services import modbus

    class App:
        cfg = {"modbus": {"unit_id": 1}}

        def __init__(self):
            from dut_firmware import state as state_mod

            self.state = state_mod.State("CET-1CEST,M3.5.0,M10.5.0/3")

        def log(self, level, msg):
            pass

    async def go():
        server = modbus.ModbusServer(App())
        await server.start("127.0.0.1", 0)
        port = server.server.sockets[0].getsockname()[1]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(bytes.fromhex("000100000006010300000002"))
        await writer.drain()
        assert (await reader.readexactly(13))[:9] == bytes.fromhex("000100000007010304")
        await asyncio.wait_for(server.stop(), 2)
        assert await asyncio.wait_for(reader.read(), 2) == b""
        writer.close()

    asyncio.run(go())


def test_fw_http_idle_connection_is_closed(monkeypatch):
    from dut_firmware.services import http as http_mod

    class App:
        def __init__(self):
            self.cfg = _cfg()
            self.logs = []

        def log(self, level, msg):
            self.logs.append((level, msg))

        def health_message(self):
            return {"type": "HAN_HEALTH_MESSAGE"}

    monkeypatch.setattr(http_mod, "IDLE_TIMEOUT_S", 0.3)

    async def go():
        server = http_mod.HttpServer(App())
        await server.start("127.0.0.1", 0)
        port = server.server.sockets[0].getsockname()[1]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /health HTTP/1.1\r\n")          # an unfinished head, then silence
        await writer.drain()
        t0 = time.monotonic()
        assert await asyncio.wait_for(reader.read(), 3) == b""
        waited = time.monotonic() - t0
        writer.close()
        await server.stop()
        return waited, server.connections

    waited, open_connections = asyncio.run(go())
    assert 0.2 < waited < 2 and open_connections == 0


def test_fw_hdlc_judges_both_checksums_of_a_meter_frame():
    """The firmware's HDLC parser on a frame of the rig's meter (its own CRC code): a good frame is OK, one
    bit flipped in the information field is a bad FCS, one in the address a bad HCS."""
    from dut_firmware.han import crc, hdlc

    frame = bytearray(_frames(1)[0].data)
    end = len(frame)
    ok = hdlc.parse(frame, 0, end, 1024)
    assert ok[0] == hdlc.OK and ok[1] == end - 1            # just before the closing flag
    assert crc.check(frame, 1, end - 3)                     # the FCS covers format .. last info byte

    info = bytearray(frame)
    info[ok[2]] ^= 0x01
    assert hdlc.parse(info, 0, end, 1024) == (hdlc.BAD_FCS, end - 1)

    address = bytearray(frame)
    address[3] ^= 0x02                                      # keeps the address 1 byte long
    assert hdlc.parse(address, 0, end, 1024) == (hdlc.BAD_HCS,)

"""Smoke test of the reader firmware on the REAL MicroPython unix port (the software DUT).

A pty plays the meter line; a mosquitto of the test's own receives MQTT; the test reads HTTP
(requests), Modbus TCP (pymodbus) and MQTT (aiomqtt), then terminates the firmware.
"""

from __future__ import annotations

import asyncio
import json
import os
import pty
import shutil
import socket
import subprocess
import sys
import time
import tty
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
FW = ROOT / "dut_firmware"
MICROPYTHON = Path(sys.executable).with_name("micropython")

# han-protocols.md 1.5: Kaifa MA304H4 List 2, 2024-10-01 19:00:00 (Norway)
LIST2_HEX = (
    "7E A0 78 01 02 01 10 C4 98 E6 E7 00 0F 40 00 00 00 09 0C 07 E8 0A 01 02 13 00 00 FF 80 00 00"
    "02 0D 09 07 4B 46 4D 5F 30 30 31  09 10 36 39 37 30 36 33 31 34 30 37 32 36 32 39 38 36"
    "09 07 4D 41 33 30 34 48 34"
    "06 00 00 13 C0  06 00 00 00 00  06 00 00 00 00  06 00 00 01 D5"
    "06 00 00 4C DF  06 00 00 05 0C  06 00 00 03 9B"
    "06 00 00 09 34  06 00 00 09 69  06 00 00 09 59  18 EB 7E"
).replace(" ", "")
TS_2024_10_01_1900_OSLO = 1727802000000

pytestmark = pytest.mark.skipif(not MICROPYTHON.exists(), reason="MicroPython unix port not installed")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except ConnectionRefusedError:
        return True
    return False


class Firmware:
    """The firmware as a subprocess on a pty, with its log in ``workdir/dut.log``."""

    def __init__(self, workdir: Path, **overrides) -> None:
        self.master, self.slave = pty.openpty()
        tty.setraw(self.master)
        self.http_port = _free_port()
        self.modbus_port = _free_port()
        self.led_path = workdir / "led.events"
        self.log_path = workdir / "dut.log"
        cfg = {
            "device": {"serial": "SIM-TEST", "name": "HAN reader", "model": "HAN-RIG-SW"},
            "serial": {"device": os.ttyname(self.slave), "baud": 2400},
            "http": {"host": "127.0.0.1", "port": self.http_port},
            "modbus": {"enabled": False, "host": "127.0.0.1", "port": self.modbus_port, "unit_id": 1},
            "tz": "CET-1CEST,M3.5.0,M10.5.0/3",
            "led": {"events": str(self.led_path)},
        }
        for key, value in overrides.items():
            cfg[key] = value
        self.cfg_path = workdir / "config.json"
        self.cfg_path.write_text(json.dumps(cfg))
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen([str(MICROPYTHON), str(FW / "main.py"), str(self.cfg_path)],
                                     stdout=self._log, stderr=subprocess.STDOUT, cwd=workdir)
        self.ready = self._wait_ready()
        self.url = f"http://127.0.0.1:{self.http_port}"

    def _wait_ready(self, timeout: float = 10.0) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.log_path.read_text(errors="replace").splitlines():
                if line.startswith("READY "):
                    return json.loads(line[6:])
            if self.proc.poll() is not None:
                break
            time.sleep(0.02)
        raise AssertionError(f"no READY line; log:\n{self.log()}")

    def write(self, data: bytes) -> None:
        os.write(self.master, data)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        os.close(self.master)
        os.close(self.slave)


def _wait_for(pred, timeout=5.0, step=0.02):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(step)
    return pred()


@pytest.mark.slow
def test_fw_smoke_http_modbus_mqtt(tmp_path):
    if not shutil.which("mosquitto") and not Path("/usr/sbin/mosquitto").exists():
        pytest.skip("mosquitto not installed")
    aiomqtt = pytest.importorskip("aiomqtt")
    from pymodbus.client import ModbusTcpClient

    from rig.services.broker import Mosquitto

    topic = "han/SIM-TEST"
    with Mosquitto(tmp_path / "broker") as broker:
        fw = Firmware(tmp_path, mqtt={"enabled": True, "host": broker.host, "port": broker.port,
                                      "topic": topic, "keepalive": 10})
        try:
            assert fw.ready == {"http": fw.http_port, "modbus": None}
            session = requests.Session()
            resp = session.get(fw.url + "/meter", timeout=2)
            assert resp.status_code == 503
            assert _refused(fw.modbus_port)

            async def mqtt_exchange():
                async with aiomqtt.Client(broker.host, broker.port, identifier="fw-smoke") as client:
                    await client.subscribe(topic + "/#")
                    got = {}
                    sent = False
                    async with asyncio.timeout(10):
                        async for msg in client.messages:
                            got[str(msg.topic)] = (msg.payload, msg.retain)
                            if str(msg.topic) == topic + "/status" and msg.payload == b"online" \
                                    and not sent:
                                fw.write(bytes.fromhex(LIST2_HEX))
                                sent = True
                            if topic in got:
                                return got

            got = asyncio.run(mqtt_exchange())
            assert got[topic + "/status"] == (b"online", True)
            published = json.loads(got[topic][0])
            assert published["type"] == "HAN_METER_MESSAGE"
            assert published["u"] == [235.6, 240.9, 239.3]
            assert published["ts"] == TS_2024_10_01_1900_OSLO

            resp = session.get(fw.url + "/meter", timeout=2)
            assert resp.status_code == 200
            msg = resp.json()
            assert msg == published
            assert msg["u"] == [235.6, 240.9, 239.3]
            assert msg["i"] == [19.679, 1.292, 0.923]
            assert msg["pi"][0] == 5056 and msg["pe"][0] == 0
            assert msg["re"][0] == 469
            assert msg["ts"] == TS_2024_10_01_1900_OSLO
            assert msg["meter_id"] == "6970631407262986" and msg["list"] == 2
            assert session.get(fw.url + "/meter/data", timeout=2).json() == msg
            for _ in range(20):                     # keep-alive session, polled hard
                assert session.get(fw.url + "/meter", timeout=2).status_code == 200

            health = session.get(fw.url + "/health", timeout=2).json()
            assert health["type"] == "HAN_HEALTH_MESSAGE"
            assert health["counters"]["frames_ok"] == 1
            assert health["counters"]["readings_published"] == 1
            assert health["reset_reason"] == "power-on" and health["free_heap"] > 0
            han = session.get(fw.url + "/han", timeout=2).json()
            assert han["online"] is True and han["serial"] == "SIM-TEST"

            # Modbus: refused until enabled at run time, then the map, then refused again
            resp = session.post(fw.url + "/configuration", json={"modbus": {"enabled": True}}, timeout=2)
            assert resp.status_code == 200 and resp.json()["modbus"]["enabled"] is True
            client = ModbusTcpClient("127.0.0.1", port=fw.modbus_port, timeout=2, retries=0)
            assert client.connect()
            regs = client.read_holding_registers(0, count=8, device_id=1)
            assert not regs.isError()
            assert regs.registers == [2356, 2409, 2393, 1968, 129, 92, 0, 5056]
            regs = client.read_input_registers(6, count=2, device_id=1)
            assert regs.registers == [0, 5056]
            bad = client.read_holding_registers(7, count=2, device_id=1)
            assert bad.isError() and bad.exception_code == 2
            client.close()
            resp = session.post(fw.url + "/configuration", json={"modbus": {"enabled": False}}, timeout=2)
            assert resp.status_code == 200
            assert _wait_for(lambda: _refused(fw.modbus_port), timeout=2)

            # a truncated frame is counted after the line goes idle, and shows on the LED
            fw.write(bytes.fromhex(LIST2_HEX)[:50])
            assert _wait_for(lambda: session.get(fw.url + "/health", timeout=2).json()
                             ["counters"]["truncated"] == 1, timeout=3)
            fw.write(bytes.fromhex(LIST2_HEX))     # decoding resumes after the flush
            assert _wait_for(lambda: session.get(fw.url + "/health", timeout=2).json()
                             ["counters"]["frames_ok"] == 2, timeout=3)
            assert session.post(fw.url + "/configuration", data=b"{not json", timeout=2).status_code == 400
            assert session.get(fw.url + "/nope", timeout=2).status_code == 404
            assert session.delete(fw.url + "/meter", timeout=2).status_code == 405
            # let the read-failed LED pattern (about 1 s) play out
            assert _wait_for(lambda: fw.led_path.read_text().count(" 255 0 0\n") >= 2, timeout=3)
        finally:
            fw.stop()

    log = fw.log()
    assert "Traceback" not in log, log
    assert "ERROR" not in log, log
    leds = [tuple(int(x) for x in line.split()[1:]) for line in fw.led_path.read_text().splitlines()]
    assert leds[0] == (32, 0, 0)            # booting: dim red
    assert (255, 0, 255) in leds            # read OK: magenta flash
    assert (0, 32, 0) in leds               # online: dim green
    assert leds.count((255, 0, 0)) >= 2     # read failed: red twice


def test_fw_token_and_no_data(tmp_path):
    fw = Firmware(tmp_path, token="s3cret")
    try:
        session = requests.Session()
        assert session.get(fw.url + "/meter", timeout=2).status_code == 401
        session.headers["Authorization"] = "Bearer wrong"
        assert session.get(fw.url + "/health", timeout=2).status_code == 401
        session.headers["Authorization"] = "Bearer s3cret"
        assert session.get(fw.url + "/meter", timeout=2).status_code == 503
        cfg = session.get(fw.url + "/configuration", timeout=2)
        assert cfg.status_code == 200 and "s3cret" not in cfg.text and cfg.json()["token_set"] is True
    finally:
        fw.stop()
    assert "Traceback" not in fw.log()


MP_UNITS = r"""
import sys
sys.path.insert(0, %(fw)r)
import tz, message, json
from services import modbus
r = tz.Tz("CET-1CEST,M3.5.0,M10.5.0/3")
assert tz.timestamp_to_epoch_ms("2024-10-01T19:00:00", r) == 1727802000000
assert r.utc_offset(2024, 3, 31, 3, 0, 0) == 7200 and r.utc_offset(2024, 10, 27, 3, 0, 0) == 3600
fields = {"u_l1_v": 235.6, "i_l1_a": 19.679, "e_import_wh": 42879838, "p_import_w": 5056}
text = message.build(fields, 1727802000000, 2)
assert '"ic":42879.838' in text and '"u":[235.6,null,null]' in text and '"i":[19.679,null,null]' in text
assert json.loads(text)["pi"][0] == 5056
assert modbus.registers(fields)[:4] == [2356, 65535, 65535, 1968]
print("OK")
"""


def test_fw_pure_modules_on_micropython(tmp_path):
    script = tmp_path / "units.py"
    script.write_text(MP_UNITS % {"fw": str(FW)})
    out = subprocess.run([str(MICROPYTHON), str(script)], capture_output=True, text=True, timeout=30)
    assert out.stdout.strip() == "OK", out.stdout + out.stderr


@pytest.mark.slow
def test_fw_mqtt_reconnects_after_broker_restart(tmp_path):
    if not shutil.which("mosquitto") and not Path("/usr/sbin/mosquitto").exists():
        pytest.skip("mosquitto not installed")
    from rig.services.broker import Mosquitto

    broker = Mosquitto(tmp_path / "broker").start()
    fw = Firmware(tmp_path, clock_scale=10.0,
                  mqtt={"enabled": True, "host": broker.host, "port": broker.port, "topic": "han/x",
                        "keepalive": 10})
    try:
        session = requests.Session()

        def health():
            return session.get(fw.url + "/health", timeout=2).json()

        assert _wait_for(lambda: health()["mqtt"]["connected"], timeout=3)
        broker.stop()
        assert _wait_for(lambda: not health()["mqtt"]["connected"], timeout=3)
        assert session.get(fw.url + "/han", timeout=2).json()["online"] is False
        # the meter side does not wait for the broker: a reading while offline is counted, not queued
        fw.write(bytes.fromhex(LIST2_HEX))
        assert _wait_for(lambda: health()["counters"]["readings_published"] == 1, timeout=2)
        assert health()["counters"]["mqtt_not_published"] == 1
        time.sleep(0.5)
        broker.start()
        assert _wait_for(lambda: health()["mqtt"]["connected"], timeout=10)
        assert health()["mqtt"]["sessions"] == 2
    finally:
        fw.stop()
        broker.stop()
    log = fw.log()
    assert "Traceback" not in log, log
    assert "reconnecting in 100 ms" in log or "reconnecting in 1000 ms" in log, log
    leds = fw.led_path.read_text().splitlines()
    assert any(line.endswith(" 32 0 0") for line in leds[2:])      # offline base colour: dim red

"""Integration test of the reader firmware on the REAL MicroPython unix port (the software DUT).

The rig's drivers play everything around the firmware: a paced pty (``PtyLink``) is the meter line,
``SoftwareDut`` runs ``dut_firmware/main.py``, a mosquitto of the test's own (``Mosquitto``) takes MQTT,
and the probes read HTTP (``HttpProbe``), Modbus TCP (``ModbusProbe``) and MQTT (``MqttProbe``). The
frame sent is the real annotated List 2 of han-protocols.md 1.5 (tests/spec_frames.py), not the rig's
emulator output; the expected wire values (registers, epoch ms) are written out by hand.
"""

from __future__ import annotations

import asyncio
import re
import subprocess
import time

import pytest

from rig.dut import SoftwareDut, find_firmware_dir
from rig.line import LineSettings
from rig.links import PtyLink
from rig.probes.base import ModbusExceptionResponse
from rig.probes.http import HttpProbe
from rig.probes.modbus import ModbusProbe, is_refused
from rig.probes.mqtt import MqttProbe
from rig.services.broker import Mosquitto
from rig.wait import wait_until
from tests.spec_frames import LIST2_HEX, LIST2_READING, unhex

KAIFA_LINE = LineSettings(2400, 8, "E", 1)
SPEED = 100  # line time compression: the 122-byte List 2 takes 5.6 ms instead of 0.56 s
LIST2 = unhex(LIST2_HEX)
R = LIST2_READING
TS_LIST2_MS = 1727802000000  # 2024-10-01 19:00:00 in CET-1CEST (summer time, UTC+2) = 17:00:00Z
REGISTERS_LIST2 = [2356, 2409, 2393, 1968, 129, 92, 0, 5056]  # 0.1 V, 0.01 A, int32 W high word first
TOPIC = "han/smoke"
TOKEN = "s3cret-token"
PASSWORD = "hunter2-mqtt"


@pytest.fixture
def line():
    """The meter line: a paced pty pair; the DUT opens ``line.device``."""
    with PtyLink(KAIFA_LINE, speed=SPEED) as link:
        yield link


def _mqtt(broker: Mosquitto) -> dict:
    """The DUT's MQTT settings for ``broker`` (a short keepalive: a dead broker is noticed quickly)."""
    return {"host": broker.host, "port": broker.port, "topic": TOPIC, "keepalive": 10}


def _poll(condition, timeout: float, what: str, dut: SoftwareDut):
    """Poll ``condition`` until it is truthy (and return it); fail naming ``what``, with the DUT console."""
    return wait_until(condition, timeout, what, lambda: f"DUT console:\n{dut.tail()}")


def _clean_log(dut: SoftwareDut) -> str:
    """The DUT's log, asserted free of Python tracebacks."""
    log = dut.log_path.read_text(errors="replace")
    assert "Traceback" not in log, log
    return log


def _leds(dut: SoftwareDut) -> list[tuple[int, ...]]:
    """The LED colours in order (``led.events``: ``<uptime ms> <r> <g> <b>`` per change)."""
    lines = dut.led_events_path.read_text().splitlines()
    return [tuple(int(x) for x in line.split()[1:]) for line in lines]


async def _first_reading_over_mqtt(broker: Mosquitto, dut: SoftwareDut, link: PtyLink):
    """Wait for the DUT's ``online``, send List 2; return (its MQTT message, the status a late subscriber gets)."""
    async with MqttProbe(broker.host, broker.port, dut.mqtt_topic) as probe:
        await probe.wait_for_status("online", timeout=10)
        # subscribing once 'online' is surely on the broker: the broker must hand over a retained copy
        async with MqttProbe(broker.host, broker.port, dut.mqtt_topic) as late:
            retained = await late.wait_for_status("online", timeout=5)
        await asyncio.to_thread(link.write, LIST2)
        message = await probe.wait_for(timeout=5)
    return message, retained


async def _check_modbus_map(dut: SoftwareDut) -> None:
    async with ModbusProbe(dut.modbus_host, dut.modbus_port, timeout=2) as modbus:
        assert await modbus.read_raw(0, 8, function=3) == REGISTERS_LIST2
        assert await modbus.read_raw(6, 2, function=4) == REGISTERS_LIST2[6:]
        with pytest.raises(ModbusExceptionResponse) as outside:  # 7..8 runs past the map
            await modbus.read_raw(7, 2, function=3)
        assert outside.value.exception_code == 2
        with pytest.raises(ModbusExceptionResponse) as coils:  # only FC 03 and 04 are served
            await modbus.read_raw(0, 1, function=1)
        assert coils.value.exception_code == 1
        reading = await modbus.read()  # the map still answers after the exceptions
        assert reading["u_l1_v"] == R["u_l1_v"] and reading["p_import_w"] == R["p_import_w"]


@pytest.mark.slow
def test_fw_smoke_http_modbus_mqtt(tmp_path, micropython, line):
    with Mosquitto(tmp_path) as broker:
        with SoftwareDut(tmp_path, line.device, mqtt=_mqtt(broker), micropython=micropython) as dut, \
                HttpProbe(dut.http_url) as http:
            assert dut.ready == {"http": dut.http_port, "modbus": None}
            dut.wait_for_line(r"serial .* open", timeout=5)
            # before the first reading: 503, and the Modbus port (disabled by default) refuses
            assert http.request("GET", "/meter").status_code == 503
            assert http.meter() is None
            assert is_refused(dut.modbus_host, dut.modbus_port)

            message, retained = asyncio.run(_first_reading_over_mqtt(broker, dut, line))
            assert retained.retain is True
            assert message.topic == TOPIC
            msg = message.payload
            assert msg["type"] == "HAN_METER_MESSAGE" and msg["list"] == 2
            assert msg["ts"] == TS_LIST2_MS
            assert msg["u"] == [R["u_l1_v"], R["u_l2_v"], R["u_l3_v"]]
            assert msg["i"] == [R["i_l1_a"], R["i_l2_a"], R["i_l3_a"]]
            assert msg["pi"][0] == R["p_import_w"] and msg["pe"][0] == R["p_export_w"]
            assert msg["re"][0] == R["q_export_var"]
            assert msg["meter_id"] == R["meter_id"]

            # HTTP serves the same message, on one keep-alive session polled hard
            assert http.meter_message() == msg
            assert http.meter_message("/meter/data") == msg
            for _ in range(20):
                assert http.request("GET", "/meter").status_code == 200
            health = http.health()
            assert health["type"] == "HAN_HEALTH_MESSAGE"
            assert health["counters"]["frames_ok"] == 1
            assert health["counters"]["readings_published"] == 1
            assert health["reset_reason"] == "power-on" and health["free_heap"] > 0
            han = http.state()
            assert han["online"] is True and han["serial"] == dut.serial_number

            # Modbus: opened at run time by POST /configuration (which answers the new configuration)
            assert http.configure({"modbus": {"enabled": True}})["modbus"]["enabled"] is True
            asyncio.run(_check_modbus_map(dut))
            assert http.configure({"modbus": {"enabled": False}})["modbus"]["enabled"] is False
            _poll(lambda: is_refused(dut.modbus_host, dut.modbus_port), 2, "the Modbus port to close", dut)

            # a truncated frame is counted once the line goes idle, and decoding resumes after it
            line.write(LIST2[:50])
            _poll(lambda: http.health()["counters"]["truncated"] == 1, 3, "the truncated count", dut)
            line.write(LIST2)
            _poll(lambda: http.health()["counters"]["frames_ok"] == 2, 3, "the second List 2", dut)

            bad_json = http.session.post(http.base_url + "/configuration", data=b"{not json", timeout=2)
            assert bad_json.status_code == 400
            assert http.request("GET", "/nope").status_code == 404
            assert http.request("DELETE", "/meter").status_code == 405
            # let the read-failed LED pattern (about 1 s) play out
            _poll(lambda: _leds(dut).count((255, 0, 0)) >= 2, 3, "the read-failed LED pattern", dut)

    log = _clean_log(dut)
    assert "ERROR" not in log, log
    leds = _leds(dut)
    assert leds[0] == (32, 0, 0)            # booting: dim red
    assert (255, 0, 255) in leds            # read OK: magenta flash
    assert (0, 32, 0) in leds               # online: dim green
    assert leds.count((255, 0, 0)) >= 2     # read failed: red twice


def test_fw_token_secrets_and_no_data(tmp_path, micropython, line):
    with SoftwareDut(tmp_path, line.device, extra_config={"token": TOKEN}, micropython=micropython) as dut:
        with HttpProbe(dut.http_url) as anonymous:
            assert anonymous.request("GET", "/meter").status_code == 401
        with HttpProbe(dut.http_url, token="wrong") as wrong:
            assert wrong.request("GET", "/health").status_code == 401
        with HttpProbe(dut.http_url, token=TOKEN) as http:
            assert http.request("GET", "/meter").status_code == 503
            assert http.meter() is None
            cfg = http.request("GET", "/configuration")
            assert cfg.status_code == 200 and TOKEN not in cfg.text and cfg.json()["token_set"] is True

            # secrets are write-only: never echoed; null (a GET answer posted back) keeps them, "" clears
            answer = http.request("POST", "/configuration", {"mqtt": {"password": PASSWORD}})
            assert answer.status_code == 200 and PASSWORD not in answer.text and TOKEN not in answer.text
            assert answer.json()["mqtt"]["password"] is None and answer.json()["mqtt"]["password_set"] is True
            posted_back = http.configure(http.configuration())
            assert posted_back["mqtt"]["password_set"] is True and posted_back["token_set"] is True
            assert http.configure({"mqtt": {"password": ""}})["mqtt"]["password_set"] is False
            assert PASSWORD not in http.request("GET", "/configuration").text

            # an invalid setting is refused (400) and changes nothing
            assert http.request("POST", "/configuration", {"modbus": {"enabled": "yes"}}).status_code == 400
            assert http.configuration()["modbus"]["enabled"] is False
    log = _clean_log(dut)
    assert TOKEN not in log and PASSWORD not in log, log


MP_UNITS = r"""
import sys
sys.path.insert(0, %(fw)r)
import json
from dut_firmware import message, tz
from dut_firmware.services import modbus
r = tz.Tz("CET-1CEST,M3.5.0,M10.5.0/3")
assert tz.timestamp_to_epoch_ms("2024-10-01T19:00:00", r) == 1727802000000
assert r.utc_offset(2024, 3, 31, 3, 0, 0) == 7200 and r.utc_offset(2024, 10, 27, 3, 0, 0) == 3600
fields = {"u_l1_mv": 235600, "i_l1_ma": 19679, "e_import_wh": 42879838, "p_import_w": 5056}
text = message.build(fields, 1727802000000, 2)
assert '"ic":42879.838' in text and '"u":[235.6,null,null]' in text and '"i":[19.679,null,null]' in text
assert json.loads(text)["pi"][0] == 5056
assert modbus.registers(fields)[:4] == [2356, 65535, 65535, 1968]
print("OK")
"""


def test_fw_pure_modules_on_micropython(tmp_path, micropython):
    script = tmp_path / "units.py"
    script.write_text(MP_UNITS % {"fw": str(find_firmware_dir().parent)})
    out = subprocess.run([micropython, str(script)], capture_output=True, text=True, timeout=30)
    assert out.stdout.strip() == "OK", out.stdout + out.stderr


async def _status(broker: Mosquitto, topic: str) -> str | None:
    async with MqttProbe(broker.host, broker.port, topic) as probe:
        return (await probe.wait_for_status("online", timeout=5)).status


@pytest.mark.slow
def test_fw_mqtt_reconnects_after_broker_restart(tmp_path, micropython, line):
    broker = Mosquitto(tmp_path).start()
    try:
        with SoftwareDut(tmp_path, line.device, mqtt=_mqtt(broker), clock_scale=10.0, micropython=micropython) as dut, \
                HttpProbe(dut.http_url) as http:

            def connected() -> bool:
                return http.health()["mqtt"]["connected"]

            dut.wait_for_line(r"serial .* open", timeout=5)
            _poll(connected, 3, "the MQTT session", dut)
            broker.stop()
            _poll(lambda: not connected(), 3, "the MQTT session to drop", dut)
            assert http.state()["online"] is False
            # the meter side does not wait for the broker: a reading while offline is counted, not queued
            line.write(LIST2)
            _poll(lambda: http.health()["counters"]["readings_published"] == 1, 2, "the offline reading", dut)
            assert http.health()["counters"]["mqtt_not_published"] == 1
            time.sleep(0.5)
            broker.start()
            _poll(connected, 10, "the MQTT session after the broker restart", dut)
            assert http.health()["mqtt"]["sessions"] == 2
            # the restarted broker kept nothing (no persistence): the DUT announces itself again
            assert asyncio.run(_status(broker, dut.mqtt_topic)) == "online"
    finally:
        broker.stop()
    log = _clean_log(dut)
    first = re.search(r"reconnecting in (\d+) ms", log)
    assert first and 750 <= int(first.group(1)) <= 1250, log  # the 1 s first step, +-25 % jitter
    leds = dut.led_events_path.read_text().splitlines()
    assert any(event.endswith(" 32 0 0") for event in leds[2:])      # offline base colour: dim red

"""The firmware's factory reset (dut_firmware/factory.py) on the software DUT through its control channel:
a press after a hold of 30 s of device time resets every setting and the stored file; a shorter hold
resets nothing."""

from __future__ import annotations

import time

import pytest

from rig.dut.software import SoftwareDut
from rig.emulators import get_profile
from rig.eol.sequence import not_default
from rig.led.control import send_control
from rig.links import open_link
from rig.probes.http import HttpProbe
from rig.wait import wait_until

SPEED = 60.0


@pytest.fixture
def dut(tmp_path):
    link = open_link("sim", get_profile("kaifa-ma304h4").line, speed=SPEED)
    unit = SoftwareDut(tmp_path, link.device, clock_scale=SPEED, modbus_enabled=True, serial_number="FR-1")
    unit.start()
    http = HttpProbe(unit.http_url)
    yield unit, http
    http.close()
    unit.stop()
    link.close()


def _hold(unit, device_s: float) -> None:
    send_control(unit.led_events_path, "button hold")
    unit.wait_for_line("control: button held", timeout=3)
    time.sleep(device_s / SPEED)
    send_control(unit.led_events_path, "button press")


def test_a_short_hold_resets_nothing(dut) -> None:
    unit, http = dut
    http.configure({"log_level": "debug", "persist": True})
    _hold(unit, 10.0)
    unit.wait_for_line(r"button held \d+ ms \(less than 30000\): no factory reset", timeout=3)
    assert http.configuration()["log_level"] == "debug" and unit.saved_config()["log_level"] == "debug"


def test_a_long_hold_then_a_press_resets_settings_and_file(dut) -> None:
    unit, http = dut
    http.configure({"log_level": "debug", "persist": True, "mqtt": {"topic": "x/y"}})
    assert {"modbus.enabled", "mqtt.topic", "log_level", "persist"} <= set(not_default(http.configuration()))
    _hold(unit, 31.0)
    unit.wait_for_line("factory reset: every setting back to its default", timeout=3)
    assert not_default(http.configuration()) == []
    wait_until(lambda: not not_default(unit.saved_config(), secrets_public=False), 3, "the stored defaults")
    kept = http.configuration()
    assert kept["device"]["serial"] == "FR-1" and kept["http"]["port"] == unit.http_port  # identity and wiring

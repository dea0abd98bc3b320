"""The LED paths of a bench on the real software DUT: the simulated photodiode (through pyvisa-py) and
camera (through OpenCV) opened from a bench's [led] section, a window recorded on both at once."""

from __future__ import annotations

from contextlib import ExitStack

import pytest

from rig.dut import SoftwareDut
from rig.led.control import send_control
from rig.led.session import LedPathError, open_paths, watch_all
from rig.line import LineSettings
from rig.links import PtyLink

LED = {"photodiode": "sim", "photodiode_rate_hz": 1000.0, "camera": "sim", "camera_roi": [180, 90, 40, 40]}


def test_both_paths_see_the_same_pattern(tmp_path, micropython) -> None:
    with PtyLink(LineSettings(2400, 8, "E", 1), speed=100) as link, \
            SoftwareDut(tmp_path, link.device, micropython=micropython) as dut, ExitStack() as stack:
        paths = open_paths(LED, dut, tmp_path, stack)
        assert set(paths) == {"photodiode", "camera"}
        watches = watch_all(paths, 1.6, lambda: send_control(dut.led_events_path, "wifi ap"), 0.6)
    for name, watch in watches.items():
        assert watch.verdict("ap_mode").ok, (name, watch.verdict("ap_mode").message)
        assert not watch.verdict("wifi_error").ok
    assert watches["photodiode"].rate_hz == 1000.0 and watches["camera"].rate_hz == 30.0
    assert (tmp_path / "camera-001.avi").is_file()  # the simulated camera's film, read back by the driver


def test_sim_needs_a_software_dut(tmp_path) -> None:
    with ExitStack() as stack, pytest.raises(LedPathError, match="software DUT"):
        open_paths({"photodiode": "sim"}, None, tmp_path, stack)


def test_camera_without_region(tmp_path, micropython) -> None:
    with PtyLink(LineSettings(2400, 8, "E", 1), speed=100) as link, \
            SoftwareDut(tmp_path, link.device, micropython=micropython) as dut, ExitStack() as stack:
        paths = open_paths({"camera": "sim"}, dut, tmp_path, stack)
        paths["camera"].begin(0.2)
        with pytest.raises(LedPathError, match="rig led calibrate"):
            paths["camera"].finish(0.2)


def test_camera_as_a_live_stream(tmp_path, micropython) -> None:
    led = {"camera": "sim-stream", "camera_roi": [180, 90, 40, 40]}
    with PtyLink(LineSettings(2400, 8, "E", 1), speed=100) as link, \
            SoftwareDut(tmp_path, link.device, micropython=micropython) as dut, ExitStack() as stack:
        paths = open_paths(led, dut, tmp_path, stack)
        assert paths["camera"].sim is None and str(paths["camera"].source).startswith("http://127.0.0.1:")
        watches = watch_all(paths, 2.0, lambda: send_control(dut.led_events_path, "wifi error"), 0.6)
    assert watches["camera"].verdict("wifi_error").ok, watches["camera"].verdict("wifi_error").message

"""The firmware's LED state machine on the real MicroPython unix port: each state of the pattern table
(rig/led/patterns.json) provoked (frames on the line, the HAL's control channel) and the events file
the HAL writes compared with the table through the rig's decoder."""

from __future__ import annotations

import time

import pytest

from rig.dut import SoftwareDut
from rig.led.control import PROVOKE, send_control
from rig.led.decoder import observe, segments_from_events, verdict
from rig.led.patterns import load_patterns
from rig.led.render import parse_events
from rig.line import LineSettings
from rig.links import PtyLink
from rig.wait import wait_until
from tests.spec_frames import LIST2_HEX, unhex

T = load_patterns()
TOL = T.tolerance("events")
LIST2 = unhex(LIST2_HEX)
BAD = LIST2[:-3] + bytes([LIST2[-3] ^ 0xFF]) + LIST2[-2:]  # the frame check sequence broken


@pytest.fixture(scope="module")
def dut(tmp_path_factory, micropython):
    workdir = tmp_path_factory.mktemp("led")
    with PtyLink(LineSettings(2400, 8, "E", 1), speed=100) as link, \
            SoftwareDut(workdir, link.device, micropython=micropython) as dut:
        dut.link = link
        yield dut


def _events(dut: SoftwareDut):
    return parse_events(dut.led_events_path.read_text())


def _back_to_base(dut: SoftwareDut, before: list) -> bool:
    """A one-shot pattern has ended: it showed something, then the colour from before it again."""
    new = _events(dut)[len(before):]
    return len(new) >= 2 and new[-1][1:] == before[-1][1:]


def _after(dut: SoftwareDut, action, settle_s: float | None = None, end_action=None):
    """The events from the last one before ``action`` until the LED is back to its colour from before (a
    one-shot pattern, however loaded the machine), or until ``settle_s`` later and ``end_action``."""
    before = _events(dut)
    action()
    if settle_s is None:
        wait_until(lambda: _back_to_base(dut, before), 5, "the pattern to end on the colour from before it")
    else:
        time.sleep(settle_s)
    if end_action is not None:
        count = len(_events(dut))
        end_action()
        wait_until(lambda: len(_events(dut)) > count, 2, "the LED to leave the mode")
    events = _events(dut)
    window = events[len(before) - 1:]
    end = events[-1][0] if end_action is not None else window[-1][0] + 700
    if end_action is not None:
        window = window[:-1]
    return window, end


def _check(name: str, window, end) -> None:
    segs = segments_from_events(window, end)
    obs = observe(segs, T, TOL)
    result = verdict(obs, T.state(name), T, TOL)
    assert result.ok, f"{result.message}; events {window}"


def test_booting_then_online(dut) -> None:
    wait_until(lambda: len(_events(dut)) >= 2, 3, "the LED to leave booting")
    events = _events(dut)
    assert events[1][0] - events[0][0] >= 500  # booting shows at least 500 ms, however fast the start
    assert events[0][1:] == T.rgb("red", "dim")  # booting: dim red from the first instant
    assert events[1][1:] == T.rgb("green", "dim")  # then online (no MQTT: the network is up)
    _check("booting", events[:1], events[1][0])
    _check("online", events[1:2], events[1][0] + 1000)


def test_read_ok_on_a_good_frame(dut) -> None:
    _check("read_ok", *_after(dut, lambda: dut.link.write(LIST2)))


def test_read_failed_on_a_bad_checksum(dut) -> None:
    _check("read_failed", *_after(dut, lambda: dut.link.write(BAD)))


@pytest.mark.parametrize("name", ["handshake", "ap_mode", "wifi_error"])
def test_one_shot_states_by_control(dut, name: str) -> None:
    start, _ = PROVOKE[name]
    _check(name, *_after(dut, lambda: send_control(dut.led_events_path, *start)))


@pytest.mark.parametrize("name", ["offline", "firmware_update", "critical_error", "factory_reset"])
def test_modes_by_control(dut, name: str) -> None:
    start, end = PROVOKE[name]
    window, end_ms = _after(dut, lambda: send_control(dut.led_events_path, *start), 1.3,
                            lambda: send_control(dut.led_events_path, *end))
    _check(name, window, end_ms)
    assert _events(dut)[-1][1:] == T.rgb("green", "dim") or name == "offline"


def test_factory_reset_by_button_is_logged_and_unknown_control_warns(dut) -> None:
    send_control(dut.led_events_path, "button hold", "button press", "dance")
    dut.wait_for_line(r"control: button pressed: factory reset", timeout=3)
    dut.wait_for_line(r"WARNING unknown LED control 'dance'", timeout=3)


def test_wrong_decryption_key_shows_as_failed_read(tmp_path, micropython) -> None:
    """A frame the reader cannot decrypt is a failed read on the LED, never a silent 'no data'."""
    from rig.emulators import Meter, get_profile
    from rig.emulators.security import Security

    profile = get_profile("kaifa-ma304h4")
    meter_key, wrong_key = bytes(range(16)), bytes(range(16, 32))
    meter = Meter(profile, seed=1, security=Security(key=meter_key, system_title=bytes.fromhex("4B464D1020000001")))
    frame = next(iter(meter.frames(count=1))).data
    with PtyLink(LineSettings(2400, 8, "E", 1), speed=100) as link, \
            SoftwareDut(tmp_path, link.device, micropython=micropython,
                        extra_config={"meter": {"key": wrong_key.hex()}}) as dut:
        dut.link = link
        wait_until(lambda: len(_events(dut)) >= 2, 3, "the LED to leave booting")
        _check("read_failed", *_after(dut, lambda: link.write(frame)))
        assert T.rgb("magenta", "high") not in [e[1:] for e in _events(dut)]

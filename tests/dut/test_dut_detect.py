"""Line-settings detection end to end: the firmware (real MicroPython) with ``serial.baud: "auto"`` reads a
pty in UART mode, which delivers garbage until the firmware's settings match the meter's."""

from __future__ import annotations

import time
from datetime import datetime

import pytest
import requests

from rig.dut import SoftwareDut
from rig.emulators import Meter, get_profile
from rig.links import PtyLink

SPEED = 10
START = datetime(2024, 10, 1, 19, 0, 0)
ERRORS = ("framing_errors", "checksum_errors", "truncated", "oversized", "unknown_format")


def health(dut: SoftwareDut) -> dict:
    return requests.get(dut.http_url + "/health", timeout=5).json()


class Player:
    """Plays a meter's frames on their schedule (compressed by SPEED) into a link, from a thread-free loop.

    A P1 meter sends only while the reader raises the data-request line (``link.request_line()``)."""

    def __init__(self, link: PtyLink, profile_id: str) -> None:
        self.link = link
        self.profile = get_profile(profile_id)
        self.frames = iter(Meter(self.profile, seed=1, start=START).frames())
        self.t0 = time.monotonic()
        self.first = None
        self.sent = 0
        self.withheld = 0

    def play_until(self, done, timeout: float, dut: SoftwareDut) -> None:
        """Send frames on time until ``done()`` is truthy; AssertionError after ``timeout`` s."""
        deadline = time.monotonic() + timeout
        while not done():
            assert time.monotonic() < deadline, f"timed out; DUT log:\n{dut.tail()}"
            frame = next(self.frames)
            self.first = self.first or frame.at
            due = self.t0 + (frame.at - self.first).total_seconds() / SPEED
            time.sleep(max(0.0, due - time.monotonic()))
            if self.profile.protocol.startswith("P1") and self.link.request_line() is False:
                self.withheld += 1
                continue
            self.link.write(frame.data)
            self.sent += 1


def serial_is(dut: SoftwareDut, baud: int, parity: str):
    def check():
        s = health(dut)["serial"]
        return s if (s["baud"], s["parity"], s["detected"]) == (baud, parity, True) else None
    return check


def start_dut(tmp_path, link: PtyLink, **line) -> SoftwareDut:
    extra = {"persist": True, "line": line} if line else {"persist": True}
    dut = SoftwareDut(tmp_path, link.device, baud="auto", clock_scale=SPEED, extra_config=extra).start()
    dut.wait_for_line(r"serial .* open", timeout=5)
    return dut


def test_finds_2400_8e1_for_a_kaifa_stream_starting_from_a_wrong_remembered_setting(tmp_path):
    profile = get_profile("kaifa-ma304h4")
    with PtyLink(profile.line, speed=SPEED, uart=True) as link:
        dut = start_dut(tmp_path, link, detected="115200 8N1")
        try:
            assert link.dut_line()[0].baud == 115200  # it starts where it left off
            player = Player(link, profile.id)
            player.play_until(serial_is(dut, 2400, "E"), 30, dut)
            assert link.garbled > 0  # frames were sent while the settings differed
            before = health(dut)["counters"]
            player.play_until(lambda: health(dut)["counters"]["frames_ok"] >= before["frames_ok"] + 3, 10, dut)
            after = health(dut)
            assert after["serial"]["state"] == "detected" and after["serial"]["auto"] is True
            assert sum(after["counters"][k] for k in ERRORS) == sum(before[k] for k in ERRORS)
            assert requests.get(dut.http_url + "/meter", timeout=5).json()["list"] in (1, 2, 3)
            assert dut.saved_config()["line"]["detected"] == "2400 8E1"
        finally:
            dut.stop()
    log = dut.log_path.read_text()
    assert "line detected: 2400 8E1" in log and "Traceback" not in log


def test_finds_115200_8n1_for_an_e360_stream_counting_the_mismatch(tmp_path):
    profile = get_profile("landis-gyr-e360")
    with PtyLink(profile.line, speed=SPEED, uart=True) as link:
        dut = start_dut(tmp_path, link, bad_frames=2)
        try:
            assert link.request_line() is True  # a P1 reader raises the data request
            player = Player(link, profile.id)
            player.play_until(serial_is(dut, 115200, "N"), 40, dut)
            counters = health(dut)["counters"]
            assert sum(counters[k] for k in ERRORS) > 0  # the 2400 8E1 garbage, counted
            ok = counters["frames_ok"]
            player.play_until(lambda: health(dut)["counters"]["frames_ok"] >= ok + 2, 10, dut)
            msg = requests.get(dut.http_url + "/meter", timeout=5).json()
            assert msg["list"] is None and msg["meter_type"] == "E360"  # published after detection
            assert dut.saved_config()["line"]["detected"] == "115200 8N1"
            assert player.withheld == 0
            # the reader lowers the request: the meter stops sending, which the reader takes for silence
            r = requests.post(dut.http_url + "/configuration", json={"line": {"data_request": False}}, timeout=5)
            assert r.status_code == 200, r.text
            assert link.request_line() is False and health(dut)["serial"]["data_request"] is False
            player.play_until(lambda: player.withheld >= 2, 10, dut)
        finally:
            dut.stop()
    log = dut.log_path.read_text()
    assert "line detected: 115200 8N1" in log and "Traceback" not in log


def test_detects_again_when_the_meter_changes(tmp_path):
    kaifa, e360 = get_profile("kaifa-ma304h4"), get_profile("landis-gyr-e360")
    with PtyLink(kaifa.line, speed=SPEED, uart=True) as link:
        dut = start_dut(tmp_path, link, bad_frames=2)
        try:
            Player(link, kaifa.id).play_until(serial_is(dut, 2400, "E"), 20, dut)
            link.set_line(e360.line)  # the Kaifa is replaced by an E360 on the same port
            player = Player(link, e360.id)
            player.play_until(serial_is(dut, 115200, "N"), 60, dut)
            errors = sum(health(dut)["counters"][k] for k in ERRORS)
            assert errors >= 2  # at least the bad frames that started the new detection
            assert dut.saved_config()["line"]["detected"] == "115200 8N1"
        finally:
            dut.stop()
    log = dut.log_path.read_text()
    assert log.index("line detected: 2400 8E1") < log.index("line detected: 115200 8N1")
    assert "Traceback" not in log


def test_software_dut_takes_a_baud_rate_or_auto(tmp_path):
    from rig.dut.base import DutError

    assert SoftwareDut(tmp_path, "/dev/null", baud="auto").config["serial"] == {"device": "/dev/null", "baud": "auto"}
    for bad in ("fast", 0, True):
        with pytest.raises(DutError, match="baud"):
            SoftwareDut(tmp_path, "/dev/null", baud=bad)

"""SoftwareDut with the real firmware (dut_firmware/main.py) on the real MicroPython unix port."""

import os
from datetime import datetime

import pytest
import requests

from rig.capture import read_capture
from rig.dut import SoftwareDut
from rig.emulators import Meter, get_profile
from rig.line import LineSettings
from rig.links import PtyLink
from rig.wait import wait_until


def test_real_firmware_ready_health_stop(tmp_path):
    with PtyLink(LineSettings(2400, 8, "E", 1), speed=100) as link:
        dut = SoftwareDut(tmp_path, link.device)
        with dut:
            assert dut.alive()
            assert dut.ready is not None and dut.ready["http"] == dut.http_port
            assert dut.ready.get("modbus") is None
            r = requests.get(dut.http_url + "/health", timeout=5)
            assert r.status_code == 200, r.text
            health = r.json()
            assert "uptime_s" in health and "counters" in health
            assert requests.get(dut.http_url + "/meter", timeout=5).status_code == 503  # no reading yet
            pid = dut.pid
            dut.wait_for_line(r"serial .* open", timeout=5)
            assert link.dut_termios() == 2400  # the firmware set the line up
        assert not dut.alive()
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
        assert "READY" in dut.log_path.read_text()


def test_frames_over_the_pty_reach_the_firmware(tmp_path):
    """End to end: emulator frames -> paced pty -> firmware -> HTTP /meter."""
    profile = get_profile("kaifa-ma304h4")
    meter = Meter(profile, seed=1, start=datetime(2024, 10, 1, 19, 0, 0))
    with PtyLink(profile.line, speed=10, log_path=tmp_path / "line.jsonl") as link, \
            SoftwareDut(tmp_path, link.device, baud=profile.line.baud) as dut:
        dut.wait_for_line(r"serial .* open", timeout=5)
        frames = list(meter.frames(count=3))
        for frame in frames:
            link.write(frame.data)
        health = wait_until(lambda: (h := requests.get(dut.http_url + "/health", timeout=5).json())
                            ["counters"]["frames_ok"] >= 3 and h, 5, "3 frames decoded", hint=dut.tail)
        assert health["counters"]["frames_ok"] == 3, dut.tail()
        assert requests.get(dut.http_url + "/meter", timeout=5).status_code == 200
    assert link.dropped == 0
    assert [chunk.data for chunk in read_capture(tmp_path / "line.jsonl").chunks] == [f.data for f in frames]


@pytest.mark.parametrize("frozen", [False, True], ids=["source", "frozen"])
def test_a_copy_of_the_package_under_another_name_runs_as_a_package(tmp_path, frozen):
    """The package runs as ``-m <name>.main`` from the folder holding it (source) or its frozen copy."""
    import shutil

    from rig.dut.locate import find_firmware_dir

    copy = tmp_path / "builds" / "head_build"
    shutil.copytree(find_firmware_dir(), copy, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    with PtyLink(LineSettings(2400, 8, "E", 1), speed=100) as link, \
            SoftwareDut(tmp_path / "run", link.device, firmware_dir=copy, frozen=frozen) as dut:
        assert requests.get(dut.http_url + "/health", timeout=5).status_code == 200
        entry = "dut_firmware.main" if frozen else "head_build.main"
        assert dut.command()[-3:-1] == ["-m", entry]
        assert (dut.run_dir / entry.split(".")[0] / "app.py").is_file() != frozen
        assert frozen or dut.run_dir == copy.parent


def test_a_package_folder_that_is_not_an_importable_name_is_refused_from_source(tmp_path):
    import shutil

    from rig.dut.base import DutError
    from rig.dut.locate import find_firmware_dir

    copy = tmp_path / "head-build"
    shutil.copytree(find_firmware_dir(), copy, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    dut = SoftwareDut(tmp_path / "run", "/dev/null", firmware_dir=copy, frozen=False)
    with pytest.raises(DutError, match="'head-build' is not an importable name"):
        dut.start()

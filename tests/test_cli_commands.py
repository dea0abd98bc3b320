"""The `rig` console script end to end, as a user runs it: real processes, the software DUT, mosquitto."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import requests

from rig.wait import wait_until

RIG = str(Path(sys.executable).with_name("rig"))


def test_rig_run_checks_every_frame_and_writes_the_run_folder(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    done = subprocess.run(
        [RIG, "run", "--no-store", "--duration", "20s", "--speed", "4", "--start", "2024-10-01T18:59:54", "--json",
         "--run-dir", str(run_dir)],
        capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    summary = json.loads(done.stdout)
    assert summary["ok"] is True
    assert summary["frames_sent"] == summary["frames_decoded"] == 10
    assert summary["frames_by_list"] == {"1": 8, "2": 1, "3": 1}
    for interface in ("http", "modbus", "mqtt"):
        assert summary["interfaces"][interface]["failed"] == 0
        assert summary["interfaces"][interface]["passed"] + summary["interfaces"][interface]["overtaken"] == 10
    for name in ("summary.json", "frames.jsonl", "line.jsonl", "dut.log", "mosquitto.log"):
        assert (run_dir / name).stat().st_size > 0, name
    frames = [line for line in (run_dir / "frames.jsonl").read_text().splitlines() if not line.startswith("#")]
    assert len(frames) == 10  # one line per frame, after the header comment


def test_rig_dut_serves_what_rig_emulate_plays_into_its_meter_port(tmp_path: Path) -> None:
    dut = subprocess.Popen([RIG, "dut", "--json"], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True)
    try:
        info = json.loads(dut.stdout.readline())
        assert set(info) >= {"serial_device", "meter_port", "http_url", "modbus_port", "mqtt_host", "mqtt_port",
                             "mqtt_topic"}
        assert requests.get(info["http_url"] + "/meter", timeout=2).status_code == 503
        played = subprocess.run(
            [RIG, "emulate", "--meter", "kaifa-ma304h3e", "--port", info["meter_port"], "--duration", "4s",
             "--start", "2024-10-01T19:00:00", "--speed", "2"],
            capture_output=True, text=True, timeout=60,
        )
        assert played.returncode == 0, played.stderr
        assert "2 writes sent" in played.stderr
        message = wait_until(  # the frame of 19:00:02 CEST
            lambda: (m := requests.get(info["http_url"] + "/meter", timeout=2).json()).get("ts") == 1727802002000 and m,
            5, "the second frame on /meter")
        assert message["ts"] == 1727802002000
        assert message["meter_type"] == "MA304H3E" and message["u"][1] is None
    finally:
        dut.terminate()
        dut.wait(timeout=10)


def test_rig_test_writes_html_and_junit_reports(tmp_path: Path) -> None:
    done = subprocess.run([RIG, "test", "-k", "availability", "-q", "-p", "no:cacheprovider"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    (run_dir,) = (tmp_path / "reports").iterdir()
    html = (run_dir / "report.html").read_text()
    assert "HAN reader scenarios" in html and "dut.log" in html
    suite = ET.parse(run_dir / "junit.xml").getroot().find("testsuite")
    assert int(suite.get("tests")) >= 2 and int(suite.get("failures")) == 0 and int(suite.get("errors")) == 0
    assert any(p.name == "dut.log" for p in run_dir.rglob("dut.log"))

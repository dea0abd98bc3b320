"""The streaming core of `rig run` against the real software DUT: what it keeps when things go wrong."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from datetime import datetime
from pathlib import Path

import pytest

from rig.bench import load_bench
from rig.capture import read_capture
from rig.checks import InterfaceSummary
from rig.dut.locate import find_firmware_dir
from rig.emulators.faults import parse_fault
from rig.record import SCHEMA, Record
from rig.runner import RunOptions, RunResult, default_start, format_summary, run
from rig.session import RunDirInUse

RIG = str(Path(sys.executable).with_name("rig"))
FIRMWARE_VERSION = re.search(r'^VERSION = "(.+)"', (Path(__file__).resolve().parents[1] / "dut_firmware" / "config.py")
                             .read_text(), re.M).group(1)  # type: ignore[union-attr]


def test_run_summary_counts_lists_and_is_ok_only_when_everything_passed(tmp_path: Path) -> None:
    result = run(RunOptions(bench=load_bench(), run_dir=tmp_path, duration_s=12, speed=6,
                            start=datetime(2024, 10, 1, 19, 0, 0)))
    assert result.ok, result.as_dict()
    assert result.frames_by_list == {2: 1, 1: 4, 3: 1}
    assert result.frames_decoded == 6
    assert result.expected_counts == {"frames_ok": 6} and not result.count_mismatches


def test_a_run_with_faults_counts_them_exactly_and_says_so(tmp_path: Path) -> None:
    # speed 4: the reader's idle gap (150 ms real at least) stays within the second of meter time the
    # injectors leave idle before garbage that follows a damaged frame
    result = run(RunOptions(bench=load_bench(), run_dir=tmp_path, duration_s=16, speed=4,
                            start=datetime(2024, 10, 1, 19, 0, 0), faults=[parse_fault("bad_fcs:3"),
                                                                          parse_fault("garbage:8")]))
    assert result.ok, format_summary(result)
    assert result.expected_counts["checksum_errors"] == 2 == result.dut_counters["checksum_errors"]
    assert result.faults and result.frames_sent == 6
    summary = format_summary(result)
    assert "faults injected" in summary and "checksum_errors" in summary
    assert json.loads((tmp_path / "summary.json").read_text())["expected_counts"]["checksum_errors"] == 2


def test_a_capture_replays_into_the_dut_and_is_judged_on_its_expectations(tmp_path: Path) -> None:
    capture = Path(__file__).resolve().parents[1] / "captures" / "kaifa" / "no-ma304h4-2024-10-01.jsonl"
    result = run(RunOptions(bench=load_bench(), run_dir=tmp_path, speed=4, capture=capture))
    assert result.ok, format_summary(result)
    assert result.frames_sent == 3 and result.frames_decoded == 3
    assert result.interfaces["http"].passed + result.interfaces["http"].overtaken == 3


def test_default_start_is_half_a_minute_before_the_next_hour() -> None:
    assert default_start(datetime(2024, 10, 1, 18, 12, 5, 7)) == datetime(2024, 10, 1, 18, 59, 30)


@pytest.mark.parametrize(
    "start, real_s, list3_at",
    [
        # 02:59:00 CEST (the first pass) for 3 real minutes: 02:59:58 CEST is followed by 02:00:00 CET, the
        # hour played again, with its List 3 at 02:00:10 CET
        (datetime(2024, 10, 27, 2, 59), 180, "2024-10-27T02:00:10"),
        # 01:59:00 CET for 2 real minutes: the clock skips 02:00-03:00, no List 3 at 02:00:10, one at 03:00:10
        (datetime(2024, 3, 31, 1, 59), 120, "2024-03-31T03:00:10"),
    ],
    ids=["october", "march"],
)
def test_a_run_across_a_daylight_saving_change_passes(tmp_path: Path, start: datetime, real_s: int,
                                                       list3_at: str) -> None:
    result = run(RunOptions(bench=load_bench(), run_dir=tmp_path, meter="kaifa-ma304h4", start=start,
                            duration_s=real_s, speed=20))
    assert result.ok, format_summary(result)
    assert result.frames_sent == real_s // 2 == result.frames_decoded
    lines = (tmp_path / "frames.jsonl").read_text().splitlines()
    assert lines[0].startswith("# frames written")  # the header states the run clock's start
    written = [json.loads(line) for line in lines[1:]]
    assert [w["reading"]["timestamp"] for w in written if w["list"] == 3] == [list3_at]


def stamped(path: Path) -> tuple[str, list[tuple[float, str]]]:
    """A run log's header and its lines as (seconds since the run started, text)."""
    header, *lines = path.read_text().splitlines()
    out = []
    for line in lines:
        stamp, text = line.split(" ", 1)
        assert stamp.startswith("+"), line
        out.append((float(stamp), text))
    return header, out


def test_every_log_of_a_run_counts_seconds_from_one_start(tmp_path: Path) -> None:
    result = run(RunOptions(bench=load_bench(), run_dir=tmp_path, duration_s=6, speed=6,
                            start=datetime(2024, 10, 1, 19, 0, 0)))
    assert result.ok, format_summary(result)
    dut_header, dut = stamped(tmp_path / "dut.log")
    broker_header, broker = stamped(tmp_path / "mosquitto.log")
    capture = read_capture(tmp_path / "line.jsonl")
    started = dut_header.rsplit(" ", 1)[1]
    assert dut_header.startswith("# console of the software DUT SIM-0001; times are seconds since the run started")
    assert broker_header.startswith("# mosquitto on 127.0.0.1:") and broker_header.endswith(started)
    assert capture.started == started
    for log in (dut, broker, [(chunk.t, "") for chunk in capture.chunks]):
        times = [t for t, _ in log]
        assert times == sorted(times) and 0 <= times[0] and times[-1] <= result.real_time_s
    # one time base: the broker runs before the DUT starts, the DUT is ready before the meter's first write
    broker_up = next(t for t, text in broker if text.endswith(" running"))
    dut_starting = next(t for t, text in dut if "[rig] starting" in text)
    dut_ready = next(t for t, text in dut if "READY" in text)
    assert broker_up < dut_starting < dut_ready < capture.chunks[0].t
    # the frame log times each write as the line capture does
    frames_header, *frames = (tmp_path / "frames.jsonl").read_text().splitlines()
    assert frames_header.startswith("# ") and frames_header.endswith(started)
    for frame, chunk in zip([json.loads(line) for line in frames], capture.chunks, strict=True):
        assert abs(frame["t"] - chunk.t) < 0.05, (frame["t"], chunk.t)
    # the DUT connects to the broker after it starts, on the same clock
    connected = next(t for t, text in broker if "New client connected" in text and "han-SIM-0001" in text)
    assert dut_starting < connected
    # stopped on purpose: said so, not logged like a crash
    assert dut[-1][1] == "[rig] stopped by the rig (SIGTERM), exit -15 as expected"
    assert broker[-1][1] == "[rig] stopped by the rig (SIGTERM), exit code 0"


def test_a_used_run_folder_is_refused_and_left_as_it_was(tmp_path: Path) -> None:
    (tmp_path / "dut.log").write_text("an earlier run\n")
    with pytest.raises(RunDirInUse, match="already holds files \\(dut.log\\)"):
        run(RunOptions(bench=load_bench(), run_dir=tmp_path, duration_s=6))
    assert [p.name for p in tmp_path.iterdir()] == ["dut.log"]
    assert (tmp_path / "dut.log").read_text() == "an earlier run\n"
    with pytest.raises(RunDirInUse, match="is a file"):
        run(RunOptions(bench=load_bench(), run_dir=tmp_path / "dut.log", duration_s=6))


def test_rig_run_refuses_a_used_run_folder_as_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "summary.json").write_text("{}\n")
    done = subprocess.run([RIG, "run", "--duration", "6s", "--run-dir", str(tmp_path)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stderr
    assert "Invalid value for '--run-dir'" in done.stderr and "already holds files (summary.json)" in done.stderr
    assert (tmp_path / "summary.json").read_text() == "{}\n"


def test_an_interrupted_run_is_neither_a_pass_nor_a_fail() -> None:
    result = RunResult(meter="kaifa-ma304h4", speed=1, start="", duration_s=60, frames_sent=3, frames_by_list={1: 3},
                       dut_counters={"frames_ok": 3}, interfaces={"http": InterfaceSummary("http")})
    assert (result.ok, result.verdict) == (True, "pass")
    result.interrupted = "SIGTERM"
    assert (result.ok, result.verdict) == (False, "interrupted")
    result.error = "the DUT exited"
    assert result.verdict == "interrupted"  # the interruption wins: the run did not get to its end
    result.interrupted = None
    assert result.verdict == "fail"


def test_every_run_leaves_a_record_of_the_dut_as_it_names_itself_and_its_outputs(tmp_path: Path) -> None:
    result = run(RunOptions(bench=load_bench(), run_dir=tmp_path, duration_s=10, speed=10,
                            start=datetime(2024, 10, 1, 19, 0, 0)))
    assert result.ok, format_summary(result)
    record = result.record
    assert record is not None and record.verdict == "pass"
    dut = dict(record.dut)
    build = dut.pop("build")  # the firmware tree that ran: this repository's, by its git tree hash
    assert build["path"] == str(find_firmware_dir().resolve()) and len(build["tree_hash"]) == 40
    assert dut == {"serial": "SIM-0001", "model": "HAN-RIG-SW", "firmware": FIRMWARE_VERSION, "kind": "software"}
    assert record.meter == {"profile": "kaifa-ma304h4", "capture": None, "speed": 10, "start": "2024-10-01T19:00:00",
                            "duration_s": 10}
    assert record.started < record.ended and record.duration_s == round(result.real_time_s, 2)
    assert {"dut.log", "frames.jsonl", "checks.jsonl"} <= set(record.links["logs"])
    assert all(m.unit and m.outcome in ("pass", "unset") for m in record.measurements)
    assert record.measurement("frames_decoded").value == 5 == record.measurement("frames_decoded").expected
    assert record.measurement("mqtt.latency_max").high == 300.0  # 2 s at x10 + 100 ms
    assert {w.output: w.path for w in result.outputs if w.path} == {
        "text": tmp_path / "summary.txt", "summary": tmp_path / "summary.json", "record": tmp_path / "record.json",
        "junit": tmp_path / "junit.xml"}
    saved = json.loads((tmp_path / "record.json").read_text())
    assert saved["schema"] == SCHEMA and Record.from_dict(saved) == record
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["record_id"] == record.id and summary["frames_decoded"] == 5 and summary["verdict"] == "pass"
    assert (tmp_path / "summary.txt").read_text().startswith(f"DUT SIM-0001: HAN-RIG-SW, firmware {FIRMWARE_VERSION}")
    suite = ET.parse(tmp_path / "junit.xml").getroot().find("testsuite")
    assert suite is not None and (suite.get("tests"), suite.get("failures")) == ("4", "0")


def test_rig_run_stores_its_record_and_prints_it_with_the_summary_json(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'results.sqlite'}"
    done = subprocess.run([RIG, "run", "--duration", "6s", "--speed", "6", "--run-dir", str(tmp_path / "run"),
                           "--db", db, "--json"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    printed = json.loads(done.stdout)
    assert printed["verdict"] == "pass" and printed["record"]["dut"]["firmware"] == FIRMWARE_VERSION
    assert f"store: stored in {db}" in done.stderr
    from rig.results.store import list_records

    assert [r["id"] for r in list_records(db)] == [printed["record"]["id"]]

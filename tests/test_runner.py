"""The streaming core of `rig run` against the real software DUT: what it keeps when things go wrong."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from rig.bench import load_bench
from rig.emulators.faults import parse_fault
from rig.runner import RunOptions, default_start, format_summary, run


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
    written = [json.loads(line) for line in (tmp_path / "frames.jsonl").read_text().splitlines()]
    assert [w["reading"]["timestamp"] for w in written if w["list"] == 3] == [list3_at]

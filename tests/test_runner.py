"""The streaming core of `rig run` against the real software DUT: what it keeps when things go wrong."""

from __future__ import annotations

import asyncio
import threading
from datetime import datetime
from pathlib import Path

import pytest

from rig.bench import load_bench
from rig.emulators import Meter, get_profile
from rig.runner import RunOptions, check_no_dst_change, default_start, run, stream_and_check
from rig.session import open_meter_link, start_dut


def test_a_dut_that_dies_stops_the_stream_at_once_and_keeps_what_was_checked(tmp_path: Path) -> None:
    bench = load_bench()
    profile = get_profile("kaifa-ma304h4")
    frames = list(Meter(profile).frames(start=datetime(2024, 10, 1, 19, 0, 0), count=40))
    link = open_meter_link(bench, profile.line, 10, tmp_path)
    dut = start_dut(bench, tmp_path, link, broker=None, clock_scale=10)
    try:
        threading.Timer(1.0, dut.stop).start()  # the DUT dies about 1 s into a 8 s stream
        result = asyncio.run(stream_and_check(frames, link, dut, None, bench, profile.frame_interval_s, 10,
                                              tmp_path, enable_modbus=False))
    finally:
        dut.stop()
        link.close()
    assert result.error is not None
    assert 0 < len(result.sent) < len(frames)
    assert any(c.interface == "http" for c in result.checks)
    assert result.problems()[0].startswith("stream stopped")


def test_run_summary_counts_lists_and_is_ok_only_when_everything_passed(tmp_path: Path) -> None:
    result = run(RunOptions(bench=load_bench(), run_dir=tmp_path, duration_s=12, speed=6,
                            start=datetime(2024, 10, 1, 19, 0, 0)))
    assert result.ok, result.as_dict()
    assert result.frames_by_list == {2: 1, 1: 4, 3: 1}
    assert result.frames_decoded == 6


def test_default_start_is_half_a_minute_before_the_next_hour() -> None:
    assert default_start(datetime(2024, 10, 1, 18, 12, 5, 7)) == datetime(2024, 10, 1, 18, 59, 30)


def test_a_run_across_a_daylight_saving_change_is_refused_clearly() -> None:
    with pytest.raises(ValueError, match="daylight-saving"):
        check_no_dst_change(datetime(2024, 10, 27, 1, 59, 30), datetime(2024, 10, 27, 3, 0, 30), "Europe/Oslo")
    with pytest.raises(ValueError, match="daylight-saving"):
        check_no_dst_change(datetime(2024, 3, 31, 1, 59, 30), datetime(2024, 3, 31, 3, 0, 30), "Europe/Oslo")
    check_no_dst_change(datetime(2024, 10, 1, 18, 59, 30), datetime(2024, 10, 1, 20, 0, 0), "Europe/Oslo")

"""The comparison of two builds' run records (rig.regress.compare), on hand-made records: no I/O."""

from __future__ import annotations

import json

import pytest

from rig.record import Record
from rig.regress.compare import RULES, Rule, compare, rule_for
from tests.regress.records import record


def statuses(regression) -> dict[str, str]:
    return {i.name: i.status for i in regression.items if i.status != "unchanged"}


def test_identical_builds_show_no_regression() -> None:
    base = [record("base"), record("base")]
    head = [record("head"), record("head")]
    result = compare(base, head, base_label="v1", head_label="v2")
    assert not result.regressed and result.regressions == [] and statuses(result) == {}
    assert result.verdict().startswith("NO REGRESSION")
    assert result.base.label == "v1" and result.head.build["spec"] == "head"
    assert len(result.base.runs) == 2 and result.base.run_dirs[0].startswith("reports/base-")
    names = {i.name for i in result.items}
    # every judged measurement and every measurement a rule covers is compared; unjudged others are not
    assert names == {"verdict", "frames_sent", "frames_decoded", "frames_lost", "http.failed", "http.latency_p50",
                     "http.latency_max", "mqtt.failed", "mqtt.latency_p50", "dut.boot_time", "dut.free_heap"}
    assert result.same_job and result.job_note == ""


def test_a_check_that_newly_fails_is_a_regression() -> None:
    base = [record(), record()]
    head = [record(frames_decoded=29, frames_lost=1, mqtt__failed=3)] * 2
    result = compare(base, head)
    assert statuses(result) == {"verdict": "newly_failing", "frames_decoded": "newly_failing",
                                "frames_lost": "newly_failing", "mqtt.failed": "newly_failing"}
    assert result.regressed and result.verdict() == "REGRESSION: 4 newly fails"
    lost = next(i for i in result.items if i.name == "frames_lost")
    assert (lost.base_outcome, lost.head_outcome, lost.base, lost.head) == ("pass", "fail", [0, 0], [1, 1])
    assert (lost.delta, lost.worse) == (1.0, "higher")  # the move is shown with the outcome change
    assert result.failures["head"][0] == "frame 3 on mqtt: fail: no message" and "base" not in result.failures
    assert result.items[0].status == "newly_failing"  # regressions come first


def test_a_check_that_newly_passes_is_an_improvement_not_a_regression() -> None:
    result = compare([record(http__failed=2)] * 2, [record()] * 2)
    assert statuses(result) == {"verdict": "newly_passing", "http.failed": "newly_passing"}
    assert not result.regressed and len(result.improvements) == 2


def test_a_check_failing_in_some_head_runs_only_is_unstable_not_a_regression() -> None:
    result = compare([record(), record()], [record(), record(mqtt__failed=1)])
    assert statuses(result) == {"verdict": "unstable", "mqtt.failed": "unstable"}
    assert not result.regressed
    failing_both = compare([record(), record(mqtt__failed=1)], [record(mqtt__failed=1)] * 2)
    assert statuses(failing_both) == {}  # mixed -> fail: it did not pass throughout before


def test_latency_beyond_its_noise_is_a_regression_and_within_it_is_not() -> None:
    base = [record(http__latency_p50=3.0), record(http__latency_p50=4.0)]
    slower = [record(http__latency_p50=33.0), record(http__latency_p50=34.5)]
    result = compare(base, slower)
    item = next(i for i in result.items if i.name == "http.latency_p50")
    assert item.status == "regressed" and item.kind == "check"  # judged against its limit, passing in both
    assert (item.base_median, item.head_median, item.delta) == (3.5, 33.75, 30.25)
    assert item.spread == 1.5 and item.threshold == 5.0  # max(3 x 1.5, floor 5 ms, 50 % of 3.5 ms)
    assert statuses(result) == {"http.latency_p50": "regressed"}
    assert result.verdict() == "REGRESSION: 1 worse beyond noise"

    noisy = [record(http__latency_p50=3.0), record(http__latency_p50=13.0)]  # spread 10 ms: threshold 30 ms
    assert statuses(compare(noisy, [record(http__latency_p50=30.0)] * 2)) == {}
    assert statuses(compare(noisy, [record(http__latency_p50=40.0)] * 2)) == {"http.latency_p50": "regressed"}


def test_k_sets_how_many_spreads_a_move_must_exceed() -> None:
    base = [record(http__latency_p50=3.0), record(http__latency_p50=7.0)]
    head = [record(http__latency_p50=15.0)] * 2  # +10 ms, spread 4 ms
    assert statuses(compare(base, head)) == {}  # 3 x 4 = 12 > 10
    assert statuses(compare(base, head, k=2)) == {"http.latency_p50": "regressed"}  # 2 x 4 = 8 < 10


def test_with_one_run_a_side_the_floors_decide() -> None:
    assert statuses(compare([record()], [record(http__latency_p50=7.9)])) == {}  # +4.9 ms < floor 5 ms
    assert statuses(compare([record()], [record(http__latency_p50=8.1)])) == {"http.latency_p50": "regressed"}
    # the relative floor: half of a 100 ms base
    assert statuses(compare([record(http__latency_max=100.0)], [record(http__latency_max=149.0)])) == {}
    assert statuses(compare([record(http__latency_max=100.0)], [record(http__latency_max=151.0)])) == {
        "http.latency_max": "regressed"}


def test_faster_is_an_improvement() -> None:
    result = compare([record(http__latency_p50=40.0)] * 2, [record(http__latency_p50=3.0)] * 2)
    assert statuses(result) == {"http.latency_p50": "improved"} and not result.regressed


def test_less_free_heap_and_longer_boot_are_worse() -> None:
    result = compare([record()] * 2, [record(dut__free_heap=700_000, dut__boot_time=400.0)] * 2)
    assert statuses(result) == {"dut.free_heap": "regressed", "dut.boot_time": "regressed"}
    heap = next(i for i in result.items if i.name == "dut.free_heap")
    assert heap.worse == "lower" and heap.threshold == 90_000.0 and heap.kind == "measurement"
    more = compare([record()] * 2, [record(dut__free_heap=1_000_000, dut__boot_time=10.0)] * 2)
    assert statuses(more) == {"dut.free_heap": "improved"}  # 35 ms faster boot is within its 100 ms floor


def test_measurements_of_one_side_only_are_listed_not_judged() -> None:
    result = compare([record(dut__free_heap=None)], [record(dut__boot_time=None)])
    assert statuses(result) == {"dut.free_heap": "only_head", "dut.boot_time": "only_base"}
    assert not result.regressed


def test_an_interrupted_run_judges_nothing() -> None:
    result = compare([record()], [record(verdict="interrupted")])
    verdict = next(i for i in result.items if i.name == "verdict")
    assert verdict.status == "unchanged" and verdict.head_outcome is None


def test_several_meters_are_compared_each_with_its_own_runs() -> None:
    base = [record(meter="kaifa-ma304h4"), record(meter="aidon-6534", http__latency_p50=50.0)]
    head = [record(meter="kaifa-ma304h4", http__latency_p50=40.0), record(meter="aidon-6534", http__latency_p50=50.0)]
    result = compare(base, head)
    assert statuses(result) == {"kaifa-ma304h4/http.latency_p50": "regressed"}
    assert "aidon-6534/http.latency_p50" in {i.name for i in result.items}
    assert result.same_job and result.job_note == ""  # each meter's runs all played one job


def test_runs_of_another_job_are_flagged() -> None:
    result = compare([record(speed=10.0)], [record(speed=20.0)])
    assert not result.same_job and "'speed': 20.0" in result.job_note


def test_record_objects_are_taken_and_the_result_is_json() -> None:
    base = [Record.from_dict(record())]
    result = compare(base, [record(frames_lost=2)])
    data = json.loads(json.dumps(result.as_dict()))
    assert data["regressed"] is True and data["base"]["build"]["spec"] == "base"
    assert {i["name"] for i in data["items"] if i["status"] == "newly_failing"} == {"verdict", "frames_lost"}


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one record"):
        compare([], [record()])
    with pytest.raises(ValueError, match="not a run record"):
        compare([{"schema": "other"}], [record()])
    with pytest.raises(ValueError, match="k must be"):
        compare([record()], [record()], k=-1)


def test_rules_name_their_direction_and_custom_rules_apply() -> None:
    assert rule_for("modbus.latency_p99").worse == "higher"
    assert rule_for("dut.free_heap").worse == "lower"
    assert rule_for("http.passed") is None
    assert all(r.floor > 0 for r in RULES)
    strict = (Rule("*.latency_*", "higher", floor=0.1),)
    assert statuses(compare([record()], [record(http__latency_p50=3.5)], rules=strict)) == {
        "http.latency_p50": "regressed"}

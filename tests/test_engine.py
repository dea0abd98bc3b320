"""The streaming engine against the real software DUT, and its judging of MQTT."""

from __future__ import annotations

import asyncio
import threading
from datetime import datetime
from pathlib import Path

from rig.bench import load_bench
from rig.checks import Outcome, SentFrame
from rig.emulators import Meter, get_profile
from rig.emulators.faults import emissions_from_frames
from rig.engine import local_reading, stream_and_check
from rig.judges import check_mqtt
from rig.probes.mqtt import MqttMessage
from rig.session import open_meter_link, start_dut
from rig.stream_result import StreamResult


def test_a_dut_that_dies_stops_the_stream_at_once_and_keeps_what_was_checked(tmp_path: Path) -> None:
    bench = load_bench()
    profile = get_profile("kaifa-ma304h4")
    start = datetime(2024, 10, 1, 19, 0, 0)
    frames = list(Meter(profile).frames(start=start, count=40))
    link = open_meter_link(bench, profile.line, 10, tmp_path)
    dut = start_dut(bench, tmp_path, link, broker=None, clock_scale=10)
    try:
        threading.Timer(1.0, dut.stop).start()  # the DUT dies about 1 s into a 8 s stream
        writes = emissions_from_frames(frames, start)
        result = asyncio.run(stream_and_check(writes, link, dut, None, bench, profile.frame_interval_s, 10,
                                              tmp_path, enable_modbus=False))
    finally:
        dut.stop()
        link.close()
    assert result.error is not None
    assert 0 < len(result.sent) < len(frames)
    assert any(c.interface == "http" for c in result.checks)
    assert result.problems()[0].startswith("stream stopped")



def _sent(index: int, ts: str, p: int) -> SentFrame:
    reading = {"timestamp": ts, "p_import_w": p}
    return SentFrame(index, datetime.fromisoformat(ts), 1, reading, reading, 0.0, 1.0)


def _message(ts: str, p: int, arrival: float = 0.5) -> MqttMessage:
    return MqttMessage(arrival=arrival, topic="han/x", payload={}, reading={"timestamp": ts, "p_import_w": p})


def test_mqtt_a_duplicated_frame_must_arrive_twice() -> None:
    sent = [_sent(0, "2024-10-01T19:00:02", 5), _sent(1, "2024-10-01T19:00:02", 5)]
    once = check_mqtt([_message("2024-10-01T19:00:02", 5)], [], sent, set())
    assert [c.outcome for c in once] == [Outcome.PASS, Outcome.FAIL]
    twice = check_mqtt([_message("2024-10-01T19:00:02", 5)] * 2, [], sent, set())
    assert [c.outcome for c in twice] == [Outcome.PASS, Outcome.PASS]
    thrice = check_mqtt([_message("2024-10-01T19:00:02", 5)] * 3, [], sent, set())
    assert [c.detail for c in thrice if c.outcome is Outcome.FAIL] == ["one more message than frames sent: {}"]


def test_mqtt_a_damaged_frame_must_never_be_published() -> None:
    checks = check_mqtt([_message("2024-10-01T19:00:04", 9)], [], [], {"2024-10-01T19:00:04"})
    assert [c.detail for c in checks] == ["published the damaged frame of 2024-10-01T19:00:04"]


def test_mqtt_messages_of_frames_the_rig_cannot_judge_are_allowed_up_to_their_number() -> None:
    message = _message("2021-01-01T00:00:00", 1)
    assert check_mqtt([message], [], [], set(), unjudged=1) == []
    assert [c.outcome for c in check_mqtt([message, message], [], [], set(), unjudged=1)] == [Outcome.FAIL]


def test_a_clock_that_states_its_offset_is_judged_on_the_bench_wall_clock() -> None:
    swedish = {"timestamp": "2021-07-23T18:50:00+01:00", "p_import_w": 3}
    assert local_reading(swedish, "Europe/Oslo")["timestamp"] == "2021-07-23T19:50:00"
    assert local_reading({"timestamp": "2021-07-23T18:50:00"}, "Europe/Oslo")["timestamp"] == "2021-07-23T18:50:00"


def test_no_full_collection_runs_while_streaming_and_the_collector_is_restored_after() -> None:
    import gc

    from rig.engine import no_full_collections

    full_passes: list[int] = []

    def count(phase: str, info: dict) -> None:
        if phase == "start" and info["generation"] == 2:
            full_passes.append(1)

    before = gc.get_threshold()
    gc.callbacks.append(count)
    try:
        with no_full_collections():
            full_passes.clear()  # the one full pass it makes on entry, off the clock
            kept = [[i] for i in range(300_000)]  # enough young containers for many full passes normally
            during = len(full_passes)
            assert gc.get_threshold()[:2] == before[:2]
        del kept
    finally:
        gc.callbacks.remove(count)
    assert during == 0
    assert gc.get_threshold() == before


def _old_plan(start: datetime, duration_s: float) -> list:
    """The emissions as the rig planned them before it planned lazily: every frame built up front."""
    from datetime import timedelta

    meter = Meter(get_profile("kaifa-ma304h4"), seed=1, start=start)
    began = meter.utc_of(start)
    until = meter.local_of(began + timedelta(seconds=duration_s))
    return emissions_from_frames(list(meter.frames(start=start, until=until)), began)


def test_a_lazily_planned_run_sends_exactly_the_frames_the_planned_list_did(tmp_path: Path) -> None:
    import json
    import types

    from rig.runner import RunOptions, _plan, run

    start = datetime(2024, 10, 27, 1, 59, 40)  # across the repeated hour of the 25-hour day
    options = RunOptions(bench=load_bench(), run_dir=tmp_path / "run", duration_s=30, speed=15, start=start)
    plan = _plan(options)
    assert isinstance(plan.emissions, types.GeneratorType)  # nothing built yet
    planned = [(e.t, e.data, e.reading) for e in plan.emissions]
    old = _old_plan(start, 30)
    assert planned == [(e.t, e.data, e.reading) for e in old] and plan.frames_total == len(old) == 15

    result = run(options)
    lines = (tmp_path / "run" / "frames.jsonl").read_text().splitlines()[1:]
    written = [bytes.fromhex(json.loads(line)["hex"]) for line in lines]
    assert written == [e.data for e in old]  # the same bytes, in the same order, all of them
    assert result.frames_sent == len(old) and result.frames_decoded == len(old)


def test_a_faulted_plan_is_the_same_as_before(tmp_path: Path) -> None:
    from rig.emulators.faults import apply_faults, parse_fault
    from rig.runner import RunOptions, _plan

    start = datetime(2024, 10, 1, 19, 0, 0)
    faults = [parse_fault("bad_fcs:3"), parse_fault("garbage:8")]
    options = RunOptions(bench=load_bench(), run_dir=tmp_path, duration_s=40, speed=4, start=start, faults=faults)
    meter = Meter(get_profile("kaifa-ma304h4"), seed=1, start=start)
    assert list(_plan(options).emissions) == apply_faults(_old_plan(start, 40), faults, seed=1, meter=meter)


def test_the_stream_keeps_a_bounded_window_and_only_counters_when_asked_not_to_keep(tmp_path: Path) -> None:
    from rig.session import start_broker

    bench = load_bench()
    profile = get_profile("kaifa-ma304h4")
    start = datetime(2024, 10, 1, 19, 0, 0)
    frames = list(Meter(profile).frames(start=start, count=2000))  # 4000 s of meter time, 5 s at x800
    broker, mosquitto = start_broker(bench, tmp_path)
    link = open_meter_link(bench, profile.line, 800, tmp_path)
    dut = start_dut(bench, tmp_path, link, broker, clock_scale=800)
    try:
        result = asyncio.run(stream_and_check(iter(emissions_from_frames(frames, start)), link, dut, broker,
                                              bench, profile.frame_interval_s, 800, tmp_path, keep=False))
    finally:
        dut.stop()
        link.close()
        if mosquitto:
            mosquitto.stop()
    assert result.error is None and result.frames_sent == 2000 and result.writes == 2000
    assert result.sent == [] and result.checks == []  # every frame and check is on disk only
    assert 0 < result.window_peak <= 400  # frames within their deadline of 2.6 ms + 100 ms, not all 2000
    judged = {name: s.passed + s.failed + s.overtaken for name, s in result.interfaces.items()}
    assert judged == {"http": 2000, "modbus": 2000, "mqtt": 2000}
    checks = (tmp_path / "checks.jsonl").read_text().splitlines()[1:]
    assert len(checks) == sum(judged.values())


def test_a_stop_while_waiting_for_the_reader_to_come_online_ends_the_stream_at_once(tmp_path: Path) -> None:
    from rig.session import start_broker

    bench = load_bench()
    profile = get_profile("kaifa-ma304h4")
    broker, mosquitto = start_broker(bench, tmp_path)
    link = open_meter_link(bench, profile.line, 10, tmp_path)
    dut = start_dut(bench, tmp_path, link, None, clock_scale=10)  # no MQTT: it never says "online"

    async def stopped_soon() -> StreamResult:
        stop = asyncio.Event()
        asyncio.get_running_loop().call_later(0.5, stop.set)
        frames = Meter(profile).frames(start=datetime(2024, 10, 1, 19, 0, 0), count=5)
        return await stream_and_check(emissions_from_frames(frames, datetime(2024, 10, 1, 19, 0, 0)), link, dut,
                                      broker, bench, profile.frame_interval_s, 10, tmp_path, stop=stop)

    try:
        result = asyncio.run(stopped_soon())
    finally:
        dut.stop()
        link.close()
        if mosquitto:
            mosquitto.stop()
    assert result.interrupted and result.error is None  # not a 10 s timeout: the stop was seen
    assert result.writes == 0 and result.frames_sent == 0

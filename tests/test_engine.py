"""The streaming engine against the real software DUT, and its judging of MQTT and counters."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from datetime import datetime
from pathlib import Path

from rig.bench import load_bench
from rig.checks import Outcome, SentFrame
from rig.emulators import Meter, get_profile
from rig.emulators.faults import emissions_from_frames
from rig.engine import StreamResult, local_reading, stream_and_check
from rig.judges import check_mqtt
from rig.probes.mqtt import MqttMessage
from rig.session import open_meter_link, start_dut


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


def test_counters_must_equal_what_a_correct_reader_counts() -> None:
    result = StreamResult([], [], {"frames_ok": 5, "checksum_errors": 2, "readings_published": 5},
                          expected_counts=Counter({"frames_ok": 5, "checksum_errors": 1}))
    assert result.count_mismatches() == ["counter checksum_errors: a correct reader counts 1, the DUT counted 2"]
    assert result.problems() == result.count_mismatches()


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

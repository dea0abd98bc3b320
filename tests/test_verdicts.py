"""Verdicts that hold: late values fail, a wrong frame fails alone, MQTT is judged as it arrives, every check is
kept as data (checks.jsonl), and counters that could not be read are unknown, not zero."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import Counter
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import pytest

from rig.checks import Check, InterfaceSummary, Outcome, SentFrame
from rig.engine import stream_and_check
from rig.judges import CheckLog, FramePoll, MqttJudge, StreamState
from rig.probes.mqtt import MqttMessage
from rig.reading import Mismatch
from rig.resolution import meter_format
from rig.runclock import RunClock
from rig.runner import RunResult, format_summary
from rig.stream_result import Progress, StreamResult

START = datetime(2024, 10, 1, 19, 0, 12)  # five List 1 frames (:12 to :20 is List 2): P+ only


def _frame(index: int, p: int, ts: str | None = None, t_end: float = 10.0) -> SentFrame:
    reading = {"timestamp": ts or f"2024-10-01T19:00:{index * 2:02d}", "p_import_w": p}
    return SentFrame(index, datetime(2024, 10, 1), 1, reading, reading, t_end, t_end + 0.6, t_start=t_end - 0.1)


def _state(*frames: SentFrame) -> StreamState:
    return StreamState("KFM_001", list(frames), {f.timestamp: f.index for f in frames if f.timestamp})


def _modbus(p: int) -> dict:
    return {"u_l1_v": None, "u_l2_v": None, "u_l3_v": None, "i_l1_a": None, "i_l2_a": None, "i_l3_a": None,
            "p_import_w": p, "p_export_w": 0}


# -- the latency rule and a wrong frame, on the polled interfaces ----------------------------------------

def test_a_correct_value_shown_after_the_deadline_fails_with_its_latency() -> None:
    frame = _frame(0, 500)
    for interface, shown in (("http", frame.reading), ("modbus", _modbus(500))):
        poll = FramePoll(interface, frame, None, None, _state(frame))
        check = poll.see(shown, frame.t_end + 6.3)  # a request that took 6.3 s, as seen at x1440
        assert check is not None and check.outcome is Outcome.FAIL, interface
        assert check.latency_s == pytest.approx(6.3) and "later than one frame interval (600 ms)" in check.detail
        on_time = FramePoll(interface, frame, None, None, _state(frame)).see(shown, frame.t_end + 0.2)
        assert on_time is not None and on_time.outcome is Outcome.PASS and on_time.latency_s == pytest.approx(0.2)


def test_modbus_cannot_time_a_frame_that_shows_what_the_one_before_showed() -> None:
    first, second = _frame(0, 500), _frame(1, 500, t_end=11.0)
    check = FramePoll("modbus", second, first, _modbus(500), _state(first, second)).see(_modbus(500), 11.01)
    assert check is not None and check.outcome is Outcome.PASS and check.latency_s is None
    assert "cannot be told" in check.detail
    late = FramePoll("modbus", second, first, _modbus(500), _state(first, second)).see(_modbus(500), 12.0)
    assert late is not None and late.outcome is Outcome.FAIL  # even so, a reading after the deadline fails


def test_a_frame_shown_wrong_then_replaced_fails_and_is_not_overtaken() -> None:
    before, wrong, after = _frame(0, 500), _frame(1, 510, t_end=11.0), _frame(2, 520, t_end=11.5)
    state = _state(before, wrong)
    poll = FramePoll("modbus", wrong, before, _modbus(500), state)
    assert poll.see(_modbus(500), 11.01) is None  # still the frame before
    assert poll.see(_modbus(513), 11.02) is None  # neither: this frame, shown wrong
    state.sent.append(after)
    state.last_write_start = after.t_start or 0
    check = poll.see(_modbus(520), 11.52)
    assert check is not None and check.outcome is Outcome.FAIL and "frame 2 followed" in check.detail
    assert [(m.field, m.expected, m.actual) for m in check.mismatches] == [("p_net_w", 510, 513)]
    # the next frame is judged on its own: what the wrong one showed is the state before it, not a failure
    next_poll = FramePoll("modbus", after, wrong, _modbus(513), state)
    assert next_poll.see(_modbus(513), 11.51) is None
    assert next_poll.see(_modbus(520), 11.53).outcome is Outcome.PASS  # type: ignore[union-attr]


def test_a_wrong_newer_frame_never_fails_the_one_it_overtook() -> None:
    first, missed, wrong = _frame(0, 500), _frame(1, 510, t_end=11.0), _frame(2, 520, t_end=11.5)
    state = _state(first, missed, wrong)
    state.last_write_start = wrong.t_start or 0  # the newer write had begun: what is shown may be it
    poll = FramePoll("modbus", missed, first, _modbus(500), state)
    assert poll.see(_modbus(523), 11.55) is None  # frame 2 shown wrong, not this one's fault
    check = poll.see(_modbus(523), missed.deadline + 0.01)
    assert check is not None and check.outcome is Outcome.FAIL and not check.mismatches
    assert check.detail.startswith("not shown within one frame interval")
    http = FramePoll("http", missed, first, None, state)  # on HTTP the clock tells: the newer frame
    assert http.see(wrong.reading | {"p_import_w": 523}, 11.55).outcome is Outcome.OVERTAKEN  # type: ignore[union-attr]


def test_http_fails_a_frame_shown_with_other_values_at_once() -> None:
    frame = _frame(0, 500)
    check = FramePoll("http", frame, None, None, _state(frame)).see(frame.reading | {"p_import_w": 497}, 10.05)
    assert check is not None and check.outcome is Outcome.FAIL and check.latency_s is not None
    assert check.mismatches == [Mismatch("p_import_w", 500, 497, 0.5)]


def _clockless(index: int, p: int, last_clock: str, t_end: float, list_no: int = 1) -> tuple[SentFrame, dict]:
    """A frame of a list without a clock, and what a reader shows for it: the last clock it read."""
    frame = replace(_frame(index, p, t_end=t_end), list_no=list_no)
    frame.reading, frame.expected = {"p_import_w": p}, {"timestamp": last_clock, "p_import_w": p}
    return frame, {"timestamp": last_clock, "p_import_w": p, "_list": list_no}


def test_a_list_without_a_clock_shown_with_the_clock_of_the_frame_before_is_not_taken_for_it() -> None:
    clocked = replace(_frame(0, 500, ts="2024-10-27T01:00:00"), list_no=3)
    after, shown = _clockless(1, 563, last_clock="2024-10-27T01:00:00", t_end=10.002)
    state = _state(clocked, after)
    state.last_write_start = after.t_start or 0
    check = FramePoll("http", clocked, None, None, state).see(shown, 10.003)  # the newer frame, same second
    assert check is not None and check.outcome is Outcome.OVERTAKEN and check.detail == "frame 1 shown"
    checks: list[Check] = []
    judge = MqttJudge(state, CheckLog(checks, None, RunClock()))
    judge.frame_sent(clocked)
    judge.frame_sent(after)
    judge.take(MqttMessage(10.004, "han/x", {}, shown))  # the clockless frame's message first, then the clocked one
    judge.take(MqttMessage(10.005, "han/x", {}, clocked.reading | {"_list": 3}))
    assert [(c.frame, c.outcome) for c in checks] == [(1, Outcome.PASS), (0, Outcome.PASS)]


# -- MQTT as messages arrive -----------------------------------------------------------------------------

def _message(frame: SentFrame, arrival: float, **values: object) -> MqttMessage:
    return MqttMessage(arrival, "han/x", {"p": values}, frame.reading | values)


def test_mqtt_messages_are_judged_on_arrival_and_missing_ones_at_the_deadline() -> None:
    frames = [_frame(0, 500), _frame(1, 510, t_end=11.0)]
    checks: list[Check] = []
    judge = MqttJudge(_state(*frames), CheckLog(checks, None, RunClock()))
    for frame in frames:
        judge.frame_sent(frame)
    judge.take(_message(frames[0], 10.01))
    assert [(c.frame, c.outcome) for c in checks] == [(0, Outcome.PASS)]  # judged at once
    judge.expire(11.2)
    assert len(checks) == 1  # frame 1 has time until 11.6
    judge.expire(11.7)
    assert (checks[-1].frame, checks[-1].detail) == (1, "no message within one frame interval")
    judge.take(_message(frames[1], 11.8))  # its late message: not one more than frames sent
    assert len(checks) == 2


def test_mqtt_a_message_that_arrives_during_its_write_waits_for_the_frame() -> None:
    frame = _frame(0, 500)
    checks: list[Check] = []
    state = StreamState(None)
    judge = MqttJudge(state, CheckLog(checks, None, RunClock()))
    judge.writing()
    judge.take(_message(frame, 10.0))  # a reader that decodes on the FCS publishes before the flag ends
    assert checks == []
    state.sent.append(frame)
    state.latest_by_ts[frame.timestamp] = 0
    judge.frame_sent(frame)
    judge.write_done()
    assert [(c.frame, c.outcome) for c in checks] == [(0, Outcome.PASS)]
    judge.take(_message(frame, 10.2))
    assert checks[-1].frame == -1 and checks[-1].detail.startswith("one more message than frames sent")


def test_mqtt_a_message_ahead_of_a_frame_split_over_several_writes_waits_for_it() -> None:
    now = time.monotonic()
    frame = _frame(0, 500, t_end=now + 0.01)
    checks: list[Check] = []
    state = StreamState(None)
    judge = MqttJudge(state, CheckLog(checks, None, RunClock()), grace_s=0.5)
    judge.writing()  # the frame's first parts: the reader decodes on the FCS, before the last part is written
    judge.take(_message(frame, now))
    judge.write_done()
    assert checks == []  # no frame claims it yet, but its grace has not passed
    judge.writing()  # the last part: the frame is registered
    state.sent.append(frame)
    state.latest_by_ts[frame.timestamp] = 0
    judge.frame_sent(frame)
    judge.write_done()
    assert [(c.frame, c.outcome) for c in checks] == [(0, Outcome.PASS)]
    stray = _message(_frame(5, 1, ts="2024-10-01T19:30:00"), time.monotonic())
    judge.take(stray)
    judge.expire(time.monotonic() + 0.1)
    assert len(checks) == 1  # still within its grace
    judge.expire(time.monotonic() + 0.6)
    assert checks[-1].frame == -1 and checks[-1].detail.startswith("message for a frame never sent")


def test_mqtt_a_late_or_wrong_message_fails_with_its_latency() -> None:
    frames = [_frame(0, 500), _frame(1, 510, t_end=11.0)]
    checks: list[Check] = []
    judge = MqttJudge(_state(*frames), CheckLog(checks, None, RunClock()))
    for frame in frames:
        judge.frame_sent(frame)
    judge.take(_message(frames[0], 10.7))
    judge.take(_message(frames[1], 11.1, p_import_w=507))
    late, wrong = checks
    assert late.outcome is Outcome.FAIL and round(late.latency_s or 0, 3) == 0.7 and "later than" in late.detail
    assert wrong.outcome is Outcome.FAIL and wrong.mismatches[0].field == "p_import_w"


# -- evidence as data ------------------------------------------------------------------------------------

def test_a_check_serialises_to_data_with_its_text() -> None:
    check = Check("modbus", 7, Outcome.FAIL, 0.0123, [Mismatch("p_net_w", 2570, 2567, 0.5)], "shown with other values",
                  at_s=12.5)
    assert check.as_dict() == {
        "frame": 7, "interface": "modbus", "outcome": "fail", "latency_ms": 12.3,
        "mismatches": [{"field": "p_net_w", "sent": 2570, "published": 2567, "tolerance": 0.5, "unit": "W"}],
        "detail": "shown with other values", "at_s": 12.5,
        "text": "frame 7 on modbus: fail (12 ms): p_net_w: sent 2570, published 2567 (tolerance 0.5 W); "
                "shown with other values",
    }
    assert Check("mqtt", -1, Outcome.FAIL, detail="malformed message: x").as_dict()["frame"] is None


def test_counters_that_could_not_be_read_are_unknown_and_fail() -> None:
    result = StreamResult([], [], {}, counters_error="the DUT is not running")
    assert result.count_mismatches() == ["the DUT's counters are unknown: the DUT is not running"]
    assert result.problems() == result.count_mismatches()


# -- against the real DUT and broker ---------------------------------------------------------------------

def test_a_frame_the_dut_shows_wrong_fails_alone_on_every_interface(harness) -> None:
    h = harness(profile="kaifa-ma304h4", speed=4)
    emissions = h.emissions(h.frames(5, start=START))
    wrong = emissions[2]
    # the rig expects 3 W more than the meter sends: to the rig, the DUT shows this one frame wrong
    emissions[2] = replace(wrong, reading={**wrong.reading, "p_import_w": wrong.reading["p_import_w"] + 3})
    seen: list[Progress] = []
    result = asyncio.run(stream_and_check(
        emissions, h.link, h.dut, h.broker, h.bench, h.profile.frame_interval_s, h.speed, h.workdir, seen.append,
        meter_format=meter_format(h.profile.protocol)))

    interfaces = {"http"} | {name for name in ("modbus", "mqtt") if h.bench.has(name)}
    failed = sorted((c.interface, c.frame) for c in result.failures)
    assert failed == sorted((name, 2) for name in interfaces), "\n".join(result.problems())
    for check in result.failures:
        field = "p_net_w" if check.interface == "modbus" else "p_import_w"
        assert [(m.field, m.actual - m.expected) for m in check.mismatches] == [(field, -3)], check.describe()
    assert not result.count_mismatches()
    assert seen[-1].failures == len(interfaces)  # the live count includes MQTT's verdicts

    lines = (h.workdir / "checks.jsonl").read_text().splitlines()
    assert lines[0].startswith("# checks made")
    records = [json.loads(line) for line in lines[1:]]
    assert len(records) == len(result.checks) == 5 * len(interfaces)
    assert {(r["interface"], r["frame"]) for r in records if r["outcome"] == "fail"} == set(failed)
    assert all(r["latency_ms"] is not None for r in records if r["outcome"] == "pass" and r["interface"] != "modbus")


def test_a_dut_that_dies_keeps_the_mqtt_verdicts_made_and_its_counters_are_unknown(harness) -> None:
    h = harness(profile="kaifa-ma304h4", speed=10)
    frames = h.frames(40, start=START)
    threading.Timer(1.5, h.dut.stop).start()  # the DUT dies about 1.5 s into an 8 s stream
    result = h.stream(frames)
    assert result.error is not None and 0 < len(result.sent) < len(frames)
    if h.bench.has("mqtt"):
        assert any(c.outcome is Outcome.PASS for c in result.for_interface("mqtt"))
    assert result.counters_error and result.dut_counters == {}
    assert "counters are unknown" in "\n".join(result.problems())


def test_a_stop_ends_the_stream_at_once_even_between_frames_ten_seconds_apart(harness, tmp_path: Path) -> None:
    h = harness(profile="kamstrup-omnipower", speed=1)
    frames = h.frames(3, start=datetime(2024, 10, 1, 19, 0, 10))
    clock = RunClock()

    async def stream() -> StreamResult:
        stop = asyncio.Event()
        asyncio.get_running_loop().call_later(1.0, stop.set)
        return await stream_and_check(h.emissions(frames), h.link, h.dut, h.broker, h.bench,
                                      h.profile.frame_interval_s, 1, tmp_path, stop=stop, clock=clock)

    began = time.monotonic()
    result = asyncio.run(stream())
    assert time.monotonic() - began < 4.0  # not the 20 s the next two frames would take
    assert result.interrupted and len(result.sent) == 1 and result.writes == 1
    assert {c.interface for c in result.checks} >= {"http"} and all(c.frame == 0 for c in result.checks)
    assert not result.problems(), "\n".join(result.problems())  # counted over the one write made
    lines = (tmp_path / "frames.jsonl").read_text().splitlines()
    assert lines[0].startswith("# frames written") and clock.started.isoformat(timespec="milliseconds") in lines[0]
    write = json.loads(lines[1])
    assert 0 <= write["t"] < 0.5 < write["t_end"] < 3.0  # seconds since the run started; 1.1 s on the line


# -- the run's summary -----------------------------------------------------------------------------------

def _run_result(**kwargs) -> RunResult:
    result = RunResult(meter="kaifa-ma304h4", speed=4, start="2024-10-01T19:00:12", duration_s=2, frames_sent=1,
                       frames_by_list={1: 1}, dut_counters={}, run_dir=Path("run"),
                       interfaces={name: InterfaceSummary(name) for name in ("http", "modbus", "mqtt")})
    frame = _frame(0, 500)
    checks = [Check("http", 0, Outcome.OVERTAKEN, detail="frame 1 shown"), Check("modbus", 0, Outcome.PASS, 0.01),
              Check("mqtt", 0, Outcome.FAIL, 0.7, [Mismatch("p_import_w", 500, 497, 0.5)])]
    result.absorb(StreamResult([frame], checks, {"frames_ok": 1}, Counter({"frames_ok": 1}), meter_format="KFM_001",
                               **kwargs))
    return result


def test_the_summary_states_failures_as_data_resolution_and_plain_counts() -> None:
    result = _run_result()
    data = result.as_dict()
    assert data["verdict"] == "fail" and data["interrupted"] is None and data["failures_total"] == 1
    (failure,) = data["failures"]
    assert failure["interface"] == "mqtt" and failure["frame"] == 0 and failure["latency_ms"] == 700
    assert failure["mismatches"] == [{"field": "p_import_w", "sent": 500, "published": 497, "tolerance": 0.5,
                                      "unit": "W"}]
    assert failure["text"].startswith("frame 0 on mqtt: fail (700 ms): p_import_w: sent 500, published 497")
    assert data["resolution"] == {"meter_format": "KFM_001", "http": "1 W, 0.1 V, 0.001 A, 1 Wh",
                                  "modbus": "1 W, 0.1 V, 0.01 A", "mqtt": "1 W, 0.1 V, 0.001 A, 1 Wh"}
    text = format_summary(result)
    assert "\n1 failed check:\n" in text and "1 failed checks" not in text
    assert "overtaken: a newer frame replaced the" in text and "(not a failure)" in text
    assert "meter's format (KFM_001)" in text and text.splitlines()[-1].startswith("FAIL")


def test_counters_that_could_not_be_read_show_as_unknown_and_fail_the_run() -> None:
    result = _run_result(counters_error="cannot read them after the stream: connection refused")
    assert result.dut_counters is None and result.frames_decoded is None and not result.ok
    data = json.loads(json.dumps(result.as_dict()))
    assert data["dut_counters"] is None and data["frames_decoded"] is None
    assert data["count_mismatches"] == ["the DUT's counters are unknown: cannot read them after the stream: "
                                        "connection refused"]
    assert any(line.split() == ["frames_ok", "1", "?", "<-", "unknown"] for line in format_summary(result).splitlines())


def test_an_interrupted_run_says_so_instead_of_a_verdict() -> None:
    result = _run_result()
    result.interrupted = "SIGINT"
    assert result.as_dict()["verdict"] == "interrupted"
    assert format_summary(result).splitlines()[-1].startswith("INTERRUPTED by SIGINT")

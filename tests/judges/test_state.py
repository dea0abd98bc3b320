"""The judges' window of frames: what leaves it, and that it stays bounded over a long stream."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from rig.checks import Check, Outcome, SentFrame
from rig.judges import CLOCK_MEMORY, CheckLog, FramePoll, MqttJudge, SentWindow, StreamState
from rig.probes.mqtt import MqttMessage
from rig.runclock import RunClock

START = datetime(2024, 10, 27, 0, 0, 0)
INTERVAL = 2 / 1440  # a Kaifa frame at x1440, in real seconds


def _frame(index: int) -> SentFrame:
    at = START + timedelta(seconds=2 * index)
    reading = {"timestamp": at.isoformat(), "p_import_w": 1000 + index % 500}
    t_end = index * INTERVAL
    return SentFrame(index, at, 1, reading, reading, t_end, t_end + INTERVAL + 0.1, t_start=t_end)


def test_a_window_indexes_by_frame_and_forgets_what_it_released() -> None:
    window = SentWindow([_frame(0), _frame(1)])
    window.append(_frame(2))
    assert len(window) == 3 and window[2].index == 2 and window.held == 3
    assert window.release_below(2) == 2
    assert len(window) == 3 and window.held == 1 and window.base == 2 and window.peak == 3
    assert window[2].index == 2 and not window.holds(1)
    with pytest.raises(IndexError, match="frame 1 is not held"):
        window[1]


def test_a_frame_stays_while_any_judge_may_still_look_at_it() -> None:
    state = StreamState("KFM_001")
    for i in range(10):
        state.add(_frame(i))
    state.needs.update(http=4, mqtt=7)
    assert state.release() == 4 and state.window.base == 4
    state.needs.update(http=9)
    assert state.release() == 3 and state.window.base == 7  # mqtt still needs frame 7
    del state.needs["mqtt"]
    assert state.release() == 2 and state.window.held == 1


def test_over_a_long_stream_the_judges_hold_a_bounded_window_and_judge_every_frame() -> None:
    # a week of Kaifa frames would be 302,400; 30,000 (16.7 h) show the same: held frames and remembered
    # clocks level off while the count of frames sent grows
    state = StreamState("KFM_001")
    checks: list[Check] = []
    log = CheckLog(None, None, RunClock(), failed=checks)
    mqtt = MqttJudge(state, log)
    previous: SentFrame | None = None
    frames = 30_000
    for i in range(frames):
        frame = _frame(i)
        state.add(frame)
        mqtt.frame_sent(frame)
        state.needs["http"] = i  # a poller judging this frame, as rig.judges.polls does
        http = FramePoll("http", frame, previous, None, state)
        check = http.see(frame.reading, frame.t_end + 0.003)
        assert check is not None
        log.add(check)
        state.needs["http"] = i + 1
        if i >= 3:  # MQTT three frames behind: messages arrive a little after the frames
            late = _frame(i - 3)
            mqtt.take(MqttMessage(late.t_end + 0.004, "han/x", {}, dict(late.reading)))
        mqtt.expire(frame.t_end)
        state.release()
        previous = frame
    mqtt.expire(float("inf"))  # the last three never got a message: they fail at their deadline
    state.release()
    summaries = log.summaries
    assert len(state.sent) == frames
    assert state.window.peak <= 5 and state.window.held == 0
    assert len(state.latest_by_ts) <= CLOCK_MEMORY
    assert summaries["http"].passed == frames and summaries["mqtt"].passed == frames - 3
    assert [c.frame for c in checks] == [frames - 3, frames - 2, frames - 1]
    assert all(c.outcome is Outcome.FAIL for c in checks) and log.total == 2 * frames


def test_a_reading_of_a_frame_that_left_the_window_is_an_old_one_not_a_wrong_one() -> None:
    state = StreamState("KFM_001")
    for i in range(3):
        state.add(_frame(i))
    state.needs["http"] = 2
    state.release()
    poll = FramePoll("http", state.sent[2], None, None, state)
    assert poll.see(_frame(0).reading, 0.0) is None  # still waiting for frame 2: not "shown wrong"
    assert poll.wrong is None
    check = poll.see(_frame(2).reading, _frame(2).t_end + 0.001)
    assert check is not None and check.outcome is Outcome.PASS


def test_damaged_clocks_are_remembered_up_to_a_bound() -> None:
    state = StreamState()
    for i in range(CLOCK_MEMORY + 10):
        state.add_damaged(f"c{i}")
    assert len(state.damaged_ts) == CLOCK_MEMORY
    assert "c0" not in state.damaged_ts and f"c{CLOCK_MEMORY + 9}" in state.damaged_ts

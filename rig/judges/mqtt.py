"""MQTT: messages judged as they arrive, every frame exactly once; a frame without a message fails at its
deadline."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from rig.checks import Check, Outcome, SentFrame
from rig.judges.log import CheckLog
from rig.judges.polls import late, same_list
from rig.judges.state import StreamState
from rig.probes.mqtt import MqttMessage, MqttPayloadError
from rig.runclock import RunClock


class MqttJudge:
    """Judges MQTT messages as they arrive: every published frame exactly once, in time, with the values
    sent (a frame sent twice, twice); damaged frames never; a message the rig cannot place fails, beyond
    one for each frame it cannot judge. A frame with no message fails at its deadline.

    Feed it with ``frame_sent`` and ``write_done`` (after every write) and messages through ``messages``;
    ``start()`` judges them as they come, ``finish()`` waits until each frame sent is judged. A message
    no frame claims yet waits up to ``grace_s``: a reader may publish a frame before the rig registers it
    (it decodes on the FCS, and a frame split over several writes is registered with its last one).
    """

    def __init__(self, state: StreamState, log: CheckLog,
                 messages: asyncio.Queue[Any] | None = None,
                 failure: Callable[[], BaseException | None] = lambda: None, grace_s: float = 0.0) -> None:
        self.state, self.log, self.grace_s = state, log, grace_s
        self.messages = messages if messages is not None else asyncio.Queue()
        self._failure = failure
        self._pending: dict[str | None, deque[int]] = {}  # clock (None: a frame without one) -> frames waiting
        self._open: deque[SentFrame] = deque()  # frames without a verdict, in order of deadline
        self._judged: set[int] = set()
        self._missed: dict[str | None, int] = {}  # frames failed at their deadline, by clock: late messages
        self._parked: list[MqttMessage] = []  # messages that arrived during a write, of no frame yet
        self._writing = False
        self._unknown = 0
        self._lost = False
        self._task: asyncio.Task[None] | None = None
        self._finishing = False

    # the engine's side
    def writing(self) -> None:
        """A write begins: a message of no known frame may belong to it."""
        self._writing = True

    def frame_sent(self, frame: SentFrame) -> None:
        self._pending.setdefault(frame.timestamp, deque()).append(frame.index)
        self._open.append(frame)
        self._note_need()
        self._unpark(time.monotonic())

    def write_done(self) -> None:
        """The write is registered: messages parked during it are judged now, or wait out their grace."""
        self._writing = False
        self._unpark(time.monotonic())

    def _unpark(self, now: float | None) -> None:
        """Judge the parked messages a frame now claims, and those past their grace (all, when ``now`` is None)."""
        parked, self._parked = self._parked, []
        for message in parked:
            if now is None or self._claimed(message) or message.arrival + self.grace_s <= now:
                self._place(message)
            else:
                self._parked.append(message)

    # judging
    def take(self, item: MqttMessage | MqttPayloadError) -> None:
        """Judge one message (or a malformed payload) now."""
        if isinstance(item, MqttPayloadError):
            self._fail(-1, f"malformed message: {item.error}")
        else:
            self._take(item)

    def expire(self, now: float) -> None:
        """Fail the frames whose deadline has passed without a message."""
        if not self._writing or self._finishing:
            self._unpark(now)
        while self._open and (self._open[0].deadline < now or self._open[0].index in self._judged):
            frame = self._open.popleft()
            if frame.index in self._judged:
                self._judged.discard(frame.index)  # only open frames are remembered
                continue
            pending = self._pending[frame.timestamp]
            pending.remove(frame.index)
            if not pending:
                del self._pending[frame.timestamp]
            self._missed[frame.timestamp] = self._missed.get(frame.timestamp, 0) + 1
            self.log.add(Check("mqtt", frame.index, Outcome.FAIL, detail="no message within one frame interval"))
        self._note_need()
        failure = self._failure()
        if failure is not None and not self._lost:
            self._lost = True
            self._fail(-1, f"connection to the broker lost: {failure}")

    def _note_need(self) -> None:
        """The oldest frame this judge may still look at: the oldest without a verdict."""
        self.state.needs["mqtt"] = self._open[0].index if self._open else len(self.state.sent)

    def _claimed(self, message: MqttMessage) -> bool:
        """A frame sent is waiting for this message, or it is the late one of a frame already failed."""
        return bool(self._waiting(message) or self._missed.get(message.reading.get("timestamp")))

    def _waiting(self, message: MqttMessage) -> deque[int] | None:
        """The frames this message may be of: those with its clock and list, else those without a clock."""
        by_clock = self._pending.get(message.reading.get("timestamp"))
        if by_clock and same_list(message.reading, self.state.sent[by_clock[0]]):
            return by_clock
        return self._pending.get(None)  # a frame without a clock: in order

    def _take(self, message: MqttMessage) -> None:
        shown = message.reading.get("timestamp")
        if (self._writing or self.grace_s > 0) and not self._claimed(message) and shown not in self.state.damaged_ts:
            self._parked.append(message)  # its frame may be on its way
        else:
            self._place(message)

    def _place(self, message: MqttMessage) -> None:
        shown = message.reading.get("timestamp")
        if shown is not None and shown in self.state.damaged_ts:
            self._fail(-1, f"published the damaged frame of {shown}")
            return
        waiting = self._waiting(message)
        if waiting:
            frame = self.state.sent[waiting.popleft()]
            if not waiting:
                del self._pending[frame.timestamp]  # only clocks still awaited are remembered
            self._judge(frame, message)
        elif self._missed.get(shown):
            self._missed[shown] -= 1  # the late message of a frame already failed: not one more
            if not self._missed[shown]:
                del self._missed[shown]
        else:
            self._unknown += 1
            if self._unknown > self.state.unjudged:
                what = ("one more message than frames sent" if shown in self.state.latest_by_ts
                        else "message for a frame never sent")
                self._fail(-1, f"{what}: {json.dumps(message.payload)}")

    def _judge(self, frame: SentFrame, message: MqttMessage) -> None:
        self._judged.add(frame.index)
        latency = message.arrival - frame.t_end
        mismatches = self.state.judge("mqtt", frame, message.reading)
        if mismatches:
            self.log.add(Check("mqtt", frame.index, Outcome.FAIL, latency, mismatches))
        elif message.arrival > frame.deadline:
            self.log.add(Check("mqtt", frame.index, Outcome.FAIL, latency, detail=late(frame, latency)))
        else:
            self.log.add(Check("mqtt", frame.index, Outcome.PASS, latency))

    def _fail(self, frame: int, detail: str) -> None:
        self.log.add(Check("mqtt", frame, Outcome.FAIL, detail=detail))

    # the task
    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="mqtt-judge")

    async def finish(self) -> None:
        """Wait until every frame sent has its verdict (at its deadline at the latest), then stop."""
        self._finishing = True
        self.messages.put_nowait(None)  # wakes the task
        if self._task is not None:
            await self._task
        self._writing = False
        self._unpark(None)  # messages no frame claimed: judged now

    def cancel(self) -> None:
        if self._task is not None:
            self._task.cancel()

    async def _run(self) -> None:
        while True:
            deadline = next((f.deadline for f in self._open if f.index not in self._judged), None)
            if self._parked:
                parked_until = self._parked[0].arrival + self.grace_s
                deadline = parked_until if deadline is None else min(deadline, parked_until)
            if self._finishing and deadline is None:
                break
            timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
            if not self.messages.empty():
                self._take_item(self.messages.get_nowait())  # no wait, no timer: the common case at speed
            elif timeout is None:
                self._take_item(await self.messages.get())
            else:
                with contextlib.suppress(TimeoutError):
                    self._take_item(await asyncio.wait_for(self.messages.get(), timeout))
            while not self.messages.empty():  # everything that arrived before the deadline first
                self._take_item(self.messages.get_nowait())
            self.expire(time.monotonic())

    def _take_item(self, item: Any) -> None:
        if item is not None:
            self.take(item)


def check_mqtt(messages: list[MqttMessage], errors: list[MqttPayloadError], sent: list[SentFrame],
               damaged_ts: set[str], unjudged: int = 0, meter_format: str | None = None) -> list[Check]:
    """The verdicts on MQTT of messages received during a stream whose frames were all written first."""
    state = StreamState(meter_format, list(sent), {f.timestamp: f.index for f in sent if f.timestamp},
                        set(damaged_ts), unjudged=unjudged)
    checks: list[Check] = []
    mqtt = MqttJudge(state, CheckLog(checks, None, RunClock()))
    for frame in sent:
        mqtt.frame_sent(frame)
    for item in sorted([*messages, *errors], key=lambda m: m.arrival):
        mqtt.take(item)
    mqtt.expire(float("inf"))
    return checks

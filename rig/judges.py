"""The judges of a stream: each interface's verdict on each frame, made while the DUT shows it.

HTTP and Modbus are polled back to back for each frame until they show it, a newer frame, or the frame's
deadline passes; MQTT messages are judged as they arrive, and a frame without a message fails at its
deadline. Every verdict goes through a ``CheckLog``: kept with the stream and written to ``checks.jsonl`` at
once, on the run clock.

How a frame is told apart: on HTTP and MQTT by the meter clock it carries; on Modbus, and for a frame that
names no clock, by its values. A value shown after the frame's deadline fails, whatever it is. A reading
that shows neither this frame, nor the one before, nor a newer one is this frame shown wrong, as long as
no newer write had begun when it was read: then a newer frame replacing it does not excuse it, and a wrong
newer frame never fails this one.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from rig.checks import Check, Outcome, SentFrame, judge
from rig.probes.http import HttpProbe
from rig.probes.message import LIST_KEY
from rig.probes.modbus import ModbusProbe
from rig.probes.mqtt import MqttMessage, MqttPayloadError
from rig.reading import Mismatch, Reading
from rig.resolution import net_power
from rig.runclock import RunClock

FrameQueue = asyncio.Queue[SentFrame | None]


@dataclass
class StreamState:
    """What the judges know of a stream so far; the engine adds to it as it writes."""

    meter_format: str | None = None  # the meter's format (rig.resolution), None: judge at the interfaces' own
    sent: list[SentFrame] = field(default_factory=list)
    latest_by_ts: dict[str, int] = field(default_factory=dict)  # meter clock -> newest frame carrying it
    damaged_ts: set[str] = field(default_factory=set)  # clocks only damaged frames carried: never to be shown
    last_write_start: float = float("-inf")  # time.monotonic() when the latest write began
    unjudged: int = 0  # frames decoded whose values the rig does not know (their messages cannot be matched)

    def judge(self, interface: str, frame: SentFrame, observed: Reading) -> list[Mismatch]:
        """Mismatches of ``observed`` against what ``frame`` must show, at the stream's resolution."""
        return judge(interface, frame.expected, observed, frame.partial, self.meter_format)


class CheckLog:
    """Where verdicts go: the stream's list of checks, and ``checks.jsonl`` (one line per check, as made)."""

    def __init__(self, checks: list[Check], path: Path | None, clock: RunClock) -> None:
        self.checks = checks
        self.clock = clock
        self.failures = sum(1 for c in checks if c.outcome is Outcome.FAIL)
        self._file: IO[str] | None = None
        if path is not None:
            self._file = open(path, "a")  # closed by close()
            self._file.write(clock.header("checks made: frame, interface, outcome, latency, mismatches") + "\n")

    def add(self, check: Check) -> None:
        if check.at_s is None:
            check.at_s = self.clock.elapsed()
        self.checks.append(check)
        if check.outcome is Outcome.FAIL:
            self.failures += 1
        if self._file is not None:
            record = check.as_dict()
            del record["text"]
            self._file.write(json.dumps(record) + "\n")
            self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self) -> CheckLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# -- HTTP and Modbus: polled -----------------------------------------------------------------------------

async def poll_http(queue: FrameQueue, http: HttpProbe, state: StreamState, log: CheckLog) -> None:
    """Judge each frame of ``queue`` (None ends it) on ``/meter``."""
    await _poll("http", queue, lambda: asyncio.to_thread(http.meter), state, log)


async def poll_modbus(queue: FrameQueue, modbus: ModbusProbe, state: StreamState, log: CheckLog) -> None:
    """Judge each frame of ``queue`` (None ends it) on the Modbus map, told apart by its values."""
    await _poll("modbus", queue, modbus.read, state, log)


async def _poll(interface: str, queue: FrameQueue, read: Callable[[], Awaitable[Reading | None]],
                state: StreamState, log: CheckLog) -> None:
    previous: SentFrame | None = None
    last_shown: Reading | None = None  # the last reading of the previous frame's polling
    showing = -1  # the newest frame a reading showed
    while (frame := await queue.get()) is not None:
        if showing > frame.index:  # a poller behind the stream: a reading already showed a newer frame
            log.add(Check(interface, frame.index, Outcome.OVERTAKEN, detail=f"frame {showing} shown"))
        else:
            poll = FramePoll(interface, frame, previous, last_shown, state)
            while (check := poll.see(await read(), time.monotonic())) is None:
                pass
            log.add(check)
            last_shown, showing = poll.last, max(showing, poll.showing)
        previous = frame


class FramePoll:
    """The verdict of one interface on one frame, from the readings taken after it was written."""

    def __init__(self, interface: str, frame: SentFrame, previous: SentFrame | None, last_shown: Reading | None,
                 state: StreamState) -> None:
        self.interface, self.frame, self.previous, self.state = interface, frame, previous, state
        self.by_clock = interface != "modbus" and frame.timestamp is not None
        self.before = last_shown  # what the interface showed when this frame's polling began
        # a frame the interface cannot tell from the previous one: shown at once, when is unknown
        if previous is None:
            self.twin = False
        elif self.by_clock:
            self.twin = previous.timestamp == frame.timestamp
        else:
            self.twin = not state.judge(interface, previous, frame.expected)
        self.last: Reading | None = None
        self.showing = -1  # the frame the last reading showed, when the rig can tell
        self.wrong: tuple[Reading, float] | None = None  # a reading that can only be this frame, shown wrong

    def see(self, reading: Reading | None, now: float) -> Check | None:
        """Judge one reading taken at ``now``: the check once the verdict is known, else None."""
        self.last = reading
        frame, name = self.frame, self.interface
        kind, newer = self._identify(reading)
        self.showing = frame.index if kind == "this" else newer if newer is not None else -1
        if kind == "this":
            assert reading is not None
            mismatches = self.state.judge(name, frame, reading)
            latency = now - frame.t_end
            if mismatches:
                return Check(name, frame.index, Outcome.FAIL, latency, mismatches, "shown with other values")
            if now > frame.deadline:
                return Check(name, frame.index, Outcome.FAIL, latency, detail=_late(frame, latency))
            if self.twin:
                return Check(name, frame.index, Outcome.PASS, None,
                             detail=f"shows what frame {frame.index - 1} showed: when it appeared cannot be told")
            return Check(name, frame.index, Outcome.PASS, latency)
        if kind == "damaged":
            return Check(name, frame.index, Outcome.FAIL, detail=f"shows the damaged frame of {_clock(reading)}")
        if kind == "newer" or now > frame.deadline:
            if self.wrong is not None:
                shown, at = self.wrong
                mismatches = self.state.judge(name, frame, shown)
                then = f"; frame {newer} followed" if kind == "newer" else ""
                return Check(name, frame.index, Outcome.FAIL, at - frame.t_end, mismatches,
                             "shown with other values" + then)
            if kind == "newer":
                return Check(name, frame.index, Outcome.OVERTAKEN, detail=f"frame {newer} shown")
            return Check(name, frame.index, Outcome.FAIL, detail=f"not shown within one frame interval; "
                                                                 f"{name} showed {_shown(name, reading)}")
        if kind == "other" and self.wrong is None and self.state.last_write_start <= (frame.t_start or frame.t_end):
            self.wrong = (reading or {}, now)  # the first time it was shown wrong
        return None

    def _identify(self, reading: Reading | None) -> tuple[str, int | None]:
        """What a reading shows: "this" frame, a "newer" one (and which), a "damaged" one, the "old" state
        (the frame before, or what was shown before), or "other" (nothing the rig sent)."""
        frame, state = self.frame, self.state
        if reading is None:
            return "old", None  # no reading yet (503)
        if self.by_clock:
            shown = reading.get("timestamp")
            if shown == frame.timestamp and same_list(reading, frame):
                return "this", None
            if shown in state.damaged_ts:
                return "damaged", None
            seen = state.latest_by_ts.get(shown) if shown is not None else None
            if seen is not None and same_list(reading, state.sent[seen]):
                return ("newer", seen) if seen > frame.index else ("old", None)
            if shown is None:
                return "old", None
            # a clock no frame of that list carried: a list without a clock, stamped by the reader's own clock
            newer = self._newer_by_values(reading)
            return ("newer", newer) if newer is not None else ("other", None)
        if not state.judge(self.interface, frame, reading):
            return "this", None
        if all(value is None for value in reading.values()):
            return "old", None  # nothing shown yet
        newer = self._newer_by_values(reading)
        if newer is not None:
            return "newer", newer
        if reading == self.before or (self.previous is not None
                                      and not state.judge(self.interface, self.previous, reading)):
            return "old", None
        return "other", None


    def _newer_by_values(self, reading: Reading) -> int | None:
        """The newest frame sent after this one whose values the reading shows, if any."""
        state = self.state
        shown_net = net_power(reading) if self.interface == "modbus" else None
        for index in range(len(state.sent) - 1, self.frame.index, -1):  # the newest first: what a reader shows
            later = state.sent[index]
            net = net_power(later.expected) if shown_net is not None else None  # a first look: the map's power
            if net is not None and abs(net - shown_net) > 0.5:  # type: ignore[operator]
                continue
            if not state.judge(self.interface, later, reading):
                return index
        return None


def same_list(reading: Reading, frame: SentFrame) -> bool:
    """The reading may show ``frame``'s list (a reader stamps a list without a clock with its own clock,
    which can fall on the second of a frame that has one)."""
    listed = reading.get(LIST_KEY)
    return listed is None or not frame.list_no or listed == frame.list_no


def _late(frame: SentFrame, latency: float) -> str:
    allowed = frame.deadline - frame.t_end
    return f"shown {latency * 1000:.0f} ms after the frame, later than one frame interval ({allowed * 1000:.0f} ms)"


def _clock(reading: Reading | None) -> str:
    return str((reading or {}).get("timestamp"))


def _shown(interface: str, reading: Reading | None) -> str:
    if reading is None:
        return "503 (no reading)"
    if interface == "modbus":
        return ", ".join(f"{k}={v}" for k, v in reading.items() if v is not None) or "nothing"
    return f"the frame of {reading.get('timestamp')}"


# -- MQTT: judged as messages arrive ---------------------------------------------------------------------

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
                continue
            self._judged.add(frame.index)
            self._pending[frame.timestamp].remove(frame.index)
            self._missed[frame.timestamp] = self._missed.get(frame.timestamp, 0) + 1
            self.log.add(Check("mqtt", frame.index, Outcome.FAIL, detail="no message within one frame interval"))
        failure = self._failure()
        if failure is not None and not self._lost:
            self._lost = True
            self._fail(-1, f"connection to the broker lost: {failure}")

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
            self._judge(self.state.sent[waiting.popleft()], message)
        elif self._missed.get(shown):
            self._missed[shown] -= 1  # the late message of a frame already failed: not one more
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
            self.log.add(Check("mqtt", frame.index, Outcome.FAIL, latency, detail=_late(frame, latency)))
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
            with contextlib.suppress(TimeoutError):
                item = await asyncio.wait_for(self.messages.get(), timeout)
                self._take_item(item)
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

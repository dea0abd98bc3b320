"""HTTP and Modbus: each frame judged by polling the interface back to back until it shows that frame, a
newer one, or the frame's deadline passes. A reading that shows a newer frame overtakes the frames before
it and judges that newer frame when the poller gets to it (if it was read within that frame's deadline),
so a poller that is behind at high speed still judges a frame with every reading.

How a frame is told apart: on HTTP by the meter clock it carries; on Modbus, and for a frame that names
no clock, by its values. A value shown after the frame's deadline fails, whatever it is. A reading that
shows neither this frame, nor the one before, nor a newer one is this frame shown wrong, as long as no
newer write had begun when it was read: then a newer frame replacing it does not excuse it, and a wrong
newer frame never fails this one.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from rig.checks import Check, Outcome, SentFrame
from rig.judges.log import CheckLog
from rig.judges.state import StreamState
from rig.probes.http import HttpProbe
from rig.probes.message import LIST_KEY
from rig.probes.modbus import ModbusProbe
from rig.reading import Reading
from rig.resolution import net_power

FrameQueue = asyncio.Queue[SentFrame | None]


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
    shown_at = 0.0  # when that reading was taken
    state.needs[interface] = len(state.sent)  # frames still queued are newer: the window holds them
    while (frame := await queue.get()) is not None:
        state.needs[interface] = frame.index
        if showing > frame.index:  # a poller behind the stream: a reading already showed a newer frame
            log.add(Check(interface, frame.index, Outcome.OVERTAKEN, detail=f"frame {showing} shown"))
        else:
            poll = FramePoll(interface, frame, previous, last_shown, state)
            # the reading that overtook the frames before showed this one, in time: it is judged on it (a
            # reading that came back after the deadline is not held against it: it is polled afresh)
            check = poll.see(last_shown, shown_at) if showing == frame.index and shown_at <= frame.deadline else None
            while check is None:
                check = poll.see(await read(), time.monotonic())
            log.add(check)
            if poll.showing > showing:
                shown_at = poll.last_at
            last_shown, showing = poll.last, max(showing, poll.showing)
        previous = frame
        state.needs[interface] = frame.index + 1
    state.needs.pop(interface, None)


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
        self.last_at = 0.0  # when the last reading was taken
        self.showing = -1  # the frame the last reading showed, when the rig can tell
        self.wrong: tuple[Reading, float] | None = None  # a reading that can only be this frame, shown wrong

    def see(self, reading: Reading | None, now: float) -> Check | None:
        """Judge one reading taken at ``now``: the check once the verdict is known, else None."""
        self.last, self.last_at = reading, now
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
                return Check(name, frame.index, Outcome.FAIL, latency, detail=late(frame, latency))
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
            if seen is not None and not state.window.holds(seen):
                return "old", None  # a frame every judge is done with: older than this one
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


def late(frame: SentFrame, latency: float) -> str:
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

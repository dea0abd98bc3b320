"""What the judges of a stream know: the window of frames sent that a judge may still need, and the
clocks they carried.

Memory stays bounded however long the stream: each judge states the oldest frame it may still look at,
and the frames before the oldest of those leave the window; the clocks of frames that left it are
remembered for ``CLOCK_MEMORY`` more frames (to tell a stale reading from one the rig never sent).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from rig.checks import SentFrame, judge
from rig.reading import Mismatch, Reading

# How many frames' clocks the judges remember beyond the window, to tell a stale reading ("old") from one
# the rig never sent: more than an hour of any meter's frames, a bounded table all the same.
CLOCK_MEMORY = 4096


class SentWindow:
    """The frames sent that a judge may still need, by index: frame ``i`` is ``window[i]`` until it is
    released (every interface has judged it, or can no longer see it). ``len()`` counts every frame sent;
    ``held`` those kept now, ``peak`` the most ever kept at once."""

    def __init__(self, frames: list[SentFrame] | None = None) -> None:
        self._frames: deque[SentFrame] = deque(frames or ())
        self.base = 0  # the index of the oldest frame held
        self.peak = len(self._frames)

    def append(self, frame: SentFrame) -> None:
        self._frames.append(frame)
        if len(self._frames) > self.peak:
            self.peak = len(self._frames)

    def __len__(self) -> int:
        return self.base + len(self._frames)

    def __getitem__(self, index: int) -> SentFrame:
        if not self.base <= index < len(self):
            raise IndexError(f"frame {index} is not held (frames {self.base}..{len(self) - 1} are)")
        return self._frames[index - self.base]

    def holds(self, index: int) -> bool:
        return self.base <= index < len(self)

    @property
    def held(self) -> int:
        return len(self._frames)

    def release_below(self, index: int) -> int:
        """Drop the frames before ``index``; how many were dropped."""
        dropped = 0
        while self._frames and self.base < index:
            self._frames.popleft()
            self.base += 1
            dropped += 1
        return dropped


@dataclass
class StreamState:
    """What the judges know of a stream so far; the engine adds to it as it writes.

    ``sent`` holds only the frames some judge may still need: each judge states in ``needs`` the oldest
    frame it may still look at, and ``release()`` drops the frames before the oldest of those.
    """

    meter_format: str | None = None  # the meter's format (rig.resolution), None: judge at the interfaces' own
    sent: SentWindow | list[SentFrame] = field(default_factory=SentWindow)
    latest_by_ts: dict[str, int] = field(default_factory=dict)  # meter clock -> newest frame carrying it
    damaged_ts: set[str] = field(default_factory=set)  # clocks only damaged frames carried: never to be shown
    last_write_start: float = float("-inf")  # time.monotonic() when the latest write began
    unjudged: int = 0  # frames decoded whose values the rig does not know (their messages cannot be matched)
    needs: dict[str, int] = field(default_factory=dict)  # judge -> the oldest frame it may still look at
    _clocks: deque[tuple[str, int]] = field(default_factory=deque)  # (clock, frame) in the order sent
    _damaged: deque[str] = field(default_factory=deque)  # damaged clocks in the order seen

    def __post_init__(self) -> None:
        if not isinstance(self.sent, SentWindow):
            self.sent = SentWindow(list(self.sent))

    @property
    def window(self) -> SentWindow:
        assert isinstance(self.sent, SentWindow)
        return self.sent

    def judge(self, interface: str, frame: SentFrame, observed: Reading) -> list[Mismatch]:
        """Mismatches of ``observed`` against what ``frame`` must show, at the stream's resolution."""
        return judge(interface, frame.expected, observed, frame.partial, self.meter_format)

    def add(self, frame: SentFrame) -> None:
        """A frame to publish was sent."""
        self.window.append(frame)
        ts = frame.timestamp
        if ts is not None:
            self.latest_by_ts[ts] = frame.index
            self._clocks.append((ts, frame.index))
            if ts in self.damaged_ts:
                self.damaged_ts.discard(ts)

    def add_damaged(self, ts: str) -> None:
        """A damaged frame carried clock ``ts`` (no frame to publish carried it yet)."""
        if ts not in self.damaged_ts:
            self.damaged_ts.add(ts)
            self._damaged.append(ts)
            while len(self._damaged) > CLOCK_MEMORY:
                self.damaged_ts.discard(self._damaged.popleft())

    def release(self) -> int:
        """Drop the frames no judge needs any longer (and forget their clocks beyond ``CLOCK_MEMORY``);
        how many were dropped."""
        window = self.window
        oldest = min(self.needs.values(), default=len(window))
        dropped = window.release_below(oldest)
        forget = window.base - CLOCK_MEMORY
        clocks = self._clocks
        while clocks and clocks[0][1] < forget:
            ts, index = clocks.popleft()
            if self.latest_by_ts.get(ts) == index:
                del self.latest_by_ts[ts]
        return dropped

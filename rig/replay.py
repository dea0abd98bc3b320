"""Play timed writes (a capture's chunks) into a link with their original timing.

Chunk ``i`` of pass ``k`` goes out at ``t0 + (k * period + t_i) / speed``, where ``t0`` is when
:func:`replay` was called and ``period`` is the capture's duration (the ``t`` of its last chunk) plus
one second of capture time: a looped capture plays again one (scaled) second after its last chunk.
Deadlines are absolute, so lateness never accumulates: a write that blocks (the link pacing a long
chunk at the line rate) only delays the writes due while it lasted, and they go out at once after it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from rig.links.base import Link

LOOP_GAP_S = 1.0  # capture seconds between the last chunk of a pass and the first of the next
_STOP_POLL_S = 0.1  # how often a long wait looks at ``stop``

Write = tuple[float, bytes, Mapping | None]


@dataclass
class ReplayStats:
    """What a replay has done so far (passed to ``progress`` after every write, returned at the end)."""

    chunks: int = 0  # writes made, over all passes
    bytes: int = 0
    passes: int = 0  # passes completed
    elapsed_s: float = 0.0
    max_late_s: float = 0.0  # the latest a write started after its deadline
    stopped: bool = False  # ``stop`` ended the replay


def _wait_until(deadline: float, stop: threading.Event | None) -> bool:
    """Sleep until ``deadline`` (monotonic); False if ``stop`` was set first."""
    while True:
        if stop is not None and stop.is_set():
            return False
        left = deadline - time.monotonic()
        if left <= 0:
            return True
        time.sleep(min(left, _STOP_POLL_S) if stop is not None else left)


def replay(
    writes: Sequence[Write],
    link: Link,
    speed: float = 1.0,
    loop: bool = False,
    progress: Callable[[ReplayStats], None] | None = None,
    stop: threading.Event | None = None,
) -> ReplayStats:
    """Write each ``(t, data, note)`` to ``link`` at ``t / speed`` seconds from now (``note`` goes to
    ``link.write``); with ``loop``, again and again until ``stop`` is set. Returns what was done."""
    if not speed > 0:
        raise ValueError(f"speed must be positive, got {speed}")
    if any(b[0] < a[0] for a, b in zip(writes, writes[1:], strict=False)):
        raise ValueError("writes must be in time order")
    stats = ReplayStats()
    if not writes:
        return stats
    period = writes[-1][0] + LOOP_GAP_S
    t0 = time.monotonic()
    k = 0
    while True:
        for t, data, note in writes:
            deadline = t0 + (k * period + t) / speed
            if not _wait_until(deadline, stop):
                stats.stopped = True
                stats.elapsed_s = time.monotonic() - t0
                return stats
            stats.max_late_s = max(stats.max_late_s, time.monotonic() - deadline)
            link.write(data, note)
            stats.chunks += 1
            stats.bytes += len(data)
            stats.elapsed_s = time.monotonic() - t0
            if progress is not None:
                progress(stats)
        stats.passes += 1
        k += 1
        if not loop or (stop is not None and stop.is_set()):
            stats.stopped = stop is not None and stop.is_set()
            return stats

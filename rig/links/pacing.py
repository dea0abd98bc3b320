"""Pace bytes at a line rate by sleeping to absolute deadlines (for links that do not pace themselves).

A pty delivers instantly, so the rig releases each byte when a UART receiver would have it: byte ``i``
(0-based) of a write that starts on the line at ``t0`` is due at ``t0 + (i + 1) * char_time``, with
``char_time = bits_per_char / (baud * speed)``. Deadlines are absolute (no drift), waits are
``time.sleep`` (never a busy-wait: other Python threads must run), and whatever is due within
``lead_s`` (0.5 ms) is written at once, so at high rates bytes go out in chunks.

A write that starts while the previous one is still on the line queues behind it (``t0`` = the
previous end); otherwise it starts now. The arithmetic (:meth:`Pacer.start_time`, :meth:`Pacer.due`,
:meth:`Pacer.deadline`, :meth:`Pacer.plan`) is pure; only :meth:`Pacer.pace` reads the clock and sleeps.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

from rig.line import LineSettings

#: write at once whatever is due within this many seconds (a sleep shorter than this is not worth it)
DEFAULT_LEAD_S = 0.0005
_EPS_CHARS = 1e-9  # float slack when dividing times by the character time


class Pacer:
    """Deadline arithmetic and the sleeping write loop for one line."""

    def __init__(self, line: LineSettings, speed: float = 1.0, *, lead_s: float = DEFAULT_LEAD_S,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        if not speed > 0:
            raise ValueError(f"speed must be positive, got {speed}")
        self.line = line
        self.speed = float(speed)
        self.char_time_s = line.char_time_s / self.speed
        self.lead_s = lead_s
        self.busy_until = -math.inf  # monotonic time the line becomes idle
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()

    # -- pure arithmetic ---------------------------------------------------------------------------
    def start_time(self, now: float) -> float:
        """When a write issued at ``now`` starts on the line (behind a write still on it)."""
        return max(now, self.busy_until)

    def deadline(self, t0: float, i: int) -> float:
        """When byte ``i`` (0-based) of a write starting at ``t0`` is fully received."""
        return t0 + (i + 1) * self.char_time_s

    def end_time(self, t0: float, n: int) -> float:
        """When the last of ``n`` bytes starting at ``t0`` is on the line."""
        return t0 + n * self.char_time_s

    def duration(self, n: int) -> float:
        """Seconds ``n`` bytes occupy the line."""
        return n * self.char_time_s

    def due(self, t0: float, n: int, now: float) -> int:
        """How many of the ``n`` bytes are due at ``now`` (deadline within ``lead_s``)."""
        k = math.floor((now + self.lead_s - t0) / self.char_time_s + _EPS_CHARS)
        return min(max(k, 0), n)

    def plan(self, n: int, t0: float) -> list[tuple[float, int, int]]:
        """The writes an ideal sleeper makes: ``[(time, start, stop), ...]`` slicing ``n`` bytes from ``t0``.

        The loop in :meth:`pace` follows this plan when every sleep ends exactly on time.
        """
        out: list[tuple[float, int, int]] = []
        sent, now = 0, t0
        while sent < n:
            k = self.due(t0, n, now)
            if k > sent:
                out.append((now, sent, k))
                sent = k
            else:
                now = self.deadline(t0, sent)
        return out

    # -- the sleeping loop -------------------------------------------------------------------------
    def pace(self, data: bytes, write: Callable[[bytes], object]) -> tuple[float, float]:
        """Hand ``data`` to ``write`` in due chunks; return ``(start, end)`` monotonic times on the line.

        ``end`` is the later of the ideal end and the time of the last write (when the process was late).
        Writes from several threads are serialized and queue behind one another.
        """
        with self._lock:
            n = len(data)
            t0 = self.start_time(self._clock())
            if n == 0:
                return t0, t0
            end = self.end_time(t0, n)
            self.busy_until = end
            sent, last = 0, t0
            while sent < n:
                now = self._clock()
                k = self.due(t0, n, now)
                if k > sent:
                    write(data[sent:k])
                    sent, last = k, now
                else:
                    self._sleep(self.deadline(t0, sent) - now)
            end = max(end, last)
            self.busy_until = end
            return t0, end

"""The console of the software DUT: its lines kept in memory, copied into ``dut.log``, and its READY line read.

Each start of the firmware writes a header line stating the wall-clock start of the log's time base (the
run's :class:`~rig.runclock.RunClock`); each ``dut.log`` line is then ``+<seconds since the run started>
<console line>``. The rig's own notes start with ``[rig]``. The firmware says it is up with
``READY {"http": .., "modbus": ..}``.
"""

from __future__ import annotations

import collections
import json
import re
import threading
import time
from pathlib import Path
from typing import IO, Any

from rig.dut.base import DutError
from rig.runclock import RunClock

READY_RE = re.compile(r"\bREADY\s+(\{.*\})\s*$")
_UPTIME_RE = re.compile(r"(\d+) [A-Z]+ ")  # a firmware log line: <uptime ms> <LEVEL> <message>
_KEEP_LINES = 10_000


class Console:
    """The console of one software DUT over all its starts: the latest 10,000 lines and ``log_path``.

    ``ready``: the parsed READY payload of the current start (None before it); ``boot_s``: real seconds
    from :meth:`begin` (just before the spawn) to that READY line.
    """

    def __init__(self, log_path: Path, clock: RunClock, serial_number: str) -> None:
        self.log_path = log_path
        self.clock = clock
        self.serial_number = serial_number
        self.ready: dict[str, Any] | None = None
        self.boot_s: float | None = None
        self._began = 0.0
        self._lines: collections.deque[tuple[int, float, str]] = collections.deque(maxlen=_KEEP_LINES)
        self._seq = 0  # console lines seen since construction
        self._start_seq = 0  # the first line of the current start
        self._ready_event = threading.Event()
        self._cond = threading.Condition()
        self._log_fh: IO[str] | None = None
        self._log_lock = threading.Lock()

    # -- the log file ------------------------------------------------------------------------------
    def open(self) -> None:
        """Open ``log_path`` for appending and write the header of a start."""
        self.reopen()
        self._write(self.clock.header(f"console of the software DUT {self.serial_number}"))

    def reopen(self) -> bool:
        """Open ``log_path`` for appending, without a header, when it is closed (a note after a stop); whether
        it was closed."""
        with self._log_lock:
            if self._log_fh is not None:
                return False
            self._log_fh = open(self.log_path, "a", encoding="utf-8", errors="replace")
            return True

    def note(self, text: str) -> None:
        """A line of the rig's own (``[rig] text``), stamped like a console line."""
        self._log_line(f"[rig] {text}")

    def close(self) -> None:
        with self._log_lock:
            if self._log_fh is not None:
                self._log_fh.close()
                self._log_fh = None

    def _write(self, line: str) -> None:
        with self._log_lock:
            if self._log_fh is not None:
                self._log_fh.write(line + "\n")
                self._log_fh.flush()

    def _log_line(self, text: str) -> None:
        self._write(f"{self.clock.stamp()} {text}")

    # -- a start -----------------------------------------------------------------------------------
    def begin(self) -> None:
        """A new start, just before the spawn: READY not yet seen; lines count for :meth:`wait_for_line` and
        :meth:`uptime_of` from here."""
        self._ready_event.clear()
        with self._cond:
            self._start_seq = self._seq
        self.ready, self.boot_s = None, None
        self._began = time.monotonic()

    def copy(self, stdout: IO[bytes]) -> None:
        """Copy the console into memory and the log until it ends, noting the READY line."""
        for raw in stdout:
            text = raw.decode("utf-8", errors="replace").rstrip("\r\n")
            self._log_line(text)
            with self._cond:
                self._lines.append((self._seq, time.monotonic(), text))
                self._seq += 1
                self._cond.notify_all()
            if not self._ready_event.is_set():
                m = READY_RE.search(text)
                if m:
                    try:
                        self.ready = json.loads(m.group(1))
                    except ValueError:
                        self.note(f"unparsable READY line: {text!r}")
                        continue
                    self.boot_s = round(time.monotonic() - self._began, 4)
                    self._ready_event.set()

    def wait_ready(self, timeout: float) -> bool:
        """True once the READY line of this start was read (waits up to ``timeout`` s)."""
        return self._ready_event.wait(timeout)

    def is_ready(self) -> bool:
        return self._ready_event.is_set()

    # -- reading it --------------------------------------------------------------------------------
    def lines(self) -> list[str]:
        """The console lines seen so far (the latest 10,000)."""
        with self._cond:
            return [text for _, _, text in self._lines]

    def tail(self, n: int = 30) -> str:
        """The last ``n`` console lines, for failure messages."""
        return "\n".join(self.lines()[-n:])

    def wait_for_line(self, pattern: str, timeout: float = 5.0) -> str:
        """The first console line since the last :meth:`begin` matching regex ``pattern``.

        Lines already printed count; waits up to ``timeout`` s for more, then raises ``DutError``.
        """
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self._cond:
            next_seq = self._start_seq
            while True:
                for seq, _, text in self._lines:
                    if seq >= next_seq and regex.search(text):
                        return text
                next_seq = self._seq
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(min(left, 0.2))
        raise DutError(f"no DUT console line matching {pattern!r} within {timeout} s; log {self.log_path}, "
                       f"last lines:\n{self.tail()}")

    def uptime_of(self, monotonic: float, scale: float = 1.0) -> float:
        """The DUT's uptime (device ms) at host ``time.monotonic()`` ``monotonic``, its clock running ``scale``
        times real time.

        Each console line starts with its uptime and arrives after it, so the latest possible start is the
        least (arrival - uptime) over the lines of this start; DutError before the first line.
        """
        with self._cond:
            stamped = [(t, int(m.group(1))) for seq, t, text in self._lines
                       if seq >= self._start_seq and (m := _UPTIME_RE.match(text))]
        if not stamped:
            raise DutError(f"software DUT {self.serial_number} has printed no console line yet")
        start = min(t - up / 1000.0 / scale for t, up in stamped)
        return (monotonic - start) * 1000.0 * scale

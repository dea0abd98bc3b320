"""The ``Link`` contract, and the capture every link can write of what it sent.

With a ``log_path``, a link records each ``write()`` as one chunk of a capture (:mod:`rig.capture`,
``line.jsonl`` in a run folder): the header names the meter, the line settings, the wall-clock start and
``{"source": {"link": url}}``; a chunk's ``t`` is when the first byte of the write started on the line
(for a paced pty: its first deadline minus one character time; for a UART: when ``write`` was called),
with the ``note`` given to ``write`` (expect, list, counts, fault, note). Times are on the run's time
base (:class:`~rig.runclock.RunClock`): ``t`` counts seconds since the run started, and the header's
``started`` is that instant on the wall clock (a link given no clock starts one when it opens).
Replaying = writing each chunk when its time has come (:func:`rig.replay.replay`).
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rig.capture import CaptureWriter, Chunk
from rig.line import LineSettings
from rig.runclock import RunClock


class LinkError(RuntimeError):
    """A link could not be opened or used."""


class Link(ABC):
    """Bytes onto a serial line. Use as a context manager; ``close()`` is idempotent."""

    #: what the link was opened from ("sim", "/dev/ttyUSB0", "rfc2217://...")
    url: str
    #: a human-readable name for reports and errors
    name: str

    def __init__(self, log_path: str | Path | None = None, clock: RunClock | None = None) -> None:
        self.clock = clock or RunClock()  # the capture's time base
        self.log_path = Path(log_path) if log_path is not None else None
        self._log: CaptureWriter | None = None
        # a write and its capture line happen together, so the capture stays in line order across threads
        self._write_lock = threading.Lock()

    def _open_log(self, line: LineSettings, meter: str | None, **meta: Any) -> None:
        if self.log_path is not None:
            started = self.clock.started.isoformat(timespec="milliseconds")
            header = {"meter": meter, "line": str(line), "started": started, "source": {"link": self.url}, **meta}
            self._log = CaptureWriter(self.log_path, header)

    def _record(self, at: float, data: bytes, note: dict[str, Any]) -> None:
        """Log a write whose first byte started on the line at monotonic time ``at``."""
        if self._log is not None:
            self._log.write(Chunk(max(0.0, self.clock.elapsed(at)), data, **note))

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()

    @abstractmethod
    def write(self, data: bytes, note: Mapping[str, Any] | None = None) -> float:
        """Send ``data``; return the monotonic time when its last byte is on the line.

        ``note`` (keys expect, list, counts, fault, note) is recorded with the write's chunk in the
        capture; ValueError, before anything is sent, when a key or value is not one a chunk takes.
        """

    @abstractmethod
    def close(self) -> None:
        """Release the line (idempotent)."""

    def request_line(self) -> bool | None:
        """Whether the reader raises the data-request line (P1 RTS); ``None``: the link has no such line.

        A P1 meter sends only while the request is raised; HAN and M-Bus meters have no such line.
        """
        return None

    def __enter__(self) -> Link:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"

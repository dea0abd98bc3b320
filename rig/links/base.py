"""The ``Link`` contract and the capture log every link writes.

Capture format (``line.log``; also the replayable capture format): one text line per ``write()``::

    <seconds since the link was opened, 6 decimals> <number of bytes> <hex, lowercase, no spaces>
    0.000000 3 7ea0
    2.000412 228 7ea0e22b2113...

The time is when the first byte of the write started on the line (for a paced pty: its first
deadline minus one character time; for a pyserial port: when ``write`` was called). Lines starting
with ``#`` are comments. Replaying = writing each payload when its time has come.
"""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from pathlib import Path
from typing import IO

CAPTURE_FORMAT = "<seconds since open, 6 decimals> <n bytes> <hex>"


class LinkError(RuntimeError):
    """A link could not be opened or used."""


class CaptureLog:
    """Appends one capture line per write to ``path`` (thread-safe, flushed per line)."""

    def __init__(self, path: str | Path, opened_at: float, header: str = "") -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._opened_at = opened_at
        self._lock = threading.Lock()
        self._fh: IO[str] | None = open(self.path, "w", encoding="ascii")
        if header:
            self._fh.write(f"# {header}\n")
        self._fh.write(f"# {CAPTURE_FORMAT}\n")
        self._fh.flush()

    def record(self, at: float, data: bytes) -> None:
        """Log ``data`` as sent at monotonic time ``at``."""
        with self._lock:
            if self._fh is None:
                return
            self._fh.write(f"{at - self._opened_at:.6f} {len(data)} {data.hex()}\n")
            self._fh.flush()

    def close(self) -> None:
        with self._lock:
            if self._fh is not None:
                self._fh.close()
                self._fh = None


def read_capture(path: str | Path) -> list[tuple[float, bytes]]:
    """Parse a capture log into ``[(seconds since open, payload), ...]``; ``ValueError`` on a bad line."""
    out: list[tuple[float, bytes]] = []
    for no, raw in enumerate(Path(path).read_text(encoding="ascii").splitlines(), 1):
        text = raw.strip()
        if not text or text.startswith("#"):
            continue
        parts = text.split()
        try:
            if len(parts) not in (2, 3):
                raise ValueError("expected '<seconds> <n bytes> <hex>'")
            at, n = float(parts[0]), int(parts[1])
            data = bytes.fromhex(parts[2]) if len(parts) == 3 else b""
            if len(data) != n:
                raise ValueError(f"byte count {n} but {len(data)} bytes of hex")
        except ValueError as exc:
            raise ValueError(f"{path}:{no}: bad capture line {text[:60]!r}: {exc}") from None
        out.append((at, data))
    return out


class Link(ABC):
    """Bytes onto a serial line. Use as a context manager; ``close()`` is idempotent."""

    #: what the link was opened from ("sim", "/dev/ttyUSB0", "rfc2217://...")
    url: str
    #: a human-readable name for reports and errors
    name: str

    def __init__(self, log_path: str | Path | None = None) -> None:
        self.opened_at = time.monotonic()
        self.log_path = Path(log_path) if log_path is not None else None
        self._log: CaptureLog | None = None

    def _open_log(self, header: str) -> None:
        if self.log_path is not None:
            self._log = CaptureLog(self.log_path, self.opened_at, header)

    def _record(self, at: float, data: bytes) -> None:
        if self._log is not None:
            self._log.record(at, data)

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()

    @abstractmethod
    def write(self, data: bytes) -> float:
        """Send ``data``; return the monotonic time when its last byte is on the line."""

    @abstractmethod
    def close(self) -> None:
        """Release the line (idempotent)."""

    def __enter__(self) -> Link:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"

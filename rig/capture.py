"""The capture format: what a meter put on its line, as JSON lines (reader, writer, importers).

A capture (``.jsonl``, UTF-8) is one JSON object per line, blank lines ignored. Line 1 is the header::

    {"format": "han-rig-capture", "version": 1, "meter": "kaifa-ma304h4", "line": "2400 8E1",
     "started": "2026-11-30T00:12:03.123+00:00", "source": {"link": "sim"}, ...other metadata}

and every further line is one chunk of bytes, in order of time::

    {"t": 0.123456, "hex": "7ea0..."}

``t`` is seconds since the capture began: when the chunk was received (recording) or when its first
byte went on the line (rig writes). Optional chunk keys: ``expect`` (the normalized reading of the
frame completing with this chunk), ``list``, ``counts`` (what a reader must count for it, e.g.
``{"frames_ok": 1}``), ``fault`` (the injection that shaped it) and ``note`` (free text).

:func:`load_capture` also imports raw byte logs, hex dumps (plain, ``xxd``, ``hexdump -C``) and the
older line log (``<seconds> <n bytes> <hex>`` per line); see :mod:`rig.capture_import`.
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from rig.line import LineSettings

FORMAT = "han-rig-capture"
VERSION = 1
KNOWN_VERSIONS = (1,)
#: the optional keys of a chunk (also the keys of the ``note`` a link records with a write)
NOTE_KEYS = ("expect", "list", "counts", "fault", "note")
CHUNK_KEYS = ("t", "hex", *NOTE_KEYS)
HEADER_KEYS = ("format", "version", "meter", "line", "started", "source")


class CaptureError(ValueError):
    """A capture file that cannot be read; the message starts with ``<path>:<line>: ``."""


@dataclass(frozen=True)
class Chunk:
    """Bytes received (or sent) at ``t`` seconds since the capture began, with optional annotations."""

    t: float
    data: bytes
    expect: dict | None = None
    list: int | None = None
    counts: dict[str, int] | None = None
    fault: str | None = None
    note: str | None = None

    @classmethod
    def from_note(cls, t: float, data: bytes, note: Mapping[str, Any] | None = None) -> Chunk:
        """A chunk with the annotations of ``note`` (keys of :data:`NOTE_KEYS`); ValueError if one is bad."""
        return cls(float(t), bytes(data), **check_note(note))

    def annotations(self) -> dict[str, Any]:
        """The optional keys that are set, as a ``note`` mapping (what ``Link.write`` takes)."""
        return {key: getattr(self, key) for key in NOTE_KEYS if getattr(self, key) is not None}


@dataclass
class Capture:
    """A capture in memory: header fields, the other header keys (``meta``) and the chunks in time order."""

    meter: str | None = None
    line: LineSettings | None = None
    started: str | None = None
    source: object = None
    meta: dict = field(default_factory=dict)
    chunks: list[Chunk] = field(default_factory=list)
    path: Path | None = None

    @property
    def data(self) -> bytes:
        """Every chunk's bytes, joined."""
        return b"".join(chunk.data for chunk in self.chunks)

    @property
    def duration_s(self) -> float:
        """Seconds from the start of the capture to its last chunk (0 when empty)."""
        return self.chunks[-1].t if self.chunks else 0.0

    def header(self) -> dict[str, Any]:
        """The header line as a dict (``format`` and ``version`` included)."""
        return {"format": FORMAT, "version": VERSION, "meter": self.meter,
                "line": str(self.line) if self.line else None, "started": self.started, "source": self.source,
                **self.meta}

    def writes(self) -> list[tuple[float, bytes, dict[str, Any] | None]]:
        """``(t, bytes, note)`` per chunk: what :func:`rig.replay.replay` plays."""
        return [(chunk.t, chunk.data, chunk.annotations() or None) for chunk in self.chunks]


def check_note(note: Mapping[str, Any] | None) -> dict[str, Any]:
    """``note`` as chunk annotations (None values dropped); ValueError for an unknown key or a wrong type."""
    note = dict(note or {})
    unknown = sorted(set(note) - set(NOTE_KEYS))
    if unknown:
        raise ValueError(f"unknown chunk key(s) {', '.join(map(str, unknown))}: the keys are {', '.join(NOTE_KEYS)}")
    _check_annotations(note)
    return {key: value for key, value in note.items() if value is not None}


def _check_annotations(obj: Mapping[str, Any]) -> None:
    """ValueError naming the first optional chunk key whose value has the wrong type."""
    expect, list_no, counts = obj.get("expect"), obj.get("list"), obj.get("counts")
    if expect is not None and not isinstance(expect, dict):
        raise ValueError(f"'expect' must be an object (a normalized reading), got {expect!r}")
    if list_no is not None and (not isinstance(list_no, int) or isinstance(list_no, bool) or list_no < 0):
        raise ValueError(f"'list' must be a list number, got {list_no!r}")
    if counts is not None:
        if not isinstance(counts, dict) or not all(
                isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool) and v >= 0
                for k, v in counts.items()):
            raise ValueError(f"'counts' must map counter names to counts, got {counts!r}")
    for key in ("fault", "note"):
        if obj.get(key) is not None and not isinstance(obj[key], str):
            raise ValueError(f"'{key}' must be a string, got {obj[key]!r}")


def _parse_header(obj: object) -> Capture:
    if not isinstance(obj, dict) or obj.get("format") != FORMAT:
        got = obj.get("format") if isinstance(obj, dict) else type(obj).__name__
        raise ValueError(f"not a {FORMAT} header (format {got!r}); line 1 must be "
                         f'{{"format": "{FORMAT}", "version": {VERSION}, ...}}')
    version = obj.get("version")
    if version not in KNOWN_VERSIONS or isinstance(version, bool):
        raise ValueError(f"unknown {FORMAT} version {version!r} (this rig reads version "
                         f"{', '.join(map(str, KNOWN_VERSIONS))})")
    meter, line, started = obj.get("meter"), obj.get("line"), obj.get("started")
    if meter is not None and not isinstance(meter, str):
        raise ValueError(f"'meter' must be a profile id or null, got {meter!r}")
    if line is not None:
        try:
            line = LineSettings.parse(line)
        except ValueError as exc:
            raise ValueError(f"bad 'line': {exc}") from None
    if started is not None:
        try:
            datetime.fromisoformat(started)
        except (TypeError, ValueError):
            raise ValueError(f"'started' must be an ISO time or null, got {started!r}") from None
    meta = {key: value for key, value in obj.items() if key not in HEADER_KEYS}
    return Capture(meter=meter, line=line, started=started, source=obj.get("source"), meta=meta)


def _parse_chunk(obj: object, previous_t: float | None) -> Chunk:
    if not isinstance(obj, dict):
        raise ValueError(f"a chunk must be a JSON object, got {type(obj).__name__}")
    unknown = sorted(set(obj) - set(CHUNK_KEYS))
    if unknown:
        raise ValueError(f"unknown chunk key(s) {', '.join(unknown)}: a chunk has t, hex and optionally "
                         f"{', '.join(NOTE_KEYS)}")
    t, hex_text = obj.get("t"), obj.get("hex")
    if not isinstance(t, int | float) or isinstance(t, bool) or not math.isfinite(t) or t < 0:
        raise ValueError(f"'t' must be a number of seconds >= 0, got {t!r}")
    if previous_t is not None and t < previous_t:
        raise ValueError(f"t goes backwards: {t} after {previous_t}")
    if not isinstance(hex_text, str):
        raise ValueError(f"'hex' must be a string of hex digits, got {hex_text!r}")
    if len(hex_text) % 2:
        raise ValueError(f"bad hex: odd number of digits ({len(hex_text)})")
    try:
        data = bytes.fromhex(hex_text)
    except ValueError:
        bad = next(c for c in hex_text if c not in "0123456789abcdefABCDEF")
        raise ValueError(f"bad hex: {bad!r} is not a hex digit") from None
    _check_annotations(obj)
    return Chunk(float(t), data, **{key: obj[key] for key in NOTE_KEYS if obj.get(key) is not None})


def read_capture(path: str | Path) -> Capture:
    """Read and validate a ``.jsonl`` capture; :class:`CaptureError` names the file and line of any fault."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise CaptureError(f"{path}:1: cannot read: {exc.strerror or exc}") from None
    if not raw.strip():
        raise CaptureError(f"{path}:1: empty file: a capture starts with a {FORMAT} header line")
    lines = raw.split(b"\n")
    capture: Capture | None = None
    previous_t: float | None = None
    for number, bline in enumerate(lines, 1):
        try:
            if b"\0" in bline:
                raise UnicodeDecodeError("utf-8", bline, bline.index(b"\0"), bline.index(b"\0") + 1, "NUL")
            text = bline.decode("utf-8").strip()
        except UnicodeDecodeError:
            raise CaptureError(f"{path}:{number}: binary data, not JSON lines (a raw byte log needs a .bin, "
                               ".dat or .raw name to be imported)") from None
        if not text:
            continue
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:
            if number == len(lines):  # the file does not end with a newline: it was cut off
                raise CaptureError(f"{path}:{number}: truncated last line (no newline, {exc.msg.lower()} "
                                   f"at column {exc.colno})") from None
            raise CaptureError(f"{path}:{number}: not JSON: {exc.msg} at column {exc.colno}") from None
        except RecursionError:
            raise CaptureError(f"{path}:{number}: not a capture line: JSON nested too deep") from None
        try:
            if capture is None:
                capture = _parse_header(obj)
                capture.path = path
            else:
                chunk = _parse_chunk(obj, previous_t)
                capture.chunks.append(chunk)
                previous_t = chunk.t
        except ValueError as exc:
            raise CaptureError(f"{path}:{number}: {exc}") from None
    assert capture is not None  # raw.strip() was not empty, so one line was parsed
    return capture


def load_capture(path: str | Path) -> Capture:
    """Any capture the rig can play: a ``.jsonl`` capture, or an import of a raw byte log (one chunk at
    t = 0), a hex dump (plain, ``xxd``, ``hexdump -C``: one chunk) or an old line log (one chunk per line)."""
    from rig.capture_import import import_file

    path = Path(path)
    if path.suffix.lower() == ".jsonl":
        return read_capture(path)
    return import_file(path)


def _chunk_line(chunk: Chunk) -> str:
    """One chunk as its JSON line: ``t`` with 6 decimals first, then ``hex``, then the annotations."""
    parts = [f'"t": {chunk.t:.6f}', f'"hex": "{chunk.data.hex()}"']
    parts += [f'"{key}": {json.dumps(value)}' for key, value in chunk.annotations().items()]
    return "{" + ", ".join(parts) + "}\n"


class CaptureWriter:
    """Writes a capture line by line: the header at once, then one flushed line per :meth:`write`.

    Thread-safe. Chunks must come in time order (ValueError otherwise); writes after :meth:`close`
    are dropped (a link's last write may race its closing).
    """

    def __init__(self, path: str | Path, header: Mapping[str, Any]) -> None:
        self.path = Path(path)
        full = {"format": FORMAT, "version": VERSION, "meter": None, "line": None, "started": None,
                "source": None}
        full.update({k: v for k, v in header.items() if k not in ("format", "version")})
        if isinstance(full["line"], LineSettings):
            full["line"] = str(full["line"])
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._last_t = 0.0
        self.chunks = 0
        self.bytes = 0
        self._fh: IO[str] | None = open(self.path, "w", encoding="utf-8")
        self._fh.write(json.dumps(full) + "\n")
        self._fh.flush()

    def write(self, chunk: Chunk) -> None:
        """Append ``chunk`` as one line and flush it."""
        line = _chunk_line(chunk)
        with self._lock:
            if self._fh is None:
                return
            if chunk.t < self._last_t or not math.isfinite(chunk.t):
                raise ValueError(f"{self.path}: chunk at t={chunk.t} after t={self._last_t}: chunks go in time order")
            self._fh.write(line)
            self._fh.flush()
            self._last_t = chunk.t
            self.chunks += 1
            self.bytes += len(chunk.data)

    def close(self) -> None:
        with self._lock:
            if self._fh is not None:
                self._fh.close()
                self._fh = None

    def __enter__(self) -> CaptureWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def write_capture(path: str | Path, capture: Capture) -> None:
    """Write ``capture`` to ``path`` (its header, then every chunk)."""
    with CaptureWriter(path, capture.header()) as writer:
        for chunk in capture.chunks:
            writer.write(chunk)

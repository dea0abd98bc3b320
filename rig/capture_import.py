"""Importers of :func:`rig.capture.load_capture`: byte logs and dumps that are not ``.jsonl`` captures.

- a raw byte log (``.bin``, ``.dat``, ``.raw``, or any file that is not text): one chunk at t = 0;
- a P1 telegram saved as text (first character ``/``): its bytes, as they are, in one chunk;
- a hex dump: hex digits with any white space, ``xxd`` lines (``00000000: 7ea0 2701 ...  ~.'.``) or
  ``hexdump -C`` lines (``00000000  7e a0 27 01 ...  |~.'.|``, ``*`` for repeated lines): one chunk;
- the older line log: ``# comment`` lines and ``<seconds> <n bytes> <hex>`` lines: one chunk per line.

Every error is a :class:`~rig.capture.CaptureError` naming the file and the line.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from pathlib import Path

from rig.capture import Capture, CaptureError, Chunk, read_capture
from rig.line import LineSettings

RAW_SUFFIXES = (".bin", ".dat", ".raw")
_TEXT_CONTROLS = set(range(32)) - {9, 10, 11, 12, 13}
_HEX = re.compile(r"[0-9a-fA-F]*")
_XXD = re.compile(r"([0-9a-fA-F]+):(.*)")
_HEXDUMP_C = re.compile(r"[0-9a-fA-F]{8,}  [0-9a-fA-F]{2}(\s|$)")
_HEXDUMP_WORDS = re.compile(r"[0-9a-fA-F]{7} [0-9a-fA-F]{4}( |$)")
_LINE_LOG = re.compile(r"\d+\.\d+\s+\d+(\s+\S*)?")
_LINE_IN_COMMENT = re.compile(r"\b(\d+ [78][NEO][12])\b")


def import_file(path: Path) -> Capture:
    """Import ``path`` by its content (and its suffix for raw byte logs)."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise CaptureError(f"{path}:1: cannot read: {exc.strerror or exc}") from None
    if not raw.strip():
        raise CaptureError(f"{path}:1: empty file: no bytes to import")
    text = None if path.suffix.lower() in RAW_SUFFIXES else _as_text(raw)
    if text is None:
        return _capture(path, "raw", [Chunk(0.0, raw)])
    lines = text.splitlines()
    first = next(line.strip() for line in lines if line.strip())
    if first.startswith("{"):
        return read_capture(path)
    if first.startswith("/"):
        return _capture(path, "p1 text", [Chunk(0.0, raw)])
    if first.startswith("#") or _LINE_LOG.fullmatch(first):
        return _line_log(path, lines)
    if _XXD.fullmatch(first):
        data = _offset_dump(path, lines, _xxd_line)
        kind = "xxd"
    elif _HEXDUMP_C.match(first):
        data = _offset_dump(path, lines, _hexdump_c_line)
        kind = "hexdump -C"
    elif _HEXDUMP_WORDS.match(first):
        number = next(i for i, line in enumerate(lines, 1) if line.strip())
        raise CaptureError(f"{path}:{number}: looks like `hexdump` output (16-bit words, bytes swapped): "
                           "dump with `hexdump -C` or `xxd` instead")
    else:
        data = _plain_hex(path, lines)
        kind = "hex"
    return _capture(path, kind, [Chunk(0.0, data)])


def _as_text(raw: bytes) -> str | None:
    """The file as text, or None when it holds binary data (control bytes, not UTF-8)."""
    if any(byte in _TEXT_CONTROLS for byte in raw):
        return None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _capture(path: Path, kind: str, chunks: list[Chunk], line: LineSettings | None = None) -> Capture:
    return Capture(line=line, source={"file": str(path), "import": kind}, chunks=chunks, path=path)


def _plain_hex(path: Path, lines: list[str]) -> bytes:
    digits: list[str] = []
    last = 1
    for number, line in enumerate(lines, 1):
        compact = "".join(line.split())
        if not _HEX.fullmatch(compact):
            bad = next(c for c in compact if c not in "0123456789abcdefABCDEF")
            raise CaptureError(f"{path}:{number}: {bad!r} is not a hex digit (a hex dump holds hex digits "
                               "and white space)")
        if compact:
            digits.append(compact)
            last = number
    joined = "".join(digits)
    if len(joined) % 2:
        raise CaptureError(f"{path}:{last}: odd number of hex digits ({len(joined)}): a byte is cut in half")
    return bytes.fromhex(joined)


def _hex_bytes(digits: str) -> bytes:
    """Bytes of a string of hex digits; ValueError saying what is wrong."""
    if not _HEX.fullmatch(digits):
        bad = next(c for c in digits if c not in "0123456789abcdefABCDEF")
        raise ValueError(f"{bad!r} is not a hex digit")
    if len(digits) % 2:
        raise ValueError(f"odd number of hex digits ({len(digits)})")
    return bytes.fromhex(digits)


def _xxd_line(line: str) -> tuple[int, str]:
    """``00000010: 7ea0 2701  ~.'.`` -> (0x10, "7ea02701"); the ASCII column follows two spaces."""
    match = _XXD.fullmatch(line)
    if match is None:
        raise ValueError("not an xxd line ('<offset>: <hex>  <text>')")
    return int(match.group(1), 16), "".join(match.group(2).strip(" ").split("  ", 1)[0].split())


def _hexdump_c_line(line: str) -> tuple[int, str]:
    """``00000010  7e a0 27 01 ...  |~.'.|`` -> (0x10, "7ea02701..."); a lone offset ends the dump."""
    tokens = line.split("|", 1)[0].split()
    if not tokens or not _HEX.fullmatch(tokens[0]) or len(tokens[0]) < 7:
        raise ValueError("not a hexdump -C line ('<offset>  <bytes>  |text|')")
    for token in tokens[1:]:
        if len(token) != 2 or not _HEX.fullmatch(token):
            raise ValueError(f"{token!r} is not a byte in hex")
    return int(tokens[0], 16), "".join(tokens[1:])


def _offset_dump(path: Path, lines: list[str], parse: Callable[[str], tuple[int, str]]) -> bytes:
    """Bytes of a dump whose lines start with offsets; ``*`` repeats the previous line up to the next offset."""
    out = bytearray()
    previous = b""
    squeezed = False
    for number, raw_line in enumerate(lines, 1):
        line = raw_line.strip()
        if not line:
            continue
        if line == "*":
            squeezed = True
            continue
        try:
            offset, digits = parse(line)
            chunk = _hex_bytes(digits)
        except ValueError as exc:
            raise CaptureError(f"{path}:{number}: {exc}") from None
        if squeezed and previous:
            while len(out) < offset:
                out += previous
            squeezed = False
        if offset != len(out):
            raise CaptureError(f"{path}:{number}: offset {offset:#x} but {len(out):#x} bytes before it "
                               "(lines missing or out of order)")
        out += chunk
        previous = chunk or previous
    if not out:
        raise CaptureError(f"{path}:1: no bytes in the dump")
    return bytes(out)


def _line_log(path: Path, lines: list[str]) -> Capture:
    """The older line log: ``# comment`` lines, then ``<seconds> <n bytes> <hex>`` per write."""
    chunks: list[Chunk] = []
    line_settings = None
    for number, raw_line in enumerate(lines, 1):
        text = raw_line.strip()
        if not text:
            continue
        if text.startswith("#"):
            found = _LINE_IN_COMMENT.search(text)
            if found and line_settings is None:
                try:
                    line_settings = LineSettings.parse(found.group(1))
                except ValueError:
                    pass
            continue
        parts = text.split()
        try:
            if len(parts) not in (2, 3):
                raise ValueError("expected '<seconds> <n bytes> <hex>'")
            t, n = float(parts[0]), int(parts[1])
            data = _hex_bytes(parts[2] if len(parts) == 3 else "")
            if len(data) != n:
                raise ValueError(f"byte count {n} but {len(data)} bytes of hex")
            if not math.isfinite(t) or t < 0 or (chunks and t < chunks[-1].t):
                raise ValueError(f"time {t} goes backwards" if chunks and t < chunks[-1].t else f"bad time {t}")
        except ValueError as exc:
            raise CaptureError(f"{path}:{number}: bad line-log line {text[:40]!r}: {exc}") from None
        chunks.append(Chunk(t, data))
    return _capture(path, "line log", chunks, line_settings)

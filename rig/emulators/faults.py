"""Fault injection, sans-IO: a meter's writes on the line in, the same writes with a fault out.

A stream is a list of :class:`Emission` (the writes the meter makes, in order, with the time each
starts). ``parse_fault("split:4")`` gives a :class:`Fault`; ``apply_faults(stream, faults, seed)``
applies several in order with one ``random.Random(seed)``. The injectors live in
``rig.emulators.fault_kinds``; ``FAULTS`` is the catalogue (the CLI's ``--fault NAME[:PARAM]``).

Every write says what a correct reader counts because of it (``counts``): a reader that frames HDLC
by the length field, trusts a length only after the header checksum, resumes its search at the byte
after a bad start without counting the remains of that frame again, and counts a run of bytes that
belongs to no frame once in ``framing_errors``. It also ends a pending partial frame when the line
stays idle for ``IDLE_GAP_S`` (the meter's 2 s schedule leaves such a gap after every frame); counts
that need such a gap say so in their fault's docstring. Frame faults shape only whole, intact
frames and pass over a frame they cannot shape with a certain outcome; inserted writes never make a
later write go out late (see ``fault_kinds``). The counts hold for every fault alone and for
compositions in the orders ``apply_faults`` accepts.

The small helpers ``corrupt_fcs``, ``flip_byte``, ``truncate``, ``garbage`` and ``with_bad_fcs``
shape single frames for scenarios that build their own streams.
"""

from __future__ import annotations

import itertools
import random
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from rig.emulators.meter import Frame, Meter
from rig.line import LineSettings

if TYPE_CHECKING:
    from rig.capture import Capture

IDLE_GAP_S = 0.5  # a line idle this long ends a pending partial frame at the reader
READER_MAX_FRAME = 2048  # the largest frame the reader accepts, both flags included
DEFAULT_LINE = LineSettings(2400, 8, "E", 1)  # the HAN port's line when no meter says otherwise


@dataclass(frozen=True)
class Emission:
    """One write of the meter on the line.

    ``t``: seconds of meter time since the stream began when the write starts; ``reading``, ``list``,
    ``at``: the frame this write completes (None when it completes none); ``counts``: what a correct
    reader counts because of this write; ``fault``: the spec of the injection that shaped it (several
    joined by ``+``), None for a clean write.
    """

    t: float
    data: bytes
    reading: dict[str, Any] | None = None
    list: int | None = None
    at: datetime | None = None
    counts: Mapping[str, int] = field(default_factory=dict)
    fault: str | None = None

    @property
    def published(self) -> bool:
        """True when the reader decodes this write's frame and must show its reading."""
        return self.reading is not None and dict(self.counts) == {"frames_ok": 1}


@dataclass(frozen=True)
class FaultInfo:
    """A catalogue entry: ``param_help`` and ``default`` are None for a fault without parameter."""

    name: str
    summary: str
    param_help: str | None
    default: str | None

    @property
    def usage(self) -> str:
        """``name[:PARAM]`` as the CLI writes it."""
        return f"{self.name}[:{self.param_help.split(':')[0]}]" if self.param_help else self.name


@dataclass(frozen=True)
class Fault:
    """A parsed fault: ``param`` is the effective value (default applied), ``spec`` the text."""

    name: str
    param: int | float | None
    spec: str

    def apply(
        self, emissions: Sequence[Emission], rng: random.Random, meter: Meter | None = None,
        line: LineSettings | None = None,
    ) -> list[Emission]:
        """The stream with this fault injected. ``meter`` re-encodes frames (needed by clock_jump);
        ``line`` times the writes (default: the meter's line, else 2400 8E1)."""
        from rig.emulators.fault_kinds import INJECTORS, Context

        if line is None:
            line = meter.profile.line if meter is not None else DEFAULT_LINE
        return INJECTORS[self.name](list(emissions), self, Context(rng, meter, line))


_EVERY = "EVERY: every Nth frame, counted from 1"
FAULTS: dict[str, FaultInfo] = {
    info.name: info
    for info in (
        FaultInfo("split", "every frame sent in PARTS parts at random offsets, 10-400 ms apart",
                  "PARTS: parts per frame, 2 or more", "3"),
        FaultInfo("garbage", "BYTES random bytes (never 0x7E) on the idle line before every frame but the first",
                  "BYTES: bytes per burst, 1 or more", "16"),
        FaultInfo("mid_frame", "the stream starts in the middle of its first frame", None, None),
        FaultInfo("truncate", "every Nth frame cut short at a random offset", _EVERY, "4"),
        FaultInfo("bitflip", "one bit flipped in the information field of every Nth frame", _EVERY, "4"),
        FaultInfo("bad_fcs", "the frame checksum of every Nth frame wrong", _EVERY, "4"),
        FaultInfo("bad_hcs", "the header checksum of every Nth frame wrong", _EVERY, "4"),
        FaultInfo("bad_length", "the length field of every Nth frame wrong, its header checksum right",
                  _EVERY, "4"),
        FaultInfo("duplicate", "every Nth frame sent twice back to back", _EVERY, "4"),
        FaultInfo("oversized", "after frames 5, 15, 25, ..., a valid frame of BYTES junk bytes",
                  f"BYTES: frame size with flags, 16..2049 (the reader accepts {READER_MAX_FRAME})", "2049"),
        FaultInfo("clock_jump", "from the middle of the stream on, the meter clock is off by SECONDS",
                  "SECONDS: signed, e.g. 3600, -90, 1h, -30m", "3600"),
        FaultInfo("no_list3", "the hourly List 3 is never sent", None, None),
        FaultInfo("silence", "the meter is silent for DURATION from the middle of the stream",
                  "DURATION: e.g. 90s, 5m, 1h", "5m"),
        FaultInfo("restart", "mid-stream the frame on the line is cut, then silence for DURATION",
                  "DURATION: e.g. 0s, 30s, 2m", "30s"),
    )
}

# Orders that would leave counts uncertain: a fault and the faults that must come before it.
_FRAME_FAULTS = frozenset({"truncate", "bitflip", "bad_fcs", "bad_hcs", "bad_length"})
_GIVE_AFTER = {
    "garbage": _FRAME_FAULTS | {"mid_frame", "duplicate", "oversized", "restart"},
    "duplicate": _FRAME_FAULTS,
    "split": _FRAME_FAULTS | {"mid_frame", "restart"},
}
_WHY = {
    "split": "those faults work on whole frames, and split leaves only parts of frames",
    "garbage": "where its bytes go, and so what a reader counts for them, depends on the frames around them",
    "duplicate": "a damaged copy right behind a cut frame would change what a reader counts for that frame",
}
_DURATION = re.compile(r"([+-]?\d+(?:\.\d+)?)(ms|s|m|h)?")
_UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


def _seconds(text: str) -> float:
    match = _DURATION.fullmatch(text)
    if match is None:
        raise ValueError(f"{text!r} is not a duration like 90s, 5m or 1h")
    return float(match.group(1)) * _UNIT_S[match.group(2)]


def _int_in(lo: int, hi: int | None = None) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise ValueError(f"{text!r} is not an integer") from None
        if hi is None and value < lo:
            raise ValueError(f"{value} is less than {lo}")
        if hi is not None and not lo <= value <= hi:
            raise ValueError(f"{value} is outside {lo}..{hi}")
        return value

    return parse


def _duration(minimum: float, inclusive: bool) -> Callable[[str], float]:
    def parse(text: str) -> float:
        value = _seconds(text)
        if value < minimum or (value == minimum and not inclusive):
            raise ValueError(f"{text!r} must be {'at least' if inclusive else 'more than'} {minimum:g} s")
        return value

    return parse


MAX_JUMP_S = 10 * 366 * 86400  # ten years either way: far past any clock a reader must survive


def _jump(text: str) -> int:
    value = _seconds(text)
    if value != int(value) or value == 0:
        raise ValueError(f"{text!r} must be a non-zero whole number of seconds")
    if abs(value) > MAX_JUMP_S:
        raise ValueError(f"{text!r} is more than ten years: a jump of at most {MAX_JUMP_S} s either way")
    return int(value)


_PARAMS: dict[str, Callable[[str], int | float]] = {
    "split": _int_in(2, 64),
    "garbage": _int_in(1, 4096),
    "truncate": _int_in(1),
    "bitflip": _int_in(1),
    "bad_fcs": _int_in(1),
    "bad_hcs": _int_in(1),
    "bad_length": _int_in(1),
    "duplicate": _int_in(1),
    "oversized": _int_in(16, READER_MAX_FRAME + 1),
    "clock_jump": _jump,
    "silence": _duration(0, inclusive=False),
    "restart": _duration(0, inclusive=True),
}


def _known() -> str:
    return "known faults: " + ", ".join(info.usage for info in FAULTS.values())


def parse_fault(spec: str) -> Fault:
    """``"split"``, ``"split:4"``, ``"silence:5m"`` -> Fault; ValueError naming the known faults when
    the name is unknown or the parameter is bad."""
    if not isinstance(spec, str):
        raise ValueError(f"a fault is a text like 'split:4', got {spec!r}; {_known()}")
    name, sep, text = spec.strip().partition(":")
    name, text = name.strip().lower(), text.strip()
    info = FAULTS.get(name)
    if info is None:
        raise ValueError(f"unknown fault {name!r}; {_known()}")
    if info.default is None:
        if sep:
            raise ValueError(f"fault {name!r} takes no parameter, got {text!r}; {_known()}")
        return Fault(name, None, name)
    try:
        value = _PARAMS[name](text if sep else info.default)
    except ValueError as exc:
        raise ValueError(f"bad parameter for fault {name!r} ({info.param_help}): {exc}; {_known()}") from None
    return Fault(name, value, f"{name}:{text}" if sep else name)


def apply_faults(
    emissions: Sequence[Emission], faults: Sequence[Fault | str], seed: int = 1, meter: Meter | None = None,
    line: LineSettings | None = None,
) -> list[Emission]:
    """The stream with each fault applied in order, all drawing on one ``random.Random(seed)``.

    Each fault counts on the stream it is given and later faults leave earlier writes' counts alone.
    Garbage must come after the faults that shape or add frames, duplicate after the frame faults
    (ValueError otherwise). Best give
    meter-level faults (clock_jump, no_list3, silence, restart) and mid_frame first, then the frame
    faults, duplicate and oversized, then garbage and split: clock_jump re-encodes only whole intact
    frames, and frame faults shape only those. ``meter`` re-encodes frames (clock_jump needs it);
    ``line`` times the writes (default: the meter's line, else 2400 8E1).
    """
    parsed = [parse_fault(f) if isinstance(f, str) else f for f in faults]
    names = [f.name for f in parsed]
    for name, before in _GIVE_AFTER.items():
        if name in names and (late := sorted(set(names[names.index(name):]) & before)):
            raise ValueError(f"give {name} after {', '.join(late)}: {_WHY[name]}")
    rng = random.Random(seed)
    stream = list(emissions)
    for fault in parsed:
        stream = fault.apply(stream, rng, meter, line)
    return stream


def emissions_from_frames(frames: Iterable[Frame], start: datetime) -> list[Emission]:
    """One write per frame at its instant: ``t`` is real seconds since ``start``, so it grows with real
    time across daylight-saving changes. ``start`` is aware, or the naive meter clock at or before the
    first frame (read at the UTC offset, the first frame's or an hour either side, that puts it closest
    before that frame). A frame marked ``corrupt`` (``with_bad_fcs``) counts one checksum error."""
    return list(iter_emissions_from_frames(frames, start))


def iter_emissions_from_frames(frames: Iterable[Frame], start: datetime) -> Iterator[Emission]:
    """:func:`emissions_from_frames` one write at a time, each frame built only when it is asked for: a
    stream of any length in constant memory."""
    frames = iter(frames)
    first = next(frames, None)
    if first is None:
        return
    origin = start
    if start.tzinfo is None and first.utc is not None:
        base = first.utc - (first.at.replace(fold=0) - start)  # start read at the first frame's offset
        candidates = [base + timedelta(hours=h) for h in (-1, 0, 1)]
        origin = min((c for c in candidates if c <= first.utc), key=lambda c: first.utc - c, default=base)
    for frame in itertools.chain((first,), frames):
        yield Emission(
            t=_seconds_since(frame, origin), data=frame.data, reading=frame.reading, list=frame.list,
            at=frame.at, counts={"checksum_errors": 1} if frame.corrupt else {"frames_ok": 1},
            fault="bad_fcs" if frame.corrupt else None,
        )


def _seconds_since(frame: Frame, origin: datetime) -> float:
    if frame.utc is not None and origin.tzinfo is not None:
        return (frame.utc - origin).total_seconds()
    return (frame.at - origin.replace(tzinfo=None)).total_seconds()


def emissions_from_capture(capture: Capture) -> list[Emission]:
    """One write per chunk of a capture, with what its annotations say (``expect`` is the reading).

    A recording that says nothing of what a reader counts (a real meter, an imported dump) is counted by
    the rig's own frame scanner: a message whose frames' checksums are right counts ``frames_ok`` once, at
    its last segment (HDLC segments, M-Bus segments), one cut short ``truncated``, another bad frame
    ``checksum_errors``, a message whose last segment never came before the stream ended ``truncated`` once,
    and each chunk holding bytes outside any frame one ``framing_errors``.
    """
    counts = [dict(chunk.counts or {}) for chunk in capture.chunks]
    if not any(counts) and capture.chunks:
        counts = _scanned_counts([chunk.data for chunk in capture.chunks])
    return [
        Emission(t=chunk.t, data=chunk.data, reading=chunk.expect, list=chunk.list, counts=count,
                 fault=chunk.fault)
        for chunk, count in zip(capture.chunks, counts, strict=True)
    ]


def _scanned_counts(chunks: list[bytes]) -> list[dict[str, int]]:
    from rig.framing import FrameScanner

    scanner = FrameScanner()
    out: list[dict[str, int]] = []
    segments = False  # segments of a message wait for its last one
    for i, data in enumerate(chunks):
        last = i == len(chunks) - 1
        skipped = scanner.skipped
        frames = scanner.feed(data) + (scanner.flush() if last else [])
        count: dict[str, int] = {}
        for frame in frames:
            if frame.ok and frame.more:
                segments = True
                continue
            segments = segments and not frame.ok
            name = ("frames_ok" if frame.ok else "truncated" if (frame.error or "").startswith("truncated")
                    else "checksum_errors")
            count[name] = count.get(name, 0) + 1
        if last and segments:
            count["truncated"] = count.get("truncated", 0) + 1
        if scanner.skipped > skipped:
            count["framing_errors"] = 1
        out.append(count)
    return out


# -- single-frame helpers --------------------------------------------------------------------------------
def corrupt_fcs(frame: bytes) -> bytes:
    """Invert the FCS of a complete HDLC frame (``7E ... FCS FCS 7E``), so it no longer verifies.

    Reproduces a frame whose content was damaged on the line: the reader must count a checksum error
    and drop the frame.
    """
    if len(frame) < 4 or frame[0] != 0x7E or frame[-1] != 0x7E:
        raise ValueError("corrupt_fcs needs a complete frame with both flags")
    return frame[:-3] + bytes([frame[-3] ^ 0xFF, frame[-2] ^ 0xFF]) + frame[-1:]


def flip_byte(frame: bytes, index: int, mask: int = 0xFF) -> bytes:
    """XOR byte ``index`` with ``mask`` (bit errors from noise or a parity-less glitch on the M-Bus line)."""
    if not 1 <= mask <= 0xFF:
        raise ValueError(f"mask must be 1..255, got {mask}")
    if not -len(frame) <= index < len(frame):
        raise IndexError(f"index {index} outside a frame of {len(frame)} bytes")
    data = bytearray(frame)
    data[index] ^= mask
    return bytes(data)


def truncate(frame: bytes, n_bytes: int) -> bytes:
    """Keep only the first ``n_bytes`` bytes (a frame cut off mid-transmission: meter reboot, cable
    pulled, reader buffer overrun)."""
    if not 0 <= n_bytes <= len(frame):
        raise ValueError(f"cannot keep {n_bytes} bytes of a {len(frame)}-byte frame")
    return frame[:n_bytes]


def garbage(n: int, rng: random.Random) -> bytes:
    """``n`` random bytes from ``rng`` (line noise: a floating bus, a reader plugged in mid-frame,
    another device babbling on the line)."""
    if n < 0:
        raise ValueError(f"n must not be negative, got {n}")
    return rng.randbytes(n)


def with_bad_fcs(frame: Frame) -> Frame:
    """The same frame with its FCS inverted, marked ``corrupt``: it must be counted, never published."""
    return replace(frame, data=corrupt_fcs(frame.data), corrupt=True)

"""Wired M-Bus long frames carrying a DLMS APDU, the Austrian way (EN 13757-2 link layer), sans IO.

A long frame is ``68 L L 68 | C | A | CI | STSAP DTSAP | data | CS | 16``: L counts C through the last data
byte (at most 255), CS is the sum of those bytes mod 256. An APDU longer than one frame's data is split into
segments: CI bits 0-3 number them from 0, bit 4 (FIN) marks the last, so one frame has CI ``10`` and two
have ``00`` then ``11``. Austrian meters send SND_UD (C ``53``) to the broadcast address ``FF`` with
STSAP ``01`` and DTSAP ``67``, 245 data bytes per full frame.
"""

from __future__ import annotations

from typing import NamedTuple

START = 0x68
STOP = 0x16
SND_UD = 0x53
BROADCAST = 0xFF
STSAP = 0x01
DTSAP = 0x67
FIN = 0x10
HEADER_BYTES = 5  # C, A, CI, STSAP, DTSAP: counted by L with the data
MAX_DATA = 0xFF - HEADER_BYTES  # 250 bytes of data in the longest frame
SEGMENT_BYTES = 245  # what Kaifa MA309 and the other Austrian meters put in a full frame
MAX_SEGMENTS = 16  # CI's 4-bit segment number


def long_frame(data: bytes, ci: int, control: int = SND_UD, address: int = BROADCAST,
               stsap: int = STSAP, dtsap: int = DTSAP) -> bytes:
    """One long frame carrying ``data`` with control field ``control``, address and CI."""
    for name, value in (("control", control), ("address", address), ("CI", ci), ("STSAP", stsap),
                        ("DTSAP", dtsap)):
        if not 0 <= value <= 0xFF:
            raise ValueError(f"M-Bus {name} must be a byte, got {value}")
    if len(data) > MAX_DATA:
        raise ValueError(f"an M-Bus long frame carries at most {MAX_DATA} data bytes, got {len(data)}")
    body = bytes((control, address, ci, stsap, dtsap)) + bytes(data)
    size = len(body)
    return bytes((START, size, size, START)) + body + bytes((sum(body) & 0xFF, STOP))


def encode(apdu: bytes, segment_bytes: int = SEGMENT_BYTES, control: int = SND_UD, address: int = BROADCAST) -> bytes:
    """The long frames carrying ``apdu``, ``segment_bytes`` data bytes per frame (the last may be shorter).

    ValueError for an empty APDU, a segment size outside 1..250, or more than 16 segments.
    """
    if not 1 <= segment_bytes <= MAX_DATA:
        raise ValueError(f"segment size must be 1..{MAX_DATA} bytes, got {segment_bytes}")
    if not apdu:
        raise ValueError("no APDU to send")
    pieces = [apdu[i:i + segment_bytes] for i in range(0, len(apdu), segment_bytes)]
    if len(pieces) > MAX_SEGMENTS:
        raise ValueError(f"an APDU of {len(apdu)} bytes needs {len(pieces)} segments of {segment_bytes}; "
                         f"CI numbers at most {MAX_SEGMENTS}")
    last = len(pieces) - 1
    return b"".join(long_frame(piece, n | (FIN if n == last else 0), control, address)
                    for n, piece in enumerate(pieces))


class LongFrame(NamedTuple):
    """A parsed long frame: its fields, its data, and ``end``, the index just after its stop byte."""

    control: int
    address: int
    ci: int
    stsap: int
    dtsap: int
    data: bytes
    end: int

    @property
    def segment(self) -> int:
        return self.ci & 0x0F

    @property
    def last(self) -> bool:
        return bool(self.ci & FIN)


def parse_frame(data: bytes, start: int = 0) -> LongFrame:
    """The long frame at ``data[start]``; ValueError naming what is wrong (start, lengths, checksum, stop)."""
    head = data[start:start + 4]
    if len(head) < 4 or head[0] != START or head[3] != START:
        raise ValueError(f"not an M-Bus long frame start at byte {start}: {head.hex()}")
    if head[1] != head[2]:
        raise ValueError(f"M-Bus length bytes differ: {head[1]:#04x} and {head[2]:#04x}")
    size = head[1]
    if size < HEADER_BYTES:
        raise ValueError(f"M-Bus frame too short for a DLMS header: L={size}")
    end = start + 4 + size + 2
    if end > len(data):
        raise ValueError(f"M-Bus frame cut short: L={size} needs {end - start} bytes, {len(data) - start} present")
    body = data[start + 4:start + 4 + size]
    if sum(body) & 0xFF != data[end - 2]:
        raise ValueError(f"M-Bus checksum {data[end - 2]:#04x}, computed {sum(body) & 0xFF:#04x}")
    if data[end - 1] != STOP:
        raise ValueError(f"M-Bus frame ends with {data[end - 1]:#04x}, not the stop byte 16")
    return LongFrame(body[0], body[1], body[2], body[3], body[4], bytes(body[HEADER_BYTES:]), end)


def frames(data: bytes) -> list[LongFrame]:
    """Every long frame of ``data``, back to back; ValueError on anything else."""
    out, i = [], 0
    while i < len(data):
        frame = parse_frame(data, i)
        out.append(frame)
        i = frame.end
    return out


def reassemble(data: bytes) -> bytes:
    """The APDU of the segments in ``data`` (one message, segments 0..n in order, the last with FIN)."""
    parts = frames(data)
    if not parts:
        raise ValueError("no M-Bus frame")
    for n, frame in enumerate(parts):
        if frame.segment != n:
            raise ValueError(f"M-Bus segment {frame.segment} where segment {n} was due")
        if frame.last != (n == len(parts) - 1):
            raise ValueError(f"M-Bus segment {n}: FIN bit {'set early' if frame.last else 'missing on the last'}")
    return b"".join(frame.data for frame in parts)

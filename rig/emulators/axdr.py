"""A-XDR encoders for the COSEM data types a HAN meter sends (tag byte + big-endian content)."""

from __future__ import annotations

import struct
from datetime import datetime

ARRAY = 0x01
STRUCTURE = 0x02
DOUBLE_LONG_UNSIGNED = 0x06
OCTET_STRING = 0x09
VISIBLE_STRING = 0x0A
LONG = 0x10
LONG_UNSIGNED = 0x12
LONG64_UNSIGNED = 0x15

DEVIATION_UNSPECIFIED = 0x8000

# Fast paths (an int in range, a short length) packed in one C call; anything else takes the checked path.
_TAG_U32 = struct.Struct(">BI").pack
_DATE_TIME = struct.Struct(">HBBBBBBBHB").pack


def length(n: int) -> bytes:
    """A-XDR length: one byte below 0x80, else ``81 xx`` or ``82 xx xx``."""
    if n < 0:
        raise ValueError(f"length must not be negative, got {n}")
    if n < 0x80:
        return bytes([n])
    if n <= 0xFF:
        return bytes([0x81, n])
    if n <= 0xFFFF:
        return bytes([0x82]) + n.to_bytes(2, "big")
    raise ValueError(f"length {n} does not fit in two bytes")


def _integer(tag: int, value: int, size: int, signed: bool, name: str) -> bytes:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name} needs an int, got {type(value).__name__} {value!r}")
    lo, hi = (-(1 << (8 * size - 1)), (1 << (8 * size - 1)) - 1) if signed else (0, (1 << (8 * size)) - 1)
    if not lo <= value <= hi:
        raise ValueError(f"{name} must be in {lo}..{hi}, got {value}")
    return bytes([tag]) + value.to_bytes(size, "big", signed=signed)


def structure_head(count: int) -> bytes:
    """``02 n``: the start of a structure of ``count`` items, which follow it."""
    if 0 <= count < 0x80:
        return bytes((STRUCTURE, count))
    return bytes([STRUCTURE]) + length(count)


def structure(*items: bytes) -> bytes:
    """``02 n`` followed by the n encoded items."""
    return structure_head(len(items)) + b"".join(items)


def array(*items: bytes) -> bytes:
    """``01 n`` followed by the n encoded items."""
    return bytes([ARRAY]) + length(len(items)) + b"".join(items)


def double_long_unsigned(value: int) -> bytes:
    """``06`` + uint32 (ValueError outside 0..4294967295)."""
    if type(value) is int and 0 <= value <= 0xFFFFFFFF:
        return _TAG_U32(DOUBLE_LONG_UNSIGNED, value)
    return _integer(DOUBLE_LONG_UNSIGNED, value, 4, False, "double-long-unsigned")


def long(value: int) -> bytes:
    """``10`` + int16."""
    return _integer(LONG, value, 2, True, "long")


def long_unsigned(value: int) -> bytes:
    """``12`` + uint16."""
    return _integer(LONG_UNSIGNED, value, 2, False, "long-unsigned")


def long64_unsigned(value: int) -> bytes:
    """``15`` + uint64."""
    return _integer(LONG64_UNSIGNED, value, 8, False, "long64-unsigned")


def octet_string(value: bytes) -> bytes:
    """``09`` + length + the octets (text is passed as ASCII bytes, e.g. Kaifa's meter id)."""
    if type(value) is bytes and len(value) < 0x80:
        return bytes((OCTET_STRING, len(value))) + value
    return bytes([OCTET_STRING]) + length(len(value)) + bytes(value)


def visible_string(value: str | bytes) -> bytes:
    """``0A`` + length + the ASCII characters."""
    raw = value.encode("ascii") if isinstance(value, str) else bytes(value)
    return bytes([VISIBLE_STRING]) + length(len(raw)) + raw


def date_time(
    at: datetime,
    hundredths: int | None = None,
    deviation: int | None = None,
    clock_status: int | None = None,
) -> bytes:
    """The 12-byte COSEM date-time (no tag): year BE, month, day, day of week (1=Mon..7=Sun), hh, mm,
    ss, hundredths (None -> FF), deviation int16 BE in minutes local->UTC (None -> 0x8000,
    unspecified), clock status (None -> FF).
    """
    if not 0 <= at.year <= 0xFFFE:
        raise ValueError(f"year {at.year} does not fit a COSEM date-time")
    dev = DEVIATION_UNSPECIFIED if deviation is None else deviation & 0xFFFF
    if deviation is not None and not -720 <= deviation <= 720:
        raise ValueError(f"deviation must be -720..720 minutes, got {deviation}")
    try:
        return _DATE_TIME(
            at.year, at.month, at.day, at.isoweekday(), at.hour, at.minute, at.second,
            0xFF if hundredths is None else hundredths, dev, 0xFF if clock_status is None else clock_status,
        )
    except struct.error as exc:  # hundredths or clock status not a byte
        raise ValueError(f"date-time field out of range: {exc}") from None

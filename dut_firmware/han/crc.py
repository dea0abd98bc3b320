"""The CRC-16 variants of the meter formats; table driven, tables built once at import (see the comments)."""

# - CRC-16/X.25 (HDLC FCS/HCS): reflected polynomial 0x8408, init 0xFFFF, xorout 0xFFFF; on the wire
#   least significant byte first.
# - CRC-16/ARC (P1 telegrams): reflected polynomial 0xA001, init 0x0000, no xorout; printed as 4 hex digits.
#
# The per-byte interpreted steps are what a CRC costs in Python. Under MicroPython (the device): one table
# lookup a byte, indexed in place, nothing allocated (no memoryview, no slice; comments, not a docstring:
# a small heap compiles no long docstring). Under CPython two bytes a step: both CRCs are reflected 16-bit
# ones, so with x = crc ^ (b0 | b1 << 8), crc = T2[x & 0xFF] ^ T1[x >> 8] (T1 the byte table, T2 that of a
# byte followed by a zero byte), the words taken from arrays('H') of 128 bytes at a time; half the steps,
# for a second table and those arrays, which a small device's heap is better off without.

import sys
from array import array

_WORDS = sys.implementation.name == "cpython" and array("H", b"\x01\x00")[0] == 1  # little-endian
_WORDS_FROM = 24  # shorter runs (an HCS) go byte by byte: making an array costs more than it saves
_CHUNK = 128  # bytes per array of words


def _make_tables(poly):
    """(T1, T2) of a reflected polynomial: a byte, and a byte followed by a zero byte (CPython only).
    Lists under CPython (their items are ready int objects, an array's are made on every read), an
    array under MicroPython (a quarter of the memory, as fast)."""
    t1 = []
    for i in range(256):
        c = i
        for _ in range(8):
            if c & 1:
                c = (c >> 1) ^ poly
            else:
                c >>= 1
        t1.append(c)
    if not _WORDS:
        return array("H", t1), None
    return t1, [(c >> 8) ^ t1[c & 0xFF] for c in t1]


TABLE, TABLE2 = _make_tables(0x8408)
ARC_TABLE, ARC_TABLE2 = _make_tables(0xA001)


def _words(crc, t1, t2, data, start, end):
    """A reflected CRC-16 register crc run over data[start:end], two bytes a step (CPython)."""
    k = end - ((end - start) & 1)
    for c in range(start, k, _CHUNK):
        words = data[c:min(c + _CHUNK, k)]
        if type(words) is memoryview:
            words = bytes(words)  # array() takes a memoryview's items, not its bytes
        for x in array("H", words):
            x ^= crc
            crc = t2[x & 0xFF] ^ t1[x >> 8]
    if k < end:
        crc = (crc >> 8) ^ t1[(crc ^ data[k]) & 0xFF]
    return crc


def crc16_x25(data, start=0, end=None):
    """CRC-16/X.25 of data[start:end] (bytes, bytearray or memoryview), as an int."""
    if end is None:
        end = len(data)
    if _WORDS and end - start >= _WORDS_FROM:
        return _words(0xFFFF, TABLE, TABLE2, data, start, end) ^ 0xFFFF
    t = TABLE
    crc = 0xFFFF
    for i in range(start, end):
        crc = (crc >> 8) ^ t[(crc ^ data[i]) & 0xFF]
    return crc ^ 0xFFFF


def crc16_arc(data, start=0, end=None):
    """CRC-16/ARC of data[start:end] (bytes, bytearray or memoryview), as an int."""
    if end is None:
        end = len(data)
    if _WORDS and end - start >= _WORDS_FROM:
        return _words(0, ARC_TABLE, ARC_TABLE2, data, start, end)
    t = ARC_TABLE
    crc = 0
    for i in range(start, end):
        crc = (crc >> 8) ^ t[(crc ^ data[i]) & 0xFF]
    return crc


def check(data, start, end):
    """True when the two bytes at data[end:end + 2] (LSB first) are the CRC of data[start:end]."""
    crc = crc16_x25(data, start, end)
    return data[end] == (crc & 0xFF) and data[end + 1] == (crc >> 8)

"""A-XDR decoding of DLMS/COSEM `Data` (IEC 61334-6 / Blue Book), the subset HAN meters send.

decode(buf, pos) -> (value, next_pos). Values:
    null-data (00) -> None            boolean (03) -> bool
    array (01), structure (02) -> list of values
    octet-string (09) -> bytes        visible-string (0A), utf8-string (0C) -> str
    integers 0F 10 11 12 05 06 14 15, enum 16 -> int (wire value, never scaled)
    date-time (19, 12 bytes), date (1A, 5), time (1B, 4) -> bytes (see cosem_time)
    bit-string (04) -> bytes (the packed bits), bcd (0D) -> int
Anything else raises ValueError. Floats (17, 18) are refused on purpose: no float decoding here.
"""

import struct

NULL = 0x00
ARRAY = 0x01
STRUCTURE = 0x02
BOOLEAN = 0x03
BIT_STRING = 0x04
INT32 = 0x05
UINT32 = 0x06
OCTET_STRING = 0x09
VISIBLE_STRING = 0x0A
UTF8_STRING = 0x0C
BCD = 0x0D
INT8 = 0x0F
INT16 = 0x10
UINT8 = 0x11
UINT16 = 0x12
INT64 = 0x14
UINT64 = 0x15
ENUM = 0x16
DATE_TIME = 0x19
DATE = 0x1A
TIME = 0x1B

MAX_DEPTH = 8

# tag -> (struct format, size) for the fixed-size integers
_INTS = {
    INT8: (">b", 1),
    INT16: (">h", 2),
    UINT8: (">B", 1),
    UINT16: (">H", 2),
    INT32: (">i", 4),
    UINT32: (">I", 4),
    INT64: (">q", 8),
    UINT64: (">Q", 8),
    ENUM: (">B", 1),
    BCD: (">b", 1),
}
_FIXED_BYTES = {DATE_TIME: 12, DATE: 5, TIME: 4}


def _truncated(pos):
    return ValueError("a-xdr: value runs past the end of the data at byte %d" % pos)


def decode_length(buf, pos):
    """A-XDR length: one byte below 0x80, else 0x81 xx or 0x82 xx xx. Returns (length, next_pos)."""
    n = len(buf)
    if pos >= n:
        raise _truncated(pos)
    b = buf[pos]
    if b < 0x80:
        return b, pos + 1
    k = b & 0x7F
    if k == 0 or k > 2:
        raise ValueError("a-xdr: unsupported length encoding 0x%02x at byte %d" % (b, pos))
    if pos + 1 + k > n:
        raise _truncated(pos)
    v = 0
    for i in range(pos + 1, pos + 1 + k):
        v = (v << 8) | buf[i]
    return v, pos + 1 + k


def decode(buf, pos=0, depth=0):
    """Decode one A-XDR value starting with its type tag at buf[pos]. Returns (value, next_pos)."""
    n = len(buf)
    if pos >= n:
        raise _truncated(pos)
    tag = buf[pos]
    pos += 1
    fmt = _INTS.get(tag)
    if fmt is not None:
        size = fmt[1]
        if pos + size > n:
            raise _truncated(pos)
        return struct.unpack_from(fmt[0], buf, pos)[0], pos + size
    if tag == STRUCTURE or tag == ARRAY:
        if depth >= MAX_DEPTH:
            raise ValueError("a-xdr: nesting deeper than %d" % MAX_DEPTH)
        count, pos = decode_length(buf, pos)
        if count > n - pos:  # every element takes a byte at least
            raise _truncated(pos)
        items = [None] * count  # one allocation of the right size, no growth
        for i in range(count):
            items[i], pos = decode(buf, pos, depth + 1)
        return items, pos
    if tag == OCTET_STRING or tag == VISIBLE_STRING or tag == UTF8_STRING:
        size, pos = decode_length(buf, pos)
        if pos + size > n:
            raise _truncated(pos)
        raw = bytes(buf[pos:pos + size])
        if tag == OCTET_STRING:
            return raw, pos + size
        return str(raw, "utf-8"), pos + size
    if tag == NULL:
        return None, pos
    if tag == BOOLEAN:
        if pos >= n:
            raise _truncated(pos)
        return buf[pos] != 0, pos + 1
    size = _FIXED_BYTES.get(tag)
    if size is not None:
        if pos + size > n:
            raise _truncated(pos)
        return bytes(buf[pos:pos + size]), pos + size
    if tag == BIT_STRING:
        bits, pos = decode_length(buf, pos)
        size = (bits + 7) // 8
        if pos + size > n:
            raise _truncated(pos)
        return bytes(buf[pos:pos + size]), pos + size
    raise ValueError("a-xdr: unsupported type tag 0x%02x at byte %d" % (tag, pos - 1))

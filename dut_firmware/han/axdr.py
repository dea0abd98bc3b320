"""A-XDR decoding of DLMS/COSEM `Data` (IEC 61334-6 / Blue Book), the subset HAN meters send.

decode(buf, pos) -> (value, next_pos); value(buf, pos) -> value. Values:
    null-data (00) -> None            boolean (03) -> bool
    array (01), structure (02) -> list of values
    octet-string (09) -> bytes        visible-string (0A), utf8-string (0C) -> str
    integers 0F 10 11 12 05 06 14 15, enum 16 -> int (wire value, never scaled)
    date-time (19, 12 bytes), date (1A, 5), time (1B, 4) -> bytes (see cosem_time)
    bit-string (04) -> bytes (the packed bits), bcd (0D) -> int
Anything else raises ValueError. Floats (17, 18) are refused on purpose: no float decoding here.
Small heaps: a decoding allocates the values and nothing per element besides (no tuple, no struct).
"""

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

# by type tag (up to enum, 0x16): the size of a fixed-size integer (0: none); the signed ones (bcd: as the
# wire's signed byte)
_INT_SIZE = b"\x00\x00\x00\x00\x00\x04\x04\x00\x00\x00\x00\x00\x00\x01\x00\x01\x02\x01\x02\x00\x08\x08\x01"
_SIGNED = 1 << INT8 | 1 << INT16 | 1 << INT32 | 1 << INT64 | 1 << BCD
_FIXED_BYTES = {DATE_TIME: 12, DATE: 5, TIME: 4}


def int_size(tag):
    """The size of the value after an integer's type tag (the integers, bcd, enum), 0 for other tags."""
    return _INT_SIZE[tag] if tag <= ENUM else 0


def int_at(buf, pos):
    """The integer whose type tag is at buf[pos]; its int_size(tag) bytes follow (the caller checked)."""
    tag = buf[pos]
    v = buf[pos + 1]
    if _SIGNED >> tag & 1 and v & 0x80:
        v -= 256
    for k in range(pos + 2, pos + 1 + _INT_SIZE[tag]):
        v = (v << 8) | buf[k]
    return v


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
    holder = [None]
    end = _read(_view(buf), pos, len(buf), depth, holder, 0)
    return holder[0], end


def _view(buf):
    """buf as a memoryview: its strings are then copied once, not sliced into a copy first."""
    return buf if type(buf) is memoryview else memoryview(buf)


_held = [None]  # value()'s slot, one for every call (the decoder is not reentrant)


def value(buf, pos=0):
    """The A-XDR value at buf[pos], as decode() gives it, without a result tuple or slot of its own."""
    try:
        _read(_view(buf), pos, len(buf), 0, _held, 0)
        return _held[0]
    finally:
        _held[0] = None


def _read(buf, pos, n, depth, into, i):
    """Decode the value at buf[pos] into into[i]; the index after it. Small heaps: nothing is allocated
    but the values themselves (a list per structure, bytes or str per string)."""
    if pos >= n:
        raise _truncated(pos)
    tag = buf[pos]
    pos += 1
    size = _INT_SIZE[tag] if tag <= ENUM else 0
    if size:
        if pos + size > n:
            raise _truncated(pos)
        v = buf[pos]
        if _SIGNED >> tag & 1 and v & 0x80:
            v -= 256
        for k in range(pos + 1, pos + size):
            v = (v << 8) | buf[k]
        into[i] = v
        return pos + size
    if tag == STRUCTURE or tag == ARRAY:
        if depth >= MAX_DEPTH:
            raise ValueError("a-xdr: nesting deeper than %d" % MAX_DEPTH)
        if pos < n and buf[pos] < 0x80:
            count = buf[pos]
            pos += 1
        else:
            count, pos = decode_length(buf, pos)
        if count > n - pos:  # every element takes a byte at least
            raise _truncated(pos)
        items = [None] * count  # one allocation of the right size, no growth
        for k in range(count):
            pos = _read(buf, pos, n, depth + 1, items, k)
        into[i] = items
        return pos
    if tag == OCTET_STRING or tag == VISIBLE_STRING or tag == UTF8_STRING:
        if pos < n and buf[pos] < 0x80:
            size = buf[pos]
            pos += 1
        else:
            size, pos = decode_length(buf, pos)
        if pos + size > n:
            raise _truncated(pos)
        raw = bytes(buf[pos:pos + size])
        into[i] = raw if tag == OCTET_STRING else str(raw, "utf-8")
        return pos + size
    if tag == NULL:
        into[i] = None
        return pos
    if tag == BOOLEAN:
        if pos >= n:
            raise _truncated(pos)
        into[i] = buf[pos] != 0
        return pos + 1
    size = _FIXED_BYTES.get(tag)
    if size is None and tag == BIT_STRING:
        bits, pos = decode_length(buf, pos)
        size = (bits + 7) // 8
    if size is None:
        raise ValueError("a-xdr: unsupported type tag 0x%02x at byte %d" % (tag, pos - 1))
    if pos + size > n:
        raise _truncated(pos)
    into[i] = bytes(buf[pos:pos + size])
    return pos + size

"""The CRC-16 variants of the meter formats; table driven, tables built once at import.

- CRC-16/X.25 (HDLC FCS/HCS): reflected polynomial 0x8408, init 0xFFFF, xorout 0xFFFF; on the wire
  least significant byte first.
- CRC-16/ARC (P1 telegrams): reflected polynomial 0xA001, init 0x0000, no xorout; printed as 4 hex digits.

Runs on CPython and MicroPython.
"""

try:
    from array import array as _array
except ImportError:  # pragma: no cover - every MicroPython port we target has array
    _array = None


def _make_table(poly):
    table = [0] * 256
    for i in range(256):
        c = i
        for _ in range(8):
            if c & 1:
                c = (c >> 1) ^ poly
            else:
                c >>= 1
        table[i] = c
    if _array is not None:
        return _array("H", table)
    return table


TABLE = _make_table(0x8408)
ARC_TABLE = _make_table(0xA001)


def crc16_x25(data, start=0, end=None):
    """CRC-16/X.25 of data[start:end] (bytes, bytearray or memoryview), as an int."""
    if end is None:
        end = len(data)
    t = TABLE
    crc = 0xFFFF
    for b in memoryview(data)[start:end]:
        crc = (crc >> 8) ^ t[(crc ^ b) & 0xFF]
    return crc ^ 0xFFFF


def crc16_arc(data, start=0, end=None):
    """CRC-16/ARC of data[start:end] (bytes, bytearray or memoryview), as an int."""
    if end is None:
        end = len(data)
    t = ARC_TABLE
    crc = 0
    for b in memoryview(data)[start:end]:
        crc = (crc >> 8) ^ t[(crc ^ b) & 0xFF]
    return crc


def check(data, start, end):
    """True when the two bytes at data[end:end + 2] (LSB first) are the CRC of data[start:end]."""
    crc = crc16_x25(data, start, end)
    return data[end] == (crc & 0xFF) and data[end + 1] == (crc >> 8)

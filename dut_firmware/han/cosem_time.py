"""COSEM date-time (12 bytes, Blue Book 4.1.6.1) -> 'YYYY-MM-DDTHH:MM:SS[+HH:MM]'.

    YY YY | MM | DD | DoW | hh | mm | ss | hundredths | deviation int16 BE | clock status

deviation is minutes from local time to UTC (0x8000 = not specified); the offset printed is its
negation, so FFC4 (-60) is '+01:00' and FF88 (-120) is '+02:00' (Netz NOe's own example). The offset is
appended only when the deviation is specified: Kaifa sends 0x8000 with local wall-clock time.
Hundredths, day of week and the clock status are not part of the text; dst(b) reads the status's
daylight-saving bit (bit 7; status FF: not specified).
"""

import struct

UNSPECIFIED_DEVIATION = -0x8000


def deviation(b):
    """The signed deviation in minutes, or None when unspecified (0x8000)."""
    d = struct.unpack_from(">h", b, 9)[0]
    if d == UNSPECIFIED_DEVIATION:
        return None
    return d


def dst(b):
    """The clock status's daylight-saving bit: True, False, or None when the status is FF (unspecified)."""
    status = b[11]
    if status == 0xFF:
        return None
    return bool(status & 0x80)


def to_iso(b):
    """Format a 12-byte COSEM date-time. Raises ValueError when it is malformed or unspecified."""
    if len(b) != 12:
        raise ValueError("date-time: %d bytes, expected 12" % len(b))
    year = (b[0] << 8) | b[1]
    month = b[2]
    day = b[3]
    hour = b[5]
    minute = b[6]
    second = b[7]
    if year == 0xFFFF or not 1 <= month <= 12 or not 1 <= day <= 31:
        raise ValueError("date-time: date not specified or invalid")
    if hour > 23 or minute > 59:
        raise ValueError("date-time: time not specified or invalid")
    if second == 0xFF:
        second = 0
    elif second > 59:
        raise ValueError("date-time: invalid seconds")
    text = "%04d-%02d-%02dT%02d:%02d:%02d" % (year, month, day, hour, minute, second)
    d = deviation(b)
    if d is None:
        return text
    off = -d
    sign = "+"
    if off < 0:
        sign = "-"
        off = -off
    return text + "%s%02d:%02d" % (sign, off // 60, off % 60)

"""COSEM date-time (12 bytes, Blue Book 4.1.6.1) -> 'YYYY-MM-DDTHH:MM:SS[+HH:MM]'.

    YY YY | MM | DD | DoW | hh | mm | ss | hundredths | deviation int16 BE | clock status

deviation is minutes from local time to UTC (0x8000 = not specified); the offset printed is its
negation, so FFC4 (-60) is '+01:00' and FF88 (-120) is '+02:00' (Netz NOe's own example). The offset is
appended only when the deviation is specified: Kaifa sends 0x8000 with local wall-clock time.
Hundredths, day of week and the clock status are not part of the text; dst(b) reads the status's
daylight-saving bit (bit 7; status FF: not specified). Each function takes the 12 bytes at b[pos] of
any buffer (bytes, bytearray, memoryview), so a frame's clock is read where it lies.
"""

UNSPECIFIED_DEVIATION = -0x8000

def deviation(b, pos=0):
    """The signed deviation in minutes, or None when unspecified (0x8000)."""
    d = (b[pos + 9] << 8) | b[pos + 10]
    if d & 0x8000:
        d -= 0x10000
    if d == UNSPECIFIED_DEVIATION:
        return None
    return d


def dst(b, pos=0):
    """The clock status's daylight-saving bit: True, False, or None when the status is FF (unspecified)."""
    status = b[pos + 11]
    if status == 0xFF:
        return None
    return bool(status & 0x80)


def check(b, pos=0):
    """Raise ValueError when the date-time at b[pos] is malformed or unspecified; its seconds (0 when
    unspecified) otherwise."""
    year = (b[pos] << 8) | b[pos + 1]
    month = b[pos + 2]
    day = b[pos + 3]
    if year == 0xFFFF or not 1 <= month <= 12 or not 1 <= day <= 31:
        raise ValueError("date-time: date not specified or invalid")
    if b[pos + 5] > 23 or b[pos + 6] > 59:
        raise ValueError("date-time: time not specified or invalid")
    second = b[pos + 7]
    if second == 0xFF:
        return 0
    if second > 59:
        raise ValueError("date-time: invalid seconds")
    return second


def to_iso(b, pos=0, offset=True):
    """Format the 12-byte COSEM date-time at b[pos] (offset False: without its offset). Raises ValueError
    when it is malformed or unspecified."""
    if pos == 0 and len(b) != 12:
        raise ValueError("date-time: %d bytes, expected 12" % len(b))
    second = check(b, pos)
    d = deviation(b, pos)
    text = "%04d-%02d-%02dT%02d:%02d:%02d" % ((b[pos] << 8) | b[pos + 1], b[pos + 2], b[pos + 3], b[pos + 5],
                                              b[pos + 6], second)
    if d is None or not offset:
        return text
    off = -d
    sign = "+"
    if off < 0:
        sign = "-"
        off = -off
    return text + "%s%02d:%02d" % (sign, off // 60, off % 60)

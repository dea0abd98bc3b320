"""HDLC frame format type 3 (IEC 62056-46), as sent on the Norwegian/Swedish HAN port.

    7E | A0 LL | DA.. | SA.. | CTRL | HCS(2) | INFO | FCS(2) | 7E

No octet stuffing: frames are delimited by the 11-bit length field (everything between the flags),
and that length is trusted only once the header checksum (HCS) is correct. Both checksums are
CRC-16/X.25, LSB first. The streaming logic (buffering, resynchronisation, counters) lives in
`decoder.Decoder`; this module only judges the bytes at one candidate start.

`parse(buf, pos, end, max_frame)` looks at buf[pos:end], where buf[pos] == 0x7E, and returns a tuple
whose first item is one of:

    NEED, n                      fewer than n bytes from pos are present: wait for more
    NOT_FRAME,                   not a frame start (a flag followed by something that is no header)
    BAD_HCS,                     header checksum wrong (the length is not trusted)
    OVERSIZED, size              the header checks out but the frame (flags included) exceeds max_frame
    BAD_FCS, frame_end           the frame checksum is wrong
    OK, frame_end, info_start, info_end, segmented

frame_end is the index just after the FCS, i.e. where the closing flag should be (the closing flag
is left in the buffer: it may be the opening flag of the next frame).
"""

from .crc import check as _crc_check

FLAG = 0x7E

NEED = 0
OK = 1
NOT_FRAME = 2
BAD_HCS = 3
BAD_FCS = 4
OVERSIZED = 5

MAX_ADDRESS_BYTES = 4


def _judge(buf, pos, end):
    """header() as one int, so that a frame's parse makes no tuple for it: ctrl_end (> 0) for OK, else
    -1 NOT_FRAME, -2 BAD_HCS, or -3 - n for (NEED, n)."""
    if end - pos < 3:
        if end - pos < 2:
            return -5
        if buf[pos + 1] & 0xF0 != 0xA0:
            return -1
        return -6
    f0 = buf[pos + 1]
    if f0 & 0xF0 != 0xA0:
        return -1
    i = pos + 3
    # destination then source address: a byte with LSB 0 continues, LSB 1 ends the address
    for _ in (0, 1):
        k = 0
        while True:
            if i >= end:
                return -3 - (i - pos + 1)
            b = buf[i]
            i += 1
            k += 1
            if b & 1:
                break
            if k == MAX_ADDRESS_BYTES:
                return -1
    ctrl_end = i + 1
    if end < ctrl_end + 2:
        return -3 - (ctrl_end + 2 - pos)
    if not _crc_check(buf, pos + 1, ctrl_end):
        return -2
    length = ((f0 & 0x07) << 8) | buf[pos + 2]
    hlen = ctrl_end - pos - 1  # format .. CTRL
    if length != hlen + 2 and length < hlen + 4:
        return -2  # a checksum right by chance cannot save an impossible length
    return ctrl_end


def header(buf, pos, end):
    """Judge the header at buf[pos] (a 0x7E): (NEED, n), (NOT_FRAME,), (BAD_HCS,) or (OK, ctrl_end).

    ctrl_end is the index after the control byte; OK means the header checksum is right (for a frame
    without information field, the checksum after CTRL is its FCS, and it is right).
    """
    v = _judge(buf, pos, end)
    if v > 0:
        return (OK, v)
    if v == -1:
        return (NOT_FRAME,)
    if v == -2:
        return (BAD_HCS,)
    return (NEED, -3 - v)


def parse(buf, pos, end, max_frame):
    ctrl_end = _judge(buf, pos, end)
    if ctrl_end < 0:
        return header(buf, pos, end)
    f0 = buf[pos + 1]
    length = ((f0 & 0x07) << 8) | buf[pos + 2]
    frame_end = pos + 1 + length  # index after the FCS
    if frame_end == ctrl_end + 2:
        return (OK, frame_end, ctrl_end, ctrl_end, f0 & 0x08)  # no information field
    if length + 2 > max_frame:
        return (OVERSIZED, length + 2)
    if end < frame_end:
        return (NEED, frame_end - pos)
    if not _crc_check(buf, pos + 1, frame_end - 2):
        return (BAD_FCS, frame_end)
    return (OK, frame_end, ctrl_end + 2, frame_end - 2, f0 & 0x08)


def header_ok(buf, pos, end):
    """True when a complete header with a correct HCS starts at buf[pos] (a 0x7E) within buf[:end]."""
    return _judge(buf, pos, end) > 0


def frame_length(buf, pos):
    """Total frame size (both flags included) announced by the header at buf[pos] (a 0x7E)."""
    return (((buf[pos + 1] & 0x07) << 8) | buf[pos + 2]) + 2

"""Wired M-Bus long frames carrying DLMS (see the comments)."""

# Wired M-Bus long frames as Austrian and Polish meters send DLMS on them (han-protocols.md s.4).
#
#     68 | L | L | 68 | C (53 / 73) | A | CI | STSAP 01 | DTSAP 67 | data | CS | 16
#
# L counts C through the last data byte; CS is the sum of those bytes mod 256. CI: bit 4 FIN (the last
# segment), bits 0-3 the segment number (one segment: 10; two: 00 then 11). The data fields of the
# segments, concatenated, are one APDU.
#
# parse(buf, pos, end, max_frame) judges buf[pos:end] where buf[pos] == 0x68 and returns one of
#     (NEED, n)   (NOT_FRAME,)   (OVERSIZED, size)   (BAD_CS, frame_end)
#     (OK, frame_end, data_start, data_end, ci)
# frame_end is the index after the stop byte 16; BAD_CS also stands for a missing stop byte.


NEED = 0
OK = 1
NOT_FRAME = 2
BAD_CS = 3
OVERSIZED = 5

START = 0x68
STOP = 0x16
FIN = 0x10


def parse(buf, pos, end, max_frame):
    if end - pos < 4:
        if end - pos >= 3 and buf[pos + 1] != buf[pos + 2]:
            return (NOT_FRAME,)
        return (NEED, 4)
    length = buf[pos + 1]
    if buf[pos + 2] != length or buf[pos + 3] != START or length < 3:
        return (NOT_FRAME,)
    size = length + 6
    if size > max_frame:
        return (OVERSIZED, size)
    if end - pos < size:
        return (NEED, size)
    s = 0
    for i in range(pos + 4, pos + 4 + length):
        s += buf[i]
    frame_end = pos + size
    if s & 0xFF != buf[pos + 4 + length] or buf[frame_end - 1] != STOP:
        return (BAD_CS, frame_end)
    data = pos + 7  # after C, A, CI
    if length >= 5 and buf[pos + 6] & 0xE0 == 0:
        data += 2  # the DLMS transport: STSAP, DTSAP
    return (OK, frame_end, data, pos + 4 + length, buf[pos + 6])

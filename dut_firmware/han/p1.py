"""P1 ASCII telegram framing (DSMR, IEC 62056-21 mode D style): docs/architecture.md s.3.

    /XXXZ<ident> CRLF CRLF <OBIS>(<value>[*unit]) CRLF ... !<CRC-16/ARC, 4 hex digits> CRLF

ident(buf, pos, end) judges the ident line at buf[pos] ('/'): the index after its CRLF, MORE or NO.
parse(buf, pos, end, max_frame, scan) judges the telegram at buf[pos] ('/'; scan: 0, then what the
last NEED gave) and returns (NEED, n, scan) | (NOT_FRAME,) | (INNER, start of the next frame) |
(OVERSIZED,) | (BAD_END, index of '!') | (BAD_CRC, stop, got, want) | (OK, stop, index of '!', has_crc);
stop is the index after the checksum (after '!' CRLF when there is none).
step() and cut() are the Decoder's handling of a P1 candidate in a stream and at its end.
"""

from . import hdlc, outcome
from .crc import crc16_arc

try:
    from micropython import const
except ImportError:  # CPython
    def const(x):
        return x

_CR = const(0x0D)
_LF = const(0x0A)
_SLASH = const(0x2F)

IDENT_MAX = const(40)  # the whole ident line, '/' and CRLF included

NO = const(-1)
MORE = const(0)

NEED = const(0)
OK = const(1)
NOT_FRAME = const(2)
BAD_CRC = const(3)
BAD_END = const(4)
OVERSIZED = const(5)
INNER = const(6)


def ident(buf, pos, end):
    """Plausible ident line (3 letters, a digit, printable ASCII, CRLF, at most IDENT_MAX bytes)?"""
    last = pos + IDENT_MAX - 1  # the latest index of the LF
    i = pos + 1
    while i < end:
        b = buf[i]
        k = i - pos
        if k <= 3:
            if not 97 <= (b | 0x20) <= 122:
                return NO
        elif k == 4:
            if not 48 <= b <= 57:
                return NO
        elif b == _CR:
            if k == 5 or i + 1 > last:
                return NO
            if i + 1 >= end:
                return MORE
            return i + 2 if buf[i + 1] == _LF else NO
        elif not 32 <= b <= 126 or b == _SLASH or i + 1 >= last:
            return NO  # ('/' opens the next telegram: this one was cut in its ident line)
        i += 1
    return MORE


def hexval(b):
    """The value of one hex digit (a byte), or -1."""
    if 48 <= b <= 57:
        return b - 48
    b |= 0x20
    if 97 <= b <= 102:
        return b - 87
    return -1


def _starts(buf, k, lim):
    """At buf[k] ('/' or 0x7E): 1 a frame starts there, 0 it does not, -1 undecided within buf[:lim]."""
    if buf[k] == _SLASH:
        e = ident(buf, k, lim)
        if e == MORE:
            return -1
        return 1 if e > 0 else 0
    h = hdlc.header(buf, k, lim)[0]
    if h == hdlc.NEED:
        return -1
    return 1 if h == hdlc.OK else 0


def parse(buf, pos, end, max_frame, scan):
    """Judge the telegram at buf[pos] ('/') on buf[pos:end]: one of the tuples of the module docstring."""
    lim = end
    full = end - pos >= max_frame  # the window holds every byte the telegram may have
    if full:
        lim = pos + max_frame
    if not scan:
        scan = ident(buf, pos, end)
        if scan == NO:
            return (NOT_FRAME,)
        if scan == MORE:
            return (NEED, end - pos + 1, 0)
    i = scan
    k = -1
    while True:
        # the earliest '!', '/' or 0x7E from i
        k = buf.find(b"!", i, lim)
        stop = lim if k < 0 else k
        q = buf.find(b"/", i, stop)
        if q >= 0:
            stop = q
        q = buf.find(b"\x7e", i, stop)
        if q >= 0:
            stop = q
        if stop == lim:
            break
        if stop != k:
            s = _starts(buf, stop, lim)
            if s > 0:
                return (INNER, stop)
            if s < 0 and not full:
                return (NEED, end - pos + 1, stop)
            i = stop + 1  # no start (or undecidable inside the window: the telegram is too long)
            continue
        if k + 1 >= lim:
            break
        c = buf[k + 1]
        if c == _CR:
            if k + 2 >= lim:
                break
            if buf[k + 2] == _LF:
                return (OK, k + 3, k, False)
            return (BAD_END, k)
        if hexval(c) < 0:
            return (BAD_END, k)
        if k + 5 > lim:
            break
        got = 0
        for j in range(k + 1, k + 5):
            h = hexval(buf[j])
            if h < 0:
                return (BAD_END, k)
            got = (got << 4) | h
        want = crc16_arc(buf, pos, k + 1)
        if got != want:
            return (BAD_CRC, k + 5, got, want)
        return (OK, k + 5, k, True)
    if full:
        return (OVERSIZED,)
    return (NEED, end - pos + 1, k if k >= 0 else lim)


def step(d, out, buf, pos, end):
    """Decoder d at buf[pos], a '/' or a byte after a checksum: the position to go on from, or -1 to wait."""
    if d._tail:  # the CR LF after a checksum belongs to the telegram
        b = buf[pos]
        if b == _CR and d._tail == 2:
            d._tail = 1
            return pos + 1
        d._tail = 0
        return pos + 1 if b == _LF else pos
    scan = d._scan
    r = parse(buf, pos, end, d.max_frame, pos + scan if scan else 0)
    st = r[0]
    if st == NEED:
        d._need = r[1]
        d._scan = r[2] - pos if r[2] else 0
        return -1
    d._need = 0
    d._scan = 0
    if st == NOT_FRAME:
        if not d._quiet:
            d._garbage += 1  # one more byte of the current garbage run
        return pos + 1
    d._end_garbage(out)
    if st == OK or st == BAD_CRC:
        d._quiet = False
        if st == BAD_CRC:
            d._tail = 2  # the CRLF after the checksum belongs to the telegram
            d._error(out, outcome.CHECKSUM, "p1", "crc mismatch: telegram says %04X, computed %04X"
                     % (r[2], r[3]))
        elif r[3] or not d._p1_crc:
            if r[3]:
                d._p1_crc = True  # this meter sends a CRC: a telegram without one has lost it
                d._framed = True
            d._tail = 2 if r[3] else 0
            d._telegram(out, buf, pos, r[2])
        else:
            d._error(out, outcome.CHECKSUM, "p1", "crc mismatch: no checksum after '!' (this meter sends one)")
        return r[1]
    d._quiet = True  # the remains of the telegram are not counted again
    if st == INNER:
        d._error(out, outcome.TRUNCATED, "p1", "truncated: next frame after %d bytes of a telegram" % (r[1] - pos))
        return r[1]
    if st == OVERSIZED:
        d._error(out, outcome.OVERSIZED, "p1", "oversized: telegram longer than %d bytes" % d.max_frame)
    else:
        d._error(out, outcome.CHECKSUM, "p1", "crc mismatch: no checksum after '!'")
    return pos + 1


def cut(d, out, pos, end):
    """End of stream with Decoder d waiting at pos: a telegram cut off, or a '/' that was garbage."""
    if d._scan:
        d._end_garbage(out)
        d._error(out, outcome.TRUNCATED, "p1", "truncated: telegram cut off after %d bytes" % (end - pos))
        d._quiet = True
    elif not d._quiet:
        d._garbage += 1  # no complete ident line
    d._pos = pos + 1
    d._need = 0
    d._scan = 0

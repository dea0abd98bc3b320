"""M-Bus frames and raw APDUs in the Decoder's byte stream (see the comments)."""

# The Decoder's handling of the frames without a flag in a byte stream: wired M-Bus long frames (0x68,
# mbus.py) and general-glo-ciphering APDUs sent raw on P1 (0xDB, apdu_header: delimited by their length
# field alone, so one longer than max_frame, or with an impossible header, is taken as stray bytes; the
# rules for one cut short and one whose content nothing checks: decoder.py, _raw_apdu here).
#
# step(d, out, buf, pos, end): the position to go on from, or -1 to wait for bytes (d._need set).
# cut(d, out, buf, pos, end): the end of the stream with d waiting at pos: a frame cut off, or a stray byte;
# the bytes after pos are looked through for a frame either way.


from . import mbus, outcome

_TAG = 12  # bytes of a general-glo-ciphering tag


def apdu_header(buf, pos, end):
    """A general-glo-ciphering APDU at buf[pos]: (mbus.NEED, n), (mbus.NOT_FRAME,) or (mbus.OK, apdu_end)."""
    if end - pos < 13:
        if end - pos >= 2 and buf[pos + 1] != 0x08:
            return (mbus.NOT_FRAME,)
        return (mbus.NEED, 13)
    if buf[pos + 1] != 0x08:
        return (mbus.NOT_FRAME,)
    b = buf[pos + 10]
    if b < 0x80:
        size, start = b, pos + 11
    elif b == 0x81 or b == 0x82:
        k = b & 0x7F
        if end - pos < 11 + k + 1:
            return (mbus.NEED, 11 + k + 1)
        size = buf[pos + 11] if k == 1 else (buf[pos + 11] << 8) | buf[pos + 12]
        start = pos + 11 + k
    else:
        return (mbus.NOT_FRAME,)
    sc = buf[start]
    if sc & 0xEE != 0x20 or size < 5 + (_TAG if sc & 0x10 else 0):
        return (mbus.NOT_FRAME,)
    return (mbus.OK, start + size)


def _judge(d, buf, pos, end):
    if buf[pos] == 0x68:
        return mbus.parse(buf, pos, end, d.max_frame)
    r = apdu_header(buf, pos, end)
    if r[0] == mbus.OK:
        if r[1] - pos > d.max_frame:
            return (mbus.NOT_FRAME,)
        if r[1] > end:
            return (mbus.NEED, r[1] - pos)
    return r


def step(d, out, buf, pos, end):
    r = _judge(d, buf, pos, end)
    st = r[0]
    if st == mbus.NEED:
        d._need = r[1]
        return -1
    d._need = 0
    if st == mbus.NOT_FRAME:
        if not d._quiet:
            d._garbage += 1  # one more byte of the current garbage run
        return pos + 1
    if st == mbus.OK and buf[pos] == 0xDB:
        return _raw_apdu(d, out, buf, pos, r[1])
    d._end_garbage(out)
    if st == mbus.OK:
        d._quiet = False
        d._framed = True  # its checksum checked out: the line carries framed frames
        if r[4] & 0xE0:
            d._error(out, outcome.UNKNOWN_FORMAT, "mbus", "unknown format: m-bus frame with CI 0x%02x" % r[4])
        else:
            msg = d.assembler().mbus(r[4], d._mv[r[2]:r[3]])
            d._lost(out, "mbus")
            if msg is not None:
                d._decode(out, "mbus", d._apdu, msg)
        return r[1]
    d._quiet = True  # the remains of the frame are not counted again
    if st == mbus.OVERSIZED:
        d._error(out, outcome.OVERSIZED, "mbus", "oversized: frame of %d bytes, max %d" % (r[1], d.max_frame))
        return pos + 1
    # a frame header inside it: it was cut short and the next frame began there (judged on the frame's
    # own bytes, so the answer does not depend on the chunking)
    q = buf.find(b"\x68", pos + 1, r[1])
    while q >= 0:
        if r[1] - q >= 4 and mbus.parse(buf, q, q + 4, d.max_frame)[0] == mbus.NEED:
            d._error(out, outcome.TRUNCATED, "mbus", "truncated: next frame after %d bytes" % (q - pos))
            return q
        q = buf.find(b"\x68", q + 1, r[1])
    d._error(out, outcome.CHECKSUM, "mbus", "m-bus checksum mismatch")
    # with its stop byte where the length says, it was a whole frame: go on after it (its damaged bytes
    # may look like a frame start); else the length was wrong: look for a frame in its bytes
    return r[1] if buf[r[1] - 1] == mbus.STOP else pos + 1


def _checked(d, buf, pos):
    """True when the raw APDU at buf[pos] carries a tag the decoder checks (SC bit 4 and an auth key)."""
    b = buf[pos + 10]
    sc = buf[pos + 11 + (b & 0x7F if b & 0x80 else 0)]
    return bool(sc & 0x10 and d.auth_key)


def _inner_apdu(buf, pos, stop):
    """The start of a raw APDU of the same system title within buf[pos + 1:stop] (the APDU at pos was cut
    short there), or -1; judged on the APDU's own bytes, so the answer does not depend on the chunking."""
    q = buf.find(b"\xdb\x08", pos + 1, stop)
    while q >= 0 and q + 10 <= stop:
        i = 2
        while i < 10 and buf[q + i] == buf[pos + i]:
            i += 1
        if i == 10 and apdu_header(buf, q, stop)[0] != mbus.NOT_FRAME:
            return q
        q = buf.find(b"\xdb\x08", q + 1, stop)
    return -1


def _stray(d, buf, pos):
    """True when the raw APDU at buf[pos] is a stray byte: nothing would check its content, and it is no
    frame start of a raw line (a boundary: no byte skipped since the frame before, or where the length of
    the raw APDU before says it ends)."""
    boundary = pos == d._raw_end or not (d._garbage or d._quiet)
    return not _checked(d, buf, pos) and (d._framed or not boundary)


def _raw_apdu(d, out, buf, pos, stop):
    """A raw APDU at buf[pos:stop] (its header plausible): where to go on (rules in decoder.py)."""
    if _stray(d, buf, pos):
        if d._raw_end <= pos:
            d._raw_end = stop
        if not d._quiet:
            d._garbage += 1
        return pos + 1
    d._end_garbage(out)
    d._quiet = False
    q = _inner_apdu(buf, pos, stop)
    if q >= 0:
        d._error(out, outcome.TRUNCATED, "p1", "truncated: next apdu after %d of %d bytes" % (q - pos, stop - pos))
        return q
    ok = d.counters["frames_ok"]
    d._decode(out, "p1", d._apdu, d._mv[pos:stop])  # read in place, as an HDLC frame
    if d.counters["frames_ok"] == ok:  # not decoded: its length may be wrong, look for a frame in its bytes
        d._quiet = True  # (its remains not counted again)
        d._raw_end = stop
        return pos + 1
    return stop


def cut(d, out, buf, pos, end):
    if buf[pos] == 0x68:
        whole = end - pos >= 4 and mbus.parse(buf, pos, pos + 4, d.max_frame)[0] == mbus.NEED
        fmt = "mbus"
    else:  # a raw APDU in the remains of a frame already counted, or one the rules make a stray byte: none
        whole = apdu_header(buf, pos, end)[0] == mbus.OK and (not d._quiet or pos == d._raw_end) and \
            not _stray(d, buf, pos)
        fmt = "p1"
    d._pos = pos + 1
    if whole:
        d._end_garbage(out)
        d._error(out, outcome.TRUNCATED, fmt, "truncated: frame cut off after %d bytes" % (end - pos))
        d._quiet = True  # its bytes are looked through for a frame (its length may be wrong), not counted again
    elif not d._quiet:
        d._garbage += 1
    d._need = 0

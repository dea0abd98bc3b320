"""Aidon lists (Norway AIDON_V0001, Sweden): han-protocols.md s.2.

The DATA-NOTIFICATION body is an array (tag 01) of structures: `02 02 <OBIS> <value>` (list version,
meter id and type, clock) or `02 03 <OBIS> <value> (02 02 0F <scaler> 16 <unit>)`; the scaler is
applied exactly (0.1 A, 0.1 V, 10 Wh in Norway, Wh in Sweden). Unknown OBIS codes are ignored.
The clock is local wall-clock time (Norwegian meters state deviation 0 with it), so it is published
without an offset and read in the configured time zone, as Kaifa's.

decode(body, header_time) -> ("aidon", list_no, reading): list 1 (P+ only), 2, 3 (with energies).
read_array(buf, pos) -> ("aidon", list_no, reading) or None: the same list (no header date-time) read
where it lies in the APDU (the Decoder's way: no value tree, the texts made once), None for anything
decode() must judge on the tree.
"""

from . import axdr, cosem_time, obis
from . import reading as R

_EXPS = (0, 0, 0, 0, 0, 0)  # a number without scaler-unit is in the base unit


def decode(body, header_time=None):
    out = {}
    known = 0
    for i in range(len(body)):
        item = body[i]
        n = len(item) if isinstance(item, list) else 0
        if not 2 <= n <= 3 or not isinstance(item[0], bytes) or len(item[0]) != 6:
            raise ValueError("unknown list: aidon element %d is not an OBIS structure" % i)
        exp = None
        if n == 3:
            su = item[2]
            if not isinstance(su, list) or len(su) != 2 or not isinstance(su[0], int):
                raise ValueError("unknown list: aidon element %d has no scaler-unit" % i)
            exp = su[0]
        if obis.put(out, item[0], item[1], _EXPS, exp):
            known += 1
        body[i] = None  # garbage now: room for the reading as it grows (small heaps)
    list_no = obis.finish(out, known, header_time, 3)
    t = out.get(R.TIMESTAMP)
    if t:
        out[R.TIMESTAMP] = t[:19]
    return "aidon", list_no, out


def read_array(buf, pos):
    """The reading of the list whose array tag is at buf[pos] (a memoryview), read in place: items
    `02 02|03 09 06 <OBIS> <integer, string or 12-byte octet-string> [02 02 0F <scaler> 16 <unit>]`.
    None for anything else (decode() on the tree judges it, with its own errors)."""
    n = len(buf)
    if pos + 2 >= n or buf[pos] != axdr.ARRAY or not 0 < buf[pos + 1] < 0x80:
        return None
    count = buf[pos + 1]
    pos += 2
    out = {}
    known = 0
    try:
        for _ in range(count):
            k = buf[pos + 1] if pos + 10 < n else 0
            if k != 2 and k != 3 or buf[pos] != axdr.STRUCTURE or buf[pos + 2] != axdr.OCTET_STRING \
                    or buf[pos + 3] != 6:
                return None
            code = pos + 4
            pos += 10  # the value's tag
            tag = buf[pos]
            size = axdr.int_size(tag)
            if size:
                end = pos + 1 + size
            elif (tag == axdr.OCTET_STRING or tag == axdr.VISIBLE_STRING) and pos + 1 < n and buf[pos + 1] < 0x80:
                end = pos + 2 + buf[pos + 1]
            else:
                return None
            exp = 0
            if k == 3:  # the scaler-unit
                if end + 6 > n or buf[end] != axdr.STRUCTURE or buf[end + 1] != 2 or buf[end + 2] != axdr.INT8 \
                        or buf[end + 4] != axdr.ENUM:
                    return None
                exp = axdr.int_at(buf, end + 2)
                after = end + 6
            else:
                after = end
            if after > n:
                return None
            field = obis.lookup(buf, code)
            if field is not None:
                known += 1
                kind = obis.kind_of(buf, code)
                if kind == obis.STR:
                    if size:
                        return None
                    out[field] = obis.text_at(buf, pos + 2, end, field)
                elif kind == obis.TIME:
                    if tag != axdr.OCTET_STRING or end - pos != 14:
                        return None
                    out[field] = cosem_time.to_iso(buf, pos + 2, False)  # local time (module docstring)
                elif not size:
                    return None
                else:
                    out[field] = R.scale(axdr.int_at(buf, pos), exp + obis.SHIFT[kind])
            pos = after
        return "aidon", obis.finish(out, known, None, 3), out
    except ValueError:
        return None

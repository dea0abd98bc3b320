"""Kaifa KFM_001 lists (Norway/Sweden, HDLC port): han-protocols.md s.1.4.

Two layouts of the DATA-NOTIFICATION body (a structure, tag 02):
- values only, recognised by element count: 1 (List 1), 13 / 18 (List 2 / List 3, three-phase),
  9 / 14 (List 2 / List 3, single-phase MA105H2E); energies uint32 or uint64 (CT meter MA304T4);
- the Swedish OBIS variant: 2 x N items, pairs of `09 06 <OBIS>` and value, mapped by OBIS code.
Wire units: W, var, mA, 0.1 V, Wh, varh; the reading gets W, var, mA, mV, Wh, varh.

decode(body, header_time) -> (kind, list_no, reading): kind 'kaifa-kfm001' or 'kaifa-obis';
header_time is the 12-byte date-time of the APDU header or None. Raises ValueError otherwise.
read_values(buf, pos, when) -> reading or None: a values-only list read where it lies in the APDU (the
Decoder's way: no value tree, the texts made once), None for anything decode() must judge on the tree.
"""

from . import axdr, cosem_time, obis
from . import reading as R
from .obis import CURRENT, ENERGY, POWER, STR, TIME, VOLTAGE

# wire units by kind as DLMS scalers of the SI unit: W / var, Wh / varh, mA, 0.1 V
EXPS = (0, 0, 0, 0, -3, -1)

_HEAD = (
    (R.LIST_VERSION, STR), (R.METER_ID, STR), (R.METER_TYPE, STR),
    (R.P_IMPORT, POWER), (R.P_EXPORT, POWER), (R.Q_IMPORT, POWER), (R.Q_EXPORT, POWER),
)
_ENERGY = (
    (R.TIMESTAMP, TIME),
    (R.E_IMPORT, ENERGY), (R.E_EXPORT, ENERGY), (R.R_IMPORT, ENERGY), (R.R_EXPORT, ENERGY),
)
_L2_3P = _HEAD + (
    (R.I_L1, CURRENT), (R.I_L2, CURRENT), (R.I_L3, CURRENT),
    (R.U_L1, VOLTAGE), (R.U_L2, VOLTAGE), (R.U_L3, VOLTAGE),
)
_L2_1P = _HEAD + ((R.I_L1, CURRENT), (R.U_L1, VOLTAGE))

# element count -> (list number, layout)
LAYOUTS = {
    1: (1, ((R.P_IMPORT, POWER),)),
    9: (2, _L2_1P),
    13: (2, _L2_3P),
    14: (3, _L2_1P + _ENERGY),
    18: (3, _L2_3P + _ENERGY),
}


_SHIFTED = (0, 0, 0, 0, 0, 2)  # EXPS plus each kind's shift to the reading's unit (obis.value)


def read_values(buf, pos, when=-1):
    """The reading of the values-only list whose structure tag is at buf[pos] (a memoryview), its
    header date-time at buf[when] (-1: none), read in place: the numbers as they are read, the texts
    made only when they change, no value tree. None when it is not a plain values-only list (another
    element count, the OBIS variant, a visible-string first: Kamstrup's, a type its layout does not
    expect, anything wrong): decode() on the tree judges those, with its own errors."""
    n = len(buf)
    if pos + 3 >= n or buf[pos] != axdr.STRUCTURE:  # its tag, count, and the first element's two bytes
        return None
    count = buf[pos + 1]
    layout = LAYOUTS.get(count)
    if layout is None:
        return None
    pos += 2
    first = buf[pos]
    if first == axdr.VISIBLE_STRING or first == axdr.UTF8_STRING:
        return None  # Kamstrup's list version opens its list
    if count % 2 == 0 and first == axdr.OCTET_STRING and buf[pos + 1] == 6:
        return None  # the OBIS variant
    fields = layout[1]
    out = {}
    try:
        for i in range(count):
            field, kind = fields[i]
            if pos + 1 >= n:
                return None
            tag = buf[pos]
            if kind >= POWER:  # a number
                size = axdr.int_size(tag)
                if not size or pos + 1 + size > n:
                    return None
                out[field] = R.scale(axdr.int_at(buf, pos), _SHIFTED[kind])
                pos += 1 + size
                continue
            if tag == axdr.DATE_TIME:
                start = pos + 1
                size = 12
            elif tag == axdr.OCTET_STRING or kind == STR and (tag == axdr.VISIBLE_STRING or tag == axdr.UTF8_STRING):
                start = pos + 2
                size = buf[pos + 1]
                if size >= 0x80:
                    return None
            else:
                return None
            pos = start + size
            if pos > n:
                return None
            if kind == STR:
                out[field] = obis.text_at(buf, start, pos, field)
            elif size != 12:
                return None
            elif when < 0:
                out[field] = cosem_time.to_iso(buf, start)
            else:
                cosem_time.check(buf, start)  # the header's time is published (below), this one must be valid
        if when >= 0:  # the transmission time; the clock item equals it
            out[R.TIMESTAMP] = cosem_time.to_iso(buf, when)
    except ValueError:
        return None
    R.apply_it_rule(out)
    return out


def _values_only(items, header_time):
    layout = LAYOUTS.get(len(items))
    if layout is None:
        raise ValueError("unknown list: structure of %d elements" % len(items))
    out = {}
    fields = layout[1]
    for i in range(len(fields)):
        field, kind = fields[i]
        out[field] = obis.value(kind, items[i], EXPS[kind], field)
    if header_time is not None:  # the transmission time; the clock item equals it
        out[R.TIMESTAMP] = obis.value(TIME, header_time, 0, R.TIMESTAMP)
    return "kaifa-kfm001", layout[0], out


def _with_obis(items, header_time):
    out = {}
    known = 0
    for i in range(0, len(items), 2):
        code = items[i]
        if not isinstance(code, bytes) or len(code) != 6:
            raise ValueError("unknown list: element %d is not an OBIS code" % i)
        if obis.put(out, code, items[i + 1], EXPS):
            known += 1
    return "kaifa-obis", obis.finish(out, known, header_time, 3), out


def decode(body, header_time=None):
    if not isinstance(body, list) or not body:
        raise ValueError("unknown list: body is not a non-empty structure")
    first = body[0]
    if len(body) % 2 == 0 and isinstance(first, bytes) and len(first) == 6:
        kind, list_no, out = _with_obis(body, header_time)
    else:
        kind, list_no, out = _values_only(body, header_time)
    R.apply_it_rule(out)
    return kind, list_no, out

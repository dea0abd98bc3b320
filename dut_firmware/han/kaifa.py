"""Kaifa KFM_001 lists (Norway/Sweden, HDLC port): han-protocols.md s.1.4.

Two layouts of the DATA-NOTIFICATION body (a structure, tag 02):
- values only, recognised by element count: 1 (List 1), 13 / 18 (List 2 / List 3, three-phase),
  9 / 14 (List 2 / List 3, single-phase MA105H2E); energies uint32 or uint64 (CT meter MA304T4);
- the Swedish OBIS variant: 2 x N items, pairs of `09 06 <OBIS>` and value, mapped by OBIS code.
Wire units: W, var, mA, 0.1 V, Wh, varh; the reading gets W, var, A, V, Wh, varh.

decode(body, header_time) -> (kind, list_no, reading): kind 'kaifa-kfm001' or 'kaifa-obis';
header_time is the 12-byte date-time of the APDU header or None. Raises ValueError otherwise.
"""

from . import reading as R
from .cosem_time import to_iso

# element kinds
STR = 0
NUM = 1  # integer, unit unchanged (W, var, Wh, varh)
MILLI = 2  # integer in 1/1000 (mA -> A)
DECI = 3  # integer in 1/10 (0.1 V -> V)
TIME = 4  # 12-byte date-time

_HEAD = (
    (R.LIST_VERSION, STR), (R.METER_ID, STR), (R.METER_TYPE, STR),
    (R.P_IMPORT, NUM), (R.P_EXPORT, NUM), (R.Q_IMPORT, NUM), (R.Q_EXPORT, NUM),
)
_ENERGY = (
    (R.TIMESTAMP, TIME),
    (R.E_IMPORT, NUM), (R.E_EXPORT, NUM), (R.R_IMPORT, NUM), (R.R_EXPORT, NUM),
)
_L2_3P = _HEAD + (
    (R.I_L1, MILLI), (R.I_L2, MILLI), (R.I_L3, MILLI),
    (R.U_L1, DECI), (R.U_L2, DECI), (R.U_L3, DECI),
)
_L2_1P = _HEAD + ((R.I_L1, MILLI), (R.U_L1, DECI))

# element count -> (list number, layout)
LAYOUTS = {
    1: (1, ((R.P_IMPORT, NUM),)),
    9: (2, _L2_1P),
    13: (2, _L2_3P),
    14: (3, _L2_1P + _ENERGY),
    18: (3, _L2_3P + _ENERGY),
}


def _obis_key(a, c, d, e):
    return (a << 24) | (c << 16) | (d << 8) | e


# OBIS A-B:C.D.E.F, matched on A, C, D, E (any channel B, any F)
OBIS = {
    _obis_key(1, 0, 2, 129): (R.LIST_VERSION, STR),
    _obis_key(0, 96, 1, 0): (R.METER_ID, STR),
    _obis_key(0, 96, 1, 7): (R.METER_TYPE, STR),
    _obis_key(1, 1, 7, 0): (R.P_IMPORT, NUM),
    _obis_key(1, 2, 7, 0): (R.P_EXPORT, NUM),
    _obis_key(1, 3, 7, 0): (R.Q_IMPORT, NUM),
    _obis_key(1, 4, 7, 0): (R.Q_EXPORT, NUM),
    _obis_key(1, 31, 7, 0): (R.I_L1, MILLI),
    _obis_key(1, 51, 7, 0): (R.I_L2, MILLI),
    _obis_key(1, 71, 7, 0): (R.I_L3, MILLI),
    _obis_key(1, 32, 7, 0): (R.U_L1, DECI),
    _obis_key(1, 52, 7, 0): (R.U_L2, DECI),
    _obis_key(1, 72, 7, 0): (R.U_L3, DECI),
    _obis_key(0, 1, 0, 0): (R.TIMESTAMP, TIME),
    _obis_key(1, 1, 8, 0): (R.E_IMPORT, NUM),
    _obis_key(1, 2, 8, 0): (R.E_EXPORT, NUM),
    _obis_key(1, 3, 8, 0): (R.R_IMPORT, NUM),
    _obis_key(1, 4, 8, 0): (R.R_EXPORT, NUM),
}


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def _convert(kind, v, field):
    if kind == NUM:
        if _is_int(v):
            return v
    elif kind == MILLI:
        if _is_int(v):
            return v / 1000
    elif kind == DECI:
        if _is_int(v):
            return v / 10
    elif kind == STR:
        if isinstance(v, bytes):
            return str(v, "utf-8")
        if isinstance(v, str):
            return v
    elif kind == TIME:
        if isinstance(v, bytes) and len(v) == 12:
            return to_iso(v)
    raise ValueError("kaifa: unexpected value type for %s" % field)


def _values_only(items, header_time):
    layout = LAYOUTS.get(len(items))
    if layout is None:
        raise ValueError("unknown list: structure of %d elements" % len(items))
    out = {}
    if header_time is not None:
        out[R.TIMESTAMP] = to_iso(header_time)
    fields = layout[1]
    for i in range(len(fields)):
        field, kind = fields[i]
        v = _convert(kind, items[i], field)
        if kind == TIME and R.TIMESTAMP in out:
            continue  # the header date-time is the transmission time; the clock item equals it
        out[field] = v
    return "kaifa-kfm001", layout[0], out


def _with_obis(items, header_time):
    out = {}
    clock = None
    known = 0
    for i in range(0, len(items), 2):
        code = items[i]
        if not isinstance(code, bytes) or len(code) != 6:
            raise ValueError("unknown list: element %d is not an OBIS code" % i)
        spec = OBIS.get(_obis_key(code[0], code[2], code[3], code[4]))
        if spec is None:
            continue  # an object this decoder does not map; the others still count
        known += 1
        field, kind = spec
        v = _convert(kind, items[i + 1], field)
        if kind == TIME:
            clock = v
        else:
            out[field] = v
    if not known:
        raise ValueError("unknown list: no known OBIS code")
    if header_time is not None:
        out[R.TIMESTAMP] = to_iso(header_time)
    elif clock is not None:
        out[R.TIMESTAMP] = clock
    if R.E_IMPORT in out or R.E_EXPORT in out or R.R_IMPORT in out or R.R_EXPORT in out:
        list_no = 3
    elif R.METER_ID in out or R.I_L1 in out or R.U_L1 in out:
        list_no = 2
    else:
        list_no = 1
    return "kaifa-obis", list_no, out


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

"""OBIS-coded DLMS lists (Kaifa OBIS variant, Aidon, Kamstrup): OBIS code + value -> reading field.

An OBIS code A.B.C.D.E.F (6 bytes) is matched on A, C, D, E (any channel B, any F), by arithmetic
rather than a table: 1.x.C.7.0 with C = 20 * phase + 1..4 are the active/reactive import/export powers
(phase 0: totals), + 11 the currents, + 12 the voltages; 1.x.1..4.8.0 the energies.
A number with DLMS scaler exp (10**exp of the SI unit) becomes an int in the field's base unit (reading.py:
W, var, Wh, varh, mA, mV): 2330 with scaler -1 V -> 233000 mV; a finer value is rounded (reading.scale).
"""

from . import reading as R
from .cosem_time import to_iso

# value kinds (indexes of the per-maker exponent tuples)
STR = 0
TIME = 1
POWER = 2
ENERGY = 3
CURRENT = 4
VOLTAGE = 5

# the base unit of each kind as a power of ten of its SI unit, negated: mA and mV are 10**-3 A and V
SHIFT = (0, 0, 0, 0, 3, 3)

_POWERS = R.POWERS
_ENERGIES = R.ENERGIES
_CURRENTS = R.CURRENTS
_VOLTAGES = R.VOLTAGES


def lookup(code, at=0):
    """The reading's field of a 6-byte OBIS code, or None when the reading does not map it (its kind:
    kind_of(code)). Nothing is allocated."""
    a = code[at]
    c = code[at + 2]
    d = code[at + 3]
    e = code[at + 4]
    if a == 1:
        if e == 0:
            if d == 8 and 1 <= c <= 4:
                return _ENERGIES[c - 1]
            if d == 7 and c < 80:
                phase = c // 20
                k = c % 20
                if 1 <= k <= 4:
                    return _POWERS[phase][k - 1]
                if phase and k == 11:
                    return _CURRENTS[phase - 1]
                if phase and k == 12:
                    return _VOLTAGES[phase - 1]
        elif c == 0 and d == 2 and e == 129:
            return R.LIST_VERSION
        elif c == 0 and d == 0 and e == 5:  # Kamstrup's meter id and type
            return R.METER_ID
        elif c == 96 and d == 1 and e == 1:
            return R.METER_TYPE
    elif a == 0:
        if c == 1 and d == 0 and e == 0:
            return R.TIMESTAMP
        if c == 96 and d == 1 and (e == 0 or e == 7):
            return R.METER_TYPE if e else R.METER_ID
    return None


def kind_of(code, at=0):
    """The value kind of a code lookup() maps (code[at:at + 6])."""
    a = code[at]
    if a == 1 and code[at + 4] == 0:
        if code[at + 3] == 8:
            return ENERGY
        k = code[at + 2] % 20
        return POWER if k <= 4 else (CURRENT if k == 11 else VOLTAGE)
    return TIME if a == 0 and code[at + 2] == 1 else STR


_raw = {}  # field -> the bytes its last text was made of (text_at)
_text = {}  # field -> that text


def text_at(buf, start, end, field):
    """The text (UTF-8) of buf[start:end] for field: the str made last time when the bytes are the same
    (a meter's id, type and list version do not change: no str per frame). Raises ValueError."""
    raw = _raw.get(field)
    if raw is not None and len(raw) == end - start:
        i = start
        for b in raw:
            if buf[i] != b:
                break
            i += 1
        else:
            return _text[field]
    raw = bytes(buf[start:end])
    text = str(raw, "utf-8")
    _raw[field] = raw
    _text[field] = text
    return text


def value(kind, v, exp, field):
    """The reading's value of wire value v; raises ValueError naming field when v has a wrong type."""
    if kind == STR:
        if isinstance(v, bytes):
            return str(v, "utf-8")
        if isinstance(v, str):
            return v
    elif kind == TIME:
        if isinstance(v, bytes) and len(v) == 12:
            return to_iso(v)
    elif isinstance(v, int) and not isinstance(v, bool):
        return R.scale(v, exp + SHIFT[kind])
    raise ValueError("unexpected value type for %s" % field)


def put(out, code, v, exps, exp=None):
    """Map one code + value into out; exps: exponents by kind, exp: the meter's own scaler (wins).
    Returns False for a code the reading does not map (ignored)."""
    field = lookup(code)
    if field is None:
        return False
    kind = kind_of(code)
    if exp is not None and not -128 <= exp <= 127:  # a scaler is an int8 (and 10**exp must stay small)
        raise ValueError("unexpected scaler %d for %s" % (exp, field))
    out[field] = value(kind, v, exps[kind] if exp is None else exp, field)
    return True


def finish(out, known, header_time, top):
    """Check that a list had a known code, let the header date-time win over the clock item, and
    return the list number: top (3, or 2 for Kamstrup) with energies, 2 with identity/U/I, else 1."""
    if not known:
        raise ValueError("unknown list: no known OBIS code")
    if header_time is not None:
        out[R.TIMESTAMP] = to_iso(header_time)
    if R.E_IMPORT in out or R.E_EXPORT in out or R.R_IMPORT in out or R.R_EXPORT in out:
        return top
    if top == 3 and (R.METER_ID in out or R.I_L1 in out or R.U_L1 in out):
        return 2
    return 1

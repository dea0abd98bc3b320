"""P1 telegram values: OBIS lines -> normalized reading (docs/architecture.md s.3 lists the lines).

read(data, start, end) -> (reading, dst), decode(data) -> reading: data[start:end] holds a telegram from
'/' to its '!' (its CRC is checked by p1.parse); dst is the S/W flag of its clock. The telegram is read
where it lies (bytes or a bytearray, e.g. the decoder's buffer), line by line by index: a line's OBIS
code (the text before '(', "A-B:C.D.E" as DSMR writes it) is recognised by its numbers, the values are
read digit by digit, and the texts (ident, meter id) are made only when they change, so a telegram
allocates its reading and little else. Values are exact integers in the reading's base units (W, var,
Wh, varh, mV, mA: reading.py); a number with more decimals than its base unit holds is rounded half away
from zero (reading.scale).

The lines mapped (channel B = 0; another channel, e.g. the gas meter's 0-1:96.1.0, is not):
    1-0:C.8.0, C = 1..4          the energies (import, export, reactive import, reactive export)
    1-0:C.8.E, C = 1, 2, E = 1..4  tariff registers: their sum when the C.8.0 line is missing
    1-0:C.7.0, C = 20 * phase + 1..4  active/reactive import/export powers (phase 0: the totals),
               + 11, + 12 (phase 1..3)  the currents and voltages
    0-0:1.0.0                    the clock          0-0:96.1.0 / 96.1.1   the meter id (96.1.0 wins)
"""

import binascii

from . import reading as R

try:
    from micropython import const
except ImportError:  # CPython
    def const(x):
        return x

# value kinds: the dimensions of the numbers, then the others
_WH = const(0)
_VARH = const(1)
_W = const(2)
_VAR = const(3)
_V = const(4)
_A = const(5)
_TIME = const(6)
_ID = const(7)

# the units, in lower case: two of each kind of energy and power (the first the DSMR one, in kilo: 10**3 of
# the field's unit), then V and A (10**3 mV, mA); a number without a unit is in the DSMR one
_UNITS = (b"kwh", b"wh", b"kvarh", b"varh", b"kw", b"w", b"kvar", b"var", b"v", b"a")

# internal fields, resolved at the end of a telegram: tariff registers, the second meter id
_IMPORTS = "+import"
_EXPORTS = "+export"
_ID_ALT = "+id"

# the fields of the lines by slot (line(): kind << 6 | slot)
_FIELDS = (R.ENERGIES + (_IMPORTS, _EXPORTS) + R.POWERS[0] + R.POWERS[1] + R.POWERS[2] + R.POWERS[3]
           + R.CURRENTS + R.VOLTAGES + (R.TIMESTAMP, R.METER_ID, _ID_ALT))
_TARIFFS = const(4)
_PHASES = const(6)
_CURRENT_SLOT = const(22)
_VOLTAGE_SLOT = const(25)
_CLOCK_SLOT = const(28)
_ID_SLOT = const(29)

_CR_LF = b"\r\n"


def text(data, start, stop):
    """data[start:stop] as text (at most 80 characters), bytes outside printable ASCII as '?'."""
    out = bytearray(data[start:min(stop, start + 80)])
    for j in range(len(out)):
        if not 32 <= out[j] <= 126:
            out[j] = 63
    return str(out, "ascii")


def _digits(data, s, e):
    """The decimal number data[s:e] as "%d" writes it (no sign, no leading zero), up to 3 digits; -1
    for anything else."""
    if e <= s or e - s > 3 or data[s] == 48 and e - s > 1:
        return -1
    v = 0
    while s < e:
        b = data[s] - 48
        if not 0 <= b <= 9:
            return -1
        v = v * 10 + b
        s += 1
    return v


def line(data, s, p):
    """The OBIS code data[s:p] ("A-B:C.D.E"): kind << 6 | the slot of its field in _FIELDS, or -1 when
    the reading does not map it."""
    if p - s < 9 or data[s + 1] != 45 or data[s + 2] != 48 or data[s + 3] != 58:  # "A-0:"
        return -1
    a = data[s]
    d1 = data.find(b".", s + 4, p)
    d2 = data.find(b".", d1 + 1, p) if d1 > 0 else -1
    if d2 < 0:
        return -1
    c = _digits(data, s + 4, d1)
    d = _digits(data, d1 + 1, d2)
    e = _digits(data, d2 + 1, p)
    if c < 0 or d < 0 or e < 0:
        return -1
    if a == 49:  # 1-0:
        if d == 8:
            if e == 0 and 1 <= c <= 4:
                return (_WH if c <= 2 else _VARH) << 6 | c - 1
            if 1 <= e <= 4 and 1 <= c <= 2:
                return _WH << 6 | _TARIFFS + c - 1
        elif d == 7 and e == 0 and c < 80:
            phase = c // 20
            k = c % 20
            if 1 <= k <= 4:
                return (_W if k <= 2 else _VAR) << 6 | _PHASES + 4 * phase + k - 1
            if phase and k == 11:
                return _A << 6 | _CURRENT_SLOT + phase - 1
            if phase and k == 12:
                return _V << 6 | _VOLTAGE_SLOT + phase - 1
    elif a == 48:  # 0-0:
        if c == 1 and d == 0 and e == 0:
            return _TIME << 6 | _CLOCK_SLOT
        if c == 96 and d == 1 and e <= 1:
            return _ID << 6 | _ID_SLOT + e
    return -1


def _same(data, s, e, raw, case=0):
    """data[s:e] holds the bytes raw; with case 0x20, in any case (raw: lower case letters)."""
    if raw is None or len(raw) != e - s:
        return False
    for b in raw:
        if data[s] | case != b:
            return False
        s += 1
    return True


def _number(kind, data, s, e):
    """'digits[.digits][*unit]' at data[s:e] as an int in the field's base unit, or None. Without a
    unit, the DSMR one (kWh, kvarh, kW, kvar, V, A) is meant: the Smarty prints its reactive powers so."""
    star = data.find(b"*", s, e)
    exp = 3
    if star >= 0:
        first = 2 * kind if kind < _V else kind + 4
        exp = -1
        for u in range(first, first + 2 if kind < _V else first + 1):
            if _same(data, star + 1, e, _UNITS[u], 0x20):
                exp = 3 if u == first else 0
                break
        if exp < 0:
            return None
        e = star
    m = 0
    decimals = -1  # digits after the '.'; -1 before one
    i = s
    while i < e:
        b = data[i] - 48
        if 0 <= b <= 9:
            m = m * 10 + b
            if decimals >= 0:
                decimals += 1
        elif b == -2 and decimals < 0 and i > s:  # the '.', after a digit
            decimals = 0
        else:
            return None
        i += 1
    if i == s or decimals == 0:  # no digit, or none after the '.'
        return None
    return R.scale(m, exp - decimals if decimals > 0 else exp)


def _time(data, s, e):
    """'YYMMDDhhmmss' and an optional S (summer) / W (winter) at data[s:e] -> 'YYYY-MM-DDTHH:MM:SS', or
    None; the flag in _flag[0]: True for S, False for W, None without one."""
    flag = None
    if e - s == 13:
        f = data[s + 12] | 0x20
        if f != 115 and f != 119:
            return None
        flag = f == 115
        e -= 1
    if e - s != 12:
        return None
    for i in range(s, e):
        if not 48 <= data[i] <= 57:
            return None
    yy = (data[s] - 48) * 10 + data[s + 1] - 48
    mo = (data[s + 2] - 48) * 10 + data[s + 3] - 48
    d = (data[s + 4] - 48) * 10 + data[s + 5] - 48
    h = (data[s + 6] - 48) * 10 + data[s + 7] - 48
    mi = (data[s + 8] - 48) * 10 + data[s + 9] - 48
    sec = (data[s + 10] - 48) * 10 + data[s + 11] - 48
    if not (1 <= mo <= 12 and 1 <= d <= 31 and h < 24 and mi < 60 and sec < 60):
        return None
    _flag[0] = flag
    return "20%02d-%02d-%02dT%02d:%02d:%02d" % (yy, mo, d, h, mi, sec)


_flag = [None]


def _meter_id(v):
    """The meter id (v: its bytes); DSMR sends it as hex-encoded ASCII, decoded when that is what it is."""
    try:
        s = binascii.unhexlify(v)
    except ValueError:
        s = b""
    for c in s:
        if not 32 <= c <= 126:
            break
    else:
        if s:
            return str(s, "ascii")
    return text(v, 0, len(v))


def _ident(v):
    """(list version, meter type) of the ident line's text v: the type after the maker's 3 letters and the
    baud digit, and after a '\\W' (the enhanced baud rate / capability character)."""
    ident = text(v, 0, len(v))
    model = ident[4:]
    if len(model) > 2 and model[0] == "\\":
        model = model[2:]
    return ident, model


# the last texts: the ident's, the meter id's, the second id's, each [the bytes it was made of, the text],
# made again only when the bytes change (slots 0, 2, 4)
_texts = [None] * 6


def _text_of(slot, data, s, e, make):
    if not _same(data, s, e, _texts[slot]):
        raw = bytes(data[s:e])
        _texts[slot + 1] = make(raw)
        _texts[slot] = raw
    return _texts[slot + 1]


def _bad(data, s, e):
    return ValueError("bad value in line " + text(data, s, e))


def read(data, start=0, end=None):
    """(reading, dst) of a telegram (data[start:end] from '/' to its '!'): dst is the clock line's S/W
    flag (True summer time, False winter time), None without one. Raises ValueError."""
    if type(data) is not bytes and type(data) is not bytearray:
        data = bytes(data)  # read with find(): bytes or a bytearray
    if end is None:
        end = len(data)
    e = data.find(_CR_LF, start, end)
    if end <= start or data[start] != 0x2F or e - start < 6:
        raise ValueError("no p1 identification line")
    ident = _text_of(0, data, start + 1, e, _ident)
    out = {R.LIST_VERSION: ident[0], R.METER_TYPE: ident[1]}
    n = data.find(b"!", e, end)
    if n < 0:
        n = end
    dst = None
    count = 0
    imports = exports = alt_id = None
    i = start  # the ident line is one of the lines: no OBIS code starts with '/'
    while i <= n:
        le = data.find(_CR_LF, i, n)
        if le < 0:
            le = n
        s = i
        i = le + 2
        p = data.find(b"(", s, le)
        spec = line(data, s, p) if p > s else -1
        if spec < 0:
            continue
        count += 1
        field = _FIELDS[spec & 63]
        kind = spec >> 6
        q = data.find(b")", p, le)
        if kind < _TIME:
            v = _number(kind, data, p + 1, q) if q > p + 1 else None
            if v is None:
                raise _bad(data, s, le)
            if field is _IMPORTS:
                imports = v + (imports or 0)
            elif field is _EXPORTS:
                exports = v + (exports or 0)
            else:
                out[field] = v
        elif kind == _TIME:
            v = _time(data, p + 1, q) if q > p + 1 else None
            if v is None:
                raise _bad(data, s, le)
            out[field] = v
            dst = _flag[0]
        elif q < 0:
            raise _bad(data, s, le)
        elif q > p + 1:  # an empty id: nothing to publish
            v = _text_of(2 if field is R.METER_ID else 4, data, p + 1, q, _meter_id)
            if field is _ID_ALT:
                alt_id = v
            else:
                out[field] = v
    if not count:
        raise ValueError("no known OBIS line in the telegram")
    # the tariffs' sum, the second id: when the line itself is missing
    if imports is not None and R.E_IMPORT not in out:
        out[R.E_IMPORT] = imports
    if exports is not None and R.E_EXPORT not in out:
        out[R.E_EXPORT] = exports
    if alt_id is not None and R.METER_ID not in out:
        out[R.METER_ID] = alt_id
    return out, dst


def decode(data):
    """The normalized reading of a telegram (bytes from '/' to its '!'). Raises ValueError."""
    return read(data)[0]

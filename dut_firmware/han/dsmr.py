"""P1 telegram values: OBIS lines -> normalized reading (docs/architecture.md s.3 lists the lines).

read(data) -> (reading, dst), decode(data) -> reading: data holds a telegram from '/' to its '!' (its CRC
is checked by p1.parse); dst is the S/W flag of its clock. The telegram is split into lines once, and a
line's OBIS code (the text before '(') is looked up in the table of lines(). Values are exact integers in
the reading's base units (W, var, Wh, varh, mV, mA: reading.py); a number with more decimals than its base
unit holds is rounded half away from zero (reading.scale).
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

# a unit in lower case -> (kind, the unit as a power of ten of the field's base unit: 1 V = 10**3 mV)
_SCALES = {
    b"kwh": (_WH, 3), b"wh": (_WH, 0), b"kvarh": (_VARH, 3), b"varh": (_VARH, 0),
    b"kw": (_W, 3), b"w": (_W, 0), b"kvar": (_VAR, 3), b"var": (_VAR, 0), b"v": (_V, 3), b"a": (_A, 3),
}

# internal fields, resolved at the end of a telegram: tariff registers, the second meter id
_IMPORTS = "+import"
_EXPORTS = "+export"
_ID_ALT = "+id"
_SUMS = (_IMPORTS, _EXPORTS)

_ENERGIES = R.ENERGIES  # 1-0:C.8.0, C = 1..4
_POWERS = R.POWERS  # 1-0:C.7.0, C = 20 * phase + 1..4: import, export, reactive import, reactive export
_CURRENTS = R.CURRENTS  # 1-0:C.7.0, C = 20 * phase + 11
_VOLTAGES = R.VOLTAGES  # 1-0:C.7.0, C = 20 * phase + 12


def lines():
    """The table of the lines the reading maps: OBIS code as the telegram writes it (b'1-0:1.8.0') ->
    (field, kind). Lines of another channel (B > 0, e.g. the gas meter's 0-1:96.1.0) are not in it.
    Built at the first telegram (4 KB of heap on the 64-bit unix port): a reader of HDLC meters never
    holds it."""
    global _LINES
    if _LINES:
        return _LINES
    t = {}
    for c in range(1, 5):  # 1-0:C.8.0; tariffs 1-0:C.8.1..4 of import and export (C = 1, 2)
        t[b"1-0:%d.8.0" % c] = (_ENERGIES[c - 1], _WH if c <= 2 else _VARH)
        if c <= 2:
            for e in range(1, 5):
                t[b"1-0:%d.8.%d" % (c, e)] = (_IMPORTS if c == 1 else _EXPORTS, _WH)
    for phase in range(4):  # 1-0:C.7.0, C = 20 * phase + 1..4, + 11 (current), + 12 (voltage)
        for k in range(4):
            t[b"1-0:%d.7.0" % (20 * phase + k + 1)] = (_POWERS[phase][k], _W if k < 2 else _VAR)
        if phase:
            t[b"1-0:%d.7.0" % (20 * phase + 11)] = (_CURRENTS[phase - 1], _A)
            t[b"1-0:%d.7.0" % (20 * phase + 12)] = (_VOLTAGES[phase - 1], _V)
    t[b"0-0:1.0.0"] = (R.TIMESTAMP, _TIME)
    t[b"0-0:96.1.0"] = (R.METER_ID, _ID)
    t[b"0-0:96.1.1"] = (_ID_ALT, _ID)
    _LINES = t
    return t


_LINES = None


def text(data, start, stop):
    """data[start:stop] as text (at most 80 characters), bytes outside printable ASCII as '?'."""
    out = bytearray(data[start:min(stop, start + 80)])
    for j in range(len(out)):
        if not 32 <= out[j] <= 126:
            out[j] = 63
    return str(out, "ascii")


def _number(kind, v):
    """'digits[.digits][*unit]' (bytes) as an int in the field's base unit, or None. Without a unit, the
    DSMR one (kWh, kvarh, kW, kvar, V, A) is meant: the Smarty prints its reactive powers so."""
    v, star, unit = v.partition(b"*")
    exp = 3
    if star:
        scale = _SCALES.get(unit.lower())
        if scale is None or scale[0] != kind:
            return None
        exp = scale[1]
    whole, dot, frac = v.partition(b".")
    if not whole.isdigit() or dot and not frac.isdigit():  # isdigit first: int() takes '+', '_', ' '
        return None
    n = len(frac)
    m = int(whole + frac) if n else int(whole)
    return R.scale(m, exp - n)


def _time(v):
    """'YYMMDDhhmmss' and an optional S (summer) / W (winter) -> ('YYYY-MM-DDTHH:MM:SS', True for S,
    False for W, None without a flag), or None."""
    dst = None
    if len(v) == 13:
        f = v[12] | 0x20
        if f != 115 and f != 119:
            return None
        dst = f == 115
        v = v[:12]
    if len(v) != 12 or not v.isdigit():
        return None
    mo = int(v[2:4])
    d = int(v[4:6])
    h = int(v[6:8])
    mi = int(v[8:10])
    sec = int(v[10:12])
    if not (1 <= mo <= 12 and 1 <= d <= 31 and h < 24 and mi < 60 and sec < 60):
        return None
    return "20%02d-%02d-%02dT%02d:%02d:%02d" % (int(v[0:2]), mo, d, h, mi, sec), dst


def _bad(line):
    return ValueError("bad value in line " + text(line, 0, len(line)))


def _meter_id(v):
    """The meter id; DSMR sends it as hex-encoded ASCII, decoded when that is what it is."""
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


def read(data):
    """(reading, dst) of a telegram (bytes from '/' to its '!'): dst is the clock line's S/W flag (True
    summer time, False winter time), None without one. Raises ValueError."""
    if not isinstance(data, bytes):
        data = bytes(data)  # the lines are looked up by value: bytes, not a bytearray
    e = data.find(b"\r\n")
    if data[:1] != b"/" or e < 6:
        raise ValueError("no p1 identification line")
    ident = text(data, 1, e)
    model = ident[4:]
    if len(model) > 2 and model[0] == "\\":  # '\W': the enhanced baud rate / capability character
        model = model[2:]
    out = {R.LIST_VERSION: ident, R.METER_TYPE: model}
    n = data.find(b"!", e)
    if n < 0:
        n = len(data)
    dst = None
    count = 0
    table = lines()
    # the ident line is one of the lines: no OBIS code starts with '/'
    for line in (data if n == len(data) else data[:n]).split(b"\r\n"):
        p = line.find(b"(")
        spec = table.get(line[:p]) if p > 0 else None
        if spec is None:
            continue
        count += 1
        field, kind = spec
        q = line.find(b")", p)
        v = line[p + 1:q] if q > 0 else None
        if kind < _TIME:
            v = _number(kind, v) if v else None
            if v is None:
                raise _bad(line)
            if field in _SUMS:
                v += out.get(field, 0)
            out[field] = v
        elif kind == _TIME:
            v = _time(v) if v else None
            if v is None:
                raise _bad(line)
            out[field], dst = v
        elif v is None:
            raise _bad(line)
        elif v:  # an empty id: nothing to publish
            out[field] = _meter_id(v)
    if not count:
        raise ValueError("no known OBIS line in the telegram")
    for total, part in ((R.E_IMPORT, _IMPORTS), (R.E_EXPORT, _EXPORTS), (R.METER_ID, _ID_ALT)):
        v = out.pop(part, None)  # the tariffs' sum, the second id: when the line itself is missing
        if v is not None and total not in out:
            out[total] = v
    return out, dst


def decode(data):
    """The normalized reading of a telegram (bytes from '/' to its '!'). Raises ValueError."""
    return read(data)[0]

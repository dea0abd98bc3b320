"""P1 telegram values: OBIS lines -> normalized reading (docs/architecture.md s.3 lists the lines).

decode(data): data holds a telegram from '/' to its '!' (its CRC is checked by p1.parse). Values keep
their exact decimals: integers for W, var, Wh, varh; V and A are the wire integer divided once.
"""

import binascii

from . import reading as R

try:
    from micropython import const
except ImportError:  # CPython
    def const(x):
        return x

# value kinds: the dimensions of the numbers (also indexes of _UNITS), then the others
_WH = const(0)
_VARH = const(1)
_W = const(2)
_VAR = const(3)
_V = const(4)
_A = const(5)
_TIME = const(6)
_ID = const(7)

_UNITS = (b"wh", b"varh", b"w", b"var", b"v", b"a")  # lower case, without the 'k' (kilo) prefix

# internal fields, resolved at the end of a telegram: tariff registers, the second meter id
_IMPORTS = "+import"
_EXPORTS = "+export"
_ID_ALT = "+id"

_ENERGIES = (R.E_IMPORT, R.E_EXPORT, R.R_IMPORT, R.R_EXPORT)  # 1-0:C.8.0, C = 1..4
_POWERS = (  # 1-0:C.7.0, C = 20 * phase + 1..4: import, export, reactive import, reactive export
    (R.P_IMPORT, R.P_EXPORT, R.Q_IMPORT, R.Q_EXPORT),
    ("p_l1_import_w", "p_l1_export_w", "q_l1_import_var", "q_l1_export_var"),
    ("p_l2_import_w", "p_l2_export_w", "q_l2_import_var", "q_l2_export_var"),
    ("p_l3_import_w", "p_l3_export_w", "q_l3_import_var", "q_l3_export_var"),
)
_CURRENTS = (R.I_L1, R.I_L2, R.I_L3)  # 1-0:C.7.0, C = 20 * phase + 11
_VOLTAGES = (R.U_L1, R.U_L2, R.U_L3)  # 1-0:C.7.0, C = 20 * phase + 12


def obis_key(data, start, stop):
    """A << 24 | C << 16 | D << 8 | E of the OBIS code 'A-0:C.D.E' in data[start:stop], or -1."""
    n = 0
    k = 0
    key = 0
    for j in range(start, stop):
        b = data[j]
        if 48 <= b <= 57:
            n = n * 10 + b - 48
            if n > 255:
                return -1
        elif k < 4 and b == b"-:.."[k]:
            if k != 1:
                key = (key << 8) | n
            elif n:
                return -1  # channel B > 0: another device (e.g. the gas meter of DSMR)
            n = 0
            k += 1
        else:
            return -1
    return (key << 8) | n if k == 4 else -1


def known(key):
    """(field, kind) of an OBIS key the reading maps, else None."""
    c = (key >> 16) & 0xFF
    d = (key >> 8) & 0xFF
    e = key & 0xFF
    if key >> 24 == 1:
        if d == 8 and 1 <= c <= 4:
            if e == 0:
                return _ENERGIES[c - 1], (_WH if c <= 2 else _VARH)
            if c <= 2 and e <= 4:
                return (_IMPORTS if c == 1 else _EXPORTS), _WH
        elif d == 7 and e == 0 and c < 80:
            phase = c // 20
            k = c % 20
            if 1 <= k <= 4:
                return _POWERS[phase][k - 1], (_W if k <= 2 else _VAR)
            if phase and k == 11:
                return _CURRENTS[phase - 1], _A
            if phase and k == 12:
                return _VOLTAGES[phase - 1], _V
    elif key == 0x010000:  # 0-0:1.0.0
        return R.TIMESTAMP, _TIME
    elif key == 0x600100 or key == 0x600101:  # 0-0:96.1.0, 0-0:96.1.1
        return (_ID_ALT if e else R.METER_ID), _ID
    return None


def text(data, start, stop):
    """data[start:stop] as text (at most 80 characters), bytes outside printable ASCII as '?'."""
    out = bytearray(data[start:min(stop, start + 80)])
    for j in range(len(out)):
        if not 32 <= out[j] <= 126:
            out[j] = 63
    return str(out, "ascii")


def _number(kind, data, start, stop):
    """'digits[.digits][*unit]' in data[start:stop] in the base unit, or None. Without a unit, the
    DSMR one (kWh, kvarh, kW, kvar, V, A) is meant: the Smarty prints its reactive powers so."""
    star = data.find(b"*", start, stop)
    exp = 3 if kind < _V else 0
    if star >= 0:
        unit = bytes(data[star + 1:stop]).lower()
        exp = 0
        if kind < _V and unit[:1] == b"k":
            exp = 3
            unit = unit[1:]
        if unit != _UNITS[kind]:
            return None
        stop = star
    m = 0
    frac = -1
    for j in range(start, stop):
        b = data[j]
        if 48 <= b <= 57:
            m = m * 10 + b - 48
            if frac >= 0:
                frac += 1
        elif b == 46 and frac < 0 and j > start:
            frac = 0
        else:
            return None
    if stop == start or frac == 0:
        return None
    if frac < 0:
        frac = 0
    if kind >= _V:
        return m / (10 ** frac)
    if exp >= frac:
        return m * 10 ** (exp - frac)
    div = 10 ** (frac - exp)
    return (m + div // 2) // div  # more decimals than the base unit has: the nearest integer


def _time(data, start, stop):
    """'YYMMDDhhmmss' and an optional S (summer) / W (winter) -> 'YYYY-MM-DDTHH:MM:SS', or None."""
    if stop - start == 13 and data[stop - 1] | 0x20 in (115, 119):
        stop -= 1
    if stop - start != 12:
        return None
    v = []
    for j in range(start, stop, 2):
        a = data[j] - 48
        b = data[j + 1] - 48
        if not (0 <= a <= 9 and 0 <= b <= 9):
            return None
        v.append(a * 10 + b)
    if not (1 <= v[1] <= 12 and 1 <= v[2] <= 31 and v[3] < 24 and v[4] < 60 and v[5] < 60):
        return None
    return "20%02d-%02d-%02dT%02d:%02d:%02d" % tuple(v)


def _meter_id(data, start, stop):
    """The meter id; DSMR sends it as hex-encoded ASCII, decoded when that is what it is."""
    try:
        s = binascii.unhexlify(bytes(data[start:stop]))
    except ValueError:
        s = b""
    for c in s:
        if not 32 <= c <= 126:
            break
    else:
        if s:
            return str(s, "ascii")
    return text(data, start, stop)


def decode(data):
    """The normalized reading of a telegram (bytes from '/' to its '!'). Raises ValueError."""
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
    imports = exports = alt_id = None
    count = 0
    i = e + 2
    while i < n:
        j = data.find(b"\r\n", i, n)
        if j < 0:
            j = n
        p = data.find(b"(", i, j)
        spec = known(obis_key(data, i, p)) if p > i else None
        if spec is not None:
            count += 1
            field, kind = spec
            q = data.find(b")", p + 1, j)
            v = None
            if q > p + 1:
                if kind == _TIME:
                    v = _time(data, p + 1, q)
                elif kind == _ID:
                    v = _meter_id(data, p + 1, q)
                else:
                    v = _number(kind, data, p + 1, q)
            elif q > 0 and kind == _ID:
                v = ""  # an empty id: nothing to publish
            if v is None:
                raise ValueError("bad value in line " + text(data, i, j))
            if field == _IMPORTS:
                imports = v + (imports or 0)
            elif field == _EXPORTS:
                exports = v + (exports or 0)
            elif field == _ID_ALT:
                alt_id = v
            elif v != "":
                out[field] = v
        i = j + 2
    if not count:
        raise ValueError("no known OBIS line in the telegram")
    if imports is not None and R.E_IMPORT not in out:
        out[R.E_IMPORT] = imports
    if exports is not None and R.E_EXPORT not in out:
        out[R.E_EXPORT] = exports
    if alt_id and R.METER_ID not in out:
        out[R.METER_ID] = alt_id
    return out

"""The lists of the encrypted meters, once decrypted (see the comments)."""

# The lists of the encrypted meters (han-protocols.md s.4), once decrypted: a structure (tag 02) of
#
# - OBIS code / value [/ scaler-unit] items, flat or each in a structure of 2 or 3: Kaifa MA309 at Netz NOE
#   (`clock, (OBIS value scaler-unit) x 11, meter number`), Kaifa MA309 in Poland (`OBIS clock` then
#   structures), the Landis+Gyr E450 push lists in general-block-transfer (`clock, (OBIS value) x 16`).
#   A number with a scaler-unit is scaled by it, one without is in the base unit (W, var, Wh, varh, V, A).
#   A 12-byte octet-string without an OBIS code before it is the meter clock, a string the meter number;
# - values only, 14 items: the Landis+Gyr E450 as Netz Burgenland configures it, `U1 U2 U3 I1 I2 I3 P+ P-
#   E+ E- x x x meter-number` (V, 0.01 A, W, Wh; the three items before the meter number are not mapped).
#
# decode(body, header_time) -> (kind, list_no, reading): kind 'obis-list' or 'lgz-e450-values'.


from . import obis
from . import reading as R
from .obis import CURRENT, ENERGY, POWER, STR, TIME, VOLTAGE

_EXPS = (0, 0, 0, 0, 0, 0)
# the E450 Burgenland values-only list: wire units W, Wh, 0.01 A, V
_E450_EXPS = (0, 0, 0, 0, -2, 0)
_E450 = ((R.U_L1, VOLTAGE), (R.U_L2, VOLTAGE), (R.U_L3, VOLTAGE),
         (R.I_L1, CURRENT), (R.I_L2, CURRENT), (R.I_L3, CURRENT),
         (R.P_IMPORT, POWER), (R.P_EXPORT, POWER), (R.E_IMPORT, ENERGY), (R.E_EXPORT, ENERGY))


def _is_code(v):
    return isinstance(v, bytes) and len(v) == 6


def _scaler(v):
    """The scaler of a scaler-unit structure [scaler, unit], or None when v is none."""
    if isinstance(v, list) and len(v) == 2 and isinstance(v[0], int) and isinstance(v[1], int):
        return v[0]
    return None


def _is_e450_values(body):
    return len(body) == 14 and isinstance(body[0], int) and isinstance(body[13], bytes)


def matches(body):
    """True when this module reads the structure's items (a list that is neither Kaifa's nor Kamstrup's)."""
    if _is_e450_values(body):
        return True
    if isinstance(body[0], bytes) and len(body[0]) == 12:
        return True
    for item in body:
        if isinstance(item, list):
            return True
    return False


def _e450(body, header_time):
    out = {}
    for i in range(len(_E450)):
        field, kind = _E450[i]
        out[field] = obis.value(kind, body[i], _E450_EXPS[kind], field)
    out[R.METER_ID] = obis.value(STR, body[13], 0, R.METER_ID)
    if header_time is not None:
        out[R.TIMESTAMP] = obis.value(TIME, header_time, 0, R.TIMESTAMP)
    return "lgz-e450-values", 3, out


def decode(body, header_time=None):
    if _is_e450_values(body):
        return _e450(body, header_time)
    out = {}
    known = 0
    n = len(body)
    i = 0
    while i < n:
        item = body[i]
        if isinstance(item, list):  # a structure (OBIS, value[, scaler-unit])
            k = len(item)
            if not 2 <= k <= 3 or not _is_code(item[0]):
                raise ValueError("unknown list: element %d is not an OBIS structure" % i)
            exp = _scaler(item[2]) if k == 3 else None
            if k == 3 and exp is None:
                raise ValueError("unknown list: element %d has no scaler-unit" % i)
            if obis.put(out, item[0], item[1], _EXPS, exp):
                known += 1
            i += 1
        elif _is_code(item) and i + 1 < n:  # flat: OBIS, value, then a scaler-unit when there is one
            exp = _scaler(body[i + 2]) if i + 2 < n else None
            if obis.put(out, item, body[i + 1], _EXPS, exp):
                known += 1
            i += 2 if exp is None else 3
        elif isinstance(item, bytes) and len(item) == 12 and i == 0:
            out[R.TIMESTAMP] = obis.value(TIME, item, 0, R.TIMESTAMP)
            i += 1
        elif isinstance(item, (bytes, str)) and R.METER_ID not in out:
            out[R.METER_ID] = obis.value(STR, item, 0, R.METER_ID)
            i += 1
        else:
            raise ValueError("unknown list: element %d has no OBIS code" % i)
    return "obis-list", obis.finish(out, known, header_time, 3), out

"""HAN_METER_MESSAGE JSON text, rendered from exact integers into a reused buffer.

The state's fields are ints in the reading's base units (han/reading.py: W, var, Wh, varh, mA, mV);
numbers are rendered digit by digit from them, never through a float (the ESP32 port has
single-precision floats) and without a str per number (``render`` writes into a caller's buffer;
``build`` returns the text as a str).

Fields: ``type``, ``ts`` (epoch ms of the meter clock), ``ic``/``ec`` (kWh, 3 decimals), ``ric``/``rec``
(kvarh, 3 decimals), ``p``/``pi``/``pe``/``r``/``ri``/``re`` ([total, L1, L2, L3]; W / var, integers;
``p`` = pi - pe and ``r`` = ri - re, a side the meter never sent counting as 0, null when neither
is known; L1..L3 come from the per-phase fields ``p_l1_import_w`` .. ``q_l3_export_var`` that P1 meters,
the Swedish Aidon list and the Kamstrup Omnipower send),
``u`` ([L1, L2, L3] V, 1 decimal: mV rounded half away from zero), ``i`` ([L1, L2, L3] A, 3 decimals),
``meter_id``, ``meter_type``, ``list_version``, ``list`` (null for P1 telegrams). ``null`` where the
meter never sent the value.

Estimated energy (state.py ``Estimate``), never in place of the meter's ``ic``/``ec``: ``eic``/``eec``
(kWh, 3 decimals) the meter's last cumulative import/export plus the energy integrated from active
power since; ``est`` true when they hold integrated energy, false when they are the meter's counters
as they came, null (with ``eic``/``eec``) when there is no estimate (before the meter's first counters,
after a gap in the power readings).
"""

import json

from .han import reading as R

TYPE = "HAN_METER_MESSAGE"

# the text outside the values, once (bytes: written into the buffer through a memoryview, no copy)
_HEAD = b'{"type":"HAN_METER_MESSAGE","ts":'
_KEYS_ENERGY = (b',"ic":', b',"ec":', b',"ric":', b',"rec":')
_KEYS_POWER = (b',"p":[', b',"pi":[', b',"pe":[', b',"r":[', b',"ri":[', b',"re":[')
_KEY_U = b',"u":['
_KEY_I = b',"i":['
_KEYS_TEXT = (b',"meter_id":', b',"meter_type":', b',"list_version":')
_KEY_LIST = b',"list":'
_KEY_EIC = b',"eic":'
_KEY_EEC = b',"eec":'
_KEY_EST = b',"est":'
_NULL = b"null"
_TRUE = b"true"
_FALSE = b"false"
_END = b"}"

# the room the message needs besides its text fields (their JSON renderings are added to it) when its
# numbers have at most 20 digits (any 64-bit counter); longer ones make render() raise IndexError
ROOM = 768


def scaled(n, exp):
    """``n`` times 10**exp as an int (rounded half away from zero when exp < 0); None stays None."""
    if n is None:
        return None
    return R.scale(n, exp)


def fixed(n, decimals):
    """Integer ``n`` in units of 10**-decimals as decimal text: fixed(42879838, 3) -> '42879.838'."""
    if n is None:
        return "null"
    width = 3 + decimals  # sign, a leading '0', '.'
    t = -n if n < 0 else n
    while t >= 10:
        t //= 10
        width += 1
    buf = bytearray(width)
    k = put_fixed(memoryview(buf), 0, n, decimals)
    return str(buf[:k], "ascii")


def put_fixed(out, i, n, decimals):
    """Write ``n`` (an int in units of 10**-decimals, or None) as decimal text at out[i]; the end.
    IndexError when ``out`` has no room for it (nothing is written then)."""
    if n is None:
        out[i:i + 4] = _NULL
        return i + 4
    if n < 0:
        out[i] = 45  # '-'
        i += 1
        n = -n
    width = 1
    t = n
    while t >= 10:
        t //= 10
        width += 1
    if width <= decimals:
        width = decimals + 1  # '0.xyz'
    if decimals:
        width += 1
    end = i + width
    if end > len(out):
        raise IndexError("no room for the number")
    j = end
    k = 0
    while j > i:
        j -= 1
        if decimals and k == decimals:
            out[j] = 46  # '.'
        else:
            out[j] = 48 + n % 10
            n //= 10
        k += 1
    return end


def _put(out, i, text):
    n = len(text)
    if i + n > len(out):
        raise IndexError("no room for the text")
    out[i:i + n] = text
    return i + n


def _diff(a, b):
    """import - export; a side never sent counts as 0, both unknown gives None."""
    if a is None and b is None:
        return None
    return (a or 0) - (b or 0)


class TextCache:
    """The JSON renderings (bytes) of the text fields, made again only when a value changes."""

    def __init__(self):
        self.values = [None, None, None]
        self.texts = [_NULL, _NULL, _NULL]

    def get(self, k, value):
        if value != self.values[k]:
            self.values[k] = value
            self.texts[k] = _NULL if value is None else json.dumps(str(value)).encode()
        return self.texts[k]


def render(out, fields, ts_ms, list_no, energy=None, integrated=None, texts=None):
    """Render the message for the merged ``fields``, meter clock ``ts_ms``, list ``list_no`` into the
    memoryview ``out``; ``energy`` the estimated [import, export] Wh (or None), ``integrated`` its
    ``est`` flag; ``texts`` a TextCache (kept by the caller between messages). Returns the length,
    or -1 when ``out`` is smaller than ``needed`` says; IndexError when a number longer than 20 digits
    does not fit either (a larger buffer then)."""
    if texts is None:
        texts = TextCache()
    t0 = texts.get(0, fields.get(R.METER_ID))
    t1 = texts.get(1, fields.get(R.METER_TYPE))
    t2 = texts.get(2, fields.get(R.LIST_VERSION))
    if len(out) < ROOM + len(t0) + len(t1) + len(t2):
        return -1
    i = _put(out, 0, _HEAD)
    i = put_fixed(out, i, ts_ms, 0)
    for k in range(4):
        i = _put(out, i, _KEYS_ENERGY[k])
        i = put_fixed(out, i, fields.get(R.ENERGIES[k]), 3)
    for k in range(6):  # p, pi, pe, r, ri, re
        i = _put(out, i, _KEYS_POWER[k])
        col = 0 if k < 3 else 2  # active: columns 0 / 1 of R.POWERS, reactive: 2 / 3
        for ph in range(4):
            if ph:
                out[i] = 44  # ','
                i += 1
            names = R.POWERS[ph]
            if k % 3 == 0:
                v = _diff(fields.get(names[col]), fields.get(names[col + 1]))
            else:
                v = fields.get(names[col + k % 3 - 1])
            i = put_fixed(out, i, v, 0)
        out[i] = 93  # ']'
        i += 1
    i = _put(out, i, _KEY_U)
    for ph in range(3):
        if ph:
            out[i] = 44
            i += 1
        i = put_fixed(out, i, scaled(fields.get(R.VOLTAGES[ph]), -2), 1)  # mV -> 0.1 V
    out[i] = 93
    i = _put(out, i + 1, _KEY_I)
    for ph in range(3):
        if ph:
            out[i] = 44
            i += 1
        i = put_fixed(out, i, fields.get(R.CURRENTS[ph]), 3)  # mA: A with 3 decimals
    out[i] = 93
    i += 1
    i = _put(out, i, _KEYS_TEXT[0])
    i = _put(out, i, t0)
    i = _put(out, i, _KEYS_TEXT[1])
    i = _put(out, i, t1)
    i = _put(out, i, _KEYS_TEXT[2])
    i = _put(out, i, t2)
    i = _put(out, i, _KEY_LIST)
    i = put_fixed(out, i, list_no, 0)
    i = _put(out, i, _KEY_EIC)
    i = put_fixed(out, i, None if energy is None else energy[0], 3)
    i = _put(out, i, _KEY_EEC)
    i = put_fixed(out, i, None if energy is None else energy[1], 3)
    i = _put(out, i, _KEY_EST)
    i = _put(out, i, _NULL if integrated is None else (_TRUE if integrated else _FALSE))
    return _put(out, i, _END)


def needed(fields, texts):
    """The buffer size ``render`` needs for ``fields`` (with the renderings ``texts`` holds)."""
    return ROOM + len(texts.get(0, fields.get(R.METER_ID))) + len(texts.get(1, fields.get(R.METER_TYPE))) + \
        len(texts.get(2, fields.get(R.LIST_VERSION)))


def build(fields, ts_ms, list_no, energy=None, integrated=None):
    """The message text (a str, allocating: for tests and tools; the state renders into its own buffer)."""
    texts = TextCache()
    buf = bytearray(needed(fields, texts))
    n = render(memoryview(buf), fields, ts_ms, list_no, energy, integrated, texts)
    return str(buf[:n], "utf-8")

"""HAN_METER_MESSAGE JSON text, built by hand with exact decimal renderings.

Normalized values (SI floats or ints) are first brought back to integer base units with ``round()``
(W, var, 0.1 V, 0.001 A, Wh, varh), then rendered as decimal text from the integers: no value is ever
printed through a float (the ESP32 port has single-precision floats).

Fields: ``type``, ``ts`` (epoch ms of the meter clock), ``ic``/``ec`` (kWh, 3 decimals), ``ric``/``rec``
(kvarh, 3 decimals), ``p``/``pi``/``pe``/``r``/``ri``/``re`` ([total, L1, L2, L3]; W / var, integers;
``p`` = pi - pe and ``r`` = ri - re, a side the meter never sent counting as 0, null when neither
is known; L1..L3 come from the per-phase fields ``p_l1_import_w`` .. ``q_l3_export_var`` that P1 meters,
the Swedish Aidon list and the Kamstrup Omnipower send),
``u`` ([L1, L2, L3] V, 1 decimal), ``i`` ([L1, L2, L3] A, 3 decimals), ``meter_id``, ``meter_type``,
``list_version``, ``list`` (null for P1 telegrams). ``null`` where the meter never sent the value.

Estimated energy (state.py ``Estimate``), never in place of the meter's ``ic``/``ec``: ``eic``/``eec``
(kWh, 3 decimals) the meter's last cumulative import/export plus the energy integrated from active
power since; ``est`` true when they hold integrated energy, false when they are the meter's counters
as they came, null (with ``eic``/``eec``) when there is no estimate (before the meter's first counters,
after a gap in the power readings).
"""

import json

TYPE = "HAN_METER_MESSAGE"


def to_int(value, factor=1):
    """``value`` (int or float) times ``factor`` as an integer; None stays None."""
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value * factor
    return int(round(value * factor))


def fixed(n, decimals):
    """Integer ``n`` in units of 10**-decimals as decimal text: fixed(42879838, 3) -> '42879.838'."""
    if n is None:
        return "null"
    if decimals == 0:
        return str(n)
    sign = "-" if n < 0 else ""
    n = -n if n < 0 else n
    s = str(n)
    if len(s) <= decimals:
        s = "0" * (decimals - len(s) + 1) + s
    return sign + s[:-decimals] + "." + s[-decimals:]


def _num(value, factor, decimals):
    return fixed(to_int(value, factor), decimals)


def _diff(a, b):
    """import - export; a side never sent counts as 0, both unknown gives None."""
    if a is None and b is None:
        return None
    return (a or 0) - (b or 0)


def _array(items):
    return "[" + ",".join(items) + "]"


def _text(value):
    return "null" if value is None else json.dumps(str(value))


_PHASES = ("l1", "l2", "l3")


def build(fields, ts_ms, list_no, energy=None, integrated=None):
    """The message text for the merged normalized ``fields``, meter clock ``ts_ms``, list ``list_no``;
    ``energy`` the estimated [import, export] Wh (or None), ``integrated`` its ``est`` flag."""
    g = fields.get
    pi = [to_int(g("p_import_w"))] + [to_int(g("p_%s_import_w" % ph)) for ph in _PHASES]
    pe = [to_int(g("p_export_w"))] + [to_int(g("p_%s_export_w" % ph)) for ph in _PHASES]
    ri = [to_int(g("q_import_var"))] + [to_int(g("q_%s_import_var" % ph)) for ph in _PHASES]
    re_ = [to_int(g("q_export_var"))] + [to_int(g("q_%s_export_var" % ph)) for ph in _PHASES]
    p = [_diff(pi[k], pe[k]) for k in range(4)]
    r = [_diff(ri[k], re_[k]) for k in range(4)]
    u = [_num(g("u_%s_v" % ph), 10, 1) for ph in _PHASES]
    i = [_num(g("i_%s_a" % ph), 1000, 3) for ph in _PHASES]
    parts = [
        '{"type":"', TYPE, '"',
        ',"ts":', "null" if ts_ms is None else str(ts_ms),
        ',"ic":', _num(g("e_import_wh"), 1, 3),
        ',"ec":', _num(g("e_export_wh"), 1, 3),
        ',"ric":', _num(g("r_import_varh"), 1, 3),
        ',"rec":', _num(g("r_export_varh"), 1, 3),
        ',"p":', _array([fixed(x, 0) for x in p]),
        ',"pi":', _array([fixed(x, 0) for x in pi]),
        ',"pe":', _array([fixed(x, 0) for x in pe]),
        ',"r":', _array([fixed(x, 0) for x in r]),
        ',"ri":', _array([fixed(x, 0) for x in ri]),
        ',"re":', _array([fixed(x, 0) for x in re_]),
        ',"u":', _array(u),
        ',"i":', _array(i),
        ',"meter_id":', _text(g("meter_id")),
        ',"meter_type":', _text(g("meter_type")),
        ',"list_version":', _text(g("list_version")),
        ',"list":', "null" if list_no is None else str(int(list_no)),
        ',"eic":', "null" if energy is None else fixed(energy[0], 3),
        ',"eec":', "null" if energy is None else fixed(energy[1], 3),
        ',"est":', "null" if integrated is None else ("true" if integrated else "false"),
        "}",
    ]
    return "".join(parts)

"""Field names of the firmware's normalized reading: exact integers in fixed base units.

Every number is an int in the unit its name ends with, from the wire to the outputs (no float on the
frame path: the ESP32 port has single-precision floats):

| fields                          | unit | what the supported meters send                               |
|---------------------------------|------|--------------------------------------------------------------|
| p_*_w, p_lN_*_w                 | W    | W (DLMS scaler 0), kW with 3 decimals (P1)                   |
| q_*_var, q_lN_*_var             | var  | var (DLMS scaler 0), kvar with 3 decimals (P1)               |
| e_*_wh                          | Wh   | Wh (scaler 0), 10 Wh (Aidon NO, Kamstrup: +1), kWh.3 (P1)    |
| r_*_varh                        | varh | as the energies                                              |
| i_lN_ma                         | mA   | 0.001 A (Kaifa: -3), 0.01 A (Kamstrup, E450, Netz NOE: -2),  |
|                                 |      | 0.1 A (Aidon: -1), A with 0..3 decimals (P1)                 |
| u_lN_mv                         | mV   | 0.1 V (Kaifa, Aidon, Netz NOE: -1), 1 V (Kamstrup, E450: 0), |
|                                 |      | V with 1..3 decimals (P1)                                    |

A value finer than its base unit (a DLMS scaler below -3 for U and I, below 0 for the others; a P1
number with more decimals) is rounded half away from zero with integer arithmetic (``scale``).
The reading's text fields (meter_id, meter_type, list_version, timestamp) are str.
"""

METER_ID = "meter_id"
METER_TYPE = "meter_type"
LIST_VERSION = "list_version"
TIMESTAMP = "timestamp"

P_IMPORT = "p_import_w"
P_EXPORT = "p_export_w"
Q_IMPORT = "q_import_var"
Q_EXPORT = "q_export_var"

I_L1 = "i_l1_ma"
I_L2 = "i_l2_ma"
I_L3 = "i_l3_ma"
U_L1 = "u_l1_mv"
U_L2 = "u_l2_mv"
U_L3 = "u_l3_mv"

E_IMPORT = "e_import_wh"
E_EXPORT = "e_export_wh"
R_IMPORT = "r_import_varh"
R_EXPORT = "r_export_varh"

# by phase 0 (totals), 1..3: (active import, active export, reactive import, reactive export)
POWERS = (
    (P_IMPORT, P_EXPORT, Q_IMPORT, Q_EXPORT),
    ("p_l1_import_w", "p_l1_export_w", "q_l1_import_var", "q_l1_export_var"),
    ("p_l2_import_w", "p_l2_export_w", "q_l2_import_var", "q_l2_export_var"),
    ("p_l3_import_w", "p_l3_export_w", "q_l3_import_var", "q_l3_export_var"),
)
CURRENTS = (I_L1, I_L2, I_L3)
VOLTAGES = (U_L1, U_L2, U_L3)
ENERGIES = (E_IMPORT, E_EXPORT, R_IMPORT, R_EXPORT)  # the cumulative counters (OBIS C = 1..4)

FIELDS = (
    METER_ID, METER_TYPE, LIST_VERSION, TIMESTAMP,
    P_IMPORT, P_EXPORT, Q_IMPORT, Q_EXPORT,
    I_L1, I_L2, I_L3, U_L1, U_L2, U_L3,
    E_IMPORT, E_EXPORT, R_IMPORT, R_EXPORT,
)

# 3-wire IT meters: placeholders on the wire, not measurements (architecture.md s.1): U2 on the MA304H3E,
# U2 and I2 on the MA304T3 (CT)
IT_PLACEHOLDERS = {"MA304H3E": (U_L2,), "MA304T3": (U_L2, I_L2)}
IT_METER_TYPES = tuple(IT_PLACEHOLDERS)


def scale(n, exp):
    """Integer ``n`` times 10**exp as an integer: exact for exp >= 0, else divided and rounded half away
    from zero (the one place a value finer than its base unit loses digits)."""
    if exp >= 0:
        return n * 10 ** exp
    div = 10 ** -exp
    if n < 0:
        return -((-n + div // 2) // div)
    return (n + div // 2) // div


def apply_it_rule(reading):
    """Replace the placeholders of a 3-wire IT meter by None (not measured)."""
    for name in IT_PLACEHOLDERS.get(reading.get(METER_TYPE), ()):
        if name in reading:
            reading[name] = None
    return reading

"""Field names of the normalized reading (docs/reading.md); SI units, absent when not carried."""

METER_ID = "meter_id"
METER_TYPE = "meter_type"
LIST_VERSION = "list_version"
TIMESTAMP = "timestamp"

P_IMPORT = "p_import_w"
P_EXPORT = "p_export_w"
Q_IMPORT = "q_import_var"
Q_EXPORT = "q_export_var"

I_L1 = "i_l1_a"
I_L2 = "i_l2_a"
I_L3 = "i_l3_a"
U_L1 = "u_l1_v"
U_L2 = "u_l2_v"
U_L3 = "u_l3_v"

E_IMPORT = "e_import_wh"
E_EXPORT = "e_export_wh"
R_IMPORT = "r_import_varh"
R_EXPORT = "r_export_varh"

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


def apply_it_rule(reading):
    """Replace the placeholders of a 3-wire IT meter by None (not measured)."""
    for name in IT_PLACEHOLDERS.get(reading.get(METER_TYPE), ()):
        if name in reading:
            reading[name] = None
    return reading

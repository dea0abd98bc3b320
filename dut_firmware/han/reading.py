"""Field names of the normalized reading (specs/reading.md); SI units, absent when not carried."""

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

# 3-wire IT meters: U2 is a placeholder 0 on the wire, not a measurement (architecture.md s.1)
IT_METER_TYPES = ("MA304H3E",)


def apply_it_rule(reading):
    """Replace the U2 placeholder of a 3-wire IT meter by None (not measured)."""
    if reading.get(METER_TYPE) in IT_METER_TYPES and U_L2 in reading:
        reading[U_L2] = None
    return reading

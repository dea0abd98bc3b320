"""Resolution: per meter format and per interface, and the tolerance a check uses."""

from __future__ import annotations

import pytest

from rig.emulators import list_profiles
from rig.reading import FIELDS, TEXT_FIELDS, compare
from rig.resolution import FORMAT_STEPS, INTERFACE_FIELDS, describe, fields, meter_format, steps, tolerances


def test_modbus_carries_the_map_fields_with_net_power() -> None:
    assert INTERFACE_FIELDS["modbus"] == ["u_l1_v", "u_l2_v", "u_l3_v", "i_l1_a", "i_l2_a", "i_l3_a", "p_net_w"]
    assert set(tolerances("modbus")) == set(INTERFACE_FIELDS["modbus"])


def test_message_interfaces_carry_every_numeric_field_at_the_message_step() -> None:
    for name in ("http", "mqtt"):
        assert set(INTERFACE_FIELDS[name]) == set(FIELDS)
        assert set(tolerances(name)) == set(FIELDS) - TEXT_FIELDS
        assert describe(name) == "1 W, 0.1 V, 0.001 A, 1 Wh"
        assert describe(name, "Kamstrup_V0001") == "1 W, 1 V, 0.01 A, 10 Wh"
    assert describe("modbus", "P1") == "1 W, 0.1 V, 0.1 A"


def test_the_tolerance_is_half_the_coarser_step_of_format_and_interface() -> None:
    assert steps("modbus", "KFM_001")["i_l1_a"] == 0.01  # the map's 0.01 A is coarser than Kaifa's mA
    assert steps("http", "KFM_001")["i_l1_a"] == 0.001
    assert steps("http", "Kamstrup_V0001")["u_l1_v"] == 1.0  # Kamstrup sends whole volts
    assert steps("mqtt", "AIDON_V0001")["e_import_wh"] == 10.0  # Aidon: 10 Wh
    assert steps("http", "P1")["i_l1_a"] == 0.1
    assert tolerances("modbus", "P1")["i_l1_a"] == 0.05
    assert tolerances("http")["p_import_w"] == 0.5


def test_a_value_one_step_off_fails_and_the_exact_value_passes() -> None:
    tol = tolerances("modbus", "KFM_001")
    assert compare({"u_l1_v": 230.14, "i_l1_a": 5.434, "p_net_w": 1234},
                   {"u_l1_v": 230.1, "i_l1_a": 5.43, "p_net_w": 1234}, tol) == []
    assert compare({"u_l1_v": 230.16}, {"u_l1_v": 230.1}, tol)  # more than half a step off
    assert compare({"i_l1_a": 5.432}, {"i_l1_a": 5.433}, tolerances("http", "KFM_001"))
    assert compare({"u_l1_v": 231}, {"u_l1_v": 230}, tolerances("http", "Kamstrup_V0001"))


def test_every_profile_names_a_known_format() -> None:
    for profile in list_profiles():
        assert meter_format(profile.protocol) in FORMAT_STEPS, profile.id
    assert meter_format("HDLC/DLMS KFM_001 with OBIS codes") == "KFM_001"
    assert meter_format(None) is None and meter_format("something else") is None


def test_tables_are_read_only_and_unknown_names_are_errors() -> None:
    with pytest.raises(TypeError):
        tolerances("modbus")["u_l1_v"] = 99  # type: ignore[index]
    fields("modbus").append("x")
    assert "x" not in INTERFACE_FIELDS["modbus"]
    with pytest.raises(KeyError, match="known"):
        tolerances("bluetooth")
    with pytest.raises(KeyError, match="meter format"):
        steps("http", "DSMR 2.2")

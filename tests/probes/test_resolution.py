"""Per-interface fields and tolerances."""

from __future__ import annotations

import pytest

from rig.probes import FIELDS_BY_INTERFACE, TOLERANCES, tolerances
from rig.probes.resolution import fields
from rig.reading import FIELDS, TEXT_FIELDS, compare


def test_modbus_carries_the_map_fields_with_net_power() -> None:
    assert FIELDS_BY_INTERFACE["modbus"] == [
        "u_l1_v", "u_l2_v", "u_l3_v", "i_l1_a", "i_l2_a", "i_l3_a", "p_net_w"]
    assert set(TOLERANCES["modbus"]) == set(FIELDS_BY_INTERFACE["modbus"])


def test_message_interfaces_carry_every_field_exactly() -> None:
    for name in ("http", "mqtt"):
        assert set(FIELDS_BY_INTERFACE[name]) == set(FIELDS)
        assert set(TOLERANCES[name]) == set(FIELDS) - TEXT_FIELDS
        assert all(t == 0.0 for t in TOLERANCES[name].values())


def test_modbus_tolerance_is_half_a_step() -> None:
    tol = tolerances("modbus")
    expected = {"u_l1_v": 230.14, "i_l1_a": 5.434, "p_net_w": 1234}
    assert compare(expected, {"u_l1_v": 230.1, "i_l1_a": 5.43, "p_net_w": 1234}, tol) == []
    assert compare({"u_l1_v": 230.16}, {"u_l1_v": 230.1}, tol)  # more than half a step off
    assert compare({"i_l1_a": 5.437}, {"i_l1_a": 5.43}, tol)


def test_exact_interfaces_reject_any_difference() -> None:
    assert compare({"i_l1_a": 5.432}, {"i_l1_a": 5.433}, tolerances("http"))
    assert compare({"i_l1_a": 5.432}, {"i_l1_a": 5.432}, tolerances("mqtt")) == []


def test_copies_and_unknown_interface() -> None:
    tolerances("modbus")["u_l1_v"] = 99
    fields("modbus").append("x")
    assert TOLERANCES["modbus"]["u_l1_v"] == 0.05 and "x" not in FIELDS_BY_INTERFACE["modbus"]
    with pytest.raises(KeyError, match="known"):
        tolerances("bluetooth")

"""The end-of-line sequence as data: budgets, faulty units, factory settings, serial numbers."""

from __future__ import annotations

import pytest

from rig.eol.sequence import BUDGETS, FACTORY_SETTINGS, STEPS, not_default, parse_fault
from rig.eol.station import SerialSource, next_serial


def test_budgets_of_the_ports() -> None:
    assert BUDGETS["han"].limit_ma == pytest.approx(20.833)  # 500 mW at 24 V is below 21 mA
    assert BUDGETS["p1"].limit_ma == 250.0


def test_every_step_names_its_measurements_once() -> None:
    names = [n for step in STEPS for n in step.measurements]
    assert len(names) == len(set(names))
    assert [s.name for s in STEPS][0] == "power_on" and STEPS[-1].name == "power_off"


def test_faulty_units() -> None:
    assert parse_fault("EOL-0007=overdraw") == ("EOL-0007", parse_fault("X=overdraw:450")[1])
    assert parse_fault("A=overdraw:100")[1].extra_mw == 100.0
    assert parse_fault("A=modbus-dead")[1].config == {"modbus": {"unit_id": 7}}
    for bad, why in (("A", "SERIAL=KIND"), ("A=melt", "kinds"), ("A=overdraw:-3", "milliwatts"),
                     ("A=overdraw:x", "milliwatts"), ("A=modbus-dead:2", "no parameter"), ("=overdraw", "SERIAL")):
        with pytest.raises(ValueError, match=why):
            parse_fault(bad)


def test_not_default_names_what_a_reset_left() -> None:
    public = {"modbus": {"enabled": False, "unit_id": 1},
              "mqtt": {"enabled": False, "topic": None, "username": None, "password_set": False},
              "meter": {"key_set": False, "auth_key_set": False}, "token_set": False, "read_token_set": False,
              "log_level": "info", "persist": False, "serial": {"baud": 2400}, "line": {"detected": None}}
    assert not_default(public) == []
    public["log_level"], public["meter"]["key_set"] = "debug", True
    assert not_default(public) == ["meter.key_set", "log_level"]
    assert len(not_default({})) == len(FACTORY_SETTINGS)
    stored = {"meter": {"key": "00" * 16, "auth_key": None}, "token": None}
    assert "meter.key" in not_default(stored, secrets_public=False)
    assert "token" not in not_default(stored, secrets_public=False)


def test_serial_numbers_counted_typed_and_refused() -> None:
    assert next_serial("EOL-0009") == "EOL-0010" and next_serial("A9Z") == "A10Z" and next_serial("X") == "X-2"
    counted = SerialSource("EOL-0001", units=3)
    assert [counted.next(1) for _ in range(4)] == ["EOL-0001", "EOL-0002", "EOL-0003", None]
    typed = SerialSource("EOL-0001", lines=iter(["SN-7", "", "SN-9", "q", "SN-10"]))
    assert [typed.next(1) for _ in range(5)] == ["SN-7", "EOL-0001", "SN-9", None, None]
    with pytest.raises(ValueError, match="twice"):
        twice = SerialSource("X-1", lines=iter(["A-1", "A-1"]))
        twice.next(1), twice.next(2)
    with pytest.raises(ValueError, match="no spaces"):
        SerialSource("X-1", lines=iter(["A 1"])).next(1)
    asked = SerialSource("X-1", units=2, prompt=lambda slot: f"S-{slot}")
    assert [asked.next(3), asked.next(4), asked.next(5)] == ["S-3", "S-4", None]
    with pytest.raises(ValueError, match="at least 1"):
        SerialSource("X-1", units=0)

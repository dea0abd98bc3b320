"""What users type, parsed without click: each function gives the value or a ValueError that says what is wrong."""

from __future__ import annotations

import os
import pty
from datetime import datetime

import pytest

from rig.cli_parse import (
    check_carried,
    check_port,
    check_reading,
    parse_duration,
    parse_faults,
    parse_time,
    shown,
)
from rig.emulators import get_profile


@pytest.mark.parametrize(("text", "seconds"), [("90", 90), ("1.5", 1.5), ("90s", 90), ("2m", 120), ("1h30m", 5400),
                                               ("0s", 0)])
def test_durations_are_seconds_not_yet_range_checked(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "1d", "1h 30m", "m", "1.s", "-5s", "٣s", "1h30"])
def test_a_duration_in_another_form_says_which_forms_there_are(text: str) -> None:
    with pytest.raises(ValueError, match="is not a duration like 90s, 2m, 1h or 1h30m"):
        parse_duration(text)


def test_meter_times_are_local_wall_clock_times() -> None:
    assert parse_time(None) is None
    assert parse_time("2024-10-01T19:00:00") == datetime(2024, 10, 1, 19)
    with pytest.raises(ValueError, match="'now' is not an ISO time like 2024-10-01T19:00:00"):
        parse_time("now")
    with pytest.raises(ValueError, match="without an offset"):
        parse_time("2024-10-01T19:00:00+02:00")


def test_ports_are_given_back_as_the_links_open_them_or_refused_saying_why(tmp_path) -> None:
    assert check_port("SOCKET://localhost:7000") == "socket://localhost:7000"
    assert check_port("sim") == "sim"
    master, slave = pty.openpty()
    try:
        assert check_port(os.ttyname(slave), sim=False) == os.ttyname(slave)
    finally:
        os.close(master)
        os.close(slave)
    refusals = {"socket://h": "is incomplete: give socket://host:port", "a\0b": "cannot use it as a port",
                str(tmp_path): "is a directory, not a serial device; give sim, a serial device",
                "ftp://h:1": "unknown URL scheme 'ftp'; give sim, a serial device"}
    for text, why in refusals.items():
        with pytest.raises(ValueError, match=why):
            check_port(text)
    with pytest.raises(ValueError, match="the rig's own virtual line, for playing into; give a serial device"):
        check_port("sim", sim=False)  # a port to read from: sim is not among the forms offered


def test_fault_specs_parse_and_an_empty_list_is_no_fault() -> None:
    assert parse_faults([]) == []
    assert [f.spec for f in parse_faults(["bad_fcs:3", "garbage:8"])] == ["bad_fcs:3", "garbage:8"]
    with pytest.raises(ValueError, match="bad parameter for fault 'split'"):
        parse_faults(["split:1"])


def test_a_reading_names_known_fields_with_values_of_their_kind() -> None:
    assert check_reading('{"p_import_w": 1500, "meter_type": "MA304H4"}') == {"p_import_w": 1500,
                                                                               "meter_type": "MA304H4"}
    refusals = {"[1]": "must be a JSON object", '{"p_import_w": "1"}': "p_import_w is a number",
                '{"meter_type": 5}': "meter_type is text", '{"p_import_w": Infinity}': "give a finite number",
                '{"nosuch": 1}': "unknown field 'nosuch'", "[" * 100_000: "not JSON"}
    for text, why in refusals.items():
        with pytest.raises(ValueError, match=why):
            check_reading(text)


def test_a_field_must_be_carried_by_one_of_the_lists_sent() -> None:
    profile = get_profile("kaifa-ma304h4")
    check_carried({"u_l1_v": 230}, profile, [1, 2])
    with pytest.raises(ValueError, match="kaifa-ma304h4 List 1 does not carry u_l1_v; it carries p_import_w"):
        check_carried({"u_l1_v": 230}, profile, [1])


def test_a_value_shown_in_a_message_is_quoted_and_cut_short() -> None:
    assert shown("abc") == "'abc'"
    assert shown("x" * 100) == repr("x" * 60 + "...")

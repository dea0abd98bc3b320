"""HAN_METER_MESSAGE -> normalized reading."""

from __future__ import annotations

import copy

import pytest

from rig.probes import ProbeError, message_to_reading
from rig.probes.message import LIST_KEY
from rig.reading import FIELDS, compare
from rig.resolution import INTERFACE_FIELDS, tolerances

# 2024-10-01 19:00:00 Europe/Oslo (CEST, +02:00) = 17:00:00 UTC
TS = 1727802000000

MESSAGE = {
    "type": "HAN_METER_MESSAGE",
    "ts": TS,
    "ic": 12345.678,
    "ec": "0.001",          # evcc applies tonumber: a string must work too
    "ric": 1.5,
    "rec": None,
    "p": [1234, 500, 400, 334],
    "pi": [1234, 500, 400, 334],
    "pe": [0, 0, 0, 0],
    "r": [-20, None, None, None],
    "ri": [0, None, None, None],
    "re": [20, None, None, None],
    "u": [230.1, None, 229.9],
    "i": [5.432, 1.001, 0.0],
    "meter_id": "6970631400000000",
    "meter_type": "MA304H3E",
    "list_version": "Kamstrup_V0001",
    "list": 2,
}


def test_fields_and_units() -> None:
    r = message_to_reading(MESSAGE)
    assert r["timestamp"] == "2024-10-01T19:00:00"
    assert r["p_import_w"] == 1234 and r["p_export_w"] == 0
    assert r["q_import_var"] == 0 and r["q_export_var"] == 20
    assert (r["u_l1_v"], r["u_l2_v"], r["u_l3_v"]) == (230.1, None, 229.9)
    assert (r["i_l1_a"], r["i_l2_a"], r["i_l3_a"]) == (5.432, 1.001, 0.0)
    assert r["e_import_wh"] == 12345678 and isinstance(r["e_import_wh"], int)
    assert r["e_export_wh"] == 1
    assert r["r_import_varh"] == 1500
    assert r["r_export_varh"] is None
    assert (r["p_l1_import_w"], r["p_l2_import_w"], r["p_l3_import_w"]) == (500, 400, 334)
    assert r["p_l1_export_w"] == 0
    assert r["q_l1_import_var"] is None and r["q_l3_export_var"] is None
    assert r["meter_id"] == "6970631400000000"
    assert r["meter_type"] == "MA304H3E"
    assert r["list_version"] == "Kamstrup_V0001"
    assert r[LIST_KEY] == 2
    assert set(r) == set(FIELDS) | {LIST_KEY}


def test_zero_is_not_null() -> None:
    r = message_to_reading(MESSAGE)
    assert r["p_export_w"] == 0 and r["p_export_w"] is not None
    assert r["i_l3_a"] == 0.0 and r["i_l3_a"] is not None


def test_energy_rounding_is_exact_decimal() -> None:
    # 0.1 + 0.2 style float noise must not leak: 3 decimals of kWh are integer Wh.
    msg = dict(MESSAGE, ic=0.3, ec=9999999.999, ric="123.4565", rec=0)
    r = message_to_reading(msg)
    assert r["e_import_wh"] == 300
    assert r["e_export_wh"] == 9999999999
    assert r["r_import_varh"] == 123456  # half-even on a (non-conforming) 4th decimal
    assert r["r_export_varh"] == 0


@pytest.mark.parametrize(
    ("ts", "tz", "expected"),
    [
        (1727802000000, "Europe/Oslo", "2024-10-01T19:00:00"),   # summer time, +02:00
        (1704067200000, "Europe/Oslo", "2024-01-01T01:00:00"),   # winter time, +01:00
        (1711846799000, "Europe/Oslo", "2024-03-31T01:59:59"),   # last second before spring forward
        (1711846800000, "Europe/Oslo", "2024-03-31T03:00:00"),   # 02:00 CET -> 03:00 CEST
        (1727802000999, "Europe/Oslo", "2024-10-01T19:00:00"),   # milliseconds are truncated
        (1727802000000, "Europe/Helsinki", "2024-10-01T20:00:00"),
        (1727802000000, "UTC", "2024-10-01T17:00:00"),
    ],
)
def test_timestamp_in_zone(ts: int, tz: str, expected: str) -> None:
    assert message_to_reading(dict(MESSAGE, ts=ts), tz=tz)["timestamp"] == expected


def test_all_null_message() -> None:
    msg = {
        "type": "HAN_METER_MESSAGE", "ts": None, "ic": None, "ec": None, "ric": None, "rec": None,
        "p": [None] * 4, "pi": [None] * 4, "pe": [None] * 4, "r": [None] * 4,
        "ri": [None] * 4, "re": [None] * 4, "u": [None] * 3, "i": [None] * 3,
        "meter_id": None, "meter_type": None, "list_version": None, "list": None,
    }
    r = message_to_reading(msg)
    assert all(v is None for v in r.values())


def test_absent_keys_read_as_null() -> None:
    r = message_to_reading({"type": "HAN_METER_MESSAGE", "ts": TS, "pi": [5, None, None, None]})
    assert r["p_import_w"] == 5
    assert r["u_l1_v"] is None and r["e_import_wh"] is None and r[LIST_KEY] is None


def test_compares_against_an_expected_reading() -> None:
    expected = {"timestamp": "2024-10-01T19:00:00", "p_import_w": 1234, "u_l1_v": 230.1,
                "u_l2_v": None, "i_l1_a": 5.432, "e_import_wh": 12345678}
    actual = message_to_reading(MESSAGE)
    assert compare(expected, actual, tolerances("http"), fields=list(expected)) == []
    assert set(expected) <= set(INTERFACE_FIELDS["http"])


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"type": "HAN_STATE_MESSAGE"}, "HAN_STATE_MESSAGE"),
        ({"type": None}, "expected 'HAN_METER_MESSAGE'"),
        ({"pi": [1, 2, 3]}, "'pi' has 3 values, expected 4"),
        ({"re": [1, 2, 3, 4, 5]}, "'re' has 5 values, expected 4"),
        ({"u": [230.0, 230.0, 230.0, 230.0]}, "'u' has 4 values, expected 3"),
        ({"i": [1.0, 2.0]}, "'i' has 2 values, expected 3"),
        ({"u": 230.0}, "'u' is 230.0, expected an array"),
        ({"pi": ["lots", 0, 0, 0]}, "'pi[0]' is 'lots'"),
        ({"pe": [True, 0, 0, 0]}, "'pe[0]' is True"),
        ({"ic": {"kWh": 1}}, "'ic'"),
        ({"ts": "yesterday"}, "'ts'"),
        ({"list": "2"}, "'list'"),
    ],
)
def test_malformed_messages_raise(change: dict, needle: str) -> None:
    msg = copy.deepcopy(MESSAGE)
    msg.update(change)
    with pytest.raises(ProbeError, match=None) as info:
        message_to_reading(msg)
    assert needle in str(info.value)


def test_not_an_object_raises() -> None:
    with pytest.raises(ProbeError, match="not a JSON object"):
        message_to_reading([1, 2, 3])  # type: ignore[arg-type]


def test_unknown_zone_raises() -> None:
    with pytest.raises(ProbeError, match="unknown time zone"):
        message_to_reading(MESSAGE, tz="Mars/Olympus")

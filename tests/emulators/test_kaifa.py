from dataclasses import replace
from datetime import UTC, datetime

import pytest

from rig.emulators import Meter, get_profile, list_profiles
from rig.emulators.kaifa import LIST_FIELDS, format_timestamp, from_wire, to_wire
from rig.line import LineSettings
from tests.spec_frames import (
    GH493_AT,
    GH493_ID,
    GH493_METER_ID,
    GH493_VALUES,
    LIST1_AT,
    LIST1_HEX,
    LIST1_VALUES,
    LIST2_AT,
    LIST2_HEX,
    LIST2_VALUES,
    LIST3_AT,
    LIST3_HEX,
    LIST3_VALUES,
    SPEC_METER_ID,
    unhex,
)

LIST2_FIELDS = [
    "timestamp", "list_version", "meter_id", "meter_type",
    "p_import_w", "p_export_w", "q_import_var", "q_export_var",
    "i_l1_a", "i_l2_a", "i_l3_a", "u_l1_v", "u_l2_v", "u_l3_v",
]  # fmt: skip
LIST3_FIELDS = LIST2_FIELDS + ["e_import_wh", "e_export_wh", "r_import_varh", "r_export_varh"]


@pytest.fixture
def tn_meter():
    return Meter(get_profile("kaifa-ma304h4"), seed=7, start=datetime(2024, 10, 1, 19, 0, 0),
                 meter_id=SPEC_METER_ID)


@pytest.mark.parametrize(
    "at, list_no, values, text",
    [
        (LIST1_AT, 1, LIST1_VALUES, LIST1_HEX),
        (LIST2_AT, 2, LIST2_VALUES, LIST2_HEX),
        (LIST3_AT, 3, LIST3_VALUES, LIST3_HEX),
    ],
    ids=["list1", "list2", "list3"],
)
def test_spec_frames_byte_for_byte(tn_meter, at, list_no, values, text):
    frame = tn_meter.frame_at(at, list_no, overrides=values)
    assert frame.data.hex(" ") == unhex(text).hex(" ")
    assert frame.list == list_no
    assert frame.at == at
    for name, value in values.items():
        assert frame.reading[name] == value


@pytest.mark.parametrize("at, text", [(LIST1_AT, LIST1_HEX), (LIST2_AT, LIST2_HEX), (LIST3_AT, LIST3_HEX)])
def test_spec_frames_as_scheduled(tn_meter, at, text):
    values = {**LIST2_VALUES, "p_import_w": 5057} if at == LIST1_AT else LIST3_VALUES if at == LIST3_AT \
        else LIST2_VALUES
    assert tn_meter.frame_at(at, overrides=values).data == unhex(text)


def test_spec_frame_readings_are_exactly_the_frame_fields(tn_meter):
    l1 = tn_meter.frame_at(LIST1_AT, overrides=LIST1_VALUES).reading
    assert l1 == {"timestamp": "2024-10-01T19:00:02", "p_import_w": 5057}
    l2 = tn_meter.frame_at(LIST2_AT, overrides=LIST2_VALUES).reading
    assert list(l2) == LIST2_FIELDS
    assert l2["timestamp"] == "2024-10-01T19:00:00"
    assert (l2["list_version"], l2["meter_id"], l2["meter_type"]) == ("KFM_001", SPEC_METER_ID, "MA304H4")
    l3 = tn_meter.frame_at(LIST3_AT, overrides=LIST3_VALUES).reading
    assert list(l3) == LIST3_FIELDS
    assert l3["timestamp"] == "2024-10-01T19:00:10"


def test_it_meter_gh493_list2_byte_for_byte(reference_frames):
    ref = next(f for f in reference_frames if f["id"] == GH493_ID)
    meter = Meter(get_profile("kaifa-ma304h3e"), seed=3, start=GH493_AT, meter_id=GH493_METER_ID)
    frame = meter.frame_at(GH493_AT, overrides=GH493_VALUES)
    assert frame.list == 2
    assert frame.data.hex() == ref["data_hex"]
    assert frame.data[-13:-8] == bytes.fromhex("06 00 00 00 00")  # U2 = 0 on the wire
    assert frame.data[-8:-3] == bytes.fromhex("06 00 00 09 3f")  # U3 = 236.7 V
    assert frame.reading["u_l2_v"] is None
    assert frame.reading["meter_type"] == "MA304H3E"
    expected = ref["expected"]
    for name in ("meter_id", "meter_type", "list_version", "p_import_w", "p_export_w", "u_l1_v", "u_l3_v"):
        assert frame.reading[name] == expected[name]


def test_it_meter_sends_u2_zero_and_reading_none():
    meter = Meter("kaifa-ma304h3e", seed=11)
    for frame in meter.frames(count=12):
        if frame.list == 1:
            continue
        assert frame.reading["u_l2_v"] is None
        assert frame.reading["i_l2_a"] > 0
        u2_end = -8 if frame.list == 2 else -8 - 14 - 4 * 5  # List 3: clock item and energies follow
        assert frame.data[u2_end - 5 : u2_end] == bytes.fromhex("06 00 00 00 00")
    with pytest.raises(ValueError, match="U2"):
        meter.frame_at(datetime(2024, 10, 1, 19, 0, 20), overrides={"u_l2_v": 230.0})


def test_wire_rounding():
    assert to_wire("u_l1_v", 235.6) == 2356
    assert to_wire("i_l1_a", 19.679) == 19679
    assert to_wire("i_l1_a", 0.0236) == 24  # rounds, does not truncate
    assert to_wire("u_l1_v", 229.96) == 2300
    assert to_wire("p_import_w", 5056.6) == 5057
    assert from_wire("i_l1_a", 19679) == 19.679
    assert from_wire("p_import_w", 5056) == 5056
    with pytest.raises(ValueError):
        to_wire("p_import_w", -1)


def test_overrides_are_quantized_into_the_reading(tn_meter):
    frame = tn_meter.frame_at(LIST2_AT, overrides={"u_l1_v": 235.64, "i_l1_a": 19.6794, "p_import_w": 5056.4})
    r = frame.reading
    assert (r["u_l1_v"], r["i_l1_a"], r["p_import_w"]) == (235.6, 19.679, 5056)


def test_override_errors(tn_meter):
    with pytest.raises(ValueError, match="override"):
        tn_meter.frame_at(LIST2_AT, overrides={"p_import_kw": 5})
    with pytest.raises(ValueError, match="override"):
        tn_meter.frame_at(LIST2_AT, overrides={"timestamp": "2024-10-01T19:00:00"})
    with pytest.raises(ValueError, match="uint32"):
        tn_meter.frame_at(LIST2_AT, overrides={"p_import_w": -5})
    with pytest.raises(ValueError, match="no frame"):
        tn_meter.frame_at(datetime(2024, 10, 1, 19, 0, 3))


def test_list1_ignores_fields_it_does_not_carry(tn_meter):
    frame = tn_meter.frame_at(LIST1_AT, overrides=LIST2_VALUES)
    assert frame.reading == {"timestamp": "2024-10-01T19:00:02", "p_import_w": 5056}


def test_profiles_registry():
    ids = [p.id for p in list_profiles()]
    assert ids == sorted(ids)
    assert [i for i in ids if i.startswith("kaifa-")] == [
        "kaifa-ma105h2e", "kaifa-ma105h2e-se", "kaifa-ma304h3e", "kaifa-ma304h4", "kaifa-ma304h4-se",
        "kaifa-ma304h4d-se", "kaifa-ma304t3", "kaifa-ma304t4", "kaifa-ma304t4-se", "kaifa-ma309-netznoe",
        "kaifa-p1-se",
    ]
    assert "landis-gyr-e360" in ids
    tn = get_profile("kaifa-ma304h4")
    assert (tn.make, tn.model, tn.country, tn.protocol) == ("Kaifa", "MA304H4", "NO", "HDLC/DLMS KFM_001")
    assert tn.line == LineSettings(2400, 8, "E", 1)
    assert tn.line.bits_per_char == 11
    assert tn.frame_interval_s == 2.0
    assert sorted(tn.lists) == [1, 2, 3]
    assert tn.fields(1) == ("p_import_w",)
    assert list(tn.fields(3)) == LIST3_FIELDS[1:]
    assert get_profile("kaifa-ma304h3e").model == "MA304H3E"
    with pytest.raises(KeyError, match="kaifa-ma304h4"):
        get_profile("kaifa-ma999")


def test_meter_id_must_be_16_digits():
    with pytest.raises(ValueError, match="16 digits"):
        Meter("kaifa-ma304h4", meter_id="12345")
    assert Meter("kaifa-ma304h4").meter_id == "6970631407262986"


def test_frame_lengths_match_the_spec():
    meter = Meter("kaifa-ma304h4", seed=2)
    lengths = {f.list: len(f.data) for f in meter.frames(start=datetime(2024, 10, 1, 19, 0, 0), count=6)}
    assert lengths == {1: 41, 2: 122, 3: 156}
    it = Meter("kaifa-ma304h3e", seed=2)
    lengths = {f.list: len(f.data) for f in it.frames(start=datetime(2024, 10, 1, 19, 0, 0), count=6)}
    assert lengths == {1: 41, 2: 123, 3: 157}


def test_lists_the_profile_lacks_and_text_fields_after_numbers_are_refused():
    profile = get_profile("kaifa-ma304h4")
    reading = Meter(profile).frame_at(datetime(2024, 10, 1, 19, 0, 10)).reading
    with pytest.raises(ValueError, match=r"no list 4; lists: \[1, 2, 3\]"):
        profile.encode(4, reading, datetime(2024, 10, 1, 19, 0, 10))
    with pytest.raises(ValueError, match=r"no list 4"):
        profile.quantize(4, reading, datetime(2024, 10, 1, 19, 0, 10))
    odd = replace(profile, list_fields={**LIST_FIELDS, 2: ("p_import_w", "meter_id")})
    with pytest.raises(ValueError, match="text fields must come first"):
        odd.encode(1, reading, datetime(2024, 10, 1, 19, 0, 10))


def test_timestamp_is_the_wall_clock_to_the_second():
    assert format_timestamp(datetime(2024, 10, 1, 19, 0, 2)) == "2024-10-01T19:00:02"
    assert format_timestamp(datetime(2024, 10, 1, 19, 0, 2, 999_999, tzinfo=UTC)) == "2024-10-01T19:00:02"
    assert format_timestamp(datetime(2024, 10, 27, 2, 0, 2, fold=1)) == "2024-10-27T02:00:02"

"""The Kaifa variants (single phase, CT meters, Sweden, OBIS-code lists): real frames byte for byte, lists, wire."""

import json
from datetime import datetime, timedelta

import pytest
from click.testing import CliRunner

from rig.cli import main
from rig.emulators import Meter, get_profile
from rig.emulators.hdlc import header_end, is_whole_frame
from rig.line import LineSettings
from tests.spec_frames import CAPTURES, read_jsonl

HDLC_PROFILES = ["kaifa-ma105h2e", "kaifa-ma304t3", "kaifa-ma304t4", "kaifa-ma304h4-se", "kaifa-ma304h4d-se",
                 "kaifa-ma105h2e-se", "kaifa-ma304t4-se"]
ZERO_INSTANTS = {"p_export_w": 0, "q_import_var": 0, "q_export_var": 0, "i_l2_a": 0, "i_l3_a": 0,
                 "u_l2_v": 0, "u_l3_v": 0}
ZERO_ENERGIES = {"e_export_wh": 0, "r_import_varh": 0, "r_export_varh": 0}

# (capture id, profile, meter clock, list, meter id, every value the frame carries), the values as the
# frame's annotated byte breakdown states them (mA and 0.1 V already scaled).
REFERENCES = [
    ("kaifa_se_gh242_1_obis_l3", "kaifa-ma304h4-se", datetime(2021, 3, 23, 18, 50, 0), 3, "7340157030542476",
     {**ZERO_INSTANTS, **ZERO_ENERGIES, "p_import_w": 3, "i_l1_a": 0.032, "u_l1_v": 232.2, "e_import_wh": 1142,
      "r_import_varh": 67}),
    ("kaifa_se_gh242_2_l3", "kaifa-ma304h4d-se", datetime(2021, 5, 7, 14, 53, 45), 3, "7340157030078807",
     {**ZERO_INSTANTS, **ZERO_ENERGIES, "p_import_w": 7, "q_export_var": 45, "i_l1_a": 0.199, "u_l1_v": 243.4,
      "e_import_wh": 137166, "r_export_varh": 435653}),
    ("kaifa_se_gh242_3_1ph_l3", "kaifa-ma105h2e-se", datetime(2021, 5, 7, 14, 50, 15), 3, "7340157010120038",
     {"p_import_w": 0, "p_export_w": 0, "q_import_var": 0, "q_export_var": 0, "i_l1_a": 0.066, "u_l1_v": 244.2,
      "e_import_wh": 204, **ZERO_ENERGIES, "r_export_varh": 94}),
    ("kaifa_se_gh242_4_ct_l3", "kaifa-ma304t4-se", datetime(2021, 5, 7, 14, 47, 45), 3, "7340157099923124",
     {**ZERO_INSTANTS, **ZERO_ENERGIES, "p_import_w": 0, "i_l1_a": 0, "u_l1_v": 243.5, "e_import_wh": 0}),
    ("kaifa_no_ma304h3e_l2_esphome", "kaifa-ma304h3e", datetime(2017, 9, 15, 5, 33, 40), 2, "6970631401753985",
     {"p_import_w": 948, "p_export_w": 0, "q_import_var": 0, "q_export_var": 64, "i_l1_a": 1.416,
      "i_l2_a": 3.241, "i_l3_a": 3.119, "u_l1_v": 238.5, "u_l3_v": 238.9}),
    ("kaifa_no_gh180_1_l1", "kaifa-ma304h3e", datetime(2022, 1, 2, 14, 37, 18), 1, None, {"p_import_w": 4117}),
    ("kaifa_no_gh180_2_l2", "kaifa-ma304h3e", datetime(2022, 1, 2, 14, 37, 20), 2, "6970631403275928",
     {"p_import_w": 4097, "p_export_w": 0, "q_import_var": 195, "q_export_var": 0, "i_l1_a": 12.056,
      "i_l2_a": 5.754, "i_l3_a": 13.412, "u_l1_v": 239.2, "u_l3_v": 239.7}),
    ("kaifa_no_gh493_1_l2", "kaifa-ma304h3e", datetime(2023, 3, 22, 3, 28, 50), 2, "6970631409168767",
     {"p_import_w": 2269, "p_export_w": 0, "q_import_var": 0, "q_export_var": 720, "i_l1_a": 7.087,
      "i_l2_a": 6.896, "i_l3_a": 4.206, "u_l1_v": 236.7, "u_l3_v": 236.7}),
    ("kaifa_no_gh493_2_l1", "kaifa-ma304h3e", datetime(2023, 3, 22, 3, 28, 42), 1, None, {"p_import_w": 2277}),
]


def reference(reference_frames, capture_id):
    return next(f for f in reference_frames if f["id"] == capture_id)


@pytest.mark.parametrize("capture_id, profile, at, list_no, meter_id, values", REFERENCES,
                         ids=[r[0] for r in REFERENCES])
def test_reference_frame_byte_for_byte(reference_frames, capture_id, profile, at, list_no, meter_id, values):
    ref = reference(reference_frames, capture_id)
    frame = Meter(profile, meter_id=meter_id).frame_at(at, list_no, overrides=values)
    assert frame.data.hex() == ref["data_hex"]
    model = get_profile(profile).model
    assert ref["model"].startswith(model)  # MA304H4PSE / MA304H4D: the type string sent is the model's
    for name, value in capture_expect(capture_id).items():  # the capture's own statement of its values
        assert frame.reading[name] == value, name
    for name, value in values.items():
        assert frame.reading[name] == (None if name in get_profile(profile).unmeasured_fields else value), name


def capture_expect(capture_id):
    """The ``expect`` of a capture's chunk (exact values, IT rule applied), or {} when it states none."""
    (path,) = CAPTURES.glob(f"*/{capture_id}.jsonl")
    _, chunk = read_jsonl(path)
    return chunk.get("expect", {})


def test_every_norwegian_and_swedish_values_only_kaifa_frame_is_reproduced(reference_frames):
    covered = {r[0] for r in REFERENCES}
    hdlc = {f["id"] for f in reference_frames
            if f["make"] == "Kaifa" and f["kind"] == "hdlc" and f["country"] in ("NO", "SE")}
    assert hdlc == covered


def test_obis_list_3_timestamp_states_the_offset():
    reading = Meter("kaifa-ma304h4-se", seed=1).frame_at(datetime(2024, 7, 1, 12, 0, 10)).reading
    assert reading["timestamp"] == "2024-07-01T12:00:10+01:00"
    assert list(reading)[:4] == ["timestamp", "list_version", "meter_id", "meter_type"]


def test_obis_llc_test_vector_is_the_frames_information_field(reference_frames):
    """amshan's Swedish test vector (an LLC PDU without HDLC) is the information field of the profile's List 3."""
    ref = reference(reference_frames, "kaifa_se_amshan_obis_llc")
    values = {name: value for name, value in ref["expected"].items()
              if name not in ("timestamp", "list_version", "meter_id", "meter_type")}
    frame = Meter("kaifa-ma304h4-se", meter_id="7340734073407340").frame_at(
        datetime(2021, 9, 22, 17, 35, 30), 3, overrides=values)
    assert frame.data[header_end(frame.data):-3].hex() == ref["data_hex"]
    assert frame.reading == ref["expected"]


@pytest.mark.parametrize("profile", HDLC_PROFILES)
def test_lists_on_the_wire(profile):
    """Structure sizes per list (values-only: 1 / 13 / 18, single phase 1 / 9 / 14; OBIS: pairs and the clock
    pair), the source address and the header date-time of every frame on the schedule."""
    p = get_profile(profile)
    obis = profile == "kaifa-ma304h4-se"
    frames = list(Meter(profile, seed=4).frames(start=datetime(2024, 10, 1, 18, 59, 58), count=8))
    assert [f.list for f in frames] == [1, 2, 1, 1, 1, 1, 3, 1]
    for frame in frames:
        assert is_whole_frame(frame.data)
        assert frame.data[3:6] == (b"\x01\x00\x01" if p.country == "SE" else b"\x01\x02\x01")
        apdu = frame.data[header_end(frame.data) + 3:-3]
        fields = len(p.fields(frame.list)) + (1 if frame.list == 3 else 0)
        if obis:
            assert apdu[5:8] == bytes([0x00, 0x02, 2 * fields])
            assert ("timestamp" in frame.reading) == (frame.list == 3)
        else:
            assert apdu[5:7] == b"\x09\x0c" and apdu[19:21] == bytes([0x02, fields])
            assert frame.reading["timestamp"] == frame.at.isoformat()
        assert set(frame.reading) - {"timestamp"} == set(p.fields(frame.list))
    assert {len(f.data) for f in frames if f.list == 1} == {41 if not obis else 36}


def test_single_phase_lists_carry_one_current_and_one_voltage():
    p = get_profile("kaifa-ma105h2e")
    assert p.fields(2) == ("list_version", "meter_id", "meter_type", "p_import_w", "p_export_w", "q_import_var",
                           "q_export_var", "i_l1_a", "u_l1_v")
    assert p.fields(3) == p.fields(2) + ("e_import_wh", "e_export_wh", "r_import_varh", "r_export_varh")
    meter = Meter(p, seed=9)
    for frame in meter.frames(start=datetime(2024, 1, 15, 7, 59, 50), count=12):
        if frame.list == 1:
            continue
        state = meter.model.state_at(frame.at if frame.list == 2 else frame.at - timedelta(seconds=10))
        assert frame.reading["p_import_w"] - frame.reading["p_export_w"] == round(state.p_phase_w[0])


@pytest.mark.parametrize("profile", ["kaifa-ma304t3"])
def test_ct_it_meter_sends_zero_for_i2_and_u2(profile):
    meter = Meter(profile, seed=2)
    for frame in meter.frames(start=datetime(2024, 10, 1, 18, 59, 58), count=7):
        if frame.list == 1:
            continue
        assert frame.reading["i_l2_a"] is None and frame.reading["u_l2_v"] is None
        assert frame.reading["i_l1_a"] > 0 and frame.reading["i_l3_a"] > 0
        body = frame.data[header_end(frame.data) + 3 + 5 + 14 + 2:]
        items = body[9 + 18 + 9 + 20:]  # after the texts (KFM_001, id, MA304T3) and the four powers
        assert items[5:10] == bytes.fromhex("0600000000") and items[20:25] == bytes.fromhex("0600000000")
    with pytest.raises(ValueError, match="does not measure I2"):
        meter.frame_at(datetime(2024, 10, 1, 19, 0, 20), overrides={"i_l2_a": 3.0})


@pytest.mark.parametrize("profile", ["kaifa-ma304t4", "kaifa-ma304t4-se"])
def test_ct_meter_energies_are_uint64(profile):
    big = {"e_import_wh": 2**40 + 5, "e_export_wh": 0, "r_import_varh": 2**32, "r_export_varh": 2**64 - 1}
    frame = Meter(profile, seed=1).frame_at(datetime(2024, 10, 1, 19, 0, 10), overrides=big)
    tail = frame.data[-3 - 4 * 9:-3]
    assert [tail[k] for k in range(0, 36, 9)] == [0x15] * 4
    assert [int.from_bytes(tail[k + 1:k + 9], "big") for k in range(0, 36, 9)] == list(big.values())
    assert {name: frame.reading[name] for name in big} == big
    with pytest.raises(ValueError, match="uint64"):
        Meter(profile).frame_at(datetime(2024, 10, 1, 19, 0, 10), overrides={"e_import_wh": 2**64})
    with pytest.raises(ValueError, match="uint32"):
        Meter("kaifa-ma304t3").frame_at(datetime(2024, 10, 1, 19, 0, 10), overrides={"e_import_wh": 2**32})


def test_rig_meters_lists_the_variants():
    result = CliRunner().invoke(main, ["meters", "--json"], catch_exceptions=False)
    profiles = {p["id"]: p for p in map(json.loads, result.output.splitlines())}
    for profile in HDLC_PROFILES:
        assert profiles[profile]["line"] == "2400 8E1" and set(profiles[profile]["lists"]) == {"1", "2", "3"}
        assert profiles[profile]["make"] == "Kaifa"
    assert profiles["kaifa-p1-se"] == {
        "id": "kaifa-p1-se", "make": "Kaifa", "model": "MA304H4E", "country": "SE",
        "protocol": "P1 (IEC 62056-21 mode D, DSMR 5.0.2 physical layer)", "line": "115200 8N1",
        "lists": {"1": "every 10 s"},
    }
    assert profiles["kaifa-ma304h4-se"]["protocol"] == "HDLC/DLMS KFM_001 with OBIS codes"
    assert [profiles[p]["country"] for p in ("kaifa-ma105h2e", "kaifa-ma304t3", "kaifa-ma304t4")] == ["NO"] * 3
    assert get_profile("kaifa-ma304h4-se").line == LineSettings(2400, 8, "E", 1)
    assert get_profile("kaifa-ma304h4-se").timezone == "Etc/GMT-1"

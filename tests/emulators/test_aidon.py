from datetime import datetime, timedelta

import pytest

from rig.emulators import Meter, get_profile
from rig.emulators.aidon import AIDON_6515, AIDON_6534, AidonSchedule, clock_bytes
from rig.emulators.hdlc import is_whole_frame
from rig.line import LineSettings

GH1119_ID = "aidon_no_gh1119_1_l3"  # list 3 of 2025-12-14 16:00 (sent 16:00:10), three-phase 6534
GH1119_AT = datetime(2025, 12, 14, 16, 0, 10)
GH1119_VALUES = {
    "p_import_w": 4027, "p_export_w": 0, "q_import_var": 0, "q_export_var": 472,
    "i_l1_a": 0.5, "i_l2_a": 0.3, "i_l3_a": 16.8, "u_l1_v": 233.0, "u_l2_v": 233.4, "u_l3_v": 231.1,
    "e_import_wh": 109552250, "e_export_wh": 0, "r_import_varh": 130480, "r_export_varh": 15319720,
}  # fmt: skip
ESPHOME_1PH_ID = "aidon_no_1ph_l2_esphome"  # list 2 of a single-phase 6515
ESPHOME_1PH_VALUES = {"p_import_w": 1362, "p_export_w": 0, "q_import_var": 996, "q_export_var": 0,
                      "i_l1_a": 9.3, "u_l1_v": 250.0}
# A real List 1 of a Norwegian Aidon, logged in turbokongen/hass-AMS issue #112 (2025-12-21 22:05:34).
HASS_AMS_LIST1 = bytes([
    126, 160, 42, 65, 8, 131, 19, 4, 19, 230, 231, 0, 15, 64, 0, 0, 0, 0, 1, 1, 2, 3, 9, 6, 1, 0, 1, 7, 0, 255,
    6, 0, 0, 42, 173, 2, 2, 15, 0, 22, 27, 92, 124, 126,
])


def _reference(frames, frame_id):
    return bytes.fromhex(next(f for f in frames if f["id"] == frame_id)["data_hex"])


def test_profile_is_registered_with_its_line_and_zone():
    profile = get_profile("aidon-6534")
    assert profile is AIDON_6534
    assert (profile.make, profile.model, profile.country, profile.wiring) == ("Aidon", "6534", "NO", "TN")
    assert profile.line == LineSettings(2400, 8, "E", 1)
    assert profile.timezone == "Europe/Oslo"
    assert profile.frame_interval_s == 2.5
    assert sorted(profile.lists) == [1, 2, 3]


def test_gh1119_list3_byte_for_byte(reference_frames):
    meter = Meter("aidon-6534", seed=5, start=GH1119_AT, meter_id="7359992890497997")
    frame = meter.frame_at(GH1119_AT, overrides=GH1119_VALUES)
    assert frame.list == 3
    assert frame.data.hex(" ") == _reference(reference_frames, GH1119_ID).hex(" ")
    assert frame.reading == {
        "timestamp": "2025-12-14T16:00:00", "list_version": "AIDON_V0001",
        "meter_id": "7359992890497997", "meter_type": "6534", **GH1119_VALUES,
    }


def test_single_phase_list2_byte_for_byte(reference_frames):
    meter = Meter(AIDON_6515, seed=2, meter_id="7359992890941742")
    frame = meter.frame_at(datetime(2025, 3, 1, 12, 0, 20), overrides=ESPHOME_1PH_VALUES)
    assert frame.list == 2
    assert frame.data == _reference(reference_frames, ESPHOME_1PH_ID)
    assert frame.reading == {"list_version": "AIDON_V0001", "meter_id": "7359992890941742",
                             "meter_type": "6515", **ESPHOME_1PH_VALUES}


def test_list1_byte_for_byte():
    frame = Meter("aidon-6534").frame_at(datetime(2025, 12, 21, 22, 5, 32, 500000), overrides={"p_import_w": 10925})
    assert frame.list == 1
    assert frame.data == HASS_AMS_LIST1
    assert frame.reading == {"p_import_w": 10925}  # List 1 carries no clock


def test_schedule_over_an_hour_boundary():
    schedule = AidonSchedule()
    times = list(schedule.frame_times(datetime(2024, 10, 1, 18, 59, 50), count=12))
    assert [(t.strftime("%M:%S.%f")[:7], n) for t, n in times] == [
        ("59:50.0", 2), ("59:52.5", 1), ("59:55.0", 1), ("59:57.5", 1), ("00:00.0", 2), ("00:02.5", 1),
        ("00:05.0", 1), ("00:07.5", 1), ("00:10.0", 3), ("00:12.5", 1), ("00:15.0", 1), ("00:17.5", 1),
    ]


def test_schedule_counts_in_an_hour():
    start = datetime(2024, 1, 15, 7, 0, 0)
    lists = [n for _, n in AidonSchedule().frame_times(start, until=start + timedelta(hours=1))]
    assert len(lists) == 1440
    assert (lists.count(1), lists.count(2), lists.count(3)) == (1080, 359, 1)


@pytest.mark.parametrize(
    "at, expected",
    [
        (datetime(2024, 1, 1, 0, 0, 1), datetime(2024, 1, 1, 0, 0, 2, 500000)),
        (datetime(2024, 1, 1, 0, 0, 2, 500000), datetime(2024, 1, 1, 0, 0, 2, 500000)),
        (datetime(2024, 1, 1, 0, 0, 57, 600000), datetime(2024, 1, 1, 0, 1, 0)),
    ],
)
def test_next_frame_time(at, expected):
    schedule = AidonSchedule()
    assert schedule.next_frame_time(at) == expected
    assert schedule.list_at(expected) is not None


def test_no_frame_off_the_grid():
    schedule = AidonSchedule()
    assert schedule.list_at(datetime(2024, 1, 1, 0, 0, 1)) is None
    assert schedule.list_at(datetime(2024, 1, 1, 0, 0, 2, 400000)) is None
    with pytest.raises(ValueError, match="sends no frame"):
        Meter("aidon-6534").frame_at(datetime(2024, 1, 1, 0, 0, 1))


def test_list3_carries_values_and_clock_of_the_hour():
    meter = Meter("aidon-6534", seed=3)
    at = datetime(2024, 10, 1, 19, 0, 10)
    frame = meter.frame_at(at)
    assert frame.reading["timestamp"] == "2024-10-01T19:00:00"  # local time, no offset
    assert frame.reading["p_import_w"] == meter.frame_at(at - timedelta(seconds=10)).reading["p_import_w"]  # List 2
    assert clock_bytes(at - timedelta(seconds=10)) in frame.data


@pytest.mark.parametrize("day, dow", [(14, 0), (15, 1), (20, 6)])  # Sunday 0 .. Saturday 6
def test_clock_day_of_week_counts_sunday_as_zero(day, dow):
    assert clock_bytes(datetime(2025, 12, day, 16, 0, 0))[4] == dow


def test_list_fields_and_wire_resolution():
    meter = Meter("aidon-6534", seed=11)
    l2 = meter.frame_at(datetime(2024, 10, 1, 19, 0, 20)).reading
    assert list(l2) == ["list_version", "meter_id", "meter_type", "p_import_w", "p_export_w", "q_import_var",
                        "q_export_var", "i_l1_a", "i_l2_a", "i_l3_a", "u_l1_v", "u_l2_v", "u_l3_v"]
    assert all(round(l2[f"u_l{k}_v"] * 10) == l2[f"u_l{k}_v"] * 10 for k in (1, 2, 3))
    l3 = meter.frame_at(datetime(2024, 10, 1, 20, 0, 10)).reading
    assert list(l3)[-4:] == ["e_import_wh", "e_export_wh", "r_import_varh", "r_export_varh"]
    assert all(l3[name] % 10 == 0 for name in list(l3)[-4:])  # 10 Wh / 10 varh on the wire


def test_single_phase_totals_are_phase_one():
    frame = Meter(AIDON_6515, seed=4).frame_at(datetime(2024, 10, 1, 19, 0, 20))
    assert "i_l2_a" not in frame.reading and "u_l3_v" not in frame.reading
    assert is_whole_frame(frame.data)


def test_bad_values_are_clear_errors():
    meter = Meter("aidon-6534")
    at = datetime(2024, 10, 1, 19, 0, 20)
    with pytest.raises(ValueError, match="i_l1_a=4000 is outside the long range"):
        meter.frame_at(at, overrides={"i_l1_a": 4000})
    with pytest.raises(ValueError, match="u_l2_v=-1 is outside the long-unsigned range"):
        meter.frame_at(at, overrides={"u_l2_v": -1})
    with pytest.raises(ValueError, match="meter id must be 16 digits"):
        Meter("aidon-6534", meter_id="12345")
    with pytest.raises(ValueError, match="1 or 3 phases"):
        AIDON_6534.__class__(id="x", model="x", phases=2)

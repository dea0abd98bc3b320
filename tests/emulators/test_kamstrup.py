from datetime import datetime, timedelta

import pytest

from rig.emulators import Meter, get_profile
from rig.emulators.hdlc import is_whole_frame
from rig.emulators.kamstrup import OMNIPOWER, KamstrupProfile, KamstrupSchedule
from tests.spec_frames import unhex

# Two consecutive real frames of a Norwegian Kamstrup (2021-11-25, a Thursday), from the public test payloads
# of UtilitechAS/amsreader-firmware, test/payloads/kamstrup/em001-1.hex and em001-2.hex @ a88a0beb9c.
# The hourly List 2 was sent at 23:00:55 (this meter's List 2 second), the List 1 at 23:01:00.
EM001_LIST2 = """
7E A1 2C 2B 21 13 FC 04 E6 E7 00 0F 00 00 00 00 0C 07 E5 0B 19 04 17 00 37 FF 80 00 00 02 23
0A 0E 4B 61 6D 73 74 72 75 70 5F 56 30 30 30 31 09 06 01 01 00 00 05 FF
0A 10 35 37 30 36 35 36 37 32 30 32 37 35 33 30 32 35 09 06 01 01 60 01 01 FF
0A 12 36 38 34 31 31 33 31 42 4E 32 34 33 31 30 31 30 34 30
09 06 01 01 01 07 00 FF 06 00 00 04 DF 09 06 01 01 02 07 00 FF 06 00 00 00 00
09 06 01 01 03 07 00 FF 06 00 00 00 00 09 06 01 01 04 07 00 FF 06 00 00 01 A1
09 06 01 01 1F 07 00 FF 06 00 00 00 BD 09 06 01 01 33 07 00 FF 06 00 00 01 47
09 06 01 01 47 07 00 FF 06 00 00 00 80 09 06 01 01 20 07 00 FF 12 00 EC
09 06 01 01 34 07 00 FF 12 00 EC 09 06 01 01 48 07 00 FF 12 00 EC
09 06 00 01 01 00 00 FF 09 0C 07 E5 0B 19 04 17 00 37 FF 80 00 00
09 06 01 01 01 08 00 FF 06 00 82 F4 B8 09 06 01 01 02 08 00 FF 06 00 06 ED C3
09 06 01 01 03 08 00 FF 06 00 00 3B DF 09 06 01 01 04 08 00 FF 06 00 16 8B 3E 3B 68 7E
"""
EM001_LIST2_VALUES = {
    "p_import_w": 1247, "p_export_w": 0, "q_import_var": 0, "q_export_var": 417,
    "i_l1_a": 1.89, "i_l2_a": 3.27, "i_l3_a": 1.28, "u_l1_v": 236, "u_l2_v": 236, "u_l3_v": 236,
    "e_import_wh": 85823280, "e_export_wh": 4540830, "r_import_varh": 153270, "r_export_varh": 14774380,
}  # fmt: skip
EM001_LIST1 = """
7E A0 E2 2B 21 13 23 9A E6 E7 00 0F 00 00 00 00 0C 07 E5 0B 19 04 17 01 00 FF 80 00 00 02 19
0A 0E 4B 61 6D 73 74 72 75 70 5F 56 30 30 30 31 09 06 01 01 00 00 05 FF
0A 10 35 37 30 36 35 36 37 32 30 32 37 35 33 30 32 35 09 06 01 01 60 01 01 FF
0A 12 36 38 34 31 31 33 31 42 4E 32 34 33 31 30 31 30 34 30
09 06 01 01 01 07 00 FF 06 00 00 04 C9 09 06 01 01 02 07 00 FF 06 00 00 00 00
09 06 01 01 03 07 00 FF 06 00 00 00 00 09 06 01 01 04 07 00 FF 06 00 00 01 A2
09 06 01 01 1F 07 00 FF 06 00 00 00 B4 09 06 01 01 33 07 00 FF 06 00 00 01 47
09 06 01 01 47 07 00 FF 06 00 00 00 81 09 06 01 01 20 07 00 FF 12 00 EC
09 06 01 01 34 07 00 FF 12 00 EC 09 06 01 01 48 07 00 FF 12 00 EC 2F 59 7E
"""
EM001_LIST1_VALUES = {
    "p_import_w": 1225, "p_export_w": 0, "q_import_var": 0, "q_export_var": 418,
    "i_l1_a": 1.8, "i_l2_a": 3.27, "i_l3_a": 1.29, "u_l1_v": 236, "u_l2_v": 236, "u_l3_v": 236,
}  # fmt: skip
IDENTITY = {"list_version": "Kamstrup_V0001", "meter_id": "5706567202753025", "meter_type": "6841131BN243101040"}


def test_profile_is_registered_with_its_line_and_zone():
    profile = get_profile("kamstrup-omnipower")
    assert profile is OMNIPOWER
    assert (profile.make, profile.model, profile.country, profile.wiring) == ("Kamstrup", "Omnipower", "NO", "TN")
    assert str(profile.line.parity) == "N" and profile.line.baud == 2400
    assert profile.timezone == "Europe/Oslo"
    assert profile.frame_interval_s == 10
    assert sorted(profile.lists) == [1, 2]


def test_em001_list1_byte_for_byte():
    frame = Meter("kamstrup-omnipower").frame_at(datetime(2021, 11, 25, 23, 1, 0), overrides=EM001_LIST1_VALUES)
    assert frame.list == 1
    assert frame.data.hex(" ") == unhex(EM001_LIST1).hex(" ")
    assert frame.reading == {"timestamp": "2021-11-25T23:01:00", **IDENTITY, **EM001_LIST1_VALUES}


def test_em001_list2_byte_for_byte():
    # the list layout and bytes are the profile's; only the second of the hour differs from its schedule
    at = datetime(2021, 11, 25, 23, 0, 55)
    frame = Meter("kamstrup-omnipower").frame_at(at, 2, overrides=EM001_LIST2_VALUES)
    assert frame.data.hex(" ") == unhex(EM001_LIST2).hex(" ")
    assert frame.reading == {"timestamp": "2021-11-25T23:00:55", **IDENTITY, **EM001_LIST2_VALUES}
    late = KamstrupProfile(id="kamstrup-late", model="Omnipower", schedule=KamstrupSchedule(list2_second=55))
    assert Meter(late).frame_at(at, overrides=EM001_LIST2_VALUES).data == frame.data


def test_schedule_around_the_hour():
    times = list(KamstrupSchedule().frame_times(datetime(2024, 10, 1, 18, 59, 41), count=5))
    assert [(t.strftime("%H:%M:%S"), n) for t, n in times] == [
        ("18:59:50", 1), ("19:00:00", 1), ("19:00:05", 2), ("19:00:10", 1), ("19:00:20", 1),
    ]


def test_schedule_counts_in_an_hour():
    start = datetime(2024, 1, 15, 7, 0, 0)
    lists = [n for _, n in KamstrupSchedule().frame_times(start, until=start + timedelta(hours=1))]
    assert (lists.count(1), lists.count(2)) == (360, 1)


@pytest.mark.parametrize(
    "at, expected",
    [
        (datetime(2024, 1, 1, 5, 59, 51), datetime(2024, 1, 1, 6, 0, 0)),
        (datetime(2024, 1, 1, 6, 0, 0, 1), datetime(2024, 1, 1, 6, 0, 5)),
        (datetime(2024, 1, 1, 6, 0, 6), datetime(2024, 1, 1, 6, 0, 10)),
        (datetime(2024, 1, 1, 6, 1, 1), datetime(2024, 1, 1, 6, 1, 10)),
    ],
)
def test_next_frame_time(at, expected):
    assert KamstrupSchedule().next_frame_time(at) == expected


def test_no_frame_between_the_lists():
    with pytest.raises(ValueError, match="sends no frame"):
        Meter("kamstrup-omnipower").frame_at(datetime(2024, 1, 1, 6, 1, 5))


@pytest.mark.parametrize(
    "at, status",
    [(datetime(2024, 1, 15, 12, 0, 0), 0x00), (datetime(2024, 7, 15, 12, 0, 0), 0x80),
     (datetime(2024, 3, 31, 1, 59, 50), 0x00), (datetime(2024, 3, 31, 3, 0, 0), 0x80)],
)
def test_clock_status_flags_daylight_saving_time_in_oslo(at, status):
    frame = Meter("kamstrup-omnipower").frame_at(at)
    assert frame.data[16] == 0x0C and frame.data[28] == status  # header date-time: 0C + 12 bytes
    assert frame.reading["timestamp"] == at.strftime("%Y-%m-%dT%H:%M:%S")  # deviation unspecified: no offset


def test_list2_fields_and_wire_resolution():
    meter = Meter("kamstrup-omnipower", seed=9)
    reading = meter.frame_at(datetime(2024, 10, 1, 19, 0, 5)).reading
    assert list(reading)[-4:] == ["e_import_wh", "e_export_wh", "r_import_varh", "r_export_varh"]
    assert all(reading[k] % 10 == 0 for k in list(reading)[-4:])
    assert all(isinstance(reading[f"u_l{k}_v"], int) for k in (1, 2, 3))  # 1 V on the wire
    assert is_whole_frame(meter.frame_at(datetime(2024, 10, 1, 19, 0, 5)).data)


def test_bad_values_are_clear_errors():
    meter = Meter("kamstrup-omnipower")
    at = datetime(2024, 10, 1, 19, 0, 10)
    with pytest.raises(ValueError, match="u_l1_v=70000 is outside the long-unsigned range"):
        meter.frame_at(at, overrides={"u_l1_v": 70000})
    with pytest.raises(ValueError, match="meter_type='short' must be 18 ASCII characters"):
        meter.frame_at(at, overrides={"meter_type": "short"})
    with pytest.raises(ValueError, match="meter id must be 16 digits"):
        Meter("kamstrup-omnipower", meter_id="57065672027530")


def test_repeated_hour_sends_list2_twice_with_the_dst_flag_then_without():
    meter = Meter("kamstrup-omnipower", seed=6)
    start = datetime(2024, 10, 27, 2, 0, 0)  # Europe/Oslo: 02:00-03:00 is shown twice this night
    frames = [f for f in meter.frames(start=start, count=800) if f.list == 2]
    assert [(f.at.strftime("%H:%M:%S"), f.at.fold, f.data[28]) for f in frames[:3]] == [
        ("02:00:05", 0, 0x80), ("02:00:05", 1, 0x00), ("03:00:05", 0, 0x00),
    ]

"""Cross-check the Kamstrup emulator against amshan's independent Kamstrup decoder (toreamun/amshan, han.kamstrup)."""

from datetime import datetime, timedelta

import pytest
from han import kamstrup
from han.hdlc import HdlcFrameReader

from rig.emulators import Meter

AMSHAN_FIELDS = {
    "list_ver_id": "list_version", "meter_id": "meter_id", "meter_type": "meter_type",
    "active_power_import": "p_import_w", "active_power_export": "p_export_w",
    "reactive_power_import": "q_import_var", "reactive_power_export": "q_export_var",
    "current_l1": "i_l1_a", "current_l2": "i_l2_a", "current_l3": "i_l3_a",
    "voltage_l1": "u_l1_v", "voltage_l2": "u_l2_v", "voltage_l3": "u_l3_v",
    "active_power_import_total": "e_import_wh", "active_power_export_total": "e_export_wh",
    "reactive_power_import_total": "r_import_varh", "reactive_power_export_total": "r_export_varh",
}  # fmt: skip
CURRENTS = ("i_l1_a", "i_l2_a", "i_l3_a")

# Windows of 30 s from just before whole hours: both lists, winter and summer (DST flag), a year end.
STARTS = [
    datetime(2024, 10, 1, 18, 59, 50),
    datetime(2024, 1, 15, 6, 59, 40),
    datetime(2025, 7, 4, 23, 59, 50),
    datetime(2025, 12, 31, 23, 59, 50),
]


def amshan_reading(payload: bytes) -> dict:
    decoded = kamstrup.decode_frame_content(payload)
    assert decoded.pop("meter_manufacturer") == "Kamstrup"
    clock = decoded.pop("meter_datetime")  # the notification's date-time (List 2's clock item is the same)
    assert clock.tzinfo is None  # deviation unspecified
    reading = {"timestamp": clock.strftime("%Y-%m-%dT%H:%M:%S")}
    for key, value in decoded.items():
        name = AMSHAN_FIELDS[key]
        # amshan scales currents by multiplying with the float 0.01: round to the wire's 0.01 A
        reading[name] = round(value, 2) if name in CURRENTS else value
    return reading


@pytest.mark.parametrize("seed", [1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144, 12345])
def test_amshan_decodes_exactly_the_reading(seed):
    meter = Meter("kamstrup-omnipower", seed=seed, meter_id=f"57065672{seed:08d}")
    frames = []
    for start in STARTS:
        frames += list(meter.frames(start=start, until=start + timedelta(seconds=30)))
    assert {f.list for f in frames} == {1, 2}
    decoded = HdlcFrameReader(use_octet_stuffing=False).read(b"".join(f.data for f in frames))
    assert len(decoded) == len(frames)
    for frame, hdlc_frame in zip(frames, decoded, strict=True):
        assert hdlc_frame.is_good_ffc and hdlc_frame.is_expected_length
        assert amshan_reading(hdlc_frame.payload) == frame.reading, (frame.at, frame.list)


EXTREMES = {
    "p_import_w": 4294967295, "p_export_w": 0, "q_import_var": 1, "q_export_var": 65536,
    "i_l1_a": 0.01, "i_l2_a": 0.0, "i_l3_a": 42949672.95, "u_l1_v": 0, "u_l2_v": 1, "u_l3_v": 65535,
    "e_import_wh": 42949672950, "e_export_wh": 10, "r_import_varh": 0, "r_export_varh": 1234567890,
}  # fmt: skip


def test_amshan_decodes_extreme_values():
    frame = Meter("kamstrup-omnipower").frame_at(datetime(2024, 12, 31, 23, 0, 5), overrides=EXTREMES)
    (decoded,) = HdlcFrameReader(use_octet_stuffing=False).read(frame.data)
    assert amshan_reading(decoded.payload) == frame.reading
    assert {k: frame.reading[k] for k in EXTREMES} == EXTREMES

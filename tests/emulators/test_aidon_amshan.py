"""Cross-check the Aidon emulator against amshan's independent Aidon decoder (toreamun/amshan, han.aidon)."""

from datetime import datetime, timedelta

import pytest
from han import aidon
from han.hdlc import HdlcFrameReader

from rig.emulators import Meter
from rig.emulators.aidon import AIDON_6515

# amshan key -> normalized field (amshan applies the scaler-unit the frame carries)
AMSHAN_FIELDS = {
    "list_ver_id": "list_version", "meter_id": "meter_id", "meter_type": "meter_type",
    "active_power_import": "p_import_w", "active_power_export": "p_export_w",
    "reactive_power_import": "q_import_var", "reactive_power_export": "q_export_var",
    "current_l1": "i_l1_a", "current_l2": "i_l2_a", "current_l3": "i_l3_a",
    "voltage_l1": "u_l1_v", "voltage_l2": "u_l2_v", "voltage_l3": "u_l3_v",
    "active_power_import_total": "e_import_wh", "active_power_export_total": "e_export_wh",
    "reactive_power_import_total": "r_import_varh", "reactive_power_export_total": "r_export_varh",
}  # fmt: skip

# Windows of 40 s around whole hours (all three lists), winter and summer, a Sunday, a year end.
STARTS = [
    datetime(2024, 10, 1, 18, 59, 50),
    datetime(2024, 1, 14, 6, 59, 40),
    datetime(2025, 7, 6, 23, 59, 45),
    datetime(2025, 12, 31, 23, 59, 50),
]


def amshan_reading(payload: bytes) -> dict:
    decoded = aidon.decode_frame_content(payload)
    assert decoded.pop("meter_manufacturer") == "Aidon"
    reading = {}
    if "meter_datetime" in decoded:
        clock = decoded.pop("meter_datetime")
        # amshan reads the wire's deviation 0 as UTC; it is a placeholder beside local time (rig/emulators/aidon.py)
        assert clock.utcoffset() == timedelta(0)
        reading["timestamp"] = clock.strftime("%Y-%m-%dT%H:%M:%S")
    for key, value in decoded.items():
        reading[AMSHAN_FIELDS[key]] = value  # a key outside the map is a field the rig does not know
    return reading


def _frames(meter: Meter) -> list:
    frames = []
    for start in STARTS:
        frames += list(meter.frames(start=start, until=start + timedelta(seconds=40)))
    return frames


@pytest.mark.parametrize("profile", ["aidon-6534", AIDON_6515], ids=["6534", "6515"])
@pytest.mark.parametrize("seed", [1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144, 12345])
def test_amshan_decodes_exactly_the_reading(profile, seed):
    meter = Meter(profile, seed=seed, meter_id=f"73599928{seed:08d}")
    frames = _frames(meter)
    assert {f.list for f in frames} == {1, 2, 3}
    decoded = HdlcFrameReader(use_octet_stuffing=False).read(b"".join(f.data for f in frames))
    assert len(decoded) == len(frames)
    for frame, hdlc_frame in zip(frames, decoded, strict=True):
        assert hdlc_frame.is_good_ffc and hdlc_frame.is_expected_length
        assert amshan_reading(hdlc_frame.payload) == frame.reading, (frame.at, frame.list)


EXTREMES = {
    "p_import_w": 4294967295, "p_export_w": 0, "q_import_var": 1, "q_export_var": 65536,
    "i_l1_a": -3276.8, "i_l2_a": 0.0, "i_l3_a": 3276.7, "u_l1_v": 0.1, "u_l2_v": 0.0, "u_l3_v": 6553.5,
    "e_import_wh": 42949672950, "e_export_wh": 10, "r_import_varh": 0, "r_export_varh": 1234567890,
}  # fmt: skip


def test_amshan_decodes_extreme_values():
    frame = Meter("aidon-6534").frame_at(datetime(2024, 12, 31, 23, 0, 10), overrides=EXTREMES)
    (decoded,) = HdlcFrameReader(use_octet_stuffing=False).read(frame.data)
    assert amshan_reading(decoded.payload) == frame.reading
    assert {k: frame.reading[k] for k in EXTREMES} == EXTREMES

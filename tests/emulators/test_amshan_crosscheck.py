"""Cross-check the emulator against amshan (toreamun/amshan), an independent public Kaifa decoder."""

from datetime import datetime, timedelta

import pytest
from han import kaifa
from han.hdlc import HdlcFrameReader

from rig.emulators import Meter
from tests.spec_frames import EXTREME_VALUES

# amshan key -> normalized field (amshan already scales current to A and voltage to V)
AMSHAN_FIELDS = {
    "list_ver_id": "list_version",
    "meter_id": "meter_id",
    "meter_type": "meter_type",
    "active_power_import": "p_import_w",
    "active_power_export": "p_export_w",
    "reactive_power_import": "q_import_var",
    "reactive_power_export": "q_export_var",
    "current_l1": "i_l1_a",
    "current_l2": "i_l2_a",
    "current_l3": "i_l3_a",
    "voltage_l1": "u_l1_v",
    "voltage_l2": "u_l2_v",
    "voltage_l3": "u_l3_v",
    "active_power_import_total": "e_import_wh",
    "active_power_export_total": "e_export_wh",
    "reactive_power_import_total": "r_import_varh",
    "reactive_power_export_total": "r_export_varh",
}


def amshan_reading(payload: bytes, it_meter: bool) -> dict:
    decoded = kaifa.decode_frame_content(payload)
    reading = {"timestamp": decoded["meter_datetime"].strftime("%Y-%m-%dT%H:%M:%S")}
    for key, name in AMSHAN_FIELDS.items():
        if key in decoded:
            reading[name] = decoded[key]
    if it_meter and "u_l2_v" in reading:
        assert reading["u_l2_v"] == 0  # on the wire
        reading["u_l2_v"] = None  # not measured
    return reading


STARTS = [
    datetime(2024, 10, 1, 18, 59, 50),
    datetime(2024, 1, 15, 6, 59, 40),
    datetime(2023, 3, 26, 1, 59, 56),
    datetime(2025, 7, 4, 23, 59, 58),
]


@pytest.mark.parametrize("profile", ["kaifa-ma304h4", "kaifa-ma304h3e"])
@pytest.mark.parametrize("seed", [1, 2, 17, 12345])
def test_amshan_decodes_exactly_the_reading(profile, seed):
    meter = Meter(profile, seed=seed, start=STARTS[0], meter_id=f"69706314{seed:08d}")
    frames = []
    for start in STARTS:
        frames += list(meter.frames(start=start, until=start + timedelta(seconds=40)))
    assert {f.list for f in frames} == {1, 2, 3}
    stream = b"".join(f.data for f in frames)
    decoded = HdlcFrameReader(use_octet_stuffing=False).read(stream)
    assert len(decoded) == len(frames)
    for frame, hdlc_frame in zip(frames, decoded, strict=True):
        assert hdlc_frame.is_good_ffc and hdlc_frame.is_expected_length
        got = amshan_reading(hdlc_frame.payload, it_meter=profile == "kaifa-ma304h3e")
        assert got == frame.reading, frame.at
        assert list(got) == list(frame.reading)


def test_amshan_decodes_extreme_values():
    meter = Meter("kaifa-ma304h4")
    frame = meter.frame_at(datetime(2024, 12, 31, 23, 0, 10), overrides=EXTREME_VALUES)
    (decoded,) = HdlcFrameReader(use_octet_stuffing=False).read(frame.data)
    assert amshan_reading(decoded.payload, it_meter=False) == frame.reading

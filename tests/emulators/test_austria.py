"""The Austrian profiles: the Netz NOE and Netz Burgenland example frames rebuilt byte for byte from their
readings and keys, the frame counter, and gurux-dlms decrypting and parsing what the rig sends."""

from dataclasses import replace
from datetime import datetime

import pytest
from gurux_dlms import GXByteBuffer, GXDLMSClient
from gurux_dlms.AesGcmParameter import AesGcmParameter
from gurux_dlms.GXDLMSChippering import GXDLMSChippering
from gurux_dlms.GXDLMSSettings import GXDLMSSettings

from rig.emulators import Meter, hdlc, mbus
from rig.emulators.austria import BURGENLAND_TEST_SECURITY, E450_BURGENLAND, MA309_NETZNOE, NETZNOE_TEST_SECURITY
from rig.emulators.security import parse_glo
from tests.spec_frames import load_reference_frames

FRAMES = {f["id"]: f for f in load_reference_frames()}
NOE_READING = {"e_import_wh": 12937, "e_export_wh": 0, "p_import_w": 0, "p_export_w": 0, "u_l1_v": 233.7,
               "u_l2_v": 0.0, "u_l3_v": 0.0, "i_l1_a": 0.0, "i_l2_a": 0.0, "i_l3_a": 0.0}
E450_READING = {"u_l1_v": 236, "u_l2_v": 237, "u_l3_v": 236, "i_l1_a": 0.0, "i_l2_a": 0.04, "i_l3_a": 0.26,
                "p_import_w": 29, "p_export_w": 0, "e_import_wh": 31358606, "e_export_wh": 7619}


def test_netz_noe_example_frames_byte_for_byte():
    meter = Meter(MA309_NETZNOE, security=replace(NETZNOE_TEST_SECURITY, frame_counter=35))
    frame = meter.frame_at(datetime(2021, 9, 27, 9, 47, 15), 3, overrides=NOE_READING)
    assert frame.data.hex() == FRAMES["kaifa_at_netznoe_mbus_enc"]["data_hex"]
    assert frame.reading == {"timestamp": "2021-09-27T09:47:15+02:00", "meter_id": "181220000009", **NOE_READING}
    assert meter.frame_counter == 36


def test_e450_burgenland_example_frame_byte_for_byte():
    meter = Meter(E450_BURGENLAND, security=replace(BURGENLAND_TEST_SECURITY, frame_counter=0x002180F6))
    frame = meter.frame_at(datetime(2023, 3, 28, 19, 11, 20), 3, overrides=E450_READING)
    assert frame.data.hex() == FRAMES["lg_e450_at_gh501_1_hdlc_enc"]["data_hex"]
    assert frame.reading == {"timestamp": "2023-03-28T19:11:20", "meter_id": "30137181", **E450_READING}


def _apdu(profile_id: str, data: bytes) -> bytes:
    return mbus.reassemble(data) if profile_id == MA309_NETZNOE.id else hdlc.split_frame(data)[3][3:]


@pytest.mark.parametrize("profile", [MA309_NETZNOE, E450_BURGENLAND])
def test_frame_counter_increases_by_one_per_frame(profile):
    frames = list(Meter(profile, start=datetime(2025, 1, 10, 12, 0, 0)).frames(count=5))
    counters = [parse_glo(_apdu(profile.id, f.data)).frame_counter for f in frames]
    assert counters == [1, 2, 3, 4, 5]
    assert len({f.data for f in frames}) == 5


def test_winter_clock_states_plus_one_hour():
    frame = Meter(MA309_NETZNOE).frame_at(datetime(2025, 1, 10, 12, 0, 0), 3)
    assert frame.reading["timestamp"] == "2025-01-10T12:00:00+01:00"


def test_text_meter_ids():
    assert Meter(E450_BURGENLAND, meter_id="ABC123").frame_at(datetime(2025, 1, 1), 3).reading["meter_id"] == "ABC123"
    with pytest.raises(ValueError, match="printable ASCII"):
        Meter(MA309_NETZNOE, meter_id="x" * 40)


def test_values_outside_the_wire_are_refused():
    with pytest.raises(ValueError, match="i_l1_a=700"):
        Meter(E450_BURGENLAND).frame_at(datetime(2025, 1, 1), 3, overrides={"i_l1_a": 700})


def _gurux_plain(apdu: bytes, security) -> bytes:
    auth_key = bytearray(security.auth_key or bytes(16))
    params = AesGcmParameter(0, security.system_title, bytearray(security.key), auth_key)
    return bytes(GXDLMSChippering.decryptAesGcm(GXDLMSSettings(False, None), params, GXByteBuffer(apdu)))


def _gurux_items(plain: bytes) -> list:
    """The items of the notification's structure, decoded by gurux's A-XDR parser."""
    body = GXByteBuffer(plain[5 + 1 + plain[5]:])  # after 0F, the invoke id and the 0C date-time
    return list(GXDLMSClient.getValue(body, False))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_gurux_reads_the_netz_noe_reading(seed, capsys):
    frame = Meter(MA309_NETZNOE, seed=seed).frame_at(datetime(2025, 6, 1, 8, 0, 5), 3)
    items = _gurux_items(_gurux_plain(mbus.reassemble(frame.data), NETZNOE_TEST_SECURITY))
    values = dict(zip((".".join(map(str, i)) for i in items[1:31:3]), items[2:32:3], strict=True))
    r = frame.reading
    assert values["1.0.1.8.0.255"] == r["e_import_wh"] and values["1.0.1.7.0.255"] == r["p_import_w"]
    assert values["1.0.32.7.0.255"] / 10 == r["u_l1_v"] and values["1.0.71.7.0.255"] / 100 == r["i_l3_a"]
    assert bytes(items[-1]).decode() == r["meter_id"]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_gurux_reads_the_burgenland_reading(seed, capsys):
    frame = Meter(E450_BURGENLAND, seed=seed).frame_at(datetime(2025, 6, 1, 8, 0, 5), 3)
    items = _gurux_items(_gurux_plain(hdlc.split_frame(frame.data)[3][3:], BURGENLAND_TEST_SECURITY))
    r = frame.reading
    assert items[:10] == [r["u_l1_v"], r["u_l2_v"], r["u_l3_v"], round(r["i_l1_a"] * 100), round(r["i_l2_a"] * 100),
                          round(r["i_l3_a"] * 100), r["p_import_w"], r["p_export_w"], r["e_import_wh"],
                          r["e_export_wh"]]
    assert bytes(items[-1]).decode() == r["meter_id"]

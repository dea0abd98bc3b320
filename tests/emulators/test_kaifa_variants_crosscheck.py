"""Cross-check the Kaifa variants against two independent public decoders, over many seeds and every list.

amshan (toreamun/amshan) reads the values-only lists (three-phase and single-phase) and the Swedish
OBIS-code lists; it has no uint64 (A-XDR ``15``), so the CT meter MA304T4's List 3 cannot go through it.
Gurux DLMS (gurux-dlms) reads every frame of every variant, the MA304T4's uint64 energies included:
its HDLC receiver checks flags, length, HCS and FCS, and its A-XDR parser decodes the header and body.
"""

from datetime import datetime, timedelta

import pytest
from gurux_dlms import GXByteBuffer, GXDLMSClient, GXDLMSTranslator
from gurux_dlms.enums import DataType
from han import kaifa
from han.hdlc import HdlcFrameReader

from rig.emulators import Meter, get_profile
from tests.emulators.test_amshan_crosscheck import AMSHAN_FIELDS

PROFILES = ["kaifa-ma105h2e", "kaifa-ma304t3", "kaifa-ma304t4", "kaifa-ma304h4-se", "kaifa-ma304h4d-se",
            "kaifa-ma105h2e-se", "kaifa-ma304t4-se"]
UINT64_PROFILES = {"kaifa-ma304t4", "kaifa-ma304t4-se"}
STARTS = [
    datetime(2024, 10, 1, 18, 59, 50),
    datetime(2024, 1, 15, 6, 59, 40),
    datetime(2023, 3, 26, 1, 59, 56),
    datetime(2025, 7, 4, 23, 59, 58),
]
SEEDS = [1, 2, 17, 12345, 40004, 777]
SCALE = {f"i_l{k}_a": 1000 for k in (1, 2, 3)} | {f"u_l{k}_v": 10 for k in (1, 2, 3)}
TEXT = {"list_version", "meter_id", "meter_type"}
# OBIS code (A.B.C.D.E.F) -> field, written out from KFM_001 (han-protocols.md section 1.4)
OBIS = {
    "1.0.0.2.129.255": "list_version", "0.0.96.1.0.255": "meter_id", "0.0.96.1.7.255": "meter_type",
    "1.0.1.7.0.255": "p_import_w", "1.0.2.7.0.255": "p_export_w",
    "1.0.3.7.0.255": "q_import_var", "1.0.4.7.0.255": "q_export_var",
    "1.0.31.7.0.255": "i_l1_a", "1.0.51.7.0.255": "i_l2_a", "1.0.71.7.0.255": "i_l3_a",
    "1.0.32.7.0.255": "u_l1_v", "1.0.52.7.0.255": "u_l2_v", "1.0.72.7.0.255": "u_l3_v",
    "1.0.1.8.0.255": "e_import_wh", "1.0.2.8.0.255": "e_export_wh",
    "1.0.3.8.0.255": "r_import_varh", "1.0.4.8.0.255": "r_export_varh",
}  # fmt: skip


def frames_of(profile: str, seed: int) -> list:
    meter = Meter(profile, seed=seed, start=STARTS[0], meter_id=f"73401570{seed:08d}")
    frames = []
    for start in STARTS:
        frames += list(meter.frames(start=start, until=start + timedelta(seconds=40)))
    assert {f.list for f in frames} == {1, 2, 3}
    return frames


def amshan_reading(payload: bytes, profile: str) -> dict:
    decoded = kaifa.decode_frame_content(payload)
    reading = {}
    if "meter_datetime" in decoded:
        when = decoded["meter_datetime"]
        reading["timestamp"] = when.isoformat() if when.tzinfo else when.strftime("%Y-%m-%dT%H:%M:%S")
    for key, name in AMSHAN_FIELDS.items():
        if key in decoded:
            reading[name] = decoded[key]
    for name in get_profile(profile).unmeasured_fields:
        if name in reading:
            assert reading[name] == 0  # on the wire
            reading[name] = None  # not measured
    return reading


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("seed", SEEDS)
def test_amshan_decodes_exactly_the_reading(profile, seed):
    frames = [f for f in frames_of(profile, seed) if not (profile in UINT64_PROFILES and f.list == 3)]
    decoded = HdlcFrameReader(use_octet_stuffing=False).read(b"".join(f.data for f in frames))
    assert len(decoded) == len(frames)
    for frame, hdlc_frame in zip(frames, decoded, strict=True):
        assert hdlc_frame.is_good_ffc and hdlc_frame.is_expected_length
        got = amshan_reading(hdlc_frame.payload, profile)
        assert got == frame.reading, frame.at
        assert sorted(got) == sorted(frame.reading)


def gurux_items(data: bytes) -> tuple[object, list]:
    """(header date-time item, body items) of a frame, as gurux decodes them."""
    buffer = GXByteBuffer(data)
    apdu = GXDLMSTranslator().getPdu_0(buffer)  # flags, length, HCS, FCS checked; LLC stripped
    assert buffer.position == len(data)
    assert apdu.getUInt8() == 0x0F and apdu.getUInt32() == 0x40000000
    if apdu.getUInt8(apdu.position) == 0x00:  # no header date-time
        apdu.getUInt8()
        header = None
    else:
        header = GXDLMSClient.getValue(apdu, False)
    body = GXDLMSClient.getValue(apdu, False)
    assert apdu.position == apdu.size
    return header, body


def gurux_timestamp(octets, offset: bool) -> str:
    value = GXDLMSClient.changeType(octets, DataType.DATETIME)
    text = value.value.strftime("%Y-%m-%dT%H:%M:%S")
    if offset:
        assert value.value.utcoffset() == timedelta(hours=1)
        return text + "+01:00"
    return text


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("seed", SEEDS)
def test_gurux_decodes_exactly_the_reading(profile, seed):
    p = get_profile(profile)
    obis = profile == "kaifa-ma304h4-se"
    for frame in frames_of(profile, seed):
        header, body = gurux_items(frame.data)
        got = {}
        if obis:
            assert header is None
            codes = [".".join(map(str, code)) for code in body[0::2]]
            pairs = dict(zip(codes, body[1::2], strict=True))
            clock = pairs.pop("0.0.1.0.0.255", None)
            assert [OBIS[code] for code in pairs] == list(p.fields(frame.list))
            values = list(pairs.values())
            if frame.list == 3:
                got["timestamp"] = gurux_timestamp(clock, offset=True)
            else:
                assert clock is None  # Lists 1 and 2 of the OBIS variant carry no clock
        else:
            got["timestamp"] = gurux_timestamp(header, offset=False)
            values = list(body)
            if frame.list == 3:
                clock = values.pop(len(p.fields(3)) - 4)  # before the four energies
                assert gurux_timestamp(clock, offset=False) == got["timestamp"]
        for name, value in zip(p.fields(frame.list), values, strict=True):
            if name in TEXT:
                got[name] = value.decode("ascii")
            elif name in p.unmeasured_fields:
                assert int(value) == 0
                got[name] = None
            else:
                width = 8 if name.startswith(("e_", "r_")) and profile in UINT64_PROFILES else 4
                assert type(value).__name__ == ("GXUInt64" if width == 8 else "GXUInt32"), (name, value)
                scale = SCALE.get(name, 1)
                got[name] = int(value) if scale == 1 else int(value) / scale
        assert got == frame.reading, (frame.at, frame.list)


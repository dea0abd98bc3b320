"""Aidon and Kamstrup lists (han-protocols.md s.2): the real frames of captures/aidon and captures/kamstrup
decode to their expected values, in any chunking; malformed lists are unknown_format with a clear error.

The Kamstrup reference frame is encrypted (general-glo-ciphering, SC 0x30). Here, to test the list apart
from the decryption (which test_encrypted_captures.py tests), it is decrypted with the `cryptography` package
(keys in the capture header) and the plaintext APDU wrapped in a new HDLC frame; a Kamstrup list built by
hand from the spec layout (``kamstrup_no_list``) runs too.
"""

import random

import han_testdata as td
import pytest
from han_testdata import fw_reading, run

from dut_firmware import message
from dut_firmware.han import aidon, kamstrup
from dut_firmware.han.decoder import Decoder, decode_apdu
from tests.spec_frames import LIST1_HEX, load_reference_frames, unhex

FRAMES = load_reference_frames()
AIDON = [f for f in FRAMES if f["make"] == "Aidon" and not f["encrypted"]]
KAMSTRUP = next(f for f in FRAMES if f["id"] == "kamstrup_omnipower_hdlc_enc")

# Values the source does not state (or states through a float32), read by hand from the frames' bytes
EXTRA_EXPECTED = {
    # 1.0.1.8.0 06 00A729D9 scaler +1: 10955225 x 10 Wh. amsreader prints 109552248, the float32 nearest
    # to 109552250 (the float32 step there is 8); the clock 07E9 0C 0E 00 10 00 00 FF 0000 00
    "aidon_no_gh1119_1_l3": {"e_import_wh": 109552250, "q_export_var": 472, "r_import_varh": 130480,
                             "r_export_varh": 15319720, "meter_type": "6534",
                             "list_version": "AIDON_V0001", "timestamp": "2025-12-14T16:00:00"},
    # per-phase powers 1.0.21..64.7.0 (scaler 0): only L2 carries load; reactive L2 0x05E2
    "aidon_se_3ph_docexample": {"p_l1_import_w": 0, "p_l2_import_w": 1122, "p_l3_import_w": 0,
                                "p_l2_export_w": 0, "q_l2_import_var": 1506, "q_l3_export_var": 0},
}
LISTS = {"aidon_no_1ph_l2_esphome": 2, "aidon_no_gh1119_1_l3": 3, "aidon_se_3ph_docexample": 3}

# The decrypted Omnipower list: expected_raw of the capture, scaled as Kamstrup documents
# (W / var, 1 V, 0.01 A, 10 Wh / 10 varh); per-phase P+ 1.1.21/41/61.7.0 read from the plaintext.
KAMSTRUP_EXPECTED = {
    "list_version": "Kamstrup_V0001", "timestamp": "2026-03-12T15:24:30",
    "p_import_w": 1083, "p_export_w": 0, "q_import_var": 0, "q_export_var": 718,
    "u_l1_mv": 222000, "u_l2_mv": 221000, "u_l3_mv": 227000, "i_l1_ma": 570, "i_l2_ma": 2280, "i_l3_ma": 3330,
    "e_import_wh": 63074980, "e_export_wh": 0, "r_import_varh": 3263600, "r_export_varh": 21240570,
    "p_l1_import_w": 36, "p_l2_import_w": 424, "p_l3_import_w": 623,
    "p_l1_export_w": 0, "p_l2_export_w": 0, "p_l3_export_w": 0,
}  # fmt: skip


def _check(reading, expected):
    """``expected`` in SI (a capture's) or the firmware's units: every value exact, an int (mA, mV)."""
    for field, want in fw_reading(expected).items():
        assert field in reading, field
        got = reading[field]
        assert got == want and type(got) is type(want), (field, got, want)


# -- Aidon ------------------------------------------------------------------------------------------
def test_aidon_reference_frames_present():
    assert {f["id"] for f in AIDON} == set(LISTS)


@pytest.mark.parametrize("frame", AIDON, ids=[f["id"] for f in AIDON])
def test_aidon_reference_frame(frame):
    results, counters = run(unhex(frame["data_hex"]))
    assert len(results) == 1 and counters["frames_ok"] == 1, results
    r = results[0]
    assert r["ok"] and r["format"] == "hdlc/aidon" and r["list"] == LISTS[frame["id"]]
    expected = dict(frame["expected"])
    extra = EXTRA_EXPECTED.get(frame["id"], {})
    if "e_import_wh" in extra:
        assert abs(expected.pop("e_import_wh") - extra["e_import_wh"]) <= 8
    _check(r["reading"], expected)
    _check(r["reading"], extra)


def test_aidon_single_phase_carries_only_l1():
    frame = next(f for f in AIDON if f["id"] == "aidon_no_1ph_l2_esphome")
    reading = run(unhex(frame["data_hex"]))[0][0]["reading"]
    assert set(reading) == set(fw_reading(frame["expected"]))  # exactly the fields on the wire


def _aidon_item(obis, value, scaler=None, unit=0x1B):
    """An Aidon list element: 02 02 (OBIS)(value) or 02 03 (OBIS)(value)(02 02 0F scaler 16 unit)."""
    item = (b"\x02\x03" if scaler is not None else b"\x02\x02") + b"\x09\x06" + bytes(obis) + value
    if scaler is not None:
        item += bytes([0x02, 0x02, 0x0F, scaler & 0xFF, 0x16, unit])
    return item


def _aidon_frame(*items):
    apdu = b"\x0f\x40\x00\x00\x00\x00\x01" + bytes([len(items)]) + b"".join(items)
    return td.build_hdlc(b"\xe6\xe7\x00" + apdu, address=b"\x41\x08\x83", control=0x13)


def test_aidon_scalers_are_exact_and_unknown_codes_ignored():
    frame = _aidon_frame(
        _aidon_item([1, 0, 31, 7, 0, 255], b"\x10\x00\x5d", -1, 0x21),  # 9.3 A
        _aidon_item([1, 0, 51, 7, 0, 255], b"\x10\xff\xfd", -2, 0x21),  # -0.03 A (signed int16)
        _aidon_item([1, 0, 32, 7, 0, 255], b"\x12\x09\x03", -1, 0x23),  # 230.7 V
        _aidon_item([1, 0, 1, 8, 0, 255], b"\x06\x00\xa7\x29\xd9", 1, 0x1E),  # 109552250 Wh
        _aidon_item([1, 0, 2, 8, 0, 255], b"\x06\x00\x00\x00\x07", 3, 0x1E),  # 7 kWh
        _aidon_item([1, 0, 99, 98, 0, 255], b"\x06\x00\x00\x00\x01", 0),  # unknown: ignored
        _aidon_item([1, 0, 1, 7, 0, 255], b"\x06\x00\x00\x0f\xbb"),  # no scaler-unit: W
    )
    (r,), counters = run(frame)
    assert r["ok"] and r["format"] == "hdlc/aidon" and r["list"] == 3
    assert r["reading"] == {"i_l1_ma": 9300, "i_l2_ma": -30, "u_l1_mv": 230700, "e_import_wh": 109552250,
                            "e_export_wh": 7000, "p_import_w": 4027}
    assert all(type(v) is int for v in r["reading"].values())


def test_aidon_list1():
    (r,), _ = run(_aidon_frame(_aidon_item([1, 0, 1, 7, 0, 255], b"\x06\x00\x00\x05\x52", 0)))
    assert (r["format"], r["list"], r["reading"]) == ("hdlc/aidon", 1, {"p_import_w": 1362})


@pytest.mark.parametrize("body,message", [
    (b"\x01\x01\x06\x00\x00\x00\x01", "aidon element 0 is not an OBIS structure"),
    (b"\x01\x01\x02\x02\x06\x00\x00\x00\x01\x06\x00\x00\x00\x01", "aidon element 0 is not an OBIS structure"),
    (b"\x01\x01\x02\x02\x09\x03\x01\x00\x01\x06\x00\x00\x00\x01", "aidon element 0 is not an OBIS structure"),
    (b"\x01\x01\x02\x03\x09\x06\x01\x00\x01\x07\x00\xff\x06\x00\x00\x00\x01\x06\x00\x00\x00\x01",
     "aidon element 0 has no scaler-unit"),
    (b"\x01\x01" + _aidon_item([1, 0, 99, 7, 0, 255], b"\x06\x00\x00\x00\x01", 0), "no known OBIS code"),
    (b"\x01\x01" + _aidon_item([1, 0, 1, 7, 0, 255], b"\x0a\x01x", 0), "unexpected value type for p_import_w"),
], ids=["not-a-structure", "no-obis", "short-obis", "bad-scaler-unit", "no-known-code", "string-power"])
def test_malformed_aidon_list_is_unknown_format(body, message):
    frame = td.build_hdlc(b"\xe6\xe7\x00\x0f\x40\x00\x00\x00\x00" + body, address=b"\x41\x08\x83", control=0x13)
    results, counters = run(frame + unhex(LIST1_HEX))
    assert not results[0]["ok"] and results[0]["format"] == "hdlc"
    assert results[0]["error"].startswith("unknown ") and message in results[0]["error"]  # its counter's word
    assert counters["unknown_format"] == 1 and counters["frames_ok"] == 1  # the next frame still decodes


def test_aidon_decode_direct_errors():
    with pytest.raises(ValueError, match="aidon element 1 is not an OBIS structure"):
        aidon.decode([[bytes([1, 0, 1, 7, 0, 255]), 5], [b"abc", 1]])


# -- Kamstrup ---------------------------------------------------------------------------------------
def _obis(a, b, c, d, e):
    return b"\x09\x06" + bytes([a, b, c, d, e, 255])


def _u32(v):
    return b"\x06" + v.to_bytes(4, "big")


def _u16(v):
    return b"\x12" + v.to_bytes(2, "big")


def kamstrup_no_list(hourly=False):
    """A Kamstrup List 1 (`02 19`) or hourly List 2 (`02 23`) from the spec layout (values of amsreader's
    example list: meter 5706567274389702, type 6841121BN243101040), as an HDLC frame (Kamstrup 8N1, `0C`
    date-time in the header, long-invoke-id 0)."""
    items = [b"\x0a\x0eKamstrup_V0001",
             _obis(1, 1, 0, 0, 5), b"\x0a\x105706567274389702",
             _obis(1, 1, 96, 1, 1), b"\x0a\x126841121BN243101040",
             _obis(1, 1, 1, 7, 0), _u32(1468), _obis(1, 1, 2, 7, 0), _u32(0),
             _obis(1, 1, 3, 7, 0), _u32(0), _obis(1, 1, 4, 7, 0), _u32(498),
             _obis(1, 1, 31, 7, 0), _u32(359), _obis(1, 1, 51, 7, 0), _u32(226), _obis(1, 1, 71, 7, 0), _u32(302),
             _obis(1, 1, 32, 7, 0), _u16(229), _obis(1, 1, 52, 7, 0), _u16(230), _obis(1, 1, 72, 7, 0), _u16(231)]
    clock = bytes.fromhex("07E30A0E0112000AFF800000")  # 2019-10-14 18:00:10, deviation unspecified
    if hourly:
        items += [_obis(0, 1, 1, 0, 0), b"\x09\x0c" + clock,
                  _obis(1, 1, 1, 8, 0), _u32(2963174), _obis(1, 1, 2, 8, 0), _u32(1),
                  _obis(1, 1, 3, 8, 0), _u32(49087), _obis(1, 1, 4, 8, 0), _u32(1048012)]
    apdu = b"\x0f\x00\x00\x00\x00\x0c" + clock + b"\x02" + bytes([len(items)]) + b"".join(items)
    return td.build_hdlc(b"\xe6\xe7\x00" + apdu, address=b"\x2b\x21", control=0x13)


KAMSTRUP_NO_L1 = {
    "timestamp": "2019-10-14T18:00:10", "list_version": "Kamstrup_V0001", "meter_id": "5706567274389702",
    "meter_type": "6841121BN243101040", "p_import_w": 1468, "p_export_w": 0, "q_import_var": 0,
    "q_export_var": 498, "i_l1_ma": 3590, "i_l2_ma": 2260, "i_l3_ma": 3020, "u_l1_mv": 229000, "u_l2_mv": 230000,
    "u_l3_mv": 231000,
}
KAMSTRUP_NO_L2 = {**KAMSTRUP_NO_L1, "e_import_wh": 29631740, "e_export_wh": 10, "r_import_varh": 490870,
                  "r_export_varh": 10480120}


@pytest.mark.parametrize("hourly,list_no,expected", [(False, 1, KAMSTRUP_NO_L1), (True, 2, KAMSTRUP_NO_L2)])
def test_kamstrup_list_from_the_spec_layout(hourly, list_no, expected):
    frame = kamstrup_no_list(hourly)
    (r,), counters = run(frame)
    assert r["ok"] and r["format"] == "hdlc/kamstrup" and r["list"] == list_no
    assert r["reading"] == expected
    _check(r["reading"], expected)


def kamstrup_plaintext_frame():
    """The Omnipower reference frame, decrypted (AES-GCM keystream with the capture's key_ek) and wrapped in
    an HDLC frame with the original addresses. Skips the test without the `cryptography` package."""
    ciphers = pytest.importorskip("cryptography.hazmat.primitives.ciphers")
    data = unhex(KAMSTRUP["data_hex"])
    assert data[3:6] == b"\x41\x03\x13"  # DA 0x41 (1 byte), SA 0x03, UI frame
    apdu = data[11:-3]  # after flag, format (2), addresses, control, HCS, LLC E6 E7 00
    assert apdu[:2] == b"\xdb\x08" and apdu[10] == 0x82
    system_title = apdu[2:10]
    length = int.from_bytes(apdu[11:13], "big")
    sc, ic, body = apdu[13], apdu[14:18], apdu[18:13 + length]
    assert sc == 0x30 and len(body) == length - 5  # SC + IC + ciphertext + 12-byte tag
    # GCM encryption is AES-CTR from counter block IV || 00000002 (IV = system title || IC); the tag (checked
    # by the firmware with key_ak, test_encrypted_captures.py) is left out here.
    key = bytes.fromhex(KAMSTRUP["key_ek"])
    ctr = ciphers.Cipher(ciphers.algorithms.AES(key), ciphers.modes.CTR(system_title + ic + b"\x00\x00\x00\x02"))
    plain = ctr.decryptor().update(body[:-12])
    assert plain[:1] == b"\x0f"  # a DATA-NOTIFICATION: the key is right
    return td.build_hdlc(b"\xe6\xe7\x00" + plain, address=b"\x41\x03", control=0x13)


def test_kamstrup_reference_frame_without_key_is_a_decrypt_error():
    results, counters = run(unhex(KAMSTRUP["data_hex"]))
    assert counters["decrypt_errors"] == 1 and counters["frames_ok"] == 0, results


def test_kamstrup_reference_frame_decrypted():
    (r,), counters = run(kamstrup_plaintext_frame())
    assert r["ok"] and r["format"] == "hdlc/kamstrup" and r["list"] == 2
    _check(r["reading"], KAMSTRUP["expected"])
    _check(r["reading"], KAMSTRUP_EXPECTED)
    raw = KAMSTRUP["expected_raw"]
    assert r["reading"]["p_import_w"] == raw["1.1.1.7.0.255"]
    assert r["reading"]["u_l3_mv"] == raw["1.1.72.7.0.255"] * 1000
    assert r["reading"]["i_l3_ma"] == raw["1.1.71.7.0.255"] * 10
    assert r["reading"]["e_import_wh"] == raw["1.1.1.8.0.255"] * 10
    # the per-phase powers add up to the total
    assert sum(r["reading"][f"p_l{k}_import_w"] for k in (1, 2, 3)) == r["reading"]["p_import_w"]
    # power factors, per-phase energies and the meter number (1.1.0.0.1) are not reading fields
    assert set(r["reading"]) == set(KAMSTRUP_EXPECTED)


@pytest.mark.parametrize("body,message", [
    ([], "not a version and pairs"),
    (["Kamstrup_V0001", bytes([1, 1, 1, 7, 0, 255])], "kamstrup list of 2 elements"),
    (["Kamstrup_V0001", 5, 6], "kamstrup element 1 is not an OBIS code"),
    (["Kamstrup_V0001", bytes([1, 1, 99, 7, 0, 255]), 6], "no known OBIS code"),
    (["Kamstrup_V0001", bytes([1, 1, 32, 7, 0, 255]), b"x"], "unexpected value type for u_l1_mv"),
])
def test_kamstrup_errors(body, message):
    with pytest.raises(ValueError, match=message):
        kamstrup.decode(body, None)


def test_malformed_kamstrup_list_in_a_frame_is_unknown_format():
    apdu = b"\x0f\x00\x00\x00\x00\x00\x02\x02\x0a\x0eKamstrup_V0001\x06\x00\x00\x00\x01"
    frame = td.build_hdlc(b"\xe6\xe7\x00" + apdu, address=b"\x2b\x21", control=0x13)
    results, counters = run(frame)
    assert results == [{"ok": False, "code": "unknown_format", "format": "hdlc",
                        "error": "unknown list: kamstrup list of 2 elements, not a version and pairs"}]
    assert counters["unknown_format"] == 1


# -- streams and the published message -----------------------------------------------------------
def _stream_frames():
    frames = [unhex(f["data_hex"]) for f in AIDON] + [kamstrup_no_list(), kamstrup_no_list(True)]
    return frames + [unhex(LIST1_HEX)]


def test_any_chunking_gives_the_same_results():
    data = b"".join(_stream_frames())
    whole, counters = run(data)
    assert counters["frames_ok"] == len(AIDON) + 3 and sum(counters.values()) == counters["frames_ok"]
    assert [r["format"] for r in whole] == ["hdlc/aidon"] * len(AIDON) + ["hdlc/kamstrup"] * 2 + ["hdlc/kaifa-kfm001"]
    assert run(data, chunks=[1] * len(data)) == (whole, counters)
    rng = random.Random(7)
    for _ in range(10):
        sizes = [rng.randint(1, 200) for _ in range(len(data) // 30)]
        assert run(data, chunks=sizes) == (whole, counters)


def test_decode_apdu_dispatches_by_content():
    frame = next(f for f in AIDON if f["id"] == "aidon_no_1ph_l2_esphome")
    assert decode_apdu(td.info_of(unhex(frame["data_hex"]))[3:])["meter_type"] == "6515"
    assert Decoder().feed(kamstrup_no_list())[0]["format"] == "hdlc/kamstrup"


def test_message_carries_per_phase_powers_and_reactive_energies():
    frame = next(f for f in AIDON if f["id"] == "aidon_se_3ph_docexample")
    reading = run(unhex(frame["data_hex"]))[0][0]["reading"]
    text = message.build(reading, None, 3)
    assert '"pi":[1122,0,1122,0]' in text and '"pe":[0,0,0,0]' in text and '"p":[1122,0,1122,0]' in text
    assert '"ri":[1507,0,1506,0]' in text and '"r":[1507,0,1506,0]' in text
    assert '"ic":10049.926' in text and '"ec":0.008' in text
    assert '"ric":6614.347' in text and '"rec":0.005' in text
    assert '"u":[230.7,249.9,230.8]' in text and '"i":[0.000,7.500,0.000]' in text
    # Kamstrup: whole volts and 0.01 A steps render exactly
    k = run(kamstrup_no_list(True))[0][0]["reading"]
    text = message.build(k, None, 2)
    assert '"u":[229.0,230.0,231.0]' in text and '"i":[3.590,2.260,3.020]' in text
    assert '"ic":29631.740' in text and '"meter_type":"6841121BN243101040"' in text and '"list":2' in text


# -- cross check with the rig's encoders (written apart from the firmware; the firmware is judged above on
# the real frames) -------------------------------------------------------------------------------------
@pytest.mark.parametrize("meter_id,fmt", [("aidon-6534", "hdlc/aidon"), ("kamstrup-omnipower", "hdlc/kamstrup")])
def test_rig_encoded_frames_decode_to_their_readings(meter_id, fmt):
    from datetime import datetime

    from rig.emulators import Meter, get_profile

    meter = Meter(get_profile(meter_id), seed=3, start=datetime(2026, 1, 5, 16, 59, 50))
    frames = list(meter.frames(until=datetime(2026, 1, 5, 17, 0, 20)))
    assert {f.list for f in frames} == ({1, 2, 3} if fmt == "hdlc/aidon" else {1, 2})
    results, counters = run(b"".join(f.data for f in frames))
    assert counters["frames_ok"] == len(frames) == len(results)
    for frame, r in zip(frames, results, strict=True):
        assert r["format"] == fmt and r["list"] == frame.list
        want = {k: v for k, v in fw_reading(frame.reading).items() if v is not None}
        assert set(r["reading"]) == set(want), (frame.list, set(r["reading"]) ^ set(want))
        for field, value in want.items():
            assert r["reading"][field] == value and type(r["reading"][field]) is type(value), (frame.list, field)

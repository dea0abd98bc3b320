"""P1 ASCII telegrams in the HAN decoder: framing, CRC-16/ARC, chunking, garbage, OBIS values, state/message.

Independent of the module under test: crafted telegrams get their CRC from the bitwise CRC-16/ARC below,
and the real telegrams come from the capture library (the ``reference_frames`` fixture).
"""

import asyncio
import json
import random

import pytest
from han_testdata import fw_reading, run

from dut_firmware import message
from dut_firmware import state as state_mod
from dut_firmware.han import dsmr
from dut_firmware.han.decoder import Decoder
from dut_firmware.services import modbus
from tests.spec_frames import LIST1_HEX, LIST2_HEX, load_reference_frames, unhex

OSLO = "CET-1CEST,M3.5.0,M10.5.0/3"
L1 = unhex(LIST1_HEX)
L2 = unhex(LIST2_HEX)
E360_ID = "lg_e360_se_gh382_p1"  # a Swedish E360, every line of the P1 data set; ends !2154
CRC_MISMATCH_IDS = {"kaifa_pl_gh1067_p1_ascii"}  # the source's own telegram fails its CRC
# module level: the test ids name the telegrams (elsewhere the `reference_frames` fixture serves)
P1_FRAMES = [f for f in load_reference_frames() if f["kind"] == "p1"]


def crc_arc(data: bytes) -> int:
    """Bitwise CRC-16/ARC (reflected 0xA001, init 0, no xorout), independent of dut_firmware.han.crc."""
    crc = 0
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def telegram(*lines: str, ident: str = "LGF5E360", crc: bool = True) -> bytes:
    """A telegram with these data lines, its CRC (or, with crc=False, the old '!' CRLF end)."""
    body = ("/" + ident + "\r\n\r\n" + "".join(line + "\r\n" for line in lines) + "!").encode()
    return body + (b"%04X\r\n" % crc_arc(body) if crc else b"\r\n")


def one(data):
    """The single result of a stream holding one frame."""
    results, _ = run(data)
    assert len(results) == 1, results
    return results[0]


def reading(*lines, **kwargs):
    r = one(telegram(*lines, **kwargs))
    assert r["ok"] is True, r
    return r["reading"]


def errors(results):
    return [r["error"] for r in results if not r["ok"]]


@pytest.fixture(scope="module")
def p1_frames(reference_frames):
    return {f["id"]: f["data_text"].encode() for f in reference_frames if f["kind"] == "p1"}


@pytest.fixture(scope="module")
def e360(p1_frames):
    return p1_frames[E360_ID]


# -- the real telegrams ----------------------------------------------------------------------------
def test_reference_p1_telegrams_present(p1_frames):
    assert {E360_ID, "lg_e360_dk_gh497_p1", "lg_e360_amshan_example_a_p1", "lg_e360_amshan_example_d_p1",
            "kaifa_pl_gh1067_p1_ascii"} <= set(p1_frames)
    assert p1_frames[E360_ID].endswith(b"!2154\r\n")


@pytest.mark.parametrize("frame", P1_FRAMES, ids=[f["id"] for f in P1_FRAMES])
def test_reference_p1_telegram(frame):
    data = frame["data_text"].encode()
    results, counters = run(data)
    assert len(results) == 1, results
    r = results[0]
    if frame["id"] in CRC_MISMATCH_IDS:
        assert r == {"ok": False, "code": "checksum", "format": "p1", "error": r["error"]}
        assert r["error"].startswith("crc mismatch: ")
        assert counters["checksum_errors"] == 1 and counters["frames_ok"] == 0
        return
    assert r["ok"] is True and r["format"] == "p1/dsmr" and r["list"] is None
    got = r["reading"]
    for field, want in fw_reading(frame["expected"]).items():
        assert got[field] == want and type(got[field]) is type(want), (field, got[field], want)
    assert got["meter_type"] == "E360" and got["list_version"] == "LGF5E360"
    assert counters["frames_ok"] == 1
    assert run(data, chunks=[1] * len(data))[0] == results


def test_e360_telegram_every_value(e360):
    assert one(e360)["reading"] == {
        "list_version": "LGF5E360", "meter_type": "E360", "timestamp": "2022-12-15T15:50:50",
        "e_import_wh": 2721126, "e_export_wh": 0, "r_import_varh": 1384336, "r_export_varh": 90,
        "p_import_w": 4190, "p_export_w": 0, "q_import_var": 292, "q_export_var": 0,
        "p_l1_import_w": 1980, "p_l1_export_w": 0, "p_l2_import_w": 354, "p_l2_export_w": 0,
        "p_l3_import_w": 1855, "p_l3_export_w": 0,
        "q_l1_import_var": 1072, "q_l1_export_var": 0, "q_l2_import_var": 265, "q_l2_export_var": 0,
        "q_l3_import_var": 0, "q_l3_export_var": 1044,
        "u_l1_mv": 230700, "u_l2_mv": 230100, "u_l3_mv": 231000, "i_l1_ma": 9700, "i_l2_ma": 1900, "i_l3_ma": 9200,
    }  # fmt: skip


def test_kaifa_p1_values_behind_its_bad_crc(p1_frames):
    # the checksum fails in the source; the values themselves still read as the issue shows them
    got = dsmr.decode(p1_frames["kaifa_pl_gh1067_p1_ascii"])
    assert got == {
        "list_version": "KFM5KAIFA-METER", "meter_type": "KAIFA-METER", "timestamp": "2025-11-25T10:56:43",
        "meter_id": "30057775", "e_import_wh": 336420, "e_export_wh": 0, "p_import_w": 132, "p_export_w": 0,
        "q_import_var": 0, "q_export_var": 257, "u_l1_mv": 229600, "u_l2_mv": 229100, "u_l3_mv": 230300,
    }  # fmt: skip


def test_smarty_telegram_inside_its_gcm_envelope(reference_frames):
    # the Smarty's P1 telegram comes AES-GCM encrypted (kind ggc-p1); the test opens the envelope itself
    pytest.importorskip("cryptography", reason="the cryptography package opens the Smarty's GCM envelope")
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    frame = next(f for f in reference_frames if f["id"] == "smarty_lu_ggc_p1")
    raw = bytes.fromhex(frame["data_hex"])
    # DB | 08 system title | 82 length(2) | security 30 | frame counter(4) | ciphertext | tag(12)
    assert raw[0] == 0xDB and raw[1] == 8 and raw[10] == 0x82 and raw[13] == 0x30
    body = raw[18:13 + int.from_bytes(raw[11:13], "big")]
    dec = Cipher(algorithms.AES(bytes.fromhex(frame["key_ek"])),
                 modes.GCM(raw[2:10] + raw[14:18], body[-12:], min_tag_length=12)).decryptor()
    dec.authenticate_additional_data(raw[13:14] + bytes.fromhex(frame["key_ak"]))
    plain = dec.update(body[:-12]) + dec.finalize()
    assert plain.startswith(b"/Lux5\\253663629_D\r\n")
    # its CRC fails in the source too: counted, nothing published
    r = one(plain)
    assert not r["ok"] and r["error"].startswith("crc mismatch: ") and "reading" not in r
    got = dsmr.decode(plain)
    for field, want in fw_reading(frame["expected"]).items():
        assert got[field] == want and type(got[field]) is type(want), (field, got[field], want)
    assert got["q_export_var"] == 7  # '1-0:4.7.0(00.007)': no unit, the DSMR kvar
    assert got["meter_type"] == "53663629_D"


# -- values ----------------------------------------------------------------------------------------
def test_every_obis_line_maps_to_its_field():
    got = reading(
        "0-0:1.0.0(240630235959S)", "0-0:96.1.0(3132333435)",
        "1-0:1.8.0(00000001.001*kWh)", "1-0:2.8.0(00000002.002*kWh)",
        "1-0:3.8.0(00000003.003*kVArh)", "1-0:4.8.0(00000004.004*kvarh)",
        "1-0:1.7.0(0001.100*kW)", "1-0:2.7.0(0002.200*kW)", "1-0:3.7.0(0003.300*kVAr)", "1-0:4.7.0(0004.400*kvar)",
        "1-0:21.7.0(0.021*kW)", "1-0:22.7.0(0.022*kW)", "1-0:41.7.0(0.041*kW)", "1-0:42.7.0(0.042*kW)",
        "1-0:61.7.0(0.061*kW)", "1-0:62.7.0(0.062*kW)", "1-0:23.7.0(0.023*kVAr)", "1-0:24.7.0(0.024*kVAr)",
        "1-0:43.7.0(0.043*kVAr)", "1-0:44.7.0(0.044*kVAr)", "1-0:63.7.0(0.063*kVAr)", "1-0:64.7.0(0.064*kVAr)",
        "1-0:32.7.0(230.1*V)", "1-0:52.7.0(230.2*V)", "1-0:72.7.0(230.3*V)",
        "1-0:31.7.0(001.1*A)", "1-0:51.7.0(002.2*A)", "1-0:71.7.0(003.3*A)",
    )  # fmt: skip
    assert got == {
        "list_version": "LGF5E360", "meter_type": "E360", "timestamp": "2024-06-30T23:59:59", "meter_id": "12345",
        "e_import_wh": 1001, "e_export_wh": 2002, "r_import_varh": 3003, "r_export_varh": 4004,
        "p_import_w": 1100, "p_export_w": 2200, "q_import_var": 3300, "q_export_var": 4400,
        "p_l1_import_w": 21, "p_l1_export_w": 22, "p_l2_import_w": 41, "p_l2_export_w": 42,
        "p_l3_import_w": 61, "p_l3_export_w": 62, "q_l1_import_var": 23, "q_l1_export_var": 24,
        "q_l2_import_var": 43, "q_l2_export_var": 44, "q_l3_import_var": 63, "q_l3_export_var": 64,
        "u_l1_mv": 230100, "u_l2_mv": 230200, "u_l3_mv": 230300, "i_l1_ma": 1100, "i_l2_ma": 2200, "i_l3_ma": 3300,
    }  # fmt: skip
    for field, value in got.items():
        want = str if field in ("list_version", "meter_type", "timestamp", "meter_id") else int
        assert type(value) is want, (field, value)


@pytest.mark.parametrize(("line", "field", "want"), [
    ("1-0:1.8.0(00002721.126*kWh)", "e_import_wh", 2721126),
    ("1-0:1.8.0(99999999.999*kWh)", "e_import_wh", 99999999999),
    ("1-0:1.8.0(12*kWh)", "e_import_wh", 12000),
    ("1-0:1.8.0(1234.5*Wh)", "e_import_wh", 1235),           # more decimals than Wh: the nearest
    ("1-0:1.7.0(0.123*kW)", "p_import_w", 123),
    ("1-0:1.7.0(01.193*kW)", "p_import_w", 1193),
    ("1-0:1.7.0(0.0004*kW)", "p_import_w", 0),
    ("1-0:1.7.0(0.0005*kW)", "p_import_w", 1),
    ("1-0:2.7.0(750*W)", "p_export_w", 750),
    ("1-0:4.7.0(00.257*kvar)", "q_export_var", 257),
    ("1-0:3.8.0(00001384.336*KVARH)", "r_import_varh", 1384336),
    ("1-0:32.7.0(230.7*V)", "u_l1_mv", 230700),
    ("1-0:32.7.0(0230.70*V)", "u_l1_mv", 230700),
    ("1-0:32.7.0(230.0005*V)", "u_l1_mv", 230001),         # finer than mV: half away from zero
    ("1-0:32.7.0(230.0004*V)", "u_l1_mv", 230000),
    ("1-0:31.7.0(009.7*A)", "i_l1_ma", 9700),
    ("1-0:31.7.0(001*A)", "i_l1_ma", 1000),
    ("1-0:51.7.0(12.345*A)", "i_l2_ma", 12345),
    ("1-0:4.7.0(00.007)", "q_export_var", 7),                 # no unit: the DSMR one (kvar)
])  # fmt: skip
def test_exact_decimals(line, field, want):
    got = reading(line)[field]
    assert got == want and type(got) is int  # exact integers in the base unit, never a float


def test_tariff_registers_are_summed_only_without_a_total():
    got = reading("1-0:1.8.1(000100.001*kWh)", "1-0:1.8.2(000020.002*kWh)",
                  "1-0:2.8.1(000001.000*kWh)", "1-0:2.8.2(000000.500*kWh)")
    assert got["e_import_wh"] == 120003 and got["e_export_wh"] == 1500
    got = reading("1-0:1.8.0(000336.420*kWh)", "1-0:1.8.1(000300.000*kWh)", "1-0:1.8.2(000036.000*kWh)")
    assert got["e_import_wh"] == 336420 and "e_export_wh" not in got


def test_meter_ids():
    assert reading("0-0:96.1.1(4B384547303034303436333935353037)")["meter_id"] == "K8EG004046395507"
    assert reading("0-0:96.1.0(6970631401753985)")["meter_id"] == "6970631401753985"  # hex, not printable
    assert reading("0-0:96.1.0(12345)")["meter_id"] == "12345"                        # odd length
    assert reading("0-0:96.1.0(E360-0042)")["meter_id"] == "E360-0042"                # not hex
    # 96.1.0 wins over 96.1.1 (the Kaifa P1 sends its model there); an M-Bus channel's id is not the meter's
    got = reading("0-0:96.1.1(4D413330394D)", "0-0:96.1.0(3330303537373735)", "0-1:96.1.0(3232323241)")
    assert got["meter_id"] == "30057775"
    assert reading("0-0:96.1.0()", "1-0:1.7.0(0.001*kW)") == {
        "list_version": "LGF5E360", "meter_type": "E360", "p_import_w": 1}


def test_timestamp_and_ident_line():
    assert reading("0-0:1.0.0(221215155050W)")["timestamp"] == "2022-12-15T15:50:50"
    assert reading("0-0:1.0.0(230327064230S)")["timestamp"] == "2023-03-27T06:42:30"
    assert reading("0-0:1.0.0(230327064230)")["timestamp"] == "2023-03-27T06:42:30"  # no DST flag
    got = reading("1-0:1.7.0(0.1*kW)", ident="ISk5\\2MT382-1000")
    assert got["list_version"] == "ISk5\\2MT382-1000" and got["meter_type"] == "MT382-1000"
    assert reading("1-0:1.7.0(0.1*kW)", ident="KFM5KAIFA-METER")["meter_type"] == "KAIFA-METER"


def test_unknown_lines_are_ignored():
    got = reading("1-3:0.2.8(50)", "0-0:96.14.0(0002)", "0-0:96.13.0()", "0-1:24.2.1(101209112500W)(12785.123*m3)",
                  "(00012.345)", "1-0:32.32.0(00044)", "1-0:99.97.0(1)(0-0:96.7.19)(101208152415W)(0000000240*s)",
                  "1-0:1.7.0(01.193*kW)", "just text")
    assert got == {"list_version": "LGF5E360", "meter_type": "E360", "p_import_w": 1193}


@pytest.mark.parametrize("line", [
    "1-0:32.7.0(abc*V)", "1-0:32.7.0(230.7*A)", "1-0:1.7.0(1.0*kWh)", "1-0:1.7.0(*kW)", "1-0:1.7.0(.5*kW)",
    "1-0:1.7.0(5.*kW)", "1-0:1.7.0(-1.0*kW)", "1-0:1.7.0(1.0.0*kW)", "1-0:1.7.0()", "1-0:1.7.0(1.0*kW",
    "1-0:32.7.0(230.7*kV)", "0-0:1.0.0(221315155050W)", "0-0:1.0.0(221215155050X)", "0-0:1.0.0(2212151550)",
])  # fmt: skip
def test_a_bad_value_of_a_known_line_is_unknown_format(line):
    results, counters = run(telegram("1-0:2.7.0(0.000*kW)", line))
    assert errors(results) == ["unknown format: bad value in line " + line]
    assert results[0]["format"] == "p1" and counters["unknown_format"] == 1 and counters["frames_ok"] == 0


def test_a_telegram_without_known_lines_is_unknown_format():
    assert errors(run(telegram("1-3:0.2.8(50)"))[0]) == ["unknown format: no known OBIS line in the telegram"]


# -- framing and checksum --------------------------------------------------------------------------
def test_crc_good_bad_and_absent(e360):
    bad = e360.replace(b"230.7*V", b"231.7*V")
    results, counters = run(bad + e360)
    assert errors(results) == [f"crc mismatch: telegram says 2154, computed {crc_arc(bad[:bad.index(b'!') + 1]):04X}"]
    assert results[0]["format"] == "p1" and "reading" not in results[0]
    assert counters["checksum_errors"] == 1 and counters["frames_ok"] == 1 and counters["framing_errors"] == 0
    no_crc = telegram("1-0:1.7.0(0.5*kW)", crc=False)
    assert no_crc.endswith(b")\r\n!\r\n")
    assert one(no_crc)["reading"]["p_import_w"] == 500



def test_crc_in_lower_case_hex(p1_frames):
    example_a = p1_frames["lg_e360_amshan_example_a_p1"]
    assert one(example_a.replace(b"!A077", b"!a077"))["ok"]


def test_no_checksum_after_the_bang(e360):
    # '!' then neither 4 hex digits nor CRLF: a checksum error; the telegram after it still decodes
    for end in (b"!\r\r\n", b"!12\r\n", b"!XYZW\r\n", b"!\n"):
        bad = e360[:e360.index(b"!")] + end
        results, counters = run(bad + e360)
        assert errors(results) == ["crc mismatch: no checksum after '!'"], end
        assert counters["frames_ok"] == 1 and counters["framing_errors"] == 0


def test_telegrams_back_to_back_with_and_without_crlf_after_the_crc(p1_frames, e360):
    example_a = p1_frames["lg_e360_amshan_example_a_p1"]
    assert example_a.endswith(b"!A077")
    results, counters = run(example_a + e360 + example_a + L1 + example_a)
    assert [r["format"] for r in results] == ["p1/dsmr"] * 3 + ["hdlc/kaifa-kfm001", "p1/dsmr"]
    assert counters["framing_errors"] == 0


def test_any_chunking_gives_the_same_results(p1_frames, e360):
    data = (b"".join(p1_frames.values()) + b"noise/" + e360.replace(b"9.7*A", b"9.8*A") + L2
            + telegram("1-0:1.7.0(0.5*kW)", crc=False) + e360[:200] + e360 + b"\r\n" + L1 + e360[:100])
    whole, counters = run(data)
    assert counters == {"frames_ok": 4 + 1 + 1 + 1, "checksum_errors": 3, "framing_errors": 2,
                        "truncated": 2, "oversized": 0, "unknown_format": 0, "decrypt_errors": 0,
                        "replays": 0}
    assert run(data, chunks=[1] * len(data)) == (whole, counters)
    rng = random.Random(4321)
    for _ in range(30):
        sizes = [rng.randint(1, 200) for _ in range(len(data) // 50)]
        assert run(data, chunks=sizes) == (whole, counters)


def test_garbage_before_and_between_telegrams_is_one_error_per_run(e360):
    data = b"abc/def" + e360 + b"x/ZZZ9\x00" + e360 + b"/1bad\r\n" + L1 + b"//" + e360 + b"tail/LGF5"
    results, counters = run(data)
    assert [r["format"] for r in results if r["ok"]] == ["p1/dsmr", "p1/dsmr", "hdlc/kaifa-kfm001", "p1/dsmr"]
    assert errors(results) == ["framing: 7 bytes skipped", "framing: 7 bytes skipped", "framing: 7 bytes skipped",
                               "framing: 2 bytes skipped", "framing: 9 bytes skipped"]
    assert run(data, chunks=[1] * len(data))[0] == results
    # random noise that contains '/' is garbage like any other
    rng = random.Random(3)
    noise = bytes(rng.choice(b"/!()*.:0123456789ABCDEFabcdef\r\n \x00\xff") for _ in range(500))
    results, counters = run(noise + e360)
    assert errors(results) == ["framing: 500 bytes skipped"] and counters["frames_ok"] == 1


def test_ident_line_rules():
    body = "\r\n\r\n1-0:1.7.0(0.5*kW)\r\n"
    for ident, ok in (("LGF5E360", True), ("ISk5\\2MT382-1000", True), ("abc9x", True), ("AB5E360", False),
                      ("LGFXE360", False), ("LG15E360", False), ("LGF5", False), ("LGF5E3\x0160", False),
                      ("LGF5" + "E" * 33, True), ("LGF5" + "E" * 34, False)):
        data = ("/" + ident + body + "!").encode()
        data += b"%04X\r\n" % crc_arc(data)
        results, counters = run(data)
        assert (counters["frames_ok"] == 1) is ok, ident
        if not ok:
            assert counters["framing_errors"] == 1 and len(results) == 1, ident


def test_a_telegram_cut_off(e360):
    results, counters = run(e360[:300] + e360 + e360[:250])
    assert errors(results) == ["truncated: next frame after 300 bytes of a telegram",
                               "truncated: telegram cut off after 250 bytes"]
    assert counters["frames_ok"] == 1 and counters["truncated"] == 2
    # cut off by an HDLC frame
    results, counters = run(e360[:300] + L2 + e360)
    assert errors(results) == ["truncated: next frame after 300 bytes of a telegram"]
    assert [r["format"] for r in results if r["ok"]] == ["hdlc/kaifa-kfm001", "p1/dsmr"]
    # a plausible ident line and nothing else is a telegram cut off too; half an ident line is garbage
    d = Decoder()
    assert d.feed(b"/LGF5E360\r\n") == [] and d.flush() == [
        {"ok": False, "code": "truncated", "format": "p1", "error": "truncated: telegram cut off after 11 bytes"}]
    assert d.feed(b"/LGF5E3") == [] and d.flush() == [
        {"ok": False, "code": "framing", "format": "unknown", "error": "framing: 7 bytes skipped"}]
    assert d.feed(e360)[0]["ok"]  # usable after a flush


def test_a_telegram_too_long(e360):
    long = telegram(*[f"0-0:96.13.0({i:0100d})" for i in range(25)], "1-0:1.7.0(0.5*kW)")
    assert len(long) > 2048
    results, counters = run(long + e360, chunks=[7] * 600)
    assert errors(results) == ["oversized: telegram longer than 2048 bytes"]
    assert counters["oversized"] == 1 and counters["frames_ok"] == 1 and counters["framing_errors"] == 0
    results, counters = run(e360 + L1, decoder=Decoder(max_frame=512))
    assert errors(results) == ["oversized: telegram longer than 512 bytes"] and counters["frames_ok"] == 1
    # exactly max_frame bytes through the checksum fits, also byte by byte
    fits = telegram(*[f"0-0:96.13.0({i})" for i in range(3)], "1-0:1.7.0(0.5*kW)")
    size = len(fits) - 2
    for chunks in (None, [1] * len(fits)):
        assert run(fits, chunks, Decoder(max_frame=size))[1]["frames_ok"] == 1
        assert run(fits, chunks, Decoder(max_frame=size - 1))[1]["oversized"] == 1


def test_random_corruption_never_raises_and_accounts_for_everything(p1_frames, e360):
    rng = random.Random(11)
    base = b"".join([e360, L1, p1_frames["lg_e360_dk_gh497_p1"]] * 3)
    stamps = {"2022-12-15T15:50:50", "2023-03-27T06:42:30", "2024-10-01T19:00:02"}
    for _ in range(200):
        data = bytearray(base)
        for _ in range(rng.randint(1, 5)):
            i = rng.randrange(len(data))
            op = rng.random()
            if op < 0.5:
                data[i] ^= 1 << rng.randrange(8)
            elif op < 0.75:
                del data[i:i + rng.randint(1, 60)]
            else:
                data[i:i] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 20)))
        whole, counters = run(bytes(data))
        sizes = [rng.randint(1, 64) for _ in range(len(data) // 8)]
        assert run(bytes(data), chunks=sizes)[0] == whole
        for r in whole:
            if r["ok"]:  # whatever decodes is one of the real readings
                assert r["reading"]["timestamp"] in stamps


# -- published: state and message ------------------------------------------------------------------
def test_state_and_message_carry_the_per_phase_values(e360):
    st = state_mod.State(OSLO)
    st.update(one(e360))
    msg = json.loads(st.text())
    assert msg["ts"] == 1671115850000  # 2022-12-15 15:50:50 local winter time (UTC+1)
    assert msg["list"] is None and st.list_no is None
    assert msg["pi"] == [4190, 1980, 354, 1855] and msg["pe"] == [0, 0, 0, 0]
    assert msg["p"] == [4190, 1980, 354, 1855]
    assert msg["ri"] == [292, 1072, 265, 0] and msg["re"] == [0, 0, 0, 1044]
    assert msg["r"] == [292, 1072, 265, -1044]
    assert msg["u"] == [230.7, 230.1, 231.0] and msg["i"] == [9.7, 1.9, 9.2]
    assert msg["ic"] == 2721.126 and msg["ec"] == 0 and msg["ric"] == 1384.336 and msg["rec"] == 0.09
    assert (msg["meter_type"], msg["list_version"], msg["meter_id"]) == ("E360", "LGF5E360", None)
    text = message.build(st.fields, st.ts_ms, st.list_no)
    assert '"ic":2721.126,' in text and '"u":[230.7,230.1,231.0]' in text and '"i":[9.700,1.900,9.200]' in text
    assert modbus.registers(st.fields) == [2307, 2301, 2310, 970, 190, 920, 0, 4190]
    assert state_mod.list_number({"format": "hdlc/kaifa-kfm001", "reading": {"e_import_wh": 1}}) == 3


# -- end to end: the software DUT (real MicroPython) reads a P1 line ---------------------------------
@pytest.mark.slow
def test_software_dut_publishes_a_p1_telegram(tmp_path, micropython, e360):
    from rig.dut import SoftwareDut
    from rig.line import LineSettings
    from rig.links import PtyLink
    from rig.probes.http import HttpProbe
    from rig.probes.modbus import ModbusProbe
    from rig.wait import wait_until

    async def registers(dut):
        async with ModbusProbe(dut.modbus_host, dut.modbus_port, timeout=2) as probe:
            return await probe.read_raw(0, 8, function=3)

    with PtyLink(LineSettings(115200, 8, "N", 1), speed=10) as line, \
            SoftwareDut(tmp_path, line.device, baud=115200, modbus_enabled=True, micropython=micropython) as dut, \
            HttpProbe(dut.http_url) as http:
        dut.wait_for_line(r"serial .* open", timeout=5)
        line.write(b"noise" + e360.replace(b"230.7*V", b"231.7*V") + e360)
        msg = wait_until(http.meter_message, 5, "the first P1 reading", dut.tail)
        assert msg["ts"] == 1671115850000 and msg["list"] is None
        assert msg["pi"] == [4190, 1980, 354, 1855] and msg["re"] == [0, 0, 0, 1044]
        assert msg["u"] == [230.7, 230.1, 231.0] and msg["i"] == [9.7, 1.9, 9.2] and msg["ic"] == 2721.126
        counters = http.health()["counters"]
        assert counters["frames_ok"] == 1 and counters["checksum_errors"] == 1
        assert counters["framing_errors"] == 1 and counters["readings_published"] == 1
        assert asyncio.run(registers(dut)) == [2307, 2301, 2310, 970, 190, 920, 0, 4190]
    assert "Traceback" not in dut.log_path.read_text(errors="replace")

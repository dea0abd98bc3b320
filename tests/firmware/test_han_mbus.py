"""Wired M-Bus long frames (han/mbus.py) and messages in several frames (han/segments.py): M-Bus segments,
HDLC segmentation and general-block-transfer, put back together in the decoder; a lost part, a bad
checksum, a foreign CI and garbage are each counted once, and decoding resumes."""

import han_encrypt as he
import pytest
from han_testdata import build_hdlc, run

from dut_firmware.hal.aes import ecb
from dut_firmware.han import mbus
from dut_firmware.han.decoder import Decoder

NOE = bytes.fromhex(he.NOE["data_hex"])  # the real two segments (CI 00, then 11)
FIRST = NOE[:6 + NOE[1]]
SECOND = NOE[len(FIRST):]


def dec(key=he.NOE_KEY, auth_key=None):
    return Decoder(key=key, auth_key=auth_key, aes=ecb)


def test_parse_the_real_segments():
    buf = bytearray(NOE)
    r = mbus.parse(buf, 0, len(buf), 2048)
    assert r == (mbus.OK, len(FIRST), 9, 4 + 0xFA, 0x00)
    r2 = mbus.parse(buf, len(FIRST), len(buf), 2048)
    assert r2[0] == mbus.OK and r2[1] == len(NOE) and r2[4] == 0x11


@pytest.mark.parametrize("data,want", [
    (b"\x68\xfa", (mbus.NEED, 4)),
    (b"\x68\xfa\xfb", (mbus.NOT_FRAME,)),          # L and its repetition differ
    (b"\x68\xfa\xfa\x69", (mbus.NOT_FRAME,)),
    (b"\x68\x02\x02\x68", (mbus.NOT_FRAME,)),      # no room for C, A, CI
    (FIRST[:100], (mbus.NEED, len(FIRST))),
    (FIRST, (mbus.OVERSIZED, len(FIRST))),          # with a max_frame below its size
])
def test_parse_judges_each_candidate(data, want):
    max_frame = 200 if want[0] == mbus.OVERSIZED else 2048
    assert mbus.parse(bytearray(data), 0, len(data), max_frame) == want


def test_a_bad_checksum_or_stop_byte():
    for i in (50, len(FIRST) - 2, len(FIRST) - 1):
        bad = bytearray(FIRST)
        bad[i] ^= 0x01
        assert mbus.parse(bad, 0, len(bad), 2048) == (mbus.BAD_CS, len(FIRST))


def test_segments_in_any_chunking():
    for chunks in (None, [1] * len(NOE), [3, 250, 7, 1, 40]):
        results, counters = run(NOE, chunks=chunks, decoder=dec())
        assert len(results) == 1 and results[0]["ok"] and results[0]["format"] == "mbus/obis-list"
        assert counters["frames_ok"] == 1


def test_single_segment_and_many_segments():
    plain = he.e450_plaintext()
    one = he.mbus_segments(he.ggc(plain, he.NOE_KEY, he.NOE_TITLE, 50))
    assert one[6] == 0x10 and len(one) == 6 + 5 + 16 + len(plain)  # CI: segment 0 with FIN
    many = he.mbus_segments(he.ggc(plain, he.NOE_KEY, he.NOE_TITLE, 51), sizes=(10,))
    # 93 bytes of APDU: 9 segments of 10 bytes (21 with the frame) and one of 3, CI 00 .. 08, then 19 (FIN)
    assert len(many) == 9 * 21 + 14 and many[6] == 0x00 and many[8 * 21 + 6] == 0x08 and many[9 * 21 + 6] == 0x19
    results, counters = run(one + many, decoder=dec())
    assert [r["ok"] for r in results] == [True, True]
    assert results[0]["reading"] == results[1]["reading"]
    assert results[0]["reading"]["meter_id"] == "30137181"


def test_a_lost_segment_loses_its_message_once():
    # the second segment lost: the next message's first segment shows it
    results, counters = run(FIRST + he.noe_frames(200), decoder=dec())
    assert [r.get("error") for r in results] == ["truncated: m-bus message without its last segment", None]
    assert counters["truncated"] == 1 and counters["frames_ok"] == 1
    # the first segment lost: the second alone is counted
    results, counters = run(SECOND + he.noe_frames(201), decoder=dec())
    assert results[0]["error"] == "truncated: m-bus segment 1 without the segment before it"
    assert counters["truncated"] == 1 and counters["frames_ok"] == 1
    # the stream ends after a first segment
    results, counters = run(he.noe_frames(202) + FIRST, decoder=dec())
    assert results[-1]["error"] == "truncated: message cut off before its last segment"
    assert counters == {**counters, "truncated": 1, "frames_ok": 1}


def test_damage_and_garbage_around_mbus_frames():
    bad = bytearray(FIRST)
    bad[100] ^= 0x40
    stream = b"\x00\x68\x11junk" + bytes(bad) + SECOND + he.noe_frames(300) + FIRST[:120]
    results, counters = run(stream, decoder=dec())
    assert counters["checksum_errors"] == 1 and counters["framing_errors"] == 1
    assert counters["truncated"] == 2  # the orphan second segment, the frame cut off at the end
    assert counters["frames_ok"] == 1
    # an M-Bus frame of another kind (CI 72: a variable data structure) is no DLMS message
    body = bytes([0x08, 0xFF, 0x72]) + bytes(12)
    frame = bytes([0x68, len(body), len(body), 0x68]) + body + bytes([sum(body) & 0xFF, 0x16])
    results, counters = run(frame + he.noe_frames(301), decoder=dec())
    assert results[0]["error"] == "unknown format: m-bus frame with CI 0x72" and results[1]["ok"]


def test_hdlc_segmentation_is_put_back_together():
    # the E450 frame's LLC + APDU split over three HDLC frames with the S bit on all but the last
    info = b"\xe6\xe7\x00" + he.ggc(he.e450_plaintext(), he.E450_KEY, bytes.fromhex("4C475A6772A9A111"), 77,
                                    0x30, he.E450_AK)
    parts = [info[:40], info[40:80], info[80:]]
    frames = b"".join(build_hdlc(p, segmented=(i < 2)) for i, p in enumerate(parts))
    for chunks in (None, [1] * len(frames)):
        results, counters = run(frames, chunks=chunks, decoder=dec(he.E450_KEY, he.E450_AK))
        assert len(results) == 1 and results[0]["ok"], results
        assert results[0]["reading"]["e_export_wh"] == 7619
    # the last segment lost: a new message (an LLC header) ends the held one
    results, counters = run(build_hdlc(parts[0], segmented=True) + he.e450_frame(78),
                            decoder=dec(he.E450_KEY, he.E450_AK))
    assert [r.get("error") for r in results] == ["truncated: segmented hdlc message without its last segment",
                                                 None]


def test_general_block_transfer_missing_block():
    gbt = bytes.fromhex(he.FRAMES["lg_e450_hdlc_gbt_enc_1"]["data_hex"])
    key, ak = (bytes.fromhex(he.FRAMES["lg_e450_hdlc_gbt_enc_1"][k]) for k in ("key_ek", "key_ak"))
    first = gbt[:0x8B + 2]
    third = gbt[2 * (0x8B + 2) - 1:]  # the closing flag of the second frame is the opening one of the third
    results, counters = run(first + third, decoder=dec(key, ak))
    assert [r["error"] for r in results] == ["truncated: general-block-transfer block 3 without the block "
                                             "before it"]
    assert counters["truncated"] == 1 and sum(counters.values()) == 1
    # without a key the three blocks are one decrypt error
    results, counters = run(gbt, decoder=Decoder())
    assert [r["error"] for r in results] == ["decrypt: no key"] and counters["decrypt_errors"] == 1


def test_raw_apdu_on_p1_among_telegrams():
    smarty = he.FRAMES["smarty_lu_ggc_p1"]
    raw = bytes.fromhex(smarty["data_hex"])
    d = dec(bytes.fromhex(smarty["key_ek"]), bytes.fromhex(smarty["key_ak"]))
    results, counters = run(raw + b"\xdb\x07zz" + raw[:300], chunks=[64] * 40, decoder=d)
    assert [r["ok"] for r in results] == [True, False, False]
    assert results[0]["format"] == "p1/dsmr"
    assert counters["framing_errors"] == 1 and counters["truncated"] == 1

"""Streaming behaviour of the HAN decoder: chunking, garbage, corrupt, truncated and oversized frames."""

import random

import han_testdata as td
import pytest
from han_testdata import run

from dut_firmware.han.decoder import COUNTERS, Decoder  # noqa: F401
from tests.spec_frames import LIST1_HEX, LIST2_HEX, LIST3_HEX, unhex

L1 = unhex(LIST1_HEX)
L2 = unhex(LIST2_HEX)
L3 = unhex(LIST3_HEX)


@pytest.fixture(scope="module")
def all_hdlc(reference_frames):
    """Every HDLC reference frame of any make, then the three annotated ones."""
    return [unhex(f["data_hex"]) for f in td.hdlc_frames(reference_frames)] + [L1, L2, L3]


def oks(results):
    return [r for r in results if r["ok"]]


def errors(results):
    return [r["error"] for r in results if not r["ok"]]


def test_all_frames_whole_bytewise_and_random_chunks_agree(all_hdlc):
    data = b"".join(all_hdlc)
    whole, counters = run(data)
    assert counters["frames_ok"] == 15  # 9 Kaifa and 3 Aidon reference frames + the 3 annotated ones
    assert counters["framing_errors"] == 0 and counters["checksum_errors"] == 0
    assert counters["truncated"] == 0
    # encrypted / block-transfer frames are intact but not decodable yet
    assert counters["unknown_format"] + counters["decrypt_errors"] == len(whole) - 15
    bytewise, c2 = run(data, chunks=[1] * len(data))
    assert bytewise == whole and c2 == counters
    rng = random.Random(1234)
    for _ in range(20):
        sizes = [rng.randint(1, 300) for _ in range(len(data) // 40)]
        chunked, c3 = run(data, chunks=sizes)
        assert chunked == whole and c3 == counters


def test_fresh_decoder_per_frame_equals_one_stream(all_hdlc):
    data = b"".join(all_hdlc)
    stream, _ = run(data)
    separate = []
    for frame in all_hdlc:
        separate += run(frame)[0]
    assert separate == stream


def test_frames_sharing_flags_and_idle_flags():
    # one flag between frames (closing flag = next opening flag), and runs of idle flags
    shared = L1 + L2[1:] + L3[1:]
    results, counters = run(shared)
    assert [r["list"] for r in results] == [1, 2, 3]
    results, counters = run(b"\x7e\x7e\x7e" + L1 + b"\x7e\x7e" + L2 + b"\x7e")
    assert [r["list"] for r in results] == [1, 2]
    assert counters["framing_errors"] == 0


def test_garbage_between_frames_is_skipped_and_counted_once_per_run():
    data = b"\x00\x11junk" + L1 + b"\xff" * 50 + L2 + L3 + b"more garbage" + L1 + b"\x13\x10"
    results, counters = run(data)
    assert [r["list"] for r in oks(results)] == [1, 2, 3, 1]
    assert counters["framing_errors"] == 4
    assert errors(results) == ["framing: 6 bytes skipped", "framing: 50 bytes skipped",
                               "framing: 12 bytes skipped", "framing: 2 bytes skipped"]
    # the same, byte by byte
    assert run(data, chunks=[1] * len(data))[0] == results


def test_garbage_with_stray_flags_is_one_run():
    data = L1 + b"ab\x7ecd\x7e\x7eef\x7e\x00" + L2
    results, counters = run(data)
    assert [r["list"] for r in oks(results)] == [1, 2]
    assert counters["framing_errors"] == 1
    assert errors(results) == ["framing: 7 bytes skipped"]


def test_flipped_fcs_byte_is_a_checksum_error_and_next_frame_decodes():
    bad = bytearray(L2)
    bad[-2] ^= 0x01  # second FCS byte
    results, counters = run(bytes(bad) + L1 + L3)
    assert errors(results) == ["fcs mismatch"]
    assert results[0]["format"] == "hdlc"
    assert [r["list"] for r in oks(results)] == [1, 3]
    assert counters["checksum_errors"] == 1 and counters["framing_errors"] == 0


def test_flipped_payload_byte_is_a_checksum_error():
    bad = bytearray(L3)
    bad[60] ^= 0x40
    results, counters = run(L1 + bytes(bad) + L2)
    assert errors(results) == ["fcs mismatch"]
    assert [r["list"] for r in oks(results)] == [1, 2]


@pytest.mark.parametrize("delta", [0x01, 0x10, 0x80, 0x7F])
def test_flipped_length_byte_is_an_hcs_error_and_next_frame_decodes(delta):
    bad = bytearray(L2)
    bad[2] ^= delta  # the low byte of the length: the HCS no longer matches
    results, counters = run(L1 + bytes(bad) + L3 + L1)
    assert errors(results) == ["hcs mismatch"]
    assert [r["list"] for r in oks(results)] == [1, 3, 1]
    assert counters["checksum_errors"] == 1 and counters["framing_errors"] == 0


def test_length_longer_than_the_stream_is_not_trusted_without_hcs():
    # a bad header announcing 2047 bytes must not swallow the following frames
    bad = bytearray(L1)
    bad[1] = 0xA7
    bad[2] = 0xFF
    results, counters = run(bytes(bad) + L2 + L3)
    assert errors(results) == ["hcs mismatch"]
    assert [r["list"] for r in oks(results)] == [2, 3]


def test_truncated_frame_followed_by_a_good_one():
    results, counters = run(L3[:60] + L2 + L1)
    assert counters["truncated"] == 1 and counters["checksum_errors"] == 0
    assert errors(results) == ["truncated: next frame after 60 of 156 bytes"]
    assert [r["list"] for r in oks(results)] == [2, 1]
    assert run(L3[:60] + L2 + L1, chunks=[1] * 400)[0] == results


def test_truncated_frame_longer_than_what_follows():
    # the cut List 3 announces more bytes than the stream still holds: flush reports it and then
    # decodes the List 1 that was inside its window
    results, counters = run(L3[:30] + L1)
    assert [r["ok"] for r in results] == [False, True]
    assert results[0]["error"].startswith("truncated")
    assert results[1]["list"] == 1
    assert counters["truncated"] == 1


def test_frame_cut_in_its_header_followed_by_a_good_one():
    results, counters = run(L2[:5] + L3)
    assert [r["list"] for r in oks(results)] == [3]
    assert len(errors(results)) == 1  # one error for the cut frame, whatever its kind


def test_flush_reports_a_pending_partial_frame_as_truncated():
    d = Decoder()
    assert d.feed(L2[:100]) == []
    assert d.flush() == [{"ok": False, "code": "truncated", "format": "hdlc",
                          "error": "truncated: got 100 of 122 bytes"}]
    assert d.counters["truncated"] == 1
    # the decoder is usable again after a flush
    assert d.feed(L1)[0]["list"] == 1
    d = Decoder()
    d.feed(L2[:4])
    assert d.flush()[0]["error"] == "truncated: incomplete header"
    d = Decoder()
    d.feed(L1 + b"\x7e")  # a trailing flag is no frame
    assert d.flush() == []


def test_flush_reports_pending_garbage():
    d = Decoder()
    assert [r["list"] for r in d.feed(L1 + b"noise")] == [1]
    assert d.feed(b"") == []
    assert d.flush() == [{"ok": False, "code": "framing", "format": "unknown", "error": "framing: 5 bytes skipped"}]


def _frame_with_7e(need_fcs_flag):
    """A valid List 1 frame with 0x7E inside the info field (and, if asked, in the FCS)."""
    info = bytearray(td.info_of(L1))
    for p in range(0x7E00, 0x7F00):
        info[-4:] = p.to_bytes(4, "big")  # P+ = 0x00007Exx: 7E inside the payload
        frame = td.build_hdlc(bytes(info))
        if not need_fcs_flag or 0x7E in frame[-3:-1]:
            return frame, p
    raise AssertionError("no such frame")


@pytest.mark.parametrize("in_fcs", [False, True])
def test_frame_with_0x7e_inside_decodes(in_fcs):
    frame, p_import = _frame_with_7e(in_fcs)
    assert 0x7E in frame[1:-1]
    results, counters = run(L2 + frame + L1)
    assert [r["ok"] for r in results] == [True, True, True]
    assert results[1]["reading"]["p_import_w"] == p_import
    assert run(L2 + frame + L1, chunks=[1] * 300)[0] == results


def test_7e_a0_inside_a_payload_does_not_start_a_frame():
    info = bytearray(td.info_of(L1))
    info[-4:] = bytes([0, 0, 0x7E, 0xA0])  # P+ 32416 W looks like a flag + frame format
    frame = td.build_hdlc(bytes(info))
    results, counters = run(frame + L1)
    assert [r["reading"]["p_import_w"] for r in results] == [0x7EA0, 5057]


def _frame_with_header_start_in_fcs():
    """A valid List 1 whose FCS is a flag and a header's first byte (7E A_)."""
    info = bytearray(td.info_of(L1))
    for p in range(0x10000):
        info[-2:] = p.to_bytes(2, "big")
        frame = td.build_hdlc(bytes(info))
        if frame[-3] == 0x7E and frame[-2] & 0xF0 == 0xA0:
            return frame
    raise AssertionError("no such frame")


@pytest.mark.parametrize("behind", [b"", L1 + L2], ids=["alone", "frames-behind"])
def test_bad_fcs_between_two_flags_goes_on_at_the_closing_flag(behind):
    # the 7E A_ of the frame's own FCS is no frame start once the frame is judged: one checksum error
    frame = _frame_with_header_start_in_fcs()
    bad = bytearray(frame)
    bad[20] ^= 0x01
    data = bytes(bad) + behind
    results, counters = run(data)
    assert errors(results) == ["fcs mismatch"]
    assert [r["list"] for r in oks(results)] == ([1, 2] if behind else [])
    assert counters["checksum_errors"] == 1 and sum(counters.values()) == 1 + len(oks(results))
    assert run(data, chunks=[1] * len(data))[0] == results
    assert run(data, chunks=[len(frame) - 1, 1])[0] == results  # judged once its closing flag is there
    # the stream ends right before the closing flag: all of the frame is there, one checksum error
    assert run(bytes(bad[:-1]))[0] == [{"ok": False, "code": "checksum", "format": "hdlc", "error": "fcs mismatch"}]


def test_bad_fcs_without_its_closing_flag_rescans_its_bytes():
    # List 3 cut 4 bytes before its end by a List 1 whose header reaches past where List 3 should end:
    # no flag where the length says, so the frame's bytes are searched again and the List 1 is found
    data = L3[:-4] + L1 + L2
    results, counters = run(data)
    assert errors(results) == ["fcs mismatch"]
    assert [r["list"] for r in oks(results)] == [1, 2]
    assert run(data, chunks=[1] * len(data))[0] == results


def test_oversized_length_is_counted_and_skipped():
    # the header (with a correct HCS) announces 2047 bytes: 2049 with the flags, over the 2048 maximum
    big = td.build_hdlc(b"\xe6\xe7\x00" + b"\x00" * 40, length=0x7FF)
    results, counters = run(L1 + big + L2)
    assert counters["oversized"] == 1
    assert errors(results) == ["oversized: frame of 2049 bytes, max 2048"]
    assert [r["list"] for r in oks(results)] == [1, 2]
    # with a smaller maximum, the real List 3 (156 bytes) is oversized and List 1 still decodes
    results, counters = run(L3 + L1, decoder=Decoder(max_frame=128))
    assert counters["oversized"] == 1 and counters["frames_ok"] == 1
    assert results[0]["error"] == "oversized: frame of 156 bytes, max 128"


def test_largest_frame_fits_in_the_buffer():
    # 2048 bytes with the flags: accepted; it is delivered even when fed byte by byte
    info = b"\xe6\xe7\x00\x0f\x40\x00\x00\x00\x00\x02\x01\x09\x82\x07\xe5" + b"a" * 2021
    frame = td.build_hdlc(info)
    assert len(frame) == 2048
    results, counters = run(L1 + frame + L1, chunks=[1] * 5000)
    assert counters["oversized"] == 0 and counters["truncated"] == 0
    assert counters["frames_ok"] == 2 and counters["unknown_format"] == 1  # a 1-element string list


def test_segmented_message_without_its_last_segment_is_truncated():
    # a first segment (S bit), then a new message (an LLC header) instead of the next segment
    seg = td.build_hdlc(td.info_of(L1), segmented=True)
    results, counters = run(seg + L1)
    assert errors(results) == ["truncated: segmented hdlc message without its last segment"]
    assert counters["truncated"] == 1 and counters["frames_ok"] == 1


def test_unknown_list_and_missing_llc_are_unknown_format():
    no_llc = td.build_hdlc(b"\xe6\xe6\x00" + td.info_of(L1)[3:])
    weird = td.build_hdlc(td.info_of(L1)[:-7] + b"\x02\x02\x06\x00\x00\x00\x01\x06\x00\x00\x00\x02")
    results, counters = run(no_llc + weird + L1)
    assert errors(results) == ["unknown format: no LLC header e6 e7 00",
                              "unknown list: structure of 2 elements"]
    assert counters["unknown_format"] == 2 and counters["frames_ok"] == 1


def test_encrypted_apdu_without_key_is_a_decrypt_error():
    enc = td.build_hdlc(b"\xe6\xe7\x00\xdb\x08" + b"KFM" + b"\x00" * 5 + b"\x10\x20" + b"\x00" * 15)
    results, counters = run(enc)
    assert counters["decrypt_errors"] == 1
    assert results[0]["error"] == "decrypt: no key"


def test_swedish_address_form_and_ui_control():
    # SA 00 01 (Swedish dumps), control 0x13 (UI frame) are accepted
    frame = td.build_hdlc(td.info_of(L1), address=b"\x01\x00\x01", control=0x13)
    results, _ = run(frame)
    assert results[0]["reading"] == {"timestamp": "2024-10-01T19:00:02", "p_import_w": 5057}


def test_random_corruption_never_raises_and_accounts_for_everything():
    rng = random.Random(7)
    base = b"".join([L1, L2, L3] * 5)
    for _ in range(300):
        data = bytearray(base)
        for _ in range(rng.randint(1, 6)):
            op = rng.random()
            i = rng.randrange(len(data))
            if op < 0.5:
                data[i] ^= 1 << rng.randrange(8)
            elif op < 0.75:
                del data[i:i + rng.randint(1, 40)]
            else:
                data[i:i] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 20)))
        whole, counters = run(bytes(data))
        sizes = [rng.randint(1, 64) for _ in range(len(data) // 8)]
        assert run(bytes(data), chunks=sizes)[0] == whole
        assert counters["frames_ok"] + sum(1 for r in whole if not r["ok"]) == len(whole)
        for r in oks(whole):  # whatever decodes is one of the real frames' readings
            assert r["reading"]["timestamp"].startswith("2024-10-01T19:00:")

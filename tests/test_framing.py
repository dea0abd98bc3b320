"""The rig's frame scanner on real frames (captures/), the rig's own Kaifa frames, damage, noise and any chunking."""

from __future__ import annotations

import random
from datetime import datetime
from pathlib import Path

import pytest

from rig.capture import read_capture
from rig.emulators import Meter, get_profile
from rig.emulators.crc import crc16_arc
from rig.framing import FrameScanner, ScannedFrame

LIBRARY = sorted((Path(__file__).resolve().parents[1] / "captures").glob("*/*.jsonl"))
FRAMED_KINDS = {"hdlc", "mbus", "p1"}  # the other captures hold bytes that never travel framed (llc, apdu, ...)
# captures/README.md: "Two P1 telegrams fail their own CRC, as published."
PUBLISHED_BAD_CRC = {"kaifa_pl_gh1067_p1_ascii"}


def scan(data: bytes, sizes: list[int] | None = None) -> tuple[list[ScannedFrame], FrameScanner]:
    scanner = FrameScanner()
    frames: list[ScannedFrame] = []
    pos = 0
    for size in sizes or [len(data)]:
        frames += scanner.feed(data[pos:pos + size])
        pos += size
    frames += scanner.feed(data[pos:]) + scanner.flush()
    return frames, scanner


def summary(frames: list[ScannedFrame]) -> list[tuple[str, bool, str | None]]:
    return [(f.kind, f.ok, f.error) for f in frames]


@pytest.fixture(scope="module")
def kaifa_frames() -> list[bytes]:
    meter = Meter(get_profile("kaifa-ma304h4"), seed=3, start=datetime(2024, 10, 1, 18, 59, 50))
    return [frame.data for frame in meter.frames(count=12)]  # Lists 1, 2 and the hourly List 3


@pytest.mark.parametrize("path", LIBRARY, ids=[p.stem for p in LIBRARY])
def test_real_frames_of_the_capture_library(path):
    capture = read_capture(path)
    frames, scanner = scan(capture.data)
    if capture.meta.get("kind") not in FRAMED_KINDS:
        assert not [f for f in frames if f.ok], "bytes that never travel framed hold no frame"
        return
    assert frames and scanner.skipped == 0
    assert {f.kind for f in frames} == {capture.meta["kind"]}
    assert b"".join(f.data for f in frames) == capture.data
    if path.stem in PUBLISHED_BAD_CRC:
        assert summary(frames) == [("p1", False, frames[0].error)]
        assert frames[0].error.startswith("crc mismatch: the telegram says D770")
    else:
        assert all(f.ok for f in frames), summary(frames)
        assert (scanner.frames_ok, scanner.frames_bad) == (len(frames), 0)


@pytest.mark.parametrize("path", LIBRARY, ids=[p.stem for p in LIBRARY])
def test_any_chunking_gives_the_same_frames(path):
    data = read_capture(path).data
    whole, _ = scan(data)
    rng = random.Random(path.stem)
    for sizes in ([1] * len(data), [rng.randint(1, 40) for _ in range(len(data) // 10)]):
        assert scan(data, sizes)[0] == whole


def test_frames_among_noise_are_found_and_the_noise_counted(kaifa_frames):
    rng = random.Random(7)
    stream, noise = bytearray(), 0
    for frame in kaifa_frames:
        junk = bytes(rng.choice(b"\x00\x11\x55\xaa\xff\x7e\x68/") for _ in range(rng.randint(0, 30)))
        stream += junk + frame
        noise += len(junk)
    frames, scanner = scan(bytes(stream), [rng.randint(1, 64) for _ in range(100)])
    good = [f for f in frames if f.ok]
    assert [f.data for f in good] == kaifa_frames and {f.kind for f in good} == {"hdlc"}
    assert [stream[f.offset:f.offset + len(f.data)] for f in frames] == [f.data for f in frames]
    # noise is skipped, or reported as a bad frame where it looks like a frame header ("68 68 68 68")
    assert scanner.skipped + sum(len(f.data) for f in frames if not f.ok) == noise
    assert scanner.frames_ok == len(kaifa_frames) and scanner.frames_bad == len(frames) - len(good)


def test_a_shared_flag_between_frames(kaifa_frames):
    a, b = kaifa_frames[:2]
    frames, scanner = scan(a + b[1:])  # 7E frame 7E frame 7E: the closing flag opens the next frame
    assert [f.ok for f in frames] == [True, True] and frames[1].data == b
    assert scanner.skipped == 0


def test_damaged_hdlc_frames(kaifa_frames):
    good, list2 = kaifa_frames[0], next(f for f in kaifa_frames if len(f) > 100)
    bad_fcs = good[:-3] + bytes([good[-3] ^ 0xFF]) + good[-2:]
    bad_hcs = list2[:8] + bytes([list2[8] ^ 0x01]) + list2[9:]
    cut = list2[:60]
    frames, _ = scan(bad_fcs + bad_hcs + cut + good)
    assert summary(frames)[:2] == [("hdlc", False, "fcs mismatch"),
                                   ("hdlc", False, "hcs mismatch: the length cannot be trusted")]
    assert frames[0].data == bad_fcs and frames[1].data == bad_hcs[:9]  # flag, format, addresses, control, HCS
    assert frames[2].ok is False and frames[2].error.startswith("no closing flag")
    assert frames[-1].ok and frames[-1].data == good  # found again after the damage


def test_a_frame_cut_off_by_the_end_of_the_stream(kaifa_frames):
    frame = max(kaifa_frames, key=len)
    scanner = FrameScanner()
    assert scanner.feed(frame[:50]) == []
    (last,) = scanner.flush()
    assert (last.kind, last.ok) == ("hdlc", False) and last.error.startswith("truncated")


MBUS_1 = bytes([0x68, 0x05, 0x05, 0x68, 0x53, 0xFF, 0x00, 0x01, 0x67, (0x53 + 0xFF + 0x01 + 0x67) & 0xFF, 0x16])


def test_mbus_long_frames():
    bad_sum = MBUS_1[:-2] + bytes([MBUS_1[-2] ^ 1]) + MBUS_1[-1:]
    no_stop = MBUS_1[:-1] + b"\x00"
    frames, scanner = scan(b"\xe5" + MBUS_1 + bad_sum + no_stop + MBUS_1)
    assert summary(frames) == [("mbus", True, None), ("mbus", False, "checksum mismatch"),
                               ("mbus", False, frames[2].error), ("mbus", True, None)]
    assert frames[2].error.startswith("no stop byte 16")
    assert frames[0].data == MBUS_1 and scanner.skipped == 1 + len(no_stop) - 4


def p1(body: str, crc: str | None = "auto") -> bytes:
    text = f"/KFM5KAIFA-METER\r\n\r\n{body}!".encode()
    if crc == "auto":
        crc = f"{crc16_arc(text):04X}"
    return text + (crc or "").encode() + b"\r\n"


def test_p1_telegrams():
    good = p1("1-0:1.7.0(00.132*kW)\r\n")
    old_dsmr = p1("1-0:1.7.0(00.132*kW)\r\n", crc=None)
    bad = p1("1-0:1.7.0(00.133*kW)\r\n", crc=good[-6:-2].decode())
    frames, scanner = scan(b"\r\n" + good + old_dsmr + bad + good[:40] + good)
    assert [(f.ok, f.crc) for f in frames] == [(True, True), (True, False), (False, True), (False, True), (True, True)]
    assert frames[2].error.startswith("crc mismatch")
    assert frames[3].error == "truncated: a new telegram starts before '!'" and frames[3].data == good[:40]
    assert [f.data for f in frames] == [good, old_dsmr, bad, good[:40], good]
    assert scanner.skipped == 2


def test_a_slash_in_binary_data_is_no_telegram():
    frames, scanner = scan(b"\x01/\x02/ab\x00" + MBUS_1)
    assert summary(frames) == [("mbus", True, None)] and scanner.skipped == 7


def test_segments_of_one_message_say_that_more_follow():
    from rig.emulators import mbus

    apdu = bytes(range(256)) * 2
    frames, _ = scan(mbus.encode(apdu, segment_bytes=200))
    assert [(f.kind, f.ok, f.more) for f in frames] == [("mbus", True, True)] * 2 + [("mbus", True, False)]
    (single,), _ = scan(mbus.encode(apdu[:100]))
    assert not single.more  # CI 10: one segment, FIN set
    standard = bytes([0x68, 3, 3, 0x68, 0x08, 0x01, 0x72, 0x7B, 0x16])
    assert not ScannedFrame("mbus", True, standard).more  # CI 72: an M-Bus data response, no DLMS segment
    assert ScannedFrame("hdlc", True, bytes([0x7E, 0xA8, 0x20])).more  # HDLC segmentation bit S
    assert not ScannedFrame("hdlc", True, bytes([0x7E, 0xA0, 0x20])).more


@pytest.mark.parametrize("stem", ["lg_e450_hdlc_gbt_enc_1",  # three HDLC frames of general-block-transfer blocks
                                  "iskra_am550_hdlc"])  # three HDLC segments (format A8, A8, A0)
def test_parts_of_one_hdlc_message_say_that_more_follow(stem):
    path = next(p for p in LIBRARY if p.stem == stem)
    frames, scanner = scan(b"".join(chunk.data for chunk in read_capture(path).chunks))
    assert [(f.ok, f.more) for f in frames] == [(True, True), (True, True), (True, False)]
    assert scanner.skipped == 0


def test_whole_frames_of_the_library_say_no_more_follow(kaifa_frames):
    frames, _ = scan(b"".join(kaifa_frames))
    assert frames and not any(f.more for f in frames)

import random
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from han.hdlc import HdlcFrameReader

from rig.emulators import Meter
from rig.emulators.crc import crc16_x25_wire
from rig.emulators.faults import (
    FAULTS,
    Emission,
    apply_faults,
    corrupt_fcs,
    emissions_from_capture,
    emissions_from_frames,
    flip_byte,
    garbage,
    parse_fault,
    truncate,
    with_bad_fcs,
)
from rig.emulators.hdlc import header_end, is_whole_frame, length_field, spoil_fcs, spoil_hcs, with_length
from rig.line import LineSettings


@pytest.fixture
def frame():
    return Meter("kaifa-ma304h4", seed=1).frame_at(datetime(2024, 10, 1, 19, 0, 0)).data


def _fcs_ok(data):
    return crc16_x25_wire(data[1:-3]) == data[-3:-1]


def test_corrupt_fcs(frame):
    bad = corrupt_fcs(frame)
    assert _fcs_ok(frame) and not _fcs_ok(bad)
    assert len(bad) == len(frame)
    assert bad[:-3] == frame[:-3] and bad[-1] == 0x7E
    decoded = HdlcFrameReader(use_octet_stuffing=False).read(bad)
    assert len(decoded) == 1 and not decoded[0].is_good_ffc
    with pytest.raises(ValueError):
        corrupt_fcs(frame[:-1])


def test_flip_byte(frame):
    bad = flip_byte(frame, 40)
    assert [i for i in range(len(frame)) if frame[i] != bad[i]] == [40]
    assert not _fcs_ok(bad)
    assert flip_byte(frame, 40, 0x01)[40] == frame[40] ^ 0x01
    with pytest.raises(IndexError):
        flip_byte(frame, len(frame))


def test_truncate(frame):
    cut = truncate(frame, 50)
    assert cut == frame[:50]
    assert len(truncate(frame, 0)) == 0
    with pytest.raises(ValueError):
        truncate(frame, len(frame) + 1)
    # a reader sees no complete frame in a truncated one
    assert HdlcFrameReader(use_octet_stuffing=False).read(cut) == []


def test_garbage_is_seeded():
    a = garbage(64, random.Random(3))
    assert len(a) == 64
    assert a == garbage(64, random.Random(3))
    assert a != garbage(64, random.Random(4))
    assert garbage(0, random.Random(1)) == b""


def test_good_frame_after_garbage_is_still_found(frame):
    stream = garbage(37, random.Random(5)).replace(b"\x7e", b"\x00") + frame
    frames = HdlcFrameReader(use_octet_stuffing=False).read(stream)
    assert [f.is_good_ffc for f in frames] == [True]


def test_with_bad_fcs_marks_the_frame_corrupt_and_keeps_what_it_claimed_to_carry() -> None:
    frame = next(Meter("kaifa-ma304h4").frames(count=1))
    bad = with_bad_fcs(frame)
    assert bad.corrupt and not frame.corrupt
    assert bad.data != frame.data and bad.data[:-3] == frame.data[:-3]
    assert (bad.at, bad.list, bad.reading) == (frame.at, frame.list, frame.reading)


def test_hdlc_surgery_helpers(frame):
    assert header_end(frame) == 9 and length_field(frame) == len(frame) - 2 and is_whole_frame(frame)
    longer = with_length(frame, 300)
    assert length_field(longer) == 300 and longer[1] == 0xA1 and longer[9:] == frame[9:]
    assert crc16_x25_wire(longer[1:7]) == longer[7:9] and not is_whole_frame(longer)
    assert with_length(longer, len(frame) - 2) == frame
    for spoiled, spots in ((spoil_hcs(frame), [7, 8]), (spoil_fcs(frame), [len(frame) - 3, len(frame) - 2])):
        assert [i for i in range(len(frame)) if spoiled[i] != frame[i]] == spots and not is_whole_frame(spoiled)
        assert all(spoiled[i] != 0x7E for i in spots)
    assert spoil_fcs(frame[:-3] + b"\x81\x81\x7e")[-3:] == b"\x8e\x8e\x7e"  # inverted 0x81 would be a flag
    assert not is_whole_frame(frame[:-1]) and not is_whole_frame(b"\x7e\x7e")
    with pytest.raises(ValueError, match="not an HDLC type-3 frame start"):
        header_end(b"\x00\xa0\x27")
    with pytest.raises(ValueError, match="length must be 0..2047"):
        with_length(frame, 2048)


# -- the fault catalogue over a stream of meter writes ---------------------------------------------------
START = datetime(2024, 10, 1, 18, 59, 30)  # 30 frames from here cross the hour: List 3 at 19:00:10
CHAR_S = 11 / 2400  # 2400 8E1


@pytest.fixture(scope="module")
def meter():
    return Meter("kaifa-ma304h4", seed=1, start=START)


@pytest.fixture(scope="module")
def clean(meter):
    return emissions_from_frames(meter.frames(count=30), START)


def _frames(stream):
    return [e for e in stream if e.list is not None]


def _changed(a, b):
    return [i for i in range(len(a)) if a[i] != b[i]]


def test_catalogue_lists_every_fault_with_its_usage():
    assert set(FAULTS) == {"split", "garbage", "mid_frame", "truncate", "bitflip", "bad_fcs", "bad_hcs",
                           "bad_length", "duplicate", "oversized", "clock_jump", "no_list3", "silence", "restart"}
    for name, info in FAULTS.items():
        assert info.name == name and info.summary
        assert (info.param_help is None) == (info.default is None)
    assert FAULTS["split"].usage == "split[:PARTS]" and FAULTS["no_list3"].usage == "no_list3"


@pytest.mark.parametrize(("spec", "name", "param"), [
    ("split", "split", 3), ("split:4", "split", 4), ("garbage", "garbage", 16), ("garbage:3", "garbage", 3),
    ("mid_frame", "mid_frame", None), ("truncate", "truncate", 4), ("truncate:1", "truncate", 1),
    ("bitflip:7", "bitflip", 7), ("bad_fcs", "bad_fcs", 4), ("bad_hcs:2", "bad_hcs", 2),
    ("bad_length", "bad_length", 4), ("duplicate:3", "duplicate", 3), ("oversized", "oversized", 2049),
    ("oversized:600", "oversized", 600), ("clock_jump", "clock_jump", 3600), ("clock_jump:-3600", "clock_jump", -3600),
    ("clock_jump:-1h", "clock_jump", -3600), ("clock_jump:90s", "clock_jump", 90), ("no_list3", "no_list3", None),
    ("silence", "silence", 300.0), ("silence:90s", "silence", 90.0), ("silence:5m", "silence", 300.0),
    ("silence:1h", "silence", 3600.0), ("silence:45", "silence", 45.0), ("restart", "restart", 30.0),
    ("restart:0s", "restart", 0.0), (" Split:5 ", "split", 5),
])
def test_parse_fault(spec, name, param):
    fault = parse_fault(spec)
    assert (fault.name, fault.param) == (name, param)
    assert fault.spec == spec.strip().lower()
    assert parse_fault(fault.spec) == fault


@pytest.mark.parametrize("spec", [
    "nonsense", "", "split:1", "split:x", "split:", "garbage:0", "truncate:0", "bitflip:-1", "oversized:2050",
    "oversized:8", "clock_jump:0", "clock_jump:1.5", "silence:0", "silence:-5m", "silence:5 minutes",
    "restart:-1s", "mid_frame:3", "no_list3:1", "bad_fcs:four",
])
def test_parse_fault_rejects_with_the_known_faults(spec):
    with pytest.raises(ValueError, match=r"known faults: split\[:PARTS\], garbage\[:BYTES\], mid_frame, .*restart"):
        parse_fault(spec)


def test_clean_stream_from_frames(meter, clean):
    assert [e.t for e in clean[:3]] == [0.0, 2.0, 4.0]
    assert all(e.published and e.counts == {"frames_ok": 1} and e.fault is None for e in clean)
    assert [e.list for e in clean].count(3) == 1
    first = next(meter.frames(count=1))
    assert (clean[0].data, clean[0].reading, clean[0].at) == (first.data, first.reading, first.at)
    (bad,) = emissions_from_frames([with_bad_fcs(first)], START)
    assert bad.counts == {"checksum_errors": 1} and not bad.published
    assert not Emission(0, b"\x7e", reading={"timestamp": "x"}, counts={}).published


def test_split(clean):
    out = apply_faults(clean, ["split:4"], seed=3)
    assert len(out) == 4 * len(clean)
    for k, e in enumerate(clean):
        parts = out[4 * k:4 * k + 4]
        assert b"".join(p.data for p in parts) == e.data and all(p.data for p in parts)
        assert parts[0].t == e.t and all(p.fault == "split:4" for p in parts)
        assert [p.counts for p in parts[:3]] == [{}, {}, {}] and all(p.reading is None for p in parts[:3])
        assert (parts[3].reading, parts[3].list, parts[3].at, parts[3].counts) == (e.reading, e.list, e.at, e.counts)
        gaps = [b.t - a.t - len(a.data) * CHAR_S for a, b in zip(parts, parts[1:], strict=False)]
        assert all(0 <= g <= 0.4 + 1e-9 for g in gaps)
        # the frame is done well before the next one: its time is unchanged
        assert parts[3].t + len(parts[3].data) * CHAR_S <= e.t + 2.0 - 0.5


def test_split_shrinks_the_gaps_before_a_write_right_behind(clean):
    out = apply_faults(clean[:2], ["duplicate:1", "split:3"], seed=1)
    first_copy = out[:3]
    assert out[3].t == first_copy[0].t + len(clean[0].data) * CHAR_S  # the second copy keeps its time
    assert first_copy[2].t + len(first_copy[2].data) * CHAR_S == pytest.approx(out[3].t)


def test_garbage(clean):
    out = apply_faults(clean, ["garbage:20"], seed=2)
    junk = [e for e in out if e.fault]
    assert len(junk) == len(clean) - 1 and [e for e in out if not e.fault] == clean
    for e in junk:
        assert len(e.data) == 20 and 0x7E not in e.data and e.data[0] & 0xF0 != 0xA0
        assert e.counts == {"framing_errors": 1} and e.reading is None and e.fault == "garbage:20"
    for a, b in zip(out, out[1:], strict=False):
        if a.fault:  # right before the next frame, on an idle line
            assert a.t + len(a.data) * CHAR_S == pytest.approx(b.t) and b.data[0] == 0x7E


def test_mid_frame(clean):
    out = apply_faults(clean, ["mid_frame"], seed=5)
    tail, first = out[0], clean[0]
    assert out[1:] == clean[1:]
    assert first.data.endswith(tail.data) and 2 <= len(tail.data) < len(first.data)
    assert 0x7E not in tail.data[:-1] and tail.data[-1] == 0x7E
    assert tail.counts == {"framing_errors": 1} and tail.reading is None and tail.fault == "mid_frame"


@pytest.mark.parametrize("spec", ["truncate", "bitflip", "bad_fcs", "bad_hcs", "bad_length"])
def test_frame_faults_shape_every_nth_frame_only(clean, spec):
    out = apply_faults(clean, [spec], seed=4)
    assert len(out) == len(clean)
    shaped = [i for i, (a, b) in enumerate(zip(clean, out, strict=True)) if a != b]
    assert shaped == [3, 7, 11, 15, 19, 23, 27]  # every 4th, counted from 1 (no frame passed over here)
    for i in shaped:
        e, f = clean[i], out[i]
        assert (f.t, f.reading, f.list, f.at, f.fault) == (e.t, e.reading, e.list, e.at, spec)
        assert not f.published and sum(f.counts.values()) == 1


def test_truncate_fault(clean):
    out = apply_faults(clean, ["truncate:3"], seed=1)
    for e, f in zip(clean, out, strict=True):
        if f.fault:
            assert e.data.startswith(f.data) and 9 <= len(f.data) <= len(e.data) - 10
            assert 0x7E not in f.data[1:] and f.counts == {"truncated": 1}


def test_bitflip_flips_one_bit_of_the_information_field(clean):
    out = apply_faults(clean, ["bitflip:2"], seed=1)
    for e, f in zip(clean, out, strict=True):
        if f.fault:
            (i,) = _changed(e.data, f.data)
            assert 9 <= i < len(e.data) - 3 and bin(e.data[i] ^ f.data[i]).count("1") == 1
            assert f.counts == {"checksum_errors": 1}


def test_bad_checksums_change_only_their_checksum(clean):
    for spec, spot in (("bad_fcs:1", lambda n: [n - 3, n - 2]), ("bad_hcs:1", lambda n: [7, 8])):
        for e, f in zip(clean, apply_faults(clean, [spec], seed=1), strict=True):
            assert _changed(e.data, f.data) == spot(len(e.data)) and f.counts == {"checksum_errors": 1}
            assert 0x7E not in f.data[1:-1] or 0x7E in e.data[1:-1]


def test_bad_length_keeps_a_right_header_checksum(clean):
    out = apply_faults(clean, ["bad_length:1"], seed=1)
    kinds = set()
    for e, f in zip(clean, out, strict=True):
        assert _changed(e.data, f.data)[0] in (1, 2) and f.data[9:] == e.data[9:]
        assert crc16_x25_wire(f.data[1:7]) == f.data[7:9]
        announced = length_field(f.data) + 2
        if announced < len(e.data):
            assert f.counts == {"checksum_errors": 1}
        else:
            assert announced >= len(e.data) + 10 and f.counts == {"truncated": 1}
        kinds.add(announced < len(e.data))
    assert kinds == {True, False}  # both directions are drawn


def test_duplicate(clean):
    out = apply_faults(clean, ["duplicate"], seed=1)
    assert len(out) == len(clean) + 7
    pairs = [(a, b) for a, b in zip(out, out[1:], strict=False) if a.data == b.data]
    assert len(pairs) == 7
    for a, b in pairs:
        assert a.published and b.published and a.fault == b.fault == "duplicate"
        assert b.t == pytest.approx(a.t + len(a.data) * CHAR_S)
    firsts = [e for i, e in enumerate(out) if not (i and out[i - 1].data == e.data)]
    assert firsts == [replace(e, fault="duplicate") if i % 4 == 3 else e for i, e in enumerate(clean)]


@pytest.mark.parametrize(("size", "counts"), [(2049, {"oversized": 1}), (600, {"unknown_format": 1})])
def test_oversized(clean, size, counts):
    fast = LineSettings(115200, 8, "E", 1)
    out = apply_faults(clean, [f"oversized:{size}"], seed=1, line=fast)
    junk = [i for i, e in enumerate(out) if e.fault]
    assert junk == [5, 16, 27]  # after frames 5, 15 and 25, ending right before the next one
    assert [e for e in out if not e.fault] == clean
    for i in junk:
        e = out[i]
        assert e.t + len(e.data) * fast.char_time_s == pytest.approx(out[i + 1].t)
        assert len(e.data) == size and e.counts == counts and e.reading is None and e.fault == f"oversized:{size}"
        assert length_field(e.data) == size - 2 and 0x7E not in e.data[9:-3] and e.data[9] != 0xE6
        assert crc16_x25_wire(e.data[1:7]) == e.data[7:9] and crc16_x25_wire(e.data[1:-3]) == e.data[-3:-1]
    # at 2400 baud it does not fit between two frames: it follows frame 5 at once and takes the line,
    # the frames due meanwhile are not sent
    slow = apply_faults(clean, [f"oversized:{size}"], seed=1)
    busy = [(e.t, e.t + len(e.data) * CHAR_S) for e in slow if e.fault]
    assert len(busy) == 3 and busy[0][0] == pytest.approx(clean[4].t + len(clean[4].data) * CHAR_S)
    assert [e for e in slow if not e.fault] == [e for e in clean if not any(a <= e.t < b for a, b in busy)]


def test_clock_jump_reencodes_from_the_middle_on(meter, clean):
    out = apply_faults(clean, ["clock_jump:-3600"], seed=1, meter=meter)
    assert out[:15] == clean[:15]
    for e, f in zip(clean[15:], out[15:], strict=True):
        assert f.t == e.t and f.at == e.at - timedelta(hours=1) and f.list == e.list
        assert f.data == meter.frame_at(f.at, f.list).data and f.reading["timestamp"] == f.at.isoformat()
        assert f.published and f.fault == "clock_jump:-3600"
    with pytest.raises(ValueError, match="needs the meter"):
        apply_faults(clean, ["clock_jump"])


def test_no_list3(clean):
    out = apply_faults(clean, ["no_list3"])
    assert out == [e for e in clean if e.list != 3] and len(out) == len(clean) - 1


def test_silence_and_restart(clean):
    out = apply_faults(clean, ["silence:11s"])
    assert [e.t for e in out] == [e.t for e in clean if not 30 <= e.t < 41]
    assert out == [e for e in clean if e.t in {f.t for f in out}]
    out = apply_faults(clean, ["restart:9s"], seed=2)
    (cut,) = [e for e in out if e.fault]
    assert cut.t == 30.0 and cut.counts == {"truncated": 1} and clean[15].data.startswith(cut.data)
    after = [e.t for e in out if e.t > 30]
    assert after[0] == 40.0 and after[0] - 30 >= 9 and out[:15] == clean[:15]


def test_a_frame_holding_a_header_start_is_passed_over(meter):
    # 0x7EA1 = 32417 W puts the byte pair 7E A1 inside the frame: a reader rescanning its remains after
    # damage would take it for another header, so the fault goes to the next frame
    at = datetime(2024, 10, 1, 19, 0, 2)
    odd = meter.frame_at(at, overrides={"p_import_w": 32417})
    assert b"\x7e\xa1" in odd.data
    stream = emissions_from_frames([odd, meter.frame_at(at + timedelta(seconds=2))], at)
    for spec in ("bitflip:1", "bad_fcs:1", "bad_hcs:1", "bad_length:1"):
        out = apply_faults(stream, [spec])
        assert out[0] == stream[0] and out[1].fault == spec


def test_faults_are_seeded(clean, meter):
    specs = ["mid_frame", "bitflip:2", "bad_length:2", "truncate:2", "oversized", "garbage", "split"]
    assert apply_faults(clean, specs, seed=7, meter=meter) == apply_faults(clean, specs, seed=7, meter=meter)
    assert apply_faults(clean, specs, seed=7) != apply_faults(clean, specs, seed=8)


def test_composition_applies_in_order_with_one_rng(clean, meter):
    specs = ["clock_jump:600", "bad_fcs:5", "duplicate:3", "garbage:4", "split:2"]
    rng = random.Random(11)
    step = clean
    for spec in specs:
        step = parse_fault(spec).apply(step, rng, meter)
    out = apply_faults(clean, [parse_fault(s) for s in specs], seed=11, meter=meter)
    assert out == step
    labels = {e.fault for e in out}
    assert {"garbage:4", "split:2", "bad_fcs:5+split:2", "duplicate:3+split:2",
            "clock_jump:600+split:2", "clock_jump:600+bad_fcs:5+split:2"} <= labels


def test_orders_that_would_leave_counts_uncertain_are_refused(clean):
    with pytest.raises(ValueError, match="give garbage after bad_fcs, duplicate: "):
        apply_faults(clean, ["split", "garbage", "duplicate", "bad_fcs", "no_list3"])
    with pytest.raises(ValueError, match="give duplicate after truncate: "):
        apply_faults(clean, ["duplicate", "truncate"])
    with pytest.raises(ValueError, match="mid_frame needs a stream that starts with a frame"):
        apply_faults(clean, ["mid_frame", "mid_frame"])


@pytest.mark.parametrize("spec", [*FAULTS, "garbage:400", "garbage:1000", "oversized:600", "split:9"])
def test_no_write_goes_out_late(clean, meter, spec):
    out = apply_faults(clean, [spec], seed=3, meter=meter)
    for a, b in zip(out, out[1:], strict=False):
        assert b.t >= a.t + len(a.data) * CHAR_S - 1e-9


@pytest.mark.parametrize("name", sorted(set(FAULTS) - {"mid_frame", "no_list3", "silence", "restart", "clock_jump"}))
def test_defaults_show_the_fault_at_least_twice_in_20_frames(clean, name):
    out = apply_faults(clean[:20], [name], seed=1)
    assert len({e.t for e in out if e.fault}) >= 2


def test_emissions_from_capture(clean, tmp_path):
    capture_mod = pytest.importorskip("rig.capture")
    stream = apply_faults(clean[:6], ["bad_fcs:2", "split:2"], seed=1)
    chunks = [capture_mod.Chunk(t=e.t, data=e.data, expect=e.reading, list=e.list, counts=dict(e.counts) or None,
                                fault=e.fault) for e in stream]
    path = tmp_path / "stream.jsonl"
    capture_mod.write_capture(path, capture_mod.Capture(meter="kaifa-ma304h4", chunks=chunks))
    back = emissions_from_capture(capture_mod.read_capture(path))
    assert [replace(e, at=None, t=0) for e in stream] == [replace(e, t=0) for e in back]
    assert [e.t for e in back] == pytest.approx([e.t for e in stream], abs=1e-6)


def test_emissions_are_made_one_at_a_time_as_the_stream_asks() -> None:
    from rig.emulators.faults import emissions_from_frames, iter_emissions_from_frames

    start = datetime(2024, 10, 27, 1, 59, 50)  # the daylight-saving change: t keeps growing with real time
    built: list[int] = []

    def frames():
        for i, frame in enumerate(Meter("kaifa-ma304h4", start=start).frames(start=start, count=3600)):
            built.append(i)
            yield frame

    lazy = iter_emissions_from_frames(frames(), start)
    first = next(lazy)
    assert built == [0] and first.t == 0  # one frame built for one write
    rest = list(lazy)
    assert [first, *rest] == emissions_from_frames(Meter("kaifa-ma304h4", start=start).frames(start=start, count=3600),
                                                   start)
    assert rest[-1].t == 7198 and list(iter_emissions_from_frames(iter(()), start)) == []


def test_a_message_in_two_mbus_segments_counts_once_at_its_last_segment():
    from rig.capture import Capture, Chunk, load_capture

    path = Path(__file__).resolve().parents[2] / "captures" / "kaifa" / "kaifa_at_netznoe_mbus_enc.jsonl"
    capture = load_capture(path)
    (emission,) = emissions_from_capture(capture)
    assert dict(emission.counts) == {"frames_ok": 1} and emission.published  # two M-Bus frames, one message
    first_segment = capture.chunks[0].data[:capture.chunks[0].data[1] + 6]
    (cut,) = emissions_from_capture(Capture(meter=None, chunks=[Chunk(t=0.0, data=first_segment)]))
    assert dict(cut.counts) == {"truncated": 1}  # its last segment never came

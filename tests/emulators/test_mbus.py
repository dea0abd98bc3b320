"""Wired M-Bus long frames: the Netz NOE and gh905 frames rebuilt byte for byte, segmenting, and the checks."""

import pytest

from rig.emulators import mbus
from tests.spec_frames import load_reference_frames

FRAMES = {f["id"]: f for f in load_reference_frames()}


@pytest.mark.parametrize(("frame_id", "cis", "sizes"), [
    ("kaifa_at_netznoe_mbus_enc", [0x00, 0x11], [0xFA, 0x14]),
    ("kaifa_pl_gh905_mbus_enc", [0x00, 0x11], [0xFA, 0x72]),
])
def test_real_frames_rebuilt_byte_for_byte(frame_id, cis, sizes):
    data = bytes.fromhex(FRAMES[frame_id]["data_hex"])
    parts = mbus.frames(data)
    assert [p.ci for p in parts] == cis
    assert [len(p.data) + mbus.HEADER_BYTES for p in parts] == sizes
    assert all((p.control, p.address, p.stsap, p.dtsap) == (0x53, 0xFF, 0x01, 0x67) for p in parts)
    apdu = mbus.reassemble(data)
    assert apdu[:1] == b"\xdb"
    assert mbus.encode(apdu) == data  # 245 data bytes per full frame, like the meter


def test_one_segment_uses_ci_10():
    frame = mbus.encode(b"\xdb" + bytes(9))
    checksum = (0x53 + 0xFF + 0x10 + 0x01 + 0x67 + 0xDB) & 0xFF
    assert frame == bytes.fromhex("680f0f6853ff100167db000000000000000000") + bytes([checksum, 0x16])


@pytest.mark.parametrize("segment", [33, 50, 245, 250])
def test_segments_number_from_zero_with_fin_on_the_last(segment):
    apdu = bytes(range(256)) * 2
    data = mbus.encode(apdu, segment)
    parts = mbus.frames(data)
    count = -(-len(apdu) // segment)
    if count > mbus.MAX_SEGMENTS:
        pytest.fail("test sizes must fit 16 segments")
    assert [p.ci for p in parts] == [*range(count - 1), 0x10 | (count - 1)]
    assert all(len(p.data) == segment for p in parts[:-1])
    assert mbus.reassemble(data) == apdu


def test_too_many_segments():
    with pytest.raises(ValueError, match="needs 17 segments"):
        mbus.encode(bytes(17), 1)


@pytest.mark.parametrize(("segment", "apdu"), [(0, b"\x01"), (251, b"\x01"), (10, b"")])
def test_bad_encode_arguments(segment, apdu):
    with pytest.raises(ValueError):
        mbus.encode(apdu, segment)


def _good() -> bytes:
    return mbus.encode(bytes(range(100)), 60)


@pytest.mark.parametrize(("spoil", "message"), [
    (lambda d: d[:-1], "cut short"),
    (lambda d: d[:2] + b"\x10" + d[3:], "length bytes differ"),
    (lambda d: d[:-2] + bytes([d[-2] ^ 1]) + d[-1:], "checksum"),
    (lambda d: d[:10] + bytes([d[10] ^ 1]) + d[11:], "checksum"),
    (lambda d: b"\x10" + d[1:], "not an M-Bus long frame"),
])
def test_damaged_frames_are_refused(spoil, message):
    data = mbus.encode(bytes(range(40)))
    with pytest.raises(ValueError, match=message):
        mbus.frames(spoil(data))


def test_wrong_stop_byte():
    data = mbus.encode(bytes(range(40)))
    with pytest.raises(ValueError, match="stop byte"):
        mbus.parse_frame(data[:-1] + b"\x17")


def test_segments_out_of_order_are_refused():
    first, second = mbus.frames(_good())
    data = _good()
    with pytest.raises(ValueError, match="segment 1 where segment 0"):
        mbus.reassemble(data[first.end:] + data[:first.end])
    with pytest.raises(ValueError, match="FIN bit missing"):
        mbus.reassemble(data[:first.end])

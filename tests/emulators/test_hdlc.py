import pytest

from rig.emulators.crc import crc16_x25_wire
from rig.emulators.hdlc import build_frame
from tests.spec_frames import LIST1_HEX, LIST2_HEX, LIST3_HEX, unhex


@pytest.mark.parametrize("text", [LIST1_HEX, LIST2_HEX, LIST3_HEX])
def test_rebuilds_spec_frames_from_their_info_field(text):
    frame = unhex(text)
    info = frame[9:-3]
    assert build_frame(info, b"\x01", b"\x02\x01", 0x10) == frame


def test_layout():
    info = b"\xe6\xe7\x00\x0f"
    frame = build_frame(info, b"\x01", b"\x02\x01", 0x10)
    assert frame[0] == frame[-1] == 0x7E
    fmt = int.from_bytes(frame[1:3], "big")
    assert fmt >> 12 == 0xA and not fmt & 0x0800  # type 3, S = 0
    assert fmt & 0x7FF == len(frame) - 2
    assert frame[3:7] == b"\x01\x02\x01\x10"
    assert frame[7:9] == crc16_x25_wire(frame[1:7])
    assert frame[9:-3] == info
    assert frame[-3:-1] == crc16_x25_wire(frame[1:-3])


def test_no_octet_stuffing():
    info = bytes([0x7E, 0x7D, 0x7E])
    frame = build_frame(info, b"\x01", b"\x02\x01", 0x10)
    assert frame[9:12] == info
    assert len(frame) == 2 + 2 + 4 + 2 + 3 + 2


def test_frame_without_info_has_no_hcs():
    frame = build_frame(b"", b"\x01", b"\x02\x01", 0x13)
    assert frame[1:3] == b"\xa0\x08"
    assert frame[7:9] == crc16_x25_wire(frame[1:7])
    assert len(frame) == 10


def test_longest_frame_and_one_byte_more():
    overhead = 2 + 1 + 2 + 1 + 2 + 2
    frame = build_frame(bytes(2047 - overhead), b"\x01", b"\x02\x01", 0x10)
    assert frame[1:3] == b"\xa7\xff"
    with pytest.raises(ValueError, match="2047"):
        build_frame(bytes(2048 - overhead), b"\x01", b"\x02\x01", 0x10)


@pytest.mark.parametrize("dest, source", [(b"\x02", b"\x02\x01"), (b"\x01", b"\x03\x01"), (b"", b"\x01")])
def test_rejects_unterminated_addresses(dest, source):
    with pytest.raises(ValueError, match="address"):
        build_frame(b"\x00", dest, source, 0x10)

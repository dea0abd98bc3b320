from rig.emulators.crc import crc16_arc, crc16_x25, crc16_x25_wire
from tests.spec_frames import LIST1_HEX, LIST2_HEX, LIST3_HEX, unhex


def test_check_value():
    assert crc16_x25(b"123456789") == 0x906E


def test_empty_input():
    assert crc16_x25(b"") == 0x0000


def test_wire_form_is_lsb_first():
    assert crc16_x25_wire(b"123456789") == b"\x6e\x90"


def test_residue_of_data_plus_wire_crc():
    # appending the wire CRC gives the X.25 "good FCS" residue 0xF0B8 before the final xor
    data = b"\x01\x02\x03 HAN"
    assert crc16_x25(data + crc16_x25_wire(data)) ^ 0xFFFF == 0xF0B8


def test_hcs_and_fcs_of_spec_frames():
    for text in (LIST1_HEX, LIST2_HEX, LIST3_HEX):
        frame = unhex(text)
        assert crc16_x25_wire(frame[1:7]) == frame[7:9]  # HCS: format .. control
        assert crc16_x25_wire(frame[1:-3]) == frame[-3:-1]  # FCS: format .. last info byte


def test_spec_example_fcs_value():
    frame = unhex(LIST3_HEX)
    assert crc16_x25(frame[1:-3]) == 0xE5FA


def test_crc16_arc_check_value():
    assert crc16_arc(b"123456789") == 0xBB3D
    assert crc16_arc(b"") == 0x0000


def test_crc16_arc_residue_is_zero():
    # ARC has no xorout: the data followed by its CRC (LSB first) leaves a zero register
    data = b"/LGF5E360\r\n\r\n!"
    assert crc16_arc(data + crc16_arc(data).to_bytes(2, "little")) == 0


def test_crc16_arc_of_real_e360_telegrams(reference_frames):
    telegrams = [f["data_text"] for f in reference_frames if f["kind"] == "p1" and f["make"] == "Landis+Gyr"]
    assert len(telegrams) >= 4
    for text in telegrams:
        body, crc = text.rsplit("!", 1)
        assert crc16_arc((body + "!").encode("ascii")) == int(crc.strip(), 16), text[:20]

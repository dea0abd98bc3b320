"""Unit tests of the HAN decoder's layers: CRC, HDLC header, A-XDR, COSEM date-time, DLMS, Kaifa lists."""

import han_testdata as td
import pytest

from dut_firmware.han import axdr, cosem_time, dlms, hdlc, kaifa, obis, reading
from dut_firmware.han.crc import TABLE, crc16_arc, crc16_x25
from dut_firmware.han.decoder import decode_apdu, decode_llc
from tests.spec_frames import LIST1_HEX, LIST2_HEX, LIST3_HEX, unhex

L1 = unhex(LIST1_HEX)
L2 = unhex(LIST2_HEX)
L3 = unhex(LIST3_HEX)


# -- CRC ----------------------------------------------------------------------------------------
def test_crc_check_value_and_table():
    assert crc16_x25(b"123456789") == 0x906E  # the catalogued check value of CRC-16/X.25
    assert len(TABLE) == 256 and TABLE[1] == 0x1189 and TABLE[128] == 0x8408


def test_crc_matches_bitwise_reference_and_wire_order():
    for frame in (L1, L2, L3):
        assert crc16_x25(frame, 1, len(frame) - 3) == td.crc_x25(frame[1:-3])
        fcs = crc16_x25(frame, 1, len(frame) - 3)
        assert frame[-3:-1] == bytes([fcs & 0xFF, fcs >> 8])  # LSB first
    # han-protocols.md: the List 3 FCS 0xE5FA goes on the wire as FA E5
    assert crc16_x25(L3, 1, len(L3) - 3) == 0xE5FA
    assert crc16_x25(memoryview(L3)[1:-3]) == 0xE5FA


def _crc_arc(data):
    """Bitwise CRC-16/ARC, independent of dut_firmware.han.crc."""
    crc = 0
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def test_crc_of_any_range_of_bytes_bytearray_and_memoryview():
    # two bytes a step from 24 bytes on, one byte a step below and for an odd last byte
    data = bytes((i * 151 + 7) & 0xFF for i in range(90))
    assert crc16_arc(b"123456789") == 0xBB3D  # the catalogued check value of CRC-16/ARC
    for kind in (bytes, bytearray, memoryview):
        d = kind(data)
        for start in (0, 1, 2, 5):
            for end in range(start, len(data) + 1):
                assert crc16_x25(d, start, end) == td.crc_x25(data[start:end]), (kind, start, end)
                assert crc16_arc(d, start, end) == _crc_arc(data[start:end]), (kind, start, end)
        assert crc16_arc(d) == _crc_arc(data) and crc16_x25(d) == td.crc_x25(data)


# -- HDLC header ----------------------------------------------------------------------------------
def test_hdlc_parse_ok_and_need():
    r = hdlc.parse(L2, 0, len(L2), 2048)
    assert r == (hdlc.OK, len(L2) - 1, 9, len(L2) - 3, 0)
    assert hdlc.parse(L2, 0, 1, 2048) == (hdlc.NEED, 2)
    assert hdlc.parse(L2, 0, 5, 2048)[0] == hdlc.NEED
    assert hdlc.parse(L2, 0, 50, 2048) == (hdlc.NEED, len(L2) - 1)
    assert hdlc.frame_length(L2, 0) == 122
    assert hdlc.header_ok(L2, 0, 9) and not hdlc.header_ok(L2, 0, 8)


def test_hdlc_parse_rejections():
    assert hdlc.parse(b"\x7e\x7e\xa0", 0, 3, 2048) == (hdlc.NOT_FRAME,)
    assert hdlc.parse(b"\x7e\x13", 0, 2, 2048) == (hdlc.NOT_FRAME,)
    assert hdlc.parse(b"\x7e\xa0\x20\x00\x00\x00\x00\x00", 0, 8, 2048) == (hdlc.NOT_FRAME,)  # address
    bad = bytearray(L2)
    bad[7] ^= 1
    assert hdlc.parse(bad, 0, len(bad), 2048) == (hdlc.BAD_HCS,)
    bad = bytearray(L2)
    bad[50] ^= 1
    assert hdlc.parse(bad, 0, len(bad), 2048) == (hdlc.BAD_FCS, len(L2) - 1)
    assert hdlc.parse(L2, 0, len(L2), 100) == (hdlc.OVERSIZED, 122)


def test_hdlc_frame_without_information_field():
    # a header-only frame: the two bytes after CTRL are its FCS
    header = b"\xa0\x07\x03\x21\x93"
    frame = b"\x7e" + header + bytes([td.crc_x25(header) & 0xFF, td.crc_x25(header) >> 8]) + b"\x7e"
    assert hdlc.parse(frame, 0, len(frame), 2048) == (hdlc.OK, 8, 6, 6, 0)


# -- A-XDR ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("data,value", [
    ("00", None),
    ("0301", True), ("0300", False),
    ("0F80", -128), ("1080 00", -32768), ("11FF", 255), ("12FFFF", 65535),
    ("05FFFFFFFE", -2), ("06FFFFFFFF", 4294967295),
    ("14FFFFFFFFFFFFFFFF", -1), ("15FFFFFFFFFFFFFFFF", 2**64 - 1), ("16 03", 3),
    ("09 03 010203", b"\x01\x02\x03"), ("0A 03 414243", "ABC"), ("09 00", b""),
    ("02 02 11 01 12 0002", [1, 2]), ("01 02 02 01 00 02 01 0300", [[None], [False]]),
    ("19 07E80A0102130002FF800000", bytes.fromhex("07E80A0102130002FF800000")),
])
def test_axdr_types(data, value):
    raw = unhex(data)
    got, end = axdr.decode(raw)
    assert got == value and type(got) is type(value)
    assert end == len(raw)


def test_axdr_long_lengths():
    assert axdr.decode(b"\x09\x81\x80" + b"x" * 128) == (b"x" * 128, 131)
    assert axdr.decode(b"\x09\x82\x01\x00" + b"y" * 256) == (b"y" * 256, 260)
    items, end = axdr.decode(b"\x01\x81\x81" + b"\x11\x07" * 129)
    assert items == [7] * 129 and end == 3 + 258


@pytest.mark.parametrize("data,message", [
    ("06 0000", "past the end"), ("09 05 0102", "past the end"), ("02 03 11 01", "past the end"),
    ("", "past the end"), ("17 00000000", "unsupported type tag 0x17"),
    ("09 83 000001", "unsupported length"), ("02 01" * 10 + "00", "nesting"),
])
def test_axdr_errors(data, message):
    with pytest.raises(ValueError, match=message):
        axdr.decode(unhex(data))


# -- COSEM date-time ------------------------------------------------------------------------------
@pytest.mark.parametrize("data,text", [
    ("07E80A0102130002FF800000", "2024-10-01T19:00:02"),  # Kaifa: deviation 0x8000, no offset
    ("07E5091B01092F0F00FF8880", "2021-09-27T09:47:15+02:00"),  # Netz NOe: FF88 with DST bit
    ("07E509160311231EFFFFC400", "2021-09-22T17:35:30+01:00"),  # Swedish OBIS variant: FFC4
    ("07E501010100000000003C00", "2021-01-01T00:00:00-01:00"),
    ("07E50101010000FFFF000000", "2021-01-01T00:00:00+00:00"),  # seconds unspecified -> 00
    ("07E80A01FF0A1E2DFF800009", "2024-10-01T10:30:45"),
])
def test_cosem_time(data, text):
    assert cosem_time.to_iso(bytes.fromhex(data)) == text


@pytest.mark.parametrize("data", ["FFFF0101010000000000000000"[:24], "07E80D0102130002FF800000",
                                  "07E80A0102FF0002FF800000", "07E80A01"])
def test_cosem_time_invalid(data):
    with pytest.raises(ValueError):
        cosem_time.to_iso(bytes.fromhex(data))


def test_cosem_deviation():
    assert cosem_time.deviation(bytes.fromhex("07E80A0102130002FF800000")) is None
    assert cosem_time.deviation(bytes.fromhex("07E509160311231EFFFFC400")) == -60


# -- DLMS -----------------------------------------------------------------------------------------
APDU_L1 = td.info_of(L1)[3:]  # 0F 40000000 09 0C <12> 02 01 06 000013C1


def test_notification_header_forms():
    invoke, when, tag, body = dlms.parse_notification(APDU_L1)
    assert invoke == 0x40000000 and when == bytes.fromhex("07E80A0102130002FF800000")
    assert tag == 0x02 and body == [5057]
    # Kamstrup rev >= 3: 0C + 12 bytes; Aidon / Swedish OBIS variant: 00
    kam = APDU_L1[:5] + APDU_L1[6:]
    assert dlms.parse_notification(kam)[1:] == (when, 0x02, [5057])
    none = APDU_L1[:5] + b"\x00" + APDU_L1[19:]
    assert dlms.parse_notification(none)[1:] == (None, 0x02, [5057])
    assert decode_apdu(none) == {"p_import_w": 5057}


@pytest.mark.parametrize("apdu,exc,message", [
    (b"", dlms.UnknownFormat, "empty"),
    (b"\xdb\x08KFM", dlms.DecryptError, "general-glo-ciphering"),
    (b"\xe0\x81", dlms.UnknownFormat, "general-block-transfer apdu"),
    (b"\xc4\x01", dlms.UnknownFormat, "unknown apdu tag 0xc4"),
    (b"\x0f\x40\x00\x00\x00\x09\x05abcde\x02\x00", dlms.UnknownFormat, "date-time of 5 bytes"),
    (b"\x0f\x40\x00\x00\x00\x00", dlms.UnknownFormat, "without a body"),
    (b"\x0f\x40\x00\x00\x00\x00\x02\x02\x06", dlms.UnknownFormat, "past the end"),
    (b"\x0f\x40\x00\x00", dlms.UnknownFormat, "too short"),
    (b"\x0f\x40\x00\x00\x00\x09\x0c\x07\xe8", dlms.UnknownFormat, "ends inside the date-time"),
])
def test_notification_errors(apdu, exc, message):
    with pytest.raises(exc, match=message):
        dlms.parse_notification(apdu)
    assert issubclass(exc, ValueError)


def test_decode_llc_requires_the_llc_header():
    with pytest.raises(ValueError, match="no LLC header"):
        decode_llc(b"\xe6\xe6\x00" + APDU_L1)
    assert decode_llc(b"\xe6\xe7\x00" + APDU_L1) == {"timestamp": "2024-10-01T19:00:02", "p_import_w": 5057}


# -- Kaifa lists ----------------------------------------------------------------------------------
def _items(frame):
    return dlms.parse_notification(td.info_of(frame)[3:])[3]


def test_single_phase_list2_nine_elements(reference_frames):
    # MA105H2E List 2: items 1-8 then U1 (built from the List 3 of kaifa_se_gh242_3: same meter)
    l3 = next(f for f in td.kaifa_frames(reference_frames, ("hdlc",)) if f["id"] == "kaifa_se_gh242_3_1ph_l3")
    items = dlms.parse_notification(bytes.fromhex(l3["data_hex"])[12:-3])[3]
    assert len(items) == 14
    kind, list_no, reading = kaifa.decode(items[:9], None)
    assert (kind, list_no) == ("kaifa-kfm001", 2)
    assert reading == {"list_version": "KFM_001", "meter_id": "7340157010120038", "meter_type": "MA105H2E",
                       "p_import_w": 0, "p_export_w": 0, "q_import_var": 0, "q_export_var": 0,
                       "i_l1_ma": 66, "u_l1_mv": 244200}


def test_list3_without_header_time_takes_the_clock_item():
    kind, list_no, reading = kaifa.decode(_items(L3), None)
    assert list_no == 3 and reading["timestamp"] == "2024-10-01T19:00:10"


def test_it_rule_only_for_ma304h3e():
    items = _items(L2)
    items[2] = b"MA304H3E"
    reading = kaifa.decode(items, None)[2]
    assert reading["u_l2_mv"] is None and reading["u_l1_mv"] == 235600 and reading["u_l3_mv"] == 239300
    items[2] = b"MA304H4"
    assert kaifa.decode(items, None)[2]["u_l2_mv"] == 240900


def test_scaling_is_exact_decimal():
    reading = kaifa.decode(_items(L2), None)[2]
    assert reading["u_l1_mv"] == 235600 and reading["i_l3_ma"] == 923     # 2356 x 0.1 V, 923 x 1 mA
    assert all(type(reading[k]) is int for k in ("p_import_w", "q_export_var", "u_l1_mv", "i_l3_ma"))


@pytest.mark.parametrize(("n", "exp", "want"), [
    (2356, 2, 235600), (-1500, 0, -1500), (2**70, 3, 2**70 * 1000),    # exact, however large
    (12345, -1, 1235), (12344, -1, 1234), (-12345, -1, -1235), (-12344, -1, -1234),  # half away from zero
    (5, -1, 1), (4, -1, 0), (-5, -1, -1), (0, -3, 0),
])  # fmt: skip
def test_scale_is_exact_or_rounds_half_away_from_zero(n, exp, want):
    got = reading.scale(n, exp)
    assert got == want and type(got) is int


@pytest.mark.parametrize(("code", "value", "scaler", "field", "want"), [
    ((1, 0, 32, 7, 0, 255), 2301, -1, "u_l1_mv", 230100),         # 0.1 V
    ((1, 0, 32, 7, 0, 255), 230, 0, "u_l1_mv", 230000),           # 1 V (Kamstrup, E450)
    ((1, 0, 31, 7, 0, 255), 57, -2, "i_l1_ma", 570),              # 0.01 A
    ((1, 0, 31, 7, 0, 255), 12345, -4, "i_l1_ma", 1235),          # 0.1 mA: finer than mA, rounded
    ((1, 0, 1, 8, 0, 255), 6307498, 1, "e_import_wh", 63074980),  # 10 Wh (Aidon NO, Kamstrup)
    ((1, 0, 1, 7, 0, 255), 15, -1, "p_import_w", 2),              # 0.1 W: finer than W, rounded
])  # fmt: skip
def test_every_dlms_scaler_gives_an_int_in_the_base_unit(code, value, scaler, field, want):
    out = {}
    assert obis.put(out, bytes(code), value, (0,) * 6, scaler)
    assert out == {field: want} and type(out[field]) is int


def test_obis_variant_with_only_some_codes():
    pairs = [bytes([1, 0, 1, 7, 0, 255]), 1500, bytes([1, 0, 99, 99, 0, 255]), 7,
             bytes([1, 0, 32, 7, 0, 255]), 2301]
    assert kaifa.decode(pairs, None) == ("kaifa-obis", 2, {"p_import_w": 1500, "u_l1_mv": 230100})
    assert kaifa.decode(pairs[:2], None) == ("kaifa-obis", 1, {"p_import_w": 1500})


@pytest.mark.parametrize("body,message", [
    ([], "not a non-empty structure"),
    ([1, 2], "unknown list: structure of 2 elements"),
    ([b"KFM_001"] * 13, "unexpected value type for p_import_w"),
    ([bytes(6), 1], "no known OBIS code"),
    ([bytes([1, 0, 1, 7, 0, 255]), b"x"], "unexpected value type for p_import_w"),
    ([True], "unexpected value type"),
])
def test_kaifa_errors(body, message):
    with pytest.raises(ValueError, match=message):
        kaifa.decode(body, None)

from datetime import datetime

import pytest

from rig.emulators import axdr


def test_structure_and_array():
    pair = axdr.structure(axdr.long_unsigned(1), axdr.long_unsigned(2))
    assert pair == bytes.fromhex("02 02 12 0001 12 0002")
    assert axdr.array() == b"\x01\x00"
    assert axdr.structure() == b"\x02\x00"


def test_long_lengths():
    assert axdr.length(0x7F) == b"\x7f"
    assert axdr.length(0x80) == b"\x81\x80"
    assert axdr.length(0x155) == b"\x82\x01\x55"
    assert axdr.octet_string(bytes(200))[:3] == b"\x09\x81\xc8"


def test_double_long_unsigned():
    assert axdr.double_long_unsigned(5057) == bytes.fromhex("06000013c1")
    assert axdr.double_long_unsigned(0xFFFFFFFF) == bytes.fromhex("06ffffffff")
    with pytest.raises(ValueError):
        axdr.double_long_unsigned(-1)
    with pytest.raises(ValueError):
        axdr.double_long_unsigned(1 << 32)
    with pytest.raises(TypeError):
        axdr.double_long_unsigned(1.0)


def test_small_integers():
    assert axdr.long(-2) == b"\x10\xff\xfe"
    assert axdr.long_unsigned(0x0935) == b"\x12\x09\x35"
    assert axdr.long64_unsigned(1) == b"\x15" + bytes(7) + b"\x01"
    for encode, bad in ((axdr.long, 1 << 15), (axdr.long, -(1 << 15) - 1), (axdr.long_unsigned, 1 << 16)):
        with pytest.raises(ValueError):
            encode(bad)


def test_strings():
    assert axdr.octet_string(b"KFM_001") == bytes.fromhex("09074b464d5f303031")
    assert axdr.visible_string("AIDON_V0001") == b"\x0a\x0bAIDON_V0001"


def test_date_time_kaifa_style():
    dt = axdr.date_time(datetime(2024, 10, 1, 19, 0, 10), clock_status=0)
    assert dt == bytes.fromhex("07e80a010213000aff800000")
    assert len(dt) == 12


def test_date_time_with_deviation_and_status():
    # Netz NOE example: 27.09.2021 09:47:15 CEST (deviation -120, status DST)
    dt = axdr.date_time(datetime(2021, 9, 27, 9, 47, 15), hundredths=0, deviation=-120, clock_status=0x80)
    assert dt == bytes.fromhex("07e5091b01092f0f00ff8880")


def test_day_of_week_sunday_is_7():
    assert axdr.date_time(datetime(2024, 10, 6))[4] == 7

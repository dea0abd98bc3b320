from decimal import Decimal

import pytest

from rig.emulators.crc import crc16_arc
from rig.emulators.p1 import ObisLine, checksum, encode_telegram

GH382_ID = "lg_e360_se_gh382_p1"

# The section-3 telegram (amsreader gh382-1) as lines and printed values, written out here.
GH382_LINES = [
    ("0-0:1.0.0", 0, 0, "", "221215155050W"),
    ("1-0:1.8.0", 8, 3, "kWh", "2721.126"),
    ("1-0:2.8.0", 8, 3, "kWh", "0"),
    ("1-0:3.8.0", 8, 3, "kVArh", "1384.336"),
    ("1-0:4.8.0", 8, 3, "kVArh", "0.09"),
    ("1-0:1.7.0", 4, 3, "kW", "4.19"),
    ("1-0:2.7.0", 4, 3, "kW", "0"),
    ("1-0:3.7.0", 4, 3, "kVAr", "0.292"),
    ("1-0:4.7.0", 4, 3, "kVAr", "0"),
    ("1-0:21.7.0", 4, 3, "kW", "1.98"),
    ("1-0:22.7.0", 4, 3, "kW", "0"),
    ("1-0:41.7.0", 4, 3, "kW", "0.354"),
    ("1-0:42.7.0", 4, 3, "kW", "0"),
    ("1-0:61.7.0", 4, 3, "kW", "1.855"),
    ("1-0:62.7.0", 4, 3, "kW", "0"),
    ("1-0:23.7.0", 4, 3, "kVAr", "1.072"),
    ("1-0:24.7.0", 4, 3, "kVAr", "0"),
    ("1-0:43.7.0", 4, 3, "kVAr", "0.265"),
    ("1-0:44.7.0", 4, 3, "kVAr", "0"),
    ("1-0:63.7.0", 4, 3, "kVAr", "0"),
    ("1-0:64.7.0", 4, 3, "kVAr", "1.044"),
    ("1-0:32.7.0", 3, 1, "V", "230.7"),
    ("1-0:52.7.0", 3, 1, "V", "230.1"),
    ("1-0:72.7.0", 3, 1, "V", "231"),
    ("1-0:31.7.0", 3, 1, "A", "9.7"),
    ("1-0:51.7.0", 3, 1, "A", "1.9"),
    ("1-0:71.7.0", 3, 1, "A", "9.2"),
]


def gh382() -> tuple[list[ObisLine], dict[str, Decimal | str]]:
    lines = [ObisLine(obis, digits, decimals, unit) for obis, digits, decimals, unit, _ in GH382_LINES]
    values = {obis: (Decimal(v) if digits else v) for obis, digits, _, _, v in GH382_LINES}
    return lines, values


def test_section_3_telegram_byte_for_byte(reference_frames):
    ref = next(f for f in reference_frames if f["id"] == GH382_ID)
    lines, values = gh382()
    telegram = encode_telegram("LGF5E360", lines, values)
    assert telegram == ref["data_text"].encode("ascii")
    assert telegram.endswith(b"!2154\r\n")


def test_telegram_framing():
    telegram = encode_telegram("ABC5TEST", [ObisLine("1-0:1.7.0", 2, 3, "kW")], {"1-0:1.7.0": 1})
    assert telegram.startswith(b"/ABC5TEST\r\n\r\n1-0:1.7.0(01.000*kW)\r\n!")
    body, crc = telegram.split(b"!")
    assert crc[:4] == f"{crc16_arc(body + b'!'):04X}".encode() and crc[4:] == b"\r\n"
    assert crc[:4].upper() == crc[:4]
    assert checksum(telegram) == int(crc[:4], 16)
    assert telegram.count(b"\r\n") == 4 and b"\n" not in telegram.replace(b"\r\n", b"")


@pytest.mark.parametrize(
    "line, value, text",
    [
        (ObisLine("1-0:1.8.0", 8, 3, "kWh"), Decimal("2721.126"), "00002721.126*kWh"),
        (ObisLine("1-0:1.8.0", 8, 3, "kWh"), 99999999.999, "99999999.999*kWh"),
        (ObisLine("1-0:1.7.0", 4, 3, "kW"), 0, "0000.000*kW"),
        (ObisLine("1-0:1.7.0", 4, 3, "kW"), "4.19", "0004.190*kW"),
        (ObisLine("1-0:32.7.0", 3, 1, "V"), 230.7, "230.7*V"),
        (ObisLine("1-0:31.7.0", 3, 1, "A"), Decimal("-0.0"), "000.0*A"),
        (ObisLine("1-0:31.7.0", 3, 1, "A"), 0.1, "000.1*A"),
        (ObisLine("0-0:96.1.0", 10, 0), 42, "0000000042"),
        (ObisLine("0-0:1.0.0"), "221215155050W", "221215155050W"),
    ],
)
def test_digit_layouts(line, value, text):
    assert line.format_value(value) == text
    assert line.render(value) == f"{line.obis}({text})"


@pytest.mark.parametrize(
    "line, value, message",
    [
        (ObisLine("1-0:1.7.0", 4, 3, "kW"), Decimal("10000"), "does not fit 4.3"),
        (ObisLine("1-0:1.7.0", 4, 3, "kW"), Decimal("1.2345"), "more than 3 decimals"),
        (ObisLine("1-0:32.7.0", 3, 1, "V"), 230.75, "more than 1 decimals"),
        (ObisLine("1-0:1.7.0", 4, 3, "kW"), -1, "negative"),
        (ObisLine("1-0:1.7.0", 4, 3, "kW"), "abc", "not a number"),
        (ObisLine("1-0:1.7.0", 4, 3, "kW"), float("nan"), "1-0:1.7.0"),
        (ObisLine("0-0:1.0.0"), "12)34", "cannot be sent"),
    ],
)
def test_bad_values_are_named_by_obis_code(line, value, message):
    with pytest.raises(ValueError, match=message) as err:
        line.format_value(value)
    assert line.obis in str(err.value)


def test_missing_value_and_bad_ident():
    lines = [ObisLine("1-0:1.7.0", 4, 3, "kW"), ObisLine("1-0:2.7.0", 4, 3, "kW")]
    with pytest.raises(ValueError, match="no value for 1-0:2.7.0"):
        encode_telegram("LGF5E360", lines, {"1-0:1.7.0": 1})
    for ident in ("", "LGF5/E360", "LG!F", "LGF\r\n", "LGF5\x00"):
        with pytest.raises(ValueError, match="P1 identification"):
            encode_telegram(ident, lines, {"1-0:1.7.0": 1, "1-0:2.7.0": 0})


def test_checksum_needs_a_telegram():
    with pytest.raises(ValueError, match="not a P1 telegram"):
        checksum(b"no telegram here")

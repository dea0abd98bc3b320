"""The Kaifa P1 profile (kaifa-p1-se): the real telegram byte for byte but its CRC, schedule, dsmr-parser."""

import random
from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from dsmr_parser import obis_references as obis
from dsmr_parser.exceptions import InvalidChecksumError
from dsmr_parser.parsers import CosemParser, TelegramParser, ValueParser

from rig.emulators import Meter, get_profile
from rig.emulators.crc import crc16_arc
from rig.emulators.kaifa_p1 import central_european_dst, clock_text
from rig.line import LineSettings

STOCKHOLM = ZoneInfo("Europe/Stockholm")
CAPTURE = "kaifa_pl_gh1067_p1_ascii"
# the capture's values, as its lines print them (energies 6.3 kWh, powers 2.3 kW, voltages 3.1 V)
CAPTURE_AT = datetime(2025, 11, 25, 10, 56, 43)
CAPTURE_VALUES = {"e_import_wh": 336420, "e_export_wh": 0, "p_import_w": 132, "p_export_w": 0,
                  "q_import_var": 0, "q_export_var": 257, "u_l1_v": 229.6, "u_l2_v": 229.1, "u_l3_v": 230.3}


@pytest.fixture
def meter():
    return Meter("kaifa-p1-se", seed=1)


def test_capture_byte_for_byte_but_its_wrong_crc(reference_frames):
    text = next(f for f in reference_frames if f["id"] == CAPTURE)["data_text"]
    profile = replace(get_profile("kaifa-p1-se"), model="MA309M")  # the capture's meter: 0-0:96.1.1 names it
    frame = Meter(profile, meter_id="30057775").frame_at(CAPTURE_AT, 1, overrides=CAPTURE_VALUES)
    sent = frame.data.decode("ascii")
    assert sent[:-6] == text[:-6] and text.endswith("!D770\r\n")  # everything but the 4 CRC digits
    body = text[:text.rindex("!") + 1].encode("ascii")
    assert crc16_arc(body) == 0xB2F6 and sent.endswith("!B2F6\r\n")  # the right CRC-16/ARC of the content
    assert crc16_arc(b"123456789") == 0xBB3D  # the catalogue check value of CRC-16/ARC
    assert frame.reading == {"timestamp": "2025-11-25T10:56:43", "list_version": "KFM5KAIFA-METER",
                             "meter_type": "KAIFA-METER", "meter_id": "30057775", **CAPTURE_VALUES}


def test_profile(meter):
    p = get_profile("kaifa-p1-se")
    assert (p.make, p.model, p.country, p.timezone) == ("Kaifa", "MA304H4E", "SE", "Europe/Stockholm")
    assert p.line == LineSettings(115200, 8, "N", 1) and p.lists == {1: "every 10 s"}
    assert p.frame_interval_s == 10.0
    with pytest.raises(ValueError, match="no list 2"):
        p.fields(2)
    with pytest.raises(ValueError, match="meter id"):
        Meter("kaifa-p1-se", meter_id="30 05")
    with pytest.raises(ValueError, match="meter_type"):
        meter.frame_at(datetime(2024, 10, 1, 19, 0, 0), overrides={"meter_type": "MA309M"})
    data = meter.frame_at(datetime(2024, 10, 1, 19, 0, 0)).data
    assert b"\r\n0-0:96.1.1(4D41333034483445)\r\n" in data  # the model, hex-encoded
    assert b"\r\n0-0:96.1.0(3330303030303031)\r\n" in data  # the default meter id 30000001


def test_schedule_is_one_telegram_every_10_s(meter):
    start = datetime(2024, 10, 1, 18, 59, 41)
    frames = list(meter.frames(start=start, until=start + timedelta(seconds=30)))
    assert [(f.at.strftime("%H:%M:%S"), f.list) for f in frames] == [("18:59:50", 1), ("19:00:00", 1),
                                                                      ("19:00:10", 1)]
    assert all(f.data.startswith(b"/KFM5KAIFA-METER\r\n\r\n0-0:1.0.0(2410011") for f in frames)


def test_summer_winter_letter_is_central_european():
    for year in (2024, 2025, 2031):
        for day in [datetime(year, 3, d) for d in range(24, 32)] + [datetime(year, 10, d) for d in range(24, 32)]:
            for minute in range(0, 5 * 60, 10):
                for fold in (0, 1):
                    t = (day + timedelta(minutes=minute)).replace(fold=fold)
                    assert central_european_dst(t) == bool(t.replace(tzinfo=STOCKHOLM).dst()), t
    assert clock_text(datetime(2024, 7, 1, 12, 0, 0)) == "240701120000S"
    assert clock_text(CAPTURE_AT) == "251125105643W"


# -- dsmr-parser (PyPI dsmr-parser), an independent public P1 decoder -------------------------------------
NUMBERS = {
    "ELECTRICITY_IMPORTED_TOTAL": "e_import_wh", "ELECTRICITY_EXPORTED_TOTAL": "e_export_wh",
    "CURRENT_ELECTRICITY_USAGE": "p_import_w", "CURRENT_ELECTRICITY_DELIVERY": "p_export_w",
    "CURRENT_REACTIVE_IMPORTED": "q_import_var", "CURRENT_REACTIVE_EXPORTED": "q_export_var",
    **{f"INSTANTANEOUS_VOLTAGE_L{k}": f"u_l{k}_v" for k in (1, 2, 3)},
}
TARIFFS = [f"ELECTRICITY_{d}_TARIFF_{t}" for d in ("USED", "DELIVERED") for t in (1, 2, 3, 4)]
TEXTS = ["P1_MESSAGE_TIMESTAMP", "EQUIPMENT_IDENTIFIER_GAS", "EQUIPMENT_IDENTIFIER"]  # clock, 96.1.0, 96.1.1
UNITS = {"kWh": 1000, "kW": 1000, "kvar": 1000, "V": 1}
DSMR = TelegramParser({"checksum_support": True, "objects": [
    {"obis_reference": getattr(obis, name), "value_name": name,
     "value_parser": CosemParser(ValueParser(str if name in TEXTS else Decimal))}
    for name in [*TEXTS, *NUMBERS, *TARIFFS]]})


@pytest.mark.parametrize("seeds", [range(k, 120, 6) for k in range(6)], ids=lambda s: f"seeds{s.start}+6k")
def test_dsmr_parser_reads_exactly_the_reading(seeds):
    for seed in seeds:
        rng = random.Random(seed)
        meter = Meter("kaifa-p1-se", seed=seed, meter_id=f"{rng.randrange(10**8):08d}")
        times = [datetime(2020, 1, 1) + timedelta(seconds=10 * rng.randrange(11 * 365 * 8640)) for _ in range(3)]
        for at in [*times, datetime(2025, 3, 30, 1, 59, 50), datetime(2025, 10, 26, 2, 30, fold=seed % 2)]:
            frame = meter.frame_at(at)
            telegram = DSMR.parse(frame.data.decode("ascii"), throw_ex=True)  # CRC verified
            for name, field in NUMBERS.items():
                item = getattr(telegram, name)
                assert item.value * UNITS[item.unit] == Decimal(str(frame.reading[field])), (seed, at, field)
            used = [getattr(telegram, f"ELECTRICITY_USED_TARIFF_{t}").value * 1000 for t in (1, 2, 3, 4)]
            assert used == [frame.reading["e_import_wh"], 0, 0, 0]
            clock = telegram.P1_MESSAGE_TIMESTAMP.value
            assert clock == at.strftime("%y%m%d%H%M%S") + ("S" if at.replace(tzinfo=STOCKHOLM).dst() else "W")
            assert datetime.strptime(clock[:-1], "%y%m%d%H%M%S").isoformat() == frame.reading["timestamp"]
            assert bytes.fromhex(telegram.EQUIPMENT_IDENTIFIER_GAS.value).decode() == frame.reading["meter_id"]
            assert bytes.fromhex(telegram.EQUIPMENT_IDENTIFIER.value).decode() == "MA304H4E"


def test_dsmr_parser_rejects_the_capture_and_a_damaged_telegram(reference_frames, meter):
    with pytest.raises(InvalidChecksumError):
        DSMR.parse(next(f for f in reference_frames if f["id"] == CAPTURE)["data_text"])
    text = meter.frame_at(datetime(2024, 10, 1, 19, 0, 0)).data.decode("ascii")
    DSMR.parse(text)
    with pytest.raises(InvalidChecksumError):
        DSMR.parse(text.replace("(2", "(3", 1))

"""The Landis+Gyr E360 profile (Finland, P1): real telegrams byte for byte, DST letter, dsmr-parser cross-check."""

import json
import random
import re
from copy import deepcopy
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from dsmr_parser import obis_references as obis
from dsmr_parser import telegram_specifications
from dsmr_parser.exceptions import InvalidChecksumError
from dsmr_parser.parsers import CosemParser, TelegramParser, ValueParser

from rig.cli import main
from rig.emulators import Meter, get_profile
from rig.emulators.crc import crc16_arc
from rig.emulators.landis_gyr import clock_text, finnish_dst
from rig.line import LineSettings

HELSINKI = ZoneInfo("Europe/Helsinki")
AMSTERDAM = ZoneInfo("Europe/Amsterdam")  # the zone dsmr-parser reads every timestamp in

# OBIS -> (normalized field, SI units per printed unit), written out from han-protocols.md section 3.
OBIS_FIELDS = {
    "1-0:1.8.0": ("e_import_wh", 1000), "1-0:2.8.0": ("e_export_wh", 1000),
    "1-0:3.8.0": ("r_import_varh", 1000), "1-0:4.8.0": ("r_export_varh", 1000),
    "1-0:1.7.0": ("p_import_w", 1000), "1-0:2.7.0": ("p_export_w", 1000),
    "1-0:3.7.0": ("q_import_var", 1000), "1-0:4.7.0": ("q_export_var", 1000),
    "1-0:21.7.0": ("p_l1_import_w", 1000), "1-0:22.7.0": ("p_l1_export_w", 1000),
    "1-0:41.7.0": ("p_l2_import_w", 1000), "1-0:42.7.0": ("p_l2_export_w", 1000),
    "1-0:61.7.0": ("p_l3_import_w", 1000), "1-0:62.7.0": ("p_l3_export_w", 1000),
    "1-0:23.7.0": ("q_l1_import_var", 1000), "1-0:24.7.0": ("q_l1_export_var", 1000),
    "1-0:43.7.0": ("q_l2_import_var", 1000), "1-0:44.7.0": ("q_l2_export_var", 1000),
    "1-0:63.7.0": ("q_l3_import_var", 1000), "1-0:64.7.0": ("q_l3_export_var", 1000),
    "1-0:32.7.0": ("u_l1_v", 1), "1-0:52.7.0": ("u_l2_v", 1), "1-0:72.7.0": ("u_l3_v", 1),
    "1-0:31.7.0": ("i_l1_a", 1), "1-0:51.7.0": ("i_l2_a", 1), "1-0:71.7.0": ("i_l3_a", 1),
}  # fmt: skip
LINE_SET = ["0-0:1.0.0", *OBIS_FIELDS]
LINE = re.compile(r"(\d-\d:[\d.]+)\(([^()]*)\)")

# E360 captures the rig cannot send byte for byte, and why.
CAPTURE_DIFFERENCES = {
    "lg_e360_amshan_example_a_p1": "the test vector lost the CRLF after !A077",
    "lg_e360_dk_gh497_p1": "a Danish meter reading W on 2023-03-27, a day into summer time; a Finnish clock reads S",
}


def read_telegram(text: str) -> tuple[str, str, dict]:
    """(ident, clock text, normalized values) of a telegram, read with the table above."""
    lines = text.split("\r\n")
    ident, clock, values = lines[0][1:], None, {}
    for line in lines[2:]:
        if line.startswith("!"):
            break
        code, value = LINE.fullmatch(line).groups()
        if code == "0-0:1.0.0":
            clock = value
            continue
        number, _unit = value.split("*")
        name, factor = OBIS_FIELDS[code]
        values[name] = int(Decimal(number) * factor) if factor > 1 else float(number)
    return ident, clock, values


def line_set(text: str) -> list[str]:
    return [m.group(1) for m in LINE.finditer(text)]


def e360_captures(reference_frames) -> list[dict]:
    return [f for f in reference_frames if f["kind"] == "p1" and f["make"] == "Landis+Gyr"]


@pytest.fixture
def meter():
    return Meter("landis-gyr-e360", seed=1)


def test_section_3_telegram_byte_for_byte(reference_frames, meter):
    ref = next(f for f in reference_frames if f["id"] == "lg_e360_se_gh382_p1")
    text = ref["data_text"]
    _, clock, values = read_telegram(text)
    assert clock == "221215155050W"
    frame = meter.frame_at(datetime(2022, 12, 15, 15, 50, 50), overrides=values)
    assert frame.data == text.encode("ascii")
    assert frame.data.endswith(b"!2154\r\n")
    assert frame.list == 1
    assert frame.reading == {"timestamp": "2022-12-15T15:50:50", "list_version": "LGF5E360", "meter_type": "E360",
                             **values}
    assert list(frame.reading)[3:] == [name for name, _ in OBIS_FIELDS.values()]  # telegram order
    for name, value in ref["expected"].items():  # amsreader's decode of the capture
        assert frame.reading[name] == value, name
    # the capture's totals are the meter's own (4190 W over phases summing to 4189 W): printed as given
    assert (frame.reading["p_import_w"], frame.reading["q_import_var"]) == (4190, 292)


def test_every_e360_capture_with_the_same_lines(reference_frames, meter):
    reproduced = set()
    for ref in e360_captures(reference_frames):
        text = ref["data_text"]
        if line_set(text) != LINE_SET:
            continue  # a different data set: not this profile's telegram
        _, clock, values = read_telegram(text)
        frame = meter.frame_at(datetime.strptime(clock[:12], "%y%m%d%H%M%S"), overrides=values)
        expected = text if text.endswith("\r\n") else text + "\r\n"
        if ref["id"] == "lg_e360_dk_gh497_p1":
            body = text.rsplit("!", 1)[0].replace(f"({clock})", f"({clock[:12]}S)") + "!"
            expected = f"{body}{crc16_arc(body.encode()):04X}\r\n"
        assert frame.data.decode() == expected, ref["id"]
        for name, value in ref["expected"].items():
            assert frame.reading[name] == value, (ref["id"], name)
        reproduced.add(ref["id"])
    assert reproduced >= {"lg_e360_se_gh382_p1", "lg_e360_amshan_example_d_p1", *CAPTURE_DIFFERENCES}


def test_profile(meter):
    e360 = get_profile("landis-gyr-e360")
    assert (e360.make, e360.model, e360.country) == ("Landis+Gyr", "E360", "FI")
    assert e360.protocol == "P1 (IEC 62056-21 mode D, DSMR 5.0.2 physical layer)"
    assert e360.line == LineSettings(115200, 8, "N", 1) and e360.wiring == "TN"
    assert e360.lists == {1: "every 10 s"} and e360.frame_interval_s == 10.0
    assert e360.fields(1) == ("list_version", "meter_type", *(name for name, _ in OBIS_FIELDS.values()))
    with pytest.raises(ValueError, match="no list 2"):
        e360.fields(2)
    assert meter.meter_id is None
    with pytest.raises(ValueError, match="sends no meter id"):
        Meter("landis-gyr-e360", meter_id="6970631407262986")


def test_schedule_is_one_telegram_every_10_s(meter):
    start = datetime(2024, 10, 1, 18, 59, 41)
    frames = list(meter.frames(start=start, until=start + timedelta(minutes=1)))
    assert [(f.at.strftime("%H:%M:%S"), f.list) for f in frames] == [
        ("18:59:50", 1), ("19:00:00", 1), ("19:00:10", 1), ("19:00:20", 1), ("19:00:30", 1), ("19:00:40", 1)]
    assert all(f.data.startswith(b"/LGF5E360\r\n\r\n0-0:1.0.0(2410011") for f in frames)
    with pytest.raises(ValueError, match="every 10 s"):
        meter.frame_at(datetime(2024, 10, 1, 19, 0, 2))


def test_reading_says_exactly_what_the_bytes_say():
    for seed in (1, 2, 3, 99):
        for frame in Meter("landis-gyr-e360", seed=seed).frames(start=datetime(2024, 1, 15, 7, 0, 0), count=6):
            ident, clock, values = read_telegram(frame.data.decode("ascii"))
            assert frame.reading == {"timestamp": frame.at.isoformat(), "list_version": ident,
                                     "meter_type": "E360", **values}
            assert clock == frame.at.strftime("%y%m%d%H%M%S") + "W"


@pytest.mark.parametrize("seed", range(1, 41))
def test_totals_are_the_net_sum_of_the_printed_phases(seed):
    meter = Meter("landis-gyr-e360", seed=seed)
    for frame in meter.frames(start=datetime(2024, 10, 1, 17, 0, 0) + timedelta(hours=seed), count=3):
        r = frame.reading
        for kind, unit in (("p", "w"), ("q", "var")):
            net = sum(r[f"{kind}_l{k}_import_{unit}"] - r[f"{kind}_l{k}_export_{unit}"] for k in (1, 2, 3))
            assert r[f"{kind}_import_{unit}"] - r[f"{kind}_export_{unit}"] == net
            assert min(r[f"{kind}_import_{unit}"], r[f"{kind}_export_{unit}"]) == 0
            for k in (1, 2, 3):
                assert min(r[f"{kind}_l{k}_import_{unit}"], r[f"{kind}_l{k}_export_{unit}"]) == 0
        state = meter.model.state_at(frame.at)
        for k in range(3):
            assert r[f"p_l{k + 1}_import_w"] - r[f"p_l{k + 1}_export_w"] == round(state.p_phase_w[k])
            assert r[f"u_l{k + 1}_v"] == round(state.voltages[k] * 10) / 10


def test_overrides_per_phase_and_totals(meter):
    at = datetime(2024, 10, 1, 19, 0, 0)
    phases = {"p_l1_import_w": 0, "p_l1_export_w": 1500.4, "p_l2_import_w": 700.6, "p_l2_export_w": 0,
              "p_l3_import_w": 300, "p_l3_export_w": 0}
    r = meter.frame_at(at, overrides=phases).reading
    assert (r["p_l1_export_w"], r["p_l2_import_w"]) == (1500, 701)
    assert (r["p_import_w"], r["p_export_w"]) == (0, 499)  # 701 + 300 - 1500, from the printed phases
    r = meter.frame_at(at, overrides={**phases, "p_import_w": 12, "p_export_w": 0}).reading
    assert (r["p_import_w"], r["p_export_w"]) == (12, 0)  # set explicitly: printed as given
    with pytest.raises(ValueError, match="u_l1_v=1000.*0 to 999.9 V"):
        meter.frame_at(at, overrides={"u_l1_v": 1000})
    with pytest.raises(ValueError, match="p_l2_export_w=-1"):
        meter.frame_at(at, overrides={"p_l2_export_w": -1})
    with pytest.raises(ValueError, match="meter_type"):
        meter.frame_at(at, overrides={"meter_type": "E450"})
    frame = meter.frame_at(at, overrides={"list_version": "LGF5E450"})
    assert frame.data.startswith(b"/LGF5E450\r\n") and frame.reading["meter_type"] == "E450"


@pytest.mark.parametrize(
    "at, letter",
    [
        (datetime(2022, 12, 15, 15, 50, 50), "W"),
        (datetime(2024, 7, 1, 12, 0, 0), "S"),
        (datetime(2025, 3, 30, 2, 59, 50), "W"),  # last Sunday of March: 03:00 -> 04:00
        (datetime(2025, 3, 30, 4, 0, 0), "S"),
        (datetime(2025, 10, 26, 2, 59, 50), "S"),  # last Sunday of October: 04:00 -> 03:00
        (datetime(2025, 10, 26, 3, 30, 0), "S"),  # the first 03:30
        (datetime(2025, 10, 26, 3, 30, 0, fold=1), "W"),  # the second
        (datetime(2025, 10, 26, 4, 0, 0), "W"),
        (datetime(2024, 3, 31, 3, 59, 50, fold=1), "S"),  # skipped hour, a clock never reads it
        (datetime(2024, 10, 27, 3, 59, 50), "S"),
        (datetime(2024, 10, 27, 3, 59, 50, fold=1), "W"),
    ],
)
def test_summer_winter_letter(meter, at, letter):
    assert clock_text(at) == at.strftime("%y%m%d%H%M%S") + letter
    assert f"0-0:1.0.0({at:%y%m%d%H%M%S}{letter})".encode() in meter.frame_at(at).data
    assert meter.frame_at(at).reading["timestamp"] == at.isoformat()  # wall clock, no offset


def test_dst_rule_is_europe_helsinki():
    hour = timedelta(hours=1)
    for year in range(2000, 2041):
        days = [datetime(year, 3, d) for d in range(25, 32)] + [datetime(year, 10, d) for d in range(25, 32)]
        for day in days:
            for minute in range(0, 6 * 60, 10):
                for fold in (0, 1):
                    t = (day + timedelta(minutes=minute)).replace(fold=fold)
                    assert finnish_dst(t) == bool(t.replace(tzinfo=HELSINKI).dst()), t
        mid = datetime(year, 1, 1) + timedelta(days=random.Random(year).uniform(0, 364))
        for t in (mid, mid + 100 * 24 * hour, mid + 200 * 24 * hour):
            assert finnish_dst(t) == bool(t.replace(tzinfo=HELSINKI).dst()), t


# -- dsmr-parser (PyPI dsmr-parser), an independent public P1 decoder -------------------------------------
DSMR_FIELDS = {
    "ELECTRICITY_IMPORTED_TOTAL": "e_import_wh", "ELECTRICITY_EXPORTED_TOTAL": "e_export_wh",
    "ELECTRICITY_REACTIVE_IMPORTED_TOTAL": "r_import_varh", "ELECTRICITY_REACTIVE_EXPORTED_TOTAL": "r_export_varh",
    "CURRENT_ELECTRICITY_USAGE": "p_import_w", "CURRENT_ELECTRICITY_DELIVERY": "p_export_w",
    "CURRENT_REACTIVE_IMPORTED": "q_import_var", "CURRENT_REACTIVE_EXPORTED": "q_export_var",
    **{f"INSTANTANEOUS_ACTIVE_POWER_L{k}_{s}": f"p_l{k}_{d}_w" for k in (1, 2, 3)
       for s, d in (("POSITIVE", "import"), ("NEGATIVE", "export"))},
    **{f"INSTANTANEOUS_REACTIVE_POWER_L{k}_{s}": f"q_l{k}_{d}_var" for k in (1, 2, 3)
       for s, d in (("POSITIVE", "import"), ("NEGATIVE", "export"))},
    **{f"INSTANTANEOUS_VOLTAGE_L{k}": f"u_l{k}_v" for k in (1, 2, 3)},
    **{f"INSTANTANEOUS_CURRENT_L{k}": f"i_l{k}_a" for k in (1, 2, 3)},
}
DSMR_UNITS = {"kWh": 1000, "kVArh": 1000, "kW": 1000, "kVAr": 1000, "V": 1, "A": 1}


def _dsmr_spec(raw_timestamp: bool) -> dict:
    """The Swedish spec (the data set Finland adopts) plus the total reactive powers it lacks."""
    spec = deepcopy(telegram_specifications.SWEDEN)
    for name in ("CURRENT_REACTIVE_IMPORTED", "CURRENT_REACTIVE_EXPORTED"):
        spec["objects"].append({"obis_reference": getattr(obis, name),
                                "value_parser": CosemParser(ValueParser(Decimal)), "value_name": name})
    if raw_timestamp:
        for item in spec["objects"]:
            if item["value_name"] == "P1_MESSAGE_TIMESTAMP":
                item["value_parser"] = CosemParser(ValueParser(str))
    return spec


DSMR = TelegramParser(_dsmr_spec(raw_timestamp=False))
DSMR_RAW_CLOCK = TelegramParser(_dsmr_spec(raw_timestamp=True))


def _exists_in_amsterdam(at: datetime) -> bool:
    """False in the skipped spring hour of Amsterdam, where dsmr-parser reads a Finnish clock as another time."""
    there = at.replace(tzinfo=AMSTERDAM)
    return there.astimezone(UTC).astimezone(AMSTERDAM).replace(tzinfo=None) == at.replace(fold=0)


def _times(seed: int) -> list[datetime]:
    rng = random.Random(seed)
    drawn = [datetime(2020, 1, 1) + timedelta(seconds=10 * rng.randrange(11 * 365 * 8640)) for _ in range(3)]
    edges = [datetime(2025, 3, 30, 2, 30), datetime(2025, 3, 30, 4, 0), datetime(2025, 10, 26, 3, 0, fold=seed % 2)]
    return drawn + edges


@pytest.mark.parametrize("seeds", [range(k, 200, 8) for k in range(8)], ids=lambda s: f"seeds{s.start}+8k")
def test_dsmr_parser_reads_exactly_the_reading(seeds):
    for seed in seeds:
        meter = Meter("landis-gyr-e360", seed=seed)
        for at in _times(seed):
            frame = meter.frame_at(at)
            text = frame.data.decode("ascii")
            telegram = DSMR.parse(text, throw_ex=True)  # CRC verified: SWEDEN has checksum_support
            assert len(telegram) == 1 + len(DSMR_FIELDS)  # every line was read
            for dsmr_name, field in DSMR_FIELDS.items():
                item = getattr(telegram, dsmr_name)
                assert item.value * DSMR_UNITS[item.unit] == Decimal(str(frame.reading[field])), (seed, at, field)
            letter = DSMR_RAW_CLOCK.parse(text, throw_ex=True).P1_MESSAGE_TIMESTAMP.value[-1]
            assert letter == ("S" if at.replace(tzinfo=HELSINKI).dst() else "W"), (seed, at)
            if _exists_in_amsterdam(at):
                wall = telegram.P1_MESSAGE_TIMESTAMP.value.astimezone(AMSTERDAM).replace(tzinfo=None)
                assert wall.isoformat() == frame.reading["timestamp"], (seed, at)


def test_dsmr_parser_rejects_a_damaged_telegram(meter):
    text = meter.frame_at(datetime(2024, 10, 1, 19, 0, 0)).data.decode("ascii")
    DSMR.parse(text)
    with pytest.raises(InvalidChecksumError):
        DSMR.parse(text.replace("(2", "(3", 1))


# -- the `rig` command ----------------------------------------------------------------------------------------
def test_rig_frames_json_hex_is_the_telegram_and_text_view_prints_it():
    args = ["frames", "--meter", "landis-gyr-e360", "--at", "2022-12-15T15:50:50", "--count", "2"]
    result = CliRunner().invoke(main, [*args, "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    lines = [json.loads(x) for x in result.output.splitlines()]
    assert [x["at"] for x in lines] == ["2022-12-15T15:50:50", "2022-12-15T15:51:00"]
    expected = Meter("landis-gyr-e360").frame_at(datetime(2022, 12, 15, 15, 50, 50))
    assert bytes.fromhex(lines[0]["hex"]) == expected.data
    assert lines[0]["reading"] == expected.reading and lines[0]["list"] == 1
    text = CliRunner().invoke(main, args, catch_exceptions=False).output
    assert expected.data.decode().replace("\r\n", "\n") in text
    assert expected.data.hex() not in text
    bad = CliRunner().invoke(main, ["frames", "--meter", "landis-gyr-e360", "--list", "2"])
    assert bad.exit_code == 2 and "no list 2" in bad.output


def test_rig_meters_lists_the_e360():
    result = CliRunner().invoke(main, ["meters", "--json"], catch_exceptions=False)
    profiles = {p["id"]: p for p in map(json.loads, result.output.splitlines())}
    assert profiles["landis-gyr-e360"] == {
        "id": "landis-gyr-e360", "make": "Landis+Gyr", "model": "E360", "country": "FI",
        "protocol": "P1 (IEC 62056-21 mode D, DSMR 5.0.2 physical layer)", "line": "115200 8N1",
        "lists": {"1": "every 10 s"},
    }

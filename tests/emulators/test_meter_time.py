"""Meter time across daylight-saving changes: frames in absolute time, the wall clock the meter shows."""

import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner

from rig.cli import main
from rig.emulators import Meter, get_profile, list_profiles
from rig.emulators.faults import apply_faults, emissions_from_frames, parse_fault
from rig.emulators.profiles import profile_timezone
from rig.emulators.schedule import KAIFA, PeriodicSchedule, to_utc, zone

OSLO, HELSINKI = "Europe/Oslo", "Europe/Helsinki"
# (zone, day, kind): the changes of 2024 and 2025; Oslo changes at 02:00 local, Helsinki at 03:00
CHANGES = [
    (zone, day, kind)
    for zone in (OSLO, HELSINKI)
    for day, kind in (((2024, 3, 31), "spring"), ((2024, 10, 27), "autumn"),
                      ((2025, 3, 30), "spring"), ((2025, 10, 26), "autumn"))
]
IDS = [f"{zone.split('/')[1]}-{y}-{m:02d}" for zone, (y, m, _), _ in CHANGES]


def _hour(zone: str) -> int:
    return 2 if zone == OSLO else 3


def _clock(frames) -> list[tuple[str, int]]:
    return [(f.at.strftime("%H:%M:%S"), f.at.fold) for f in frames]


@pytest.mark.parametrize("zone, day, kind", CHANGES, ids=IDS)
def test_the_kaifa_sequence_around_each_change(zone, day, kind):
    h = _hour(zone)
    meter = Meter("kaifa-ma304h4")
    meter.timezone = zone  # the same Kaifa schedule, in either zone
    start = datetime(*day, h - 1, 59, 54)
    frames = list(meter.frames(start=start, count=7))
    if kind == "spring":  # 01:59:58 -> 03:00:00 (Oslo), 02:59:58 -> 04:00:00 (Helsinki)
        shown = [f"{h - 1:02d}:59:54", f"{h - 1:02d}:59:56", f"{h - 1:02d}:59:58", f"{h + 1:02d}:00:00",
                 f"{h + 1:02d}:00:02", f"{h + 1:02d}:00:04", f"{h + 1:02d}:00:06"]
        assert _clock(frames) == [(t, 0) for t in shown]
    else:  # the first pass of the repeated hour begins
        assert _clock(frames)[3] == (f"{h:02d}:00:00", 0)
        second = list(meter.frames(start=datetime(*day, h, 59, 54), count=7))
        assert _clock(second) == [(f"{h:02d}:59:54", 0), (f"{h:02d}:59:56", 0), (f"{h:02d}:59:58", 0),
                                  (f"{h:02d}:00:00", 1), (f"{h:02d}:00:02", 1), (f"{h:02d}:00:04", 1),
                                  (f"{h:02d}:00:06", 1)]
        frames += second
    utcs = [f.utc for f in frames[:7]]
    assert all(b - a == timedelta(seconds=2) for a, b in zip(utcs, utcs[1:], strict=False))
    for f in frames:
        assert f.utc.tzinfo is not None
        assert f.utc.astimezone(ZoneInfo(zone)).replace(tzinfo=None) == f.at
        assert f.reading["timestamp"] == f.at.strftime("%Y-%m-%dT%H:%M:%S")


@pytest.mark.parametrize("zone, day, kind", CHANGES, ids=IDS)
def test_frames_per_day_and_list3_per_day(zone, day, kind):
    hours = 23 if kind == "spring" else 25
    begin, end = datetime(*day), datetime(*day) + timedelta(days=1)
    lists = Counter(n for _, n in KAIFA.frame_times(begin, until=end, timezone=zone))
    assert sum(lists.values()) == hours * 1800
    assert lists[3] == hours
    p1 = list(PeriodicSchedule(10).frame_times(begin, until=end, timezone=zone))
    assert len(p1) == hours * 360
    normal = Counter(n for _, n in KAIFA.frame_times(datetime(2024, 10, 1), until=datetime(2024, 10, 2),
                                                     timezone=zone))
    assert normal[3] == 24 and sum(normal.values()) == 24 * 1800


@pytest.mark.parametrize("zone, day, kind", [c for c in CHANGES if c[2] == "autumn"],
                         ids=[i for i, c in zip(IDS, CHANGES, strict=True) if c[2] == "autumn"])
def test_the_repeated_hour_has_list3_twice_the_skipped_none(zone, day, kind):
    h = _hour(zone)
    times = list(KAIFA.frame_times(datetime(*day, h - 1, 30), until=datetime(*day, h + 1, 30), timezone=zone))
    list3 = [(at.strftime("%H:%M:%S"), at.fold) for at, n in times if n == 3]
    assert list3 == [(f"{h:02d}:00:10", 0), (f"{h:02d}:00:10", 1), (f"{h + 1:02d}:00:10", 0)]
    spring = {2024: (2024, 3, 31), 2025: (2025, 3, 30)}[day[0]]
    times = list(KAIFA.frame_times(datetime(*spring, h - 1, 30), until=datetime(*spring, h + 1, 30),
                                   timezone=zone))
    assert [at.hour for at, n in times if n == 3] == [h + 1]


def test_kaifa_clock_fields_carry_no_dst_bit_and_a_list3_carries_its_hour():
    meter = Meter("kaifa-ma304h4")
    summer = meter.frame_at(datetime(2024, 10, 1, 19, 0, 2))
    winter = meter.frame_at(datetime(2024, 12, 1, 19, 0, 2))
    # real Norwegian frames: deviation 0x8000 and status 00 in summer (CEST) and winter alike
    assert summer.data[17:31].hex() == "090c07e80a0102130002ff800000"
    assert winter.data[27:31] == b"\xff\x80\x00\x00"
    first = meter.frame_at(datetime(2024, 10, 27, 2, 30, 2))
    second = meter.frame_at(datetime(2024, 10, 27, 2, 30, 2, fold=1))
    assert first.data[17:31] == second.data[17:31]  # nothing in a Kaifa frame tells the passes apart
    assert second.utc - first.utc == timedelta(hours=1)


def test_the_e360_letter_tells_the_passes_apart():
    meter = Meter("landis-gyr-e360")
    assert meter.timezone == HELSINKI
    frames = list(meter.frames(start=datetime(2024, 10, 27, 3, 59, 40), count=4))
    assert [(f.at.strftime("%H:%M:%S"), f.at.fold) for f in frames] == [
        ("03:59:40", 0), ("03:59:50", 0), ("03:00:00", 1), ("03:00:10", 1)]
    assert [b"241027035940S" in frames[0].data, b"241027030000W" in frames[2].data] == [True, True]


def test_energy_registers_never_run_backwards_across_the_repeated_hour():
    meter = Meter("kaifa-ma304h4")
    list3 = [f for f in meter.frames(start=datetime(2024, 10, 27, 0, 0, 0),
                                     until=datetime(2024, 10, 27, 5, 0, 0)) if f.list == 3]
    assert len(list3) == 6
    energies = [f.reading["e_import_wh"] for f in list3]
    assert energies == sorted(energies) and len(set(energies)) == 6


def test_emission_t_follows_real_time_across_a_change():
    meter = Meter("kaifa-ma304h4")
    start = datetime(2024, 10, 27, 2, 58, 0)
    frames = list(meter.frames(start=start, count=120))
    for origin in (start, to_utc(start, OSLO)):
        ts = [e.t for e in emissions_from_frames(frames, origin)]
        assert ts == [2.0 * k for k in range(120)]
    spring = list(meter.frames(start=datetime(2024, 3, 31, 1, 59, 0), count=60))
    assert [e.t for e in emissions_from_frames(spring, datetime(2024, 3, 31, 1, 59, 0))] == [2.0 * k for k in range(60)]
    # a start a second before the clock falls back: the first frame is one second later in real time
    edge = datetime(2024, 10, 27, 2, 59, 59)
    frames = list(meter.frames(start=edge, count=3))
    assert [(f.at.strftime("%H:%M:%S"), f.at.fold) for f in frames][0] == ("02:00:00", 1)
    assert [e.t for e in emissions_from_frames(frames, edge)] == [1.0, 3.0, 5.0]


def test_clock_jump_reencodes_the_wall_clock_of_the_later_instant():
    meter = Meter("kaifa-ma304h4")
    start = datetime(2024, 10, 27, 2, 59, 0)
    frames = list(meter.frames(start=start, count=20))
    by_t = {e.t: f for e, f in zip(emissions_from_frames(frames, start), frames, strict=True)}
    jumped = [e for e in apply_faults(emissions_from_frames(frames, start), [parse_fault("clock_jump:3600")],
                                      seed=1, meter=meter) if e.fault]
    assert jumped
    for e in jumped:  # 02:59:xx CEST + 1 h of real time is 02:59:xx CET: the second pass
        expected = meter.local_of(by_t[e.t].utc + timedelta(hours=1))
        assert (e.at, e.at.fold) == (expected, 1) and expected.replace(fold=0) == by_t[e.t].at
        assert e.reading["timestamp"] == by_t[e.t].reading["timestamp"]


def test_frames_cli_shows_the_exact_sequence_and_refuses_the_skipped_hour():
    runner = CliRunner()
    result = runner.invoke(main, ["frames", "--meter", "kaifa-ma304h4", "--at", "2024-10-27T02:59:58",
                                  "--count", "2", "--json"])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.output.splitlines()]
    assert [(x["at"], x["utc"]) for x in lines] == [("2024-10-27T02:59:58", "2024-10-27T00:59:58+00:00"),
                                                    ("2024-10-27T02:00:00", "2024-10-27T01:00:00+00:00")]
    result = runner.invoke(main, ["frames", "--meter", "kaifa-ma304h4", "--at", "2024-03-31T02:30:00"])
    assert result.exit_code == 2 and "does not exist in Europe/Oslo" in result.output
    assert "Traceback" not in result.output
    with pytest.raises(ValueError, match="does not exist"):
        next(Meter("kaifa-ma304h4").frames(start=datetime(2025, 3, 30, 2, 0, 0)))


def test_utc_instants_are_aware():
    frame = Meter("kaifa-ma304h4").frame_at(datetime(2024, 10, 1, 19, 0, 0))
    assert frame.utc == datetime(2024, 10, 1, 17, 0, 0, tzinfo=UTC)


def test_every_profile_names_a_known_zone():
    for profile in list_profiles():
        assert zone(profile_timezone(profile)) is not None, profile.id
    assert get_profile("kaifa-ma304h4").timezone == OSLO and get_profile("landis-gyr-e360").timezone == HELSINKI

    class Bare:
        id = "bare"

    assert profile_timezone(Bare()) == OSLO


@pytest.mark.parametrize("at, earlier", [
    (datetime(2024, 10, 27, 2, 30, 10), datetime(2024, 10, 27, 2, 30, 0)),  # within the first pass
    (datetime(2024, 10, 27, 2, 30, 10, fold=1), datetime(2024, 10, 27, 2, 30, 0, fold=1)),
    (datetime(2024, 10, 27, 2, 0, 4, fold=1), datetime(2024, 10, 27, 2, 59, 54)),  # from the first pass
    (datetime(2024, 10, 27, 3, 0, 4), datetime(2024, 10, 27, 2, 59, 54, fold=1)),
    (datetime(2024, 3, 31, 3, 0, 4), datetime(2024, 3, 31, 1, 59, 54)),  # from before the skipped hour
], ids=["first-pass", "second-pass", "into-second-pass", "after-repeated", "after-skipped"])
def test_a_list3_carries_the_values_of_the_instant_10_s_before_it(at, earlier):
    meter = Meter("kaifa-ma304h4", seed=4)
    l3, l2 = meter.frame_at(at, 3), meter.frame_at(earlier, 2)
    assert l3.utc - l2.utc == timedelta(seconds=10)
    assert l3.utc == at.replace(tzinfo=ZoneInfo(OSLO)).astimezone(UTC)
    instants = {k: v for k, v in l2.reading.items() if k not in ("timestamp", "list_version", "meter_id", "meter_type")}
    assert instants and all(l3.reading[k] == v for k, v in instants.items())

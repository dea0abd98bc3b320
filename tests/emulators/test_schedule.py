from collections import Counter
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from rig.emulators import Meter, get_profile
from rig.emulators.kaifa import from_wire, to_wire
from rig.emulators.schedule import (
    KAIFA,
    Clock,
    PeriodicSchedule,
    clock_hour,
    exists,
    frame_times,
    list_at,
    next_frame_time,
    to_local,
    to_utc,
    values_time,
)

T0 = datetime(2024, 10, 1, 19, 0, 0)


def test_live_sequence():
    got = [(at.strftime("%H:%M:%S"), n) for at, n in frame_times(T0, count=8)]
    assert got == [
        ("19:00:00", 2), ("19:00:02", 1), ("19:00:04", 1), ("19:00:06", 1),
        ("19:00:08", 1), ("19:00:10", 3), ("19:00:12", 1), ("19:00:14", 1),
    ]  # fmt: skip


def test_one_hour():
    lists = Counter(n for _, n in frame_times(T0, until=T0 + timedelta(hours=1)))
    assert sum(lists.values()) == 1800
    assert lists == {1: 1440, 2: 359, 3: 1}


def test_list_at():
    assert list_at(datetime(2024, 10, 1, 19, 5, 10)) == 2
    assert list_at(datetime(2024, 10, 1, 19, 0, 20)) == 2
    assert list_at(datetime(2024, 10, 1, 0, 0, 10)) == 3
    assert list_at(datetime(2024, 10, 1, 19, 0, 3)) is None
    assert list_at(datetime(2024, 10, 1, 19, 0, 2, 500000)) is None


def test_next_frame_time():
    assert next_frame_time(datetime(2024, 10, 1, 19, 0, 1)) == datetime(2024, 10, 1, 19, 0, 2)
    assert next_frame_time(datetime(2024, 10, 1, 19, 0, 2)) == datetime(2024, 10, 1, 19, 0, 2)
    assert next_frame_time(datetime(2024, 10, 1, 19, 0, 2, 1)) == datetime(2024, 10, 1, 19, 0, 4)
    assert next_frame_time(datetime(2024, 10, 1, 19, 59, 59)) == datetime(2024, 10, 1, 20, 0, 0)


def test_values_time():
    at = datetime(2024, 10, 1, 20, 0, 10)
    assert values_time(at, 3) == datetime(2024, 10, 1, 20, 0, 0)
    assert values_time(at, 2) == at


def test_list3_carries_the_values_of_xx_00_00():
    meter = Meter("kaifa-ma304h4", seed=5, start=T0)
    l3 = meter.frame_at(datetime(2024, 10, 1, 20, 0, 10))
    assert l3.list == 3
    assert l3.reading["timestamp"] == "2024-10-01T20:00:10"
    at_00 = datetime(2024, 10, 1, 20, 0, 0)
    l2 = meter.frame_at(at_00)
    instant = meter.model.reading_at(at_00)
    for name in ("p_import_w", "q_import_var", "q_export_var", "i_l1_a", "i_l2_a", "u_l1_v", "u_l3_v"):
        assert l3.reading[name] == l2.reading[name]
        assert l3.reading[name] == from_wire(name, to_wire(name, instant[name]))
    assert l3.reading["e_import_wh"] == round(instant["e_import_wh"])
    clock_item = bytes.fromhex("090c07e80a010214000aff800000")
    assert l3.data.count(clock_item) == 2  # header date-time and the clock item read XX:00:10


def test_meter_frames_count_until_and_start():
    meter = Meter("kaifa-ma304h4", seed=1, start=T0)
    assert [f.at for f in meter.frames(count=3)] == [T0, T0 + timedelta(seconds=2), T0 + timedelta(seconds=4)]
    frames = list(meter.frames(start=T0 + timedelta(seconds=1), until=T0 + timedelta(seconds=11)))
    assert [(f.at.second, f.list) for f in frames] == [(2, 1), (4, 1), (6, 1), (8, 1), (10, 3)]


def test_clock_real_time_and_compressed():
    clock = Clock(T0)
    assert clock.meter_time(2.5) == T0 + timedelta(seconds=2.5)
    fast = Clock(T0, speed=120)
    assert fast.meter_time(30) == T0 + timedelta(hours=1)
    assert fast.elapsed_s(T0 + timedelta(hours=1)) == 30
    assert fast.elapsed_s(fast.meter_time(1.25)) == pytest.approx(1.25)
    with pytest.raises(ValueError):
        Clock(T0, speed=0)


def test_each_profile_owns_its_schedule():
    kaifa, e360 = get_profile("kaifa-ma304h4"), get_profile("landis-gyr-e360")
    assert kaifa.schedule == KAIFA and kaifa.frame_interval_s == 2.0
    assert e360.schedule == PeriodicSchedule(10, 1) and e360.frame_interval_s == 10.0
    at = datetime(2024, 10, 1, 20, 0, 10)
    assert kaifa.schedule.list_at(at) == 3 and kaifa.schedule.values_time(at, 3) == datetime(2024, 10, 1, 20, 0, 0)
    assert e360.schedule.list_at(at) == 1 and e360.schedule.values_time(at, 1) == at
    kaifa_times = list(KAIFA.frame_times(T0, until=T0 + timedelta(minutes=5)))
    assert kaifa_times == list(frame_times(T0, until=T0 + timedelta(minutes=5)))


def test_periodic_schedule():
    every_10 = PeriodicSchedule(10)
    assert [every_10.list_at(T0 + timedelta(seconds=s)) for s in (0, 2, 5, 10, 59, 60)] == [1, None, None, 1, None, 1]
    assert every_10.list_at(T0 + timedelta(seconds=10, microseconds=1)) is None
    assert every_10.next_frame_time(datetime(2024, 10, 1, 19, 0, 0, 1)) == datetime(2024, 10, 1, 19, 0, 10)
    assert every_10.next_frame_time(datetime(2024, 10, 1, 19, 59, 51)) == datetime(2024, 10, 1, 20, 0, 0)
    assert every_10.next_frame_time(T0) == T0
    lists = Counter(n for _, n in every_10.frame_times(T0, until=T0 + timedelta(hours=1)))
    assert lists == {1: 360}
    assert [at.second for at, _ in every_10.frame_times(T0 + timedelta(seconds=55), count=3)] == [0, 10, 20]
    assert PeriodicSchedule(5, list_no=2).list_at(T0 + timedelta(seconds=25)) == 2
    for bad in (0, 7, -10):
        with pytest.raises(ValueError, match="divide a minute"):
            PeriodicSchedule(bad)


def test_meter_uses_the_profile_schedule():
    e360 = Meter("landis-gyr-e360", seed=1, start=T0)
    assert [f.at.second for f in e360.frames(count=3)] == [0, 10, 20]
    assert {f.list for f in e360.frames(count=12)} == {1}
    with pytest.raises(ValueError, match="no frame"):
        e360.frame_at(T0 + timedelta(seconds=2))
    assert Meter("kaifa-ma304h4", seed=1, start=T0).frame_at(T0 + timedelta(seconds=2)).list == 1


def test_wall_clock_and_instant_conversions():
    oslo = "Europe/Oslo"
    assert to_utc(datetime(2024, 10, 27, 2, 30), oslo) == datetime(2024, 10, 27, 0, 30, tzinfo=UTC)
    assert to_utc(datetime(2024, 10, 27, 2, 30, fold=1), oslo) == datetime(2024, 10, 27, 1, 30, tzinfo=UTC)
    second = to_local(datetime(2024, 10, 27, 1, 30, tzinfo=UTC), oslo)
    assert (second, second.fold) == (datetime(2024, 10, 27, 2, 30), 1)
    assert not exists(datetime(2024, 3, 31, 2, 30), oslo) and exists(datetime(2024, 3, 31, 3, 0), oslo)
    with pytest.raises(ValueError, match="does not exist in Europe/Oslo"):
        to_utc(datetime(2024, 3, 31, 2, 30), oslo)
    assert to_utc(datetime(2024, 3, 31, 2, 30), oslo, strict=False) == datetime(2024, 3, 31, 1, 30, tzinfo=UTC)
    assert to_utc(T0, None) == T0.replace(tzinfo=UTC) and to_local(T0, None) == T0
    with pytest.raises(ValueError, match="unknown time zone 'Mars/Olympus'"):
        to_utc(T0, "Mars/Olympus")


@pytest.mark.parametrize(
    "start, shown",
    [
        (datetime(2024, 10, 27, 2, 59, 56), ["02:59:56/0", "02:59:58/0", "02:00:00/1", "02:00:02/1"]),
        (datetime(2025, 3, 30, 1, 59, 56), ["01:59:56/0", "01:59:58/0", "03:00:00/0", "03:00:02/0"]),
    ],
    ids=["october", "march"],
)
def test_frame_times_run_in_absolute_time(start, shown):
    times = list(frame_times(start, count=4, timezone="Europe/Oslo"))
    assert [f"{at:%H:%M:%S}/{at.fold}" for at, _ in times] == shown
    assert [n for _, n in times] == [1, 1, 2, 1]
    # without a zone, a clock without DST: the old naive stepping
    assert [at.hour for at, _ in frame_times(start, count=4)] == [start.hour] * 2 + [start.hour + 1] * 2


def test_clock_across_a_change():
    clock = Clock(datetime(2024, 10, 27, 2, 59, 0), speed=120, timezone="Europe/Oslo")
    later = clock.meter_time(30)  # an hour of meter time later: 02:59 again, the second pass
    assert (later, later.fold) == (datetime(2024, 10, 27, 2, 59, 0), 1)
    assert clock.elapsed_s(later) == 30.0
    assert clock.elapsed_s(datetime(2024, 10, 27, 3, 0, 0)) == 30.5
    spring = Clock(datetime(2024, 3, 31, 1, 59, 0), speed=60, timezone="Europe/Oslo")
    assert spring.meter_time(1) == datetime(2024, 3, 31, 3, 0, 0)
    assert spring.elapsed_s(datetime(2024, 3, 31, 3, 1, 0)) == 2.0


# Zones with whole-hour changes (Europe), a change of half an hour (Lord Howe: 02:00 -> 01:30) and a
# half-hour offset (India, no DST): the hourly lookup must give what zoneinfo gives for every instant.
@pytest.mark.parametrize("timezone, begin", [
    ("Europe/Oslo", datetime(2024, 10, 26, 22)), ("Europe/Oslo", datetime(2024, 3, 30, 22)),
    ("Europe/Helsinki", datetime(2024, 10, 26, 22)), ("Australia/Lord_Howe", datetime(2024, 4, 6, 12)),
    ("Australia/Lord_Howe", datetime(2024, 10, 5, 12)), ("Asia/Kolkata", datetime(2024, 10, 1)),
])
def test_hourly_conversions_are_zoneinfos(timezone, begin):
    tz = ZoneInfo(timezone)
    for k in range(0, 8 * 3600, 7):  # every 7 s of 8 hours of UTC around the change
        utc = begin + timedelta(seconds=k, microseconds=250_000 * (k % 4))
        exact = utc.replace(tzinfo=UTC).astimezone(tz).replace(tzinfo=None)
        local = to_local(utc, timezone)
        assert (local, local.fold) == (exact, exact.fold), utc
        assert to_utc(local, timezone) == utc.replace(tzinfo=UTC), local
    for k in range(0, 8 * 3600, 13):  # wall-clock times, the skipped ones included (strict=False)
        local = begin + timedelta(seconds=k)
        for fold in (0, 1):
            at = local.replace(fold=fold)
            assert to_utc(at, timezone, strict=False) == at.replace(tzinfo=tz).astimezone(UTC), at


def test_clock_hour_knows_the_repeated_and_the_skipped_hour():
    oslo = "Europe/Oslo"
    first, second = (clock_hour(datetime(2024, 10, 27, 2, 30, fold=f), oslo) for f in (0, 1))
    assert first.repeated and second.repeated
    assert (first.start, first.start.fold, second.start.fold) == (datetime(2024, 10, 27, 2), 0, 1)
    assert second.utc - first.utc == timedelta(hours=1) == datetime(2024, 10, 27, 1, tzinfo=UTC) - first.utc
    assert not clock_hour(datetime(2024, 10, 27, 3, 5), oslo).repeated
    assert clock_hour(datetime(2024, 3, 31, 2, 30), oslo) is None  # skipped
    # Lord Howe falls back from 02:00 to 01:30: the offset of the second pass of 01:xx changes at 01:30
    assert clock_hour(datetime(2024, 4, 7, 1, 45, fold=1), "Australia/Lord_Howe") is None

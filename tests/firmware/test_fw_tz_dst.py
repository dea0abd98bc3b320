"""The firmware's local clock -> epoch ms (``tz.timestamp_to_epoch_ms``) on both daylight-saving days of
2024 and 2025, in Oslo and Helsinki, under CPython and the real MicroPython: every meter clock reading of
the hours around each change maps to the instant it was sent, by the previous reading (a meter without a
DST flag) or by the DST flag (a meter that sends one)."""

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import tz

import dut_firmware
from rig.bench import posix_tz

FIRMWARE_DIR = dut_firmware.__path__[0]
MICROPYTHON = os.path.join(os.path.dirname(sys.executable), "micropython")
DAYS = ((2024, 3, 31), (2024, 10, 27), (2025, 3, 30), (2025, 10, 26))
ZONES = ("Europe/Oslo", "Europe/Helsinki")


def _readings(zone: str, day: tuple[int, int, int], step_s: int) -> list[tuple[str, int, bool]]:
    """(local clock text, epoch ms, DST flag) of a meter's readings from 00:00 to 06:00 UTC of ``day``."""
    utc = datetime(*day, tzinfo=UTC)
    out = []
    while utc < datetime(*day, 6, tzinfo=UTC):
        local = utc.astimezone(ZoneInfo(zone))
        out.append((local.strftime("%Y-%m-%dT%H:%M:%S"), int(utc.timestamp()) * 1000, bool(local.dst())))
        utc += timedelta(seconds=step_s)
    return out


def _convert(spec: str, readings, use_flag: bool) -> list[int]:
    rule, prev, out = tz.Tz(spec), None, []
    for text, _ms, dst in readings:
        prev = tz.timestamp_to_epoch_ms(text, rule, None if use_flag else prev, dst if use_flag else None)
        out.append(prev)
    return out


@pytest.mark.parametrize("zone", ZONES)
@pytest.mark.parametrize("day", DAYS, ids=lambda d: f"{d[0]}-{d[1]:02d}")
def test_local_clock_to_epoch_on_change_days(zone, day):
    readings = _readings(zone, day, 2)
    expected = [ms for _, ms, _ in readings]
    texts = [t for t, _, _ in readings]
    assert len(set(texts)) == (len(texts) - 1800 if day[1] == 10 else len(texts))  # the repeated hour
    assert _convert(posix_tz(zone), readings, use_flag=False) == expected
    assert _convert(posix_tz(zone), readings, use_flag=True) == expected


def test_the_flag_resolves_a_repeated_time_without_a_previous_reading():
    rule = tz.Tz(posix_tz("Europe/Oslo"))
    first = tz.timestamp_to_epoch_ms("2024-10-27T02:30:00", rule)
    assert first == tz.timestamp_to_epoch_ms("2024-10-27T02:30:00", rule, dst=True)
    assert tz.timestamp_to_epoch_ms("2024-10-27T02:30:00", rule, dst=False) == first + 3600000
    # outside the repeated hour the flag changes nothing
    assert tz.timestamp_to_epoch_ms("2024-10-27T04:00:00", rule, dst=True) == \
        tz.timestamp_to_epoch_ms("2024-10-27T04:00:00", rule)


_MP_SCRIPT = """
import sys, json
sys.path.insert(0, %r)
import tz
while True:
    line = sys.stdin.readline()
    if not line:
        break
    spec, readings = json.loads(line)
    rule, prev, wrong = tz.Tz(spec), None, []
    for text, ms, dst in readings:
        prev = tz.timestamp_to_epoch_ms(text, rule, prev)
        if prev != ms or tz.timestamp_to_epoch_ms(text, rule, None, dst) != ms:
            wrong.append(text)
    print(json.dumps([len(readings), wrong[:5]]))
"""


def test_micropython_agrees_on_every_change_day():
    lines = [json.dumps([posix_tz(zone), _readings(zone, day, 10)]) for zone in ZONES for day in DAYS]
    proc = subprocess.run([MICROPYTHON, "-c", _MP_SCRIPT % FIRMWARE_DIR], input="\n".join(lines) + "\n",
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert [json.loads(line) for line in proc.stdout.splitlines()] == [[2160, []]] * len(lines)

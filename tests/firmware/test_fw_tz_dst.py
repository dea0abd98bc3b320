"""The firmware's local clock -> epoch ms (``tz.timestamp_to_epoch_ms``) on both daylight-saving days of
2024 and 2025, in Oslo and Helsinki, under CPython and the real MicroPython: every meter clock reading of
the hours around each change maps to the instant it was sent, by the previous reading (a meter without a
DST flag) or by the DST flag (a meter that sends one). Then the flag from the frame itself: the E360's
S/W clock suffix and the DST bit of a DLMS clock status, through the decoder into the published ts."""

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import han_testdata as td
import pytest
from test_han_p1 import telegram

import dut_firmware
from dut_firmware import state as state_mod
from dut_firmware import tz
from dut_firmware.han.decoder import Decoder
from rig.bench import posix_tz

FIRMWARE_DIR = dut_firmware.__path__[0]
FIRMWARE_ROOT = os.path.dirname(FIRMWARE_DIR)  # the folder holding the package: on sys.path
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
from dut_firmware import tz
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
    proc = subprocess.run([MICROPYTHON, "-c", _MP_SCRIPT % FIRMWARE_ROOT], input="\n".join(lines) + "\n",
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert [json.loads(line) for line in proc.stdout.splitlines()] == [[2160, []]] * len(lines)


# -- the meter's own DST flag, from the frame through the decoder to the published ts --------------------
# The repeated hour of 2024-10-27 and the hours around it, a reading every 5 minutes. A reader just
# started (a fresh State: no previous reading) has only the frame to go by: with the meter's flag it
# places every reading, the second pass of the repeated hour included; without one it takes the first.
CHANGE = (2024, 10, 27)


def _kamstrup_l1(local: datetime, status: int) -> bytes:
    """A Kamstrup List 1 (version, P+) whose header clock is ``local`` with this clock status byte."""
    clock = local.year.to_bytes(2, "big") + bytes([local.month, local.day, local.isoweekday(), local.hour,
                                                   local.minute, local.second, 0xFF, 0x80, 0x00, status])
    items = b"\x0a\x0eKamstrup_V0001" + b"\x09\x06\x01\x01\x01\x07\x00\xff" + b"\x06\x00\x00\x05\xbc"
    apdu = b"\x0f\x00\x00\x00\x00\x0c" + clock + b"\x02\x03" + items
    return td.build_hdlc(b"\xe6\xe7\x00" + apdu, address=b"\x2b\x21", control=0x13)


def _e360(local: datetime, flag: str) -> bytes:
    """An E360 telegram whose clock line is ``local`` with the flag S, W or none."""
    return telegram("0-0:1.0.0(" + local.strftime("%y%m%d%H%M%S") + flag + ")", "1-0:1.7.0(0.5*kW)")


def _frames(zone: str, kind: str) -> list[tuple[bytes, int, bool]]:
    """(frame, epoch ms it was sent, summer time then) from 23:00 UTC the day before to 03:00 UTC of the
    change day."""
    out, utc = [], datetime(*CHANGE, tzinfo=UTC) - timedelta(hours=1)
    while utc < datetime(*CHANGE, 3, tzinfo=UTC):
        local = utc.astimezone(ZoneInfo(zone))
        dst = bool(local.dst())
        if kind == "p1-flag":
            frame = _e360(local, "S" if dst else "W")
        elif kind == "p1":
            frame = _e360(local, "")
        elif kind == "kamstrup":  # the DLMS status: bit 7 while summer time is in force
            frame = _kamstrup_l1(local, 0x80 if dst else 0x00)
        else:  # a meter whose status never carries the bit (the Norwegian Kaifa sends 00 all year)
            frame = _kamstrup_l1(local, 0x00)
        out.append((frame, int(utc.timestamp()) * 1000, dst))
        utc += timedelta(minutes=5)
    return out


def _published(rule: str, frames: list[bytes], fresh: bool) -> list[int | None]:
    """The ts the reader publishes for each frame: one decoder; one State for all, or a fresh one each."""
    decoder, st, out = Decoder(), state_mod.State(rule), []
    for frame in frames:
        (result,) = decoder.feed(frame)
        if fresh:
            st = state_mod.State(rule)
        st.update(result)
        out.append(st.ts_ms)
    return out


def _second_pass(sent: list[int]) -> list[int]:
    """Indexes of the readings sent in the second pass of the repeated hour (01:00-02:00 UTC)."""
    start = int(datetime(*CHANGE, 1, tzinfo=UTC).timestamp()) * 1000
    return [i for i, ms in enumerate(sent) if start <= ms < start + 3600000]


FLAGGED = [("Europe/Helsinki", "p1-flag"), ("Europe/Oslo", "kamstrup")]


@pytest.mark.parametrize(("zone", "kind"), FLAGGED)
def test_the_meters_flag_places_the_repeated_hour(zone, kind):
    frames, sent, dst = zip(*_frames(zone, kind), strict=True)
    decoder = Decoder()
    assert [decoder.feed(f)[0].get("dst") for f in frames] == list(dst)
    assert len(_second_pass(list(sent))) == 12
    assert _published(posix_tz(zone), frames, fresh=True) == list(sent)
    assert _published(posix_tz(zone), frames, fresh=False) == list(sent)


@pytest.mark.parametrize(("zone", "kind"), [("Europe/Helsinki", "p1"), ("Europe/Oslo", "kaifa-like")])
def test_without_a_flag_a_reader_started_in_the_second_pass_is_an_hour_early(zone, kind):
    frames, sent, _ = zip(*_frames(zone, kind), strict=True)
    decoder = Decoder()
    assert all("dst" not in decoder.feed(f)[0] for f in frames)
    # by the previous reading, a running reader places them all
    assert _published(posix_tz(zone), frames, fresh=False) == list(sent)
    fresh = _published(posix_tz(zone), frames, fresh=True)
    second = _second_pass(list(sent))
    assert len(second) == 12
    assert [fresh[i] for i in second] == [sent[i] - 3600000 for i in second]
    assert [fresh[i] for i in range(len(sent)) if i not in second] == [
        sent[i] for i in range(len(sent)) if i not in second]


def test_a_clear_dst_bit_counts_once_the_meter_has_set_it():
    # Kaifa sends status 00 in summer too: a clear bit means standard time only from a meter seen setting it
    summer = datetime(2024, 10, 27, 2, 30)
    decoder = Decoder()
    assert "dst" not in decoder.feed(_kamstrup_l1(summer, 0x00))[0]
    assert decoder.feed(_kamstrup_l1(summer, 0x80))[0]["dst"] is True
    assert decoder.feed(_kamstrup_l1(summer, 0x00))[0]["dst"] is False
    assert "dst" not in decoder.feed(_kamstrup_l1(summer, 0xFF))[0]  # status not specified


_MP_FLAGS = """
import sys, json
sys.path.insert(0, %r)
import binascii
from dut_firmware import state
from dut_firmware.han.decoder import Decoder
rule = sys.stdin.readline().strip()
decoder = Decoder()
while True:
    line = sys.stdin.readline().strip()
    if not line:
        break
    (result,) = decoder.feed(binascii.unhexlify(line))
    st = state.State(rule)  # a reader just started
    st.update(result)
    print(json.dumps([result.get("dst"), st.ts_ms]))
"""


@pytest.mark.parametrize(("zone", "kind"), FLAGGED)
def test_micropython_places_the_repeated_hour_by_the_flag(zone, kind, micropython):
    frames, sent, dst = zip(*_frames(zone, kind), strict=True)
    lines = [posix_tz(zone)] + [f.hex() for f in frames]
    proc = subprocess.run([micropython, "-c", _MP_FLAGS % FIRMWARE_ROOT], input="\n".join(lines) + "\n",
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert [json.loads(line) for line in proc.stdout.splitlines()] == [list(x) for x in zip(dst, sent, strict=True)]

"""Encoding benchmark: microseconds per Kaifa List 2 frame built by the rig and by gurux-dlms.

Run: ``.venv/bin/python benchmarks/bench_encode.py [N] [REPEATS]`` (N frames per pass, default 2000; the
best, the median and the spread of REPEATS passes, default 5). Three encoders, on the same machine and run:

- ``rig encode``: ``profile.encode(2, reading, at)`` of ``kaifa-ma304h4``, the reading given (SI units);
- ``rig frame_at``: ``Meter.frame_at(at, 2)``, the meter model's values included;
- ``gurux``: gurux-dlms building the same DATA-NOTIFICATION with its own API (``_GXCommon.setData`` for the
  structure items, the steps of ``GXDLMSNotify.generateDataNotificationMessages`` for the APDU and the HDLC
  frame), from
  the same reading converted to wire integers in the loop, as the rig's encoder converts it.

gurux's notification API frames with control ``13`` (UI) where Kaifa sends ``10``, and writes the header
date-time as a bare octet string (``0C`` + 12 bytes) where Kaifa tags it (``09 0C``); everything else
(addresses, invoke id, date-time fields, the structure and every value) is checked to be the same bytes
as the rig's frame before timing. The ratios are gurux's best mean over the rig's, and its median over the
rig's (the steadier figure on a shared machine).
"""

from __future__ import annotations

import statistics
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gurux_dlms import GXByteBuffer, GXDateTime, GXDLMSNotify  # noqa: E402
from gurux_dlms.enums import Command, DataType, DateTimeSkips, InterfaceType, Priority, ServiceClass  # noqa: E402
from gurux_dlms.GXDLMS import GXDLMS  # noqa: E402
from gurux_dlms.GXDLMSLNParameters import GXDLMSLNParameters  # noqa: E402
from gurux_dlms.internal._GXCommon import _GXCommon  # noqa: E402

from rig.emulators import Meter, get_profile  # noqa: E402
from rig.emulators.kaifa import LIST_FIELDS, WIRE_SCALE  # noqa: E402

METER = "kaifa-ma304h4"
AT = datetime(2024, 10, 1, 19, 0, 0)
TEXT = ("list_version", "meter_id", "meter_type")


class GuruxKaifa:
    """A Kaifa List 2 DATA-NOTIFICATION in an HDLC frame, built with gurux-dlms."""

    def __init__(self) -> None:
        # client 0 (01 on the wire), server 0x80 (02 01); priority normal, service confirmed: 0x40000000
        self.notify = GXDLMSNotify(True, 0, 0x80, InterfaceType.HDLC)
        self.notify.settings.priority = Priority.NORMAL
        self.notify.settings.serviceClass = ServiceClass.CONFIRMED
        self.fields = LIST_FIELDS[2]

    def frame(self, reading: dict, at: datetime) -> bytes:
        settings = self.notify.settings
        body = GXByteBuffer()
        body.setUInt8(DataType.STRUCTURE)
        body.setUInt8(len(self.fields))
        for name in self.fields:
            if name in TEXT:
                _GXCommon.setData(settings, body, DataType.OCTET_STRING, reading[name].encode("ascii"))
            else:
                _GXCommon.setData(settings, body, DataType.UINT32, round(reading[name] * WIRE_SCALE[name]))
        clock = GXDateTime(at)  # hundredths FF, deviation 8000 ("not specified"), status 00, weekday sent
        clock.skip = (clock.skip | DateTimeSkips.MILLISECOND | DateTimeSkips.DEVITATION) & ~DateTimeSkips.DAY_OF_WEEK
        clock.status = 0
        clock.dayOfWeek = at.isoweekday()
        settings.setLongInvokeID(0)
        # GXDLMSNotify.generateDataNotificationMessages(clock, body) without its copy of the clock, which
        # drops the day of week
        params = GXDLMSLNParameters(settings, 0, Command.DATA_NOTIFICATION, 0, None, body, 0xFF)
        params.time = clock
        (message,) = GXDLMS.getLnMessages(params)
        return bytes(message)


def check_same_notification(rig: bytes, gurux: bytes) -> None:
    """The gurux frame is the rig's but for the control byte and the date-time tag (see the docstring)."""
    # rig:   7E A0 78 | 01 02 01 | 10 | HCS | E6 E7 00 0F 40000000 | 09 0C <12> | 02 0D ... | FCS 7E
    # gurux: 7E A0 77 | 01 02 01 | 13 | HCS | E6 E7 00 0F 40000000 |    0C <12> | 02 0D ... | FCS 7E
    assert rig[3:6] == gurux[3:6] and (rig[6], gurux[6]) == (0x10, 0x13), (rig[:9].hex(), gurux[:9].hex())
    assert rig[9:17] == gurux[9:17], "LLC, tag or invoke id differ"
    assert rig[17:19] == b"\x09\x0c" and rig[18:31] == gurux[17:30], "date-time differs"
    assert rig[31:-3] == gurux[30:-3], "the notification body differs"
    assert len(rig) == len(gurux) + 1


def passes(fn, n: int, repeats: int) -> list[float]:
    """The mean microseconds per call of each of ``repeats`` passes of ``n`` calls."""
    means = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for k in range(n):
            fn(k)
        means.append((time.perf_counter() - t0) / n * 1e6)
    return means


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    profile = get_profile(METER)
    meter = Meter(profile, seed=1, start=AT)
    times = [AT + timedelta(seconds=10 * k) for k in range(n)]
    readings = [meter.frame_at(at, 2).reading for at in times[:100]]
    gurux = GuruxKaifa()
    for at, reading in zip(times, readings, strict=False):
        check_same_notification(profile.encode(2, reading, at), gurux.frame(reading, at))

    def rig_encode(k: int) -> bytes:
        return profile.encode(2, readings[k % 100], times[k % 100])

    def rig_frame_at(k: int) -> bytes:
        return meter.frame_at(times[k], 2).data

    def gurux_frame(k: int) -> bytes:
        return gurux.frame(readings[k % 100], times[k % 100])

    print(f"Kaifa List 2 of {METER} ({len(rig_encode(0))} B), {n} frames per pass, best of {repeats} passes")
    best, median = {}, {}
    for name, fn in (("rig encode", rig_encode), ("rig frame_at (model included)", rig_frame_at),
                     ("gurux-dlms", gurux_frame)):
        means = passes(fn, n, repeats)
        best[name], median[name] = min(means), statistics.median(means)
        print(f"{name:<30} {best[name]:8.1f} us/frame  (median {median[name]:.1f}, spread {min(means):.1f}-"
              f"{max(means):.1f})  {1e6 / best[name]:9.0f} frames/s")
    for rig in ("rig encode", "rig frame_at (model included)"):
        print(f"gurux / {rig.split(' (')[0]:<13} {best['gurux-dlms'] / best[rig]:5.1f}x best, "
              f"{median['gurux-dlms'] / median[rig]:5.1f}x median")


if __name__ == "__main__":
    main()

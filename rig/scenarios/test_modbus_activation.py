"""Modbus TCP is off by default (connection refused) and serves the register map once activated."""

from __future__ import annotations

import asyncio
import struct
from datetime import datetime

import pytest

from rig.probes.modbus import MAP_ADDRESS, MAP_COUNT

# Midday on a sunny day: the plant exports, so net power (the map's only power register) is negative.
EXPORTING = datetime(2024, 10, 1, 12, 59, 50)  # List 2 (every value), then List 1


@pytest.mark.needs("modbus")
def test_modbus_refused_until_enabled(harness) -> None:
    h = harness(speed=4, load="solar-export", start=EXPORTING)
    frames = h.frames(2)
    for frame in frames:
        h.send(frame.data)
    h.wait_for(lambda: (r := h.http.meter()) and r["timestamp"] == frames[-1].reading["timestamp"],
               timeout=3, what="the last frame on /meter")

    probe = h.modbus()
    assert asyncio.run(probe.is_refused()), "Modbus port must refuse connections until activated"

    h.http.configure({"modbus": {"enabled": True}})
    registers = asyncio.run(_read(h.modbus()))
    meter: dict = {}
    for frame in frames:
        meter.update(frame.reading)
    net_w = meter["p_import_w"] - meter["p_export_w"]
    assert net_w < 0, "the meter must export for the power register to tell net power from import"
    # 0-2: U1..U3 in 0.1 V, 3-5: I1..I3 in 0.01 A, 6-7: net active power in W (int32, high word first)
    for n in range(3):
        assert registers[n] == pytest.approx(meter[f"u_l{n + 1}_v"] * 10, abs=0.5), f"U{n + 1}: {registers}"
        assert registers[3 + n] == pytest.approx(meter[f"i_l{n + 1}_a"] * 100, abs=0.5), f"I{n + 1}: {registers}"
    (power,) = struct.unpack(">i", struct.pack(">HH", registers[6], registers[7]))
    assert power == net_w, f"P: {registers}"

    h.http.configure({"modbus": {"enabled": False}})
    assert asyncio.run(h.modbus().is_refused()), "Modbus port must close again when deactivated"


async def _read(probe) -> list[int]:
    await probe.connect()
    try:
        return await probe.read_raw(MAP_ADDRESS, MAP_COUNT)
    finally:
        probe.close()

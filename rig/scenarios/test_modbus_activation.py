"""Modbus TCP is off by default (connection refused) and serves the register map once activated."""

from __future__ import annotations

import asyncio

import pytest


@pytest.mark.needs("modbus")
def test_modbus_refused_until_enabled(harness) -> None:
    h = harness(speed=4)
    frames = h.frames(2, start=h.start)
    for frame in frames:
        h.send(frame.data)
    h.wait_for(lambda: (r := h.http.meter()) and r["timestamp"] == frames[-1].reading["timestamp"],
               timeout=3, what="the last frame on /meter")

    probe = h.modbus()
    assert asyncio.run(probe.is_refused()), "Modbus port must refuse connections until activated"

    h.http.configure({"modbus": {"enabled": True}})
    reading = asyncio.run(_read(h.modbus()))
    expected = {}
    for frame in frames:
        expected.update(frame.reading)
    assert reading["u_l1_v"] == pytest.approx(expected["u_l1_v"], abs=0.051)
    assert reading["i_l1_a"] == pytest.approx(expected["i_l1_a"], abs=0.0051)
    assert reading["p_import_w"] == expected["p_import_w"]

    h.http.configure({"modbus": {"enabled": False}})
    assert asyncio.run(h.modbus().is_refused()), "Modbus port must close again when deactivated"


async def _read(probe):
    await probe.connect()
    try:
        return await probe.read()
    finally:
        probe.close()

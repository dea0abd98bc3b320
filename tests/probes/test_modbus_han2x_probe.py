"""The han2x side of ModbusProbe: decoding the 51-register map, and FC 06/16 writes through pymodbus to a real
pymodbus server (pymodbus 3.16 SimDevice)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from rig.probes import ModbusExceptionResponse, ProbeError
from rig.probes.modbus import HAN2X_COUNT, HAN2X_REGISTERS, HAN2X_SCALE_ADDRESS, ModbusProbe, decode_han2x
from tests.probes.test_modbus import ModbusServer, words


def han2x(**values: int) -> list[int]:
    """A map with every register unavailable but ``values`` (register name -> raw count)."""
    regs = [0xFFFF] * HAN2X_COUNT
    for r in HAN2X_REGISTERS:
        if r.kind == "int32":
            regs[r.address:r.address + 2] = [0x8000, 0]
        if r.name in values:
            raw = values[r.name] & 0xFFFF_FFFF
            regs[r.address:r.address + r.width] = words(raw) if r.width == 2 else [raw]
    return regs


def test_decode_scales_and_signs() -> None:
    out = decode_han2x(han2x(p_import_w=43470, i_l1_a=-1500, u_l2_v=2301, e_export_wh=123456789, clock_year=2024,
                             clock_month=10, clock_day=1, clock_hour=19, clock_minute=0, clock_second=10,
                             firmware_version=10203, uptime_h=5, scale=1000))
    assert out["p_import_w"] == 43470 and out["i_l1_a"] == -1.5 and out["u_l2_v"] == 230.1
    assert out["e_export_wh"] == 123456789 and out["timestamp"] == "2024-10-01T19:00:10"
    assert out["firmware"] == "1.2.3" and out["uptime_h"] == 5 and out["scale"] == 1000
    assert out["p_export_w"] is None and out["i_l2_a"] is None and out["temperature_c"] is None


def test_decode_without_clock_and_bad_input() -> None:
    out = decode_han2x(han2x(clock_year=2024))
    assert out["timestamp"] is None and out["firmware"] is None
    with pytest.raises(ProbeError, match="expected 51 registers"):
        decode_han2x([0] * 8)
    with pytest.raises(ProbeError, match="16-bit"):
        decode_han2x([0x10000] * HAN2X_COUNT)


def test_table_has_no_overlaps_and_one_writable_pair() -> None:
    used: list[int] = []
    for r in HAN2X_REGISTERS:
        used += range(r.address, r.address + r.width)
    assert len(used) == len(set(used)) and max(used) == HAN2X_COUNT - 1
    assert [(r.address, r.width) for r in HAN2X_REGISTERS if r.writable] == [(HAN2X_SCALE_ADDRESS, 2)]


@pytest.fixture
def server() -> Iterator[ModbusServer]:
    srv = ModbusServer(han2x(p_import_w=2000, scale=1000)).start()
    yield srv
    srv.stop()


def test_reads_the_map_and_writes_registers(server: ModbusServer) -> None:
    async def run() -> tuple[dict, dict]:
        async with ModbusProbe("127.0.0.1", server.port) as probe:
            first = await probe.read_han2x()
            await probe.write(HAN2X_SCALE_ADDRESS, words(2500))         # FC 16
            await probe.write(HAN2X_SCALE_ADDRESS, [0])                 # FC 06
            return first, await probe.read_han2x(function=4)

    first, second = asyncio.run(run())
    assert first["p_import_w"] == 2000 and first["scale"] == 1000
    assert second["scale"] == 2500 and second["p_import_w"] == 2000


def test_write_outside_the_device_is_an_exception(server: ModbusServer) -> None:
    async def run() -> int:
        async with ModbusProbe("127.0.0.1", server.port) as probe:
            with pytest.raises(ModbusExceptionResponse) as info:
                await probe.write(200, [1, 2])
            with pytest.raises(ValueError, match="16-bit"):
                await probe.write(0, [70000])
            return info.value.exception_code

    assert asyncio.run(run()) == 2

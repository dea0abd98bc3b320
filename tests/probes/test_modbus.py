"""ModbusProbe against a real pymodbus TCP server on loopback (pymodbus 3.16 SimDevice API)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from rig.netutil import free_port, wait_for_port
from rig.probes import ConnectionRefused, ModbusExceptionResponse, ProbeError
from rig.probes.modbus import ModbusProbe, decode_registers, is_refused, read_once


def words(value: int) -> list[int]:
    """int32 -> [high, low] 16-bit words."""
    raw = value & 0xFFFF_FFFF
    return [raw >> 16, raw & 0xFFFF]


# U1=230.1 V, U2 unavailable (3-wire IT), U3=229.9 V; I1=5.43 A, I2=0, I3 unavailable; P=-1500 W (export)
REGISTERS = [2301, 0xFFFF, 2299, 543, 0, 0xFFFF, *words(-1500)]


class ModbusServer:
    """A pymodbus TCP server on its own event loop in a thread; unit 1; registers 0..7 only."""

    def __init__(self, registers: list[int]) -> None:
        self.port = free_port()
        self.loop = asyncio.new_event_loop()
        self.server: ModbusTcpServer | None = None
        self._registers = registers
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def start(self) -> ModbusServer:
        self._thread.start()
        self.server = self._call(self._start())
        assert wait_for_port("127.0.0.1", self.port, 5.0)
        return self

    async def _start(self) -> ModbusTcpServer:
        device = SimDevice(id=1, simdata=[SimData(0, values=list(self._registers),
                                                  datatype=DataType.REGISTERS)])
        server = ModbusTcpServer(device, address=("127.0.0.1", self.port))
        await server.serve_forever(background=True)
        return server

    def set_registers(self, address: int, values: list[int]) -> None:
        assert self.server is not None
        self._call(self.server.async_setValues(1, 16, address, values))

    def stop(self) -> None:
        if self.server is not None:
            self._call(self.server.shutdown())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)
        self.loop.close()

    def _call(self, coro):  # type: ignore[no-untyped-def]
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(5)


@pytest.fixture
def server() -> Iterator[ModbusServer]:
    srv = ModbusServer(REGISTERS).start()
    yield srv
    srv.stop()


def test_read_decodes_the_map(server: ModbusServer) -> None:
    async def run() -> dict:
        async with ModbusProbe("127.0.0.1", server.port) as probe:
            return await probe.read()

    r = asyncio.run(run())
    assert r == {
        "u_l1_v": 230.1, "u_l2_v": None, "u_l3_v": 229.9,
        "i_l1_a": 5.43, "i_l2_a": 0.0, "i_l3_a": None,
        "p_import_w": 0, "p_export_w": 1500,
    }


def test_fc04_reads_the_same_map_and_raw_registers(server: ModbusServer) -> None:
    async def run() -> tuple[dict, list[int]]:
        probe = ModbusProbe("127.0.0.1", server.port, unit_id=1)
        try:
            return await probe.read(function=4), await probe.read_raw(6, 2)
        finally:
            probe.close()

    reading, raw = asyncio.run(run())
    assert reading["p_export_w"] == 1500
    assert raw == [0xFFFF, 0xFA24]


def test_positive_power_and_sentinels(server: ModbusServer) -> None:
    # 3 x 63 A x 230 V = 43470 W does not fit in 16 bits: the int32 must carry it.
    server.set_registers(6, words(43470))
    r = read_once("127.0.0.1", server.port)
    assert r["p_import_w"] == 43470 and r["p_export_w"] == 0
    server.set_registers(0, [0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF, 0x8000, 0x0000])
    r = read_once("127.0.0.1", server.port)
    assert all(v is None for v in r.values()) and len(r) == 8
    server.set_registers(6, words(0))
    r = read_once("127.0.0.1", server.port)
    assert r["p_import_w"] == 0 and r["p_export_w"] == 0


def test_illegal_address_is_an_exception_response(server: ModbusServer) -> None:
    async def run() -> None:
        async with ModbusProbe("127.0.0.1", server.port) as probe:
            with pytest.raises(ModbusExceptionResponse) as info:
                await probe.read_raw(8, 1)
            assert info.value.exception_code == 2 and info.value.function_code == 3
            # the connection survives an exception response
            assert (await probe.read())["u_l1_v"] == 230.1

    asyncio.run(run())


def test_closed_port_is_refused() -> None:
    port = free_port()

    async def run() -> None:
        probe = ModbusProbe("127.0.0.1", port, timeout=1.0)
        assert await probe.is_refused()
        with pytest.raises(ConnectionRefused, match="refused"):
            await probe.connect()
        with pytest.raises(ConnectionRefused):
            await probe.read()

    asyncio.run(run())
    assert is_refused("127.0.0.1", port)
    with pytest.raises(ConnectionRefused):
        read_once("127.0.0.1", port)


def test_open_port_is_not_refused(server: ModbusServer) -> None:
    assert asyncio.run(ModbusProbe("127.0.0.1", server.port).is_refused()) is False
    assert is_refused("127.0.0.1", server.port) is False


def test_decode_registers_rejects_bad_input() -> None:
    with pytest.raises(ProbeError, match="expected 8 registers"):
        decode_registers([0] * 7)
    with pytest.raises(ProbeError, match="16-bit"):
        decode_registers([0x10000] + [0] * 7)
    assert decode_registers([0, 0, 0, 0, 0, 0, *words(-1)])["p_export_w"] == 1
    assert decode_registers([0, 0, 0, 0, 0, 0, *words(2**31 - 1)])["p_import_w"] == 2**31 - 1

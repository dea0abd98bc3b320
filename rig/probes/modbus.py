"""Modbus TCP probe: the reader's default register map (docs/architecture.md, section 4).

| address | value | type | scale | unavailable |
|---|---|---|---|---|
| 0-2 | U1..U3 | uint16 | 0.1 V | 0xFFFF |
| 3-5 | I1..I3 | uint16 | 0.01 A | 0xFFFF |
| 6-7 | P (import - export) | int32, high word first | 1 W | 0x80000000 |
"""

from __future__ import annotations

import asyncio
import socket

from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ModbusException

from rig.probes.base import ConnectionRefused, ModbusExceptionResponse, ProbeError
from rig.reading import Reading

MAP_ADDRESS = 0
MAP_COUNT = 8
U16_UNAVAILABLE = 0xFFFF
I32_UNAVAILABLE = 0x80000000


def decode_registers(regs: list[int]) -> Reading:
    """Registers 0..7 of the default map -> normalized reading (the 8 fields Modbus carries)."""
    if len(regs) != MAP_COUNT:
        raise ProbeError(f"expected {MAP_COUNT} registers, got {len(regs)}: {regs!r}")
    for reg in regs:
        if not 0 <= reg <= 0xFFFF:
            raise ProbeError(f"register value {reg!r} is not a 16-bit word")
    reading: Reading = {}
    for n in range(3):
        u, i = regs[n], regs[3 + n]
        reading[f"u_l{n + 1}_v"] = None if u == U16_UNAVAILABLE else u / 10
        reading[f"i_l{n + 1}_a"] = None if i == U16_UNAVAILABLE else i / 100
    raw = (regs[6] << 16) | regs[7]
    if raw == I32_UNAVAILABLE:
        reading["p_import_w"] = reading["p_export_w"] = None
    else:
        p = raw - 0x1_0000_0000 if raw & 0x8000_0000 else raw
        reading["p_import_w"] = max(p, 0)
        reading["p_export_w"] = max(-p, 0)
    return reading


class ModbusProbe:
    """Async reader of the DUT's Modbus TCP map (FC03 by default). Also an async context manager.

    ``connect()`` raises ``ConnectionRefused`` (a ``ProbeError``) when the port refuses the
    connection, as it must while Modbus is disabled, and ``ProbeError`` for anything else.
    """

    def __init__(self, host: str, port: int, unit_id: int = 1, timeout: float = 1.0) -> None:
        self.host = host
        self.port = port
        self.unit_id = unit_id
        self.timeout = timeout
        self._client: AsyncModbusTcpClient | None = None

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def connected(self) -> bool:
        return self._client is not None and self._client.connected

    async def is_refused(self) -> bool:
        """True when a plain TCP connect to the port is refused (nothing listens: Modbus disabled).

        False when it connects, and also when it times out or fails otherwise (not a clear refusal).
        """
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection(self.host, self.port),
                                               self.timeout)
        except ConnectionRefusedError:
            return True
        except (OSError, TimeoutError):
            return False
        writer.close()
        try:
            await writer.wait_closed()
        except OSError:
            pass
        return False

    async def connect(self) -> None:
        """Open the connection; ``ConnectionRefused`` or ``ProbeError`` when it cannot."""
        if self.connected:
            return
        self.close()
        # reconnect_delay=0: no background reconnection; retries=0: one attempt per request.
        client = AsyncModbusTcpClient(self.host, port=self.port, timeout=self.timeout, retries=0,
                                      reconnect_delay=0)
        if await client.connect():
            self._client = client
            return
        client.close()
        if await self.is_refused():
            raise ConnectionRefused(f"Modbus TCP {self.address}: connection refused (port disabled?)")
        raise ProbeError(f"Modbus TCP {self.address}: could not connect within {self.timeout} s")

    async def read_raw(self, address: int, count: int, function: int = 3) -> list[int]:
        """Read ``count`` registers (FC 3/4) or bits (FC 1/2, as 0/1) at ``address``.

        An exception response raises ``ModbusExceptionResponse`` (``.exception_code``: 1 illegal
        function, 2 illegal data address, ...).
        """
        if function not in (1, 2, 3, 4):
            raise ValueError(f"function {function} is not a read function (1, 2, 3 or 4)")
        await self.connect()
        assert self._client is not None
        reader = {
            1: self._client.read_coils,
            2: self._client.read_discrete_inputs,
            3: self._client.read_holding_registers,
            4: self._client.read_input_registers,
        }[function]
        try:
            resp = await reader(address, count=count, device_id=self.unit_id)
        except ModbusException as exc:
            self.close()
            raise ProbeError(f"Modbus TCP {self.address}: FC{function:02d} {address}+{count}: {exc}") from exc
        if resp.isError():
            raise ModbusExceptionResponse(function, getattr(resp, "exception_code", 0),
                                          f"{self.address}, address {address}, count {count}")
        if function in (1, 2):
            return [int(bit) for bit in resp.bits[:count]]
        if len(resp.registers) != count:
            raise ProbeError(f"Modbus TCP {self.address}: asked {count} registers, got "
                             f"{len(resp.registers)}")
        return list(resp.registers)

    async def read(self, function: int = 3) -> Reading:
        """Registers 0..7 decoded per the default map (see ``decode_registers``)."""
        return decode_registers(await self.read_raw(MAP_ADDRESS, MAP_COUNT, function))

    def close(self) -> None:
        """Close the connection (safe to call twice)."""
        if self._client is not None:
            self._client.close()
            self._client = None

    async def __aenter__(self) -> ModbusProbe:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()


def read_once(host: str, port: int, unit_id: int = 1, timeout: float = 1.0, function: int = 3) -> Reading:
    """Synchronous one-shot: connect, read the map, close. Not for use inside a running event loop."""

    async def _run() -> Reading:
        async with ModbusProbe(host, port, unit_id, timeout) as probe:
            return await probe.read(function)

    return asyncio.run(_run())


def is_refused(host: str, port: int, timeout: float = 1.0) -> bool:
    """Synchronous check: True when a TCP connect to ``host:port`` is refused."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return False
    except ConnectionRefusedError:
        return True
    except OSError:
        return False

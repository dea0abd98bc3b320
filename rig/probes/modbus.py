"""Modbus TCP probe: the reader's two register maps (``modbus.map`` "default" and "han2x").

Default map:

| address | value | type | scale | unavailable |
|---|---|---|---|---|
| 0-2 | U1..U3 | uint16 | 0.1 V | 0xFFFF |
| 3-5 | I1..I3 | uint16 | 0.01 A | 0xFFFF |
| 6-7 | P (import - export) | int32, high word first | 1 W | 0x80000000 |

The han2x map is the data ``HAN2X_REGISTERS`` (address, name, type, unit per register step); the README
prints the same table. ``decode_han2x`` turns its 51 registers into a normalized reading plus the
device values (meter clock, firmware version, uptime hours, scale factor).
"""

from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass

from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ModbusException

from rig.probes.base import ConnectionRefused, ModbusExceptionResponse, ProbeError
from rig.reading import Reading

__all__ = ["HAN2X_COUNT", "HAN2X_REGISTERS", "HAN2X_SCALE_ADDRESS", "Han2xRegister", "ModbusProbe",
           "decode_han2x", "decode_registers", "is_refused", "read_once"]

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


@dataclass(frozen=True)
class Han2xRegister:
    """One value of the han2x map: registers ``address`` (and ``address + 1`` for 32 bits)."""

    address: int
    name: str       # a normalized reading field, or a device value (clock_*, firmware_version, ...)
    kind: str       # "uint32", "int32" (high word first) or "uint16"
    step: float     # the value of one unit of the register in ``unit`` (0.1 for 0.1 V)
    unit: str
    writable: bool = False

    @property
    def width(self) -> int:
        return 1 if self.kind == "uint16" else 2

    @property
    def unavailable(self) -> int:
        return {"uint16": 0xFFFF, "uint32": 0xFFFF_FFFF, "int32": 0x8000_0000}[self.kind]


HAN2X_REGISTERS: tuple[Han2xRegister, ...] = (
    Han2xRegister(0, "p_import_w", "uint32", 1, "W"),
    Han2xRegister(2, "p_export_w", "uint32", 1, "W"),
    Han2xRegister(4, "q_import_var", "uint32", 1, "var"),
    Han2xRegister(6, "q_export_var", "uint32", 1, "var"),
    Han2xRegister(8, "i_l1_a", "int32", 0.001, "A"),
    Han2xRegister(10, "i_l2_a", "int32", 0.001, "A"),
    Han2xRegister(12, "i_l3_a", "int32", 0.001, "A"),
    Han2xRegister(14, "u_l1_v", "uint32", 0.1, "V"),
    Han2xRegister(16, "u_l2_v", "uint32", 0.1, "V"),
    Han2xRegister(18, "u_l3_v", "uint32", 0.1, "V"),
    Han2xRegister(20, "e_import_wh", "uint32", 1, "Wh"),
    Han2xRegister(22, "e_export_wh", "uint32", 1, "Wh"),
    Han2xRegister(24, "r_import_varh", "uint32", 1, "varh"),
    Han2xRegister(26, "r_export_varh", "uint32", 1, "varh"),
    Han2xRegister(28, "e_import_est_wh", "uint32", 1, "Wh"),
    Han2xRegister(30, "e_export_est_wh", "uint32", 1, "Wh"),
    Han2xRegister(32, "r_import_est_varh", "uint32", 1, "varh"),
    Han2xRegister(34, "r_export_est_varh", "uint32", 1, "varh"),
    Han2xRegister(36, "clock_year", "uint16", 1, ""),
    Han2xRegister(37, "clock_month", "uint16", 1, ""),
    Han2xRegister(38, "clock_day", "uint16", 1, ""),
    Han2xRegister(39, "clock_hour", "uint16", 1, ""),
    Han2xRegister(40, "clock_minute", "uint16", 1, ""),
    Han2xRegister(41, "clock_second", "uint16", 1, ""),
    Han2xRegister(42, "firmware_version", "uint16", 1, ""),
    Han2xRegister(43, "temperature_c", "uint16", 0.01, "degC"),
    Han2xRegister(47, "uptime_h", "uint16", 1, "h"),
    Han2xRegister(48, "scale", "uint32", 1, "1/1000", writable=True),
    Han2xRegister(50, "digital_input", "uint16", 1, ""),
)
HAN2X_COUNT = 51
HAN2X_SCALE_ADDRESS = 48
SCALED_FIELDS = frozenset({"p_import_w", "p_export_w", "q_import_var", "q_export_var", "i_l1_a", "i_l2_a",
                           "i_l3_a", "e_import_wh", "e_export_wh", "r_import_varh", "r_export_varh",
                           "e_import_est_wh", "e_export_est_wh", "r_import_est_varh", "r_export_est_varh"})


def _scaled_value(raw: int, step: float) -> int | float:
    """A register count in its unit: exact ints for whole steps, a rounded float otherwise."""
    if step == 1:
        return raw
    digits = len(f"{step:g}".split(".")[1]) if "." in f"{step:g}" else 0
    return round(raw * step, digits)


def decode_han2x(regs: list[int]) -> dict[str, object]:
    """The 51 registers of the han2x map -> every value by name (``None`` when unavailable), plus
    ``timestamp`` (the meter clock as ``YYYY-MM-DDTHH:MM:SS``, or None) and ``firmware`` ("a.b.c")."""
    if len(regs) != HAN2X_COUNT:
        raise ProbeError(f"expected {HAN2X_COUNT} registers, got {len(regs)}: {regs!r}")
    for reg in regs:
        if not 0 <= reg <= 0xFFFF:
            raise ProbeError(f"register value {reg!r} is not a 16-bit word")
    out: dict[str, object] = {}
    for r in HAN2X_REGISTERS:
        raw = regs[r.address] if r.width == 1 else (regs[r.address] << 16) | regs[r.address + 1]
        if raw == r.unavailable:
            out[r.name] = None
            continue
        if r.kind == "int32" and raw & 0x8000_0000:
            raw -= 0x1_0000_0000
        out[r.name] = _scaled_value(raw, r.step)
    parts = [out[f"clock_{n}"] for n in ("year", "month", "day", "hour", "minute", "second")]
    if None in parts:
        out["timestamp"] = None
    else:
        y, mo, d, h, mi, sec = parts
        out["timestamp"] = f"{y:04d}-{mo:02d}-{d:02d}T{h:02d}:{mi:02d}:{sec:02d}"
    version = out["firmware_version"]
    out["firmware"] = (None if version is None else
                       f"{version // 10000}.{version // 100 % 100}.{version % 100}")  # type: ignore[operator]
    return out


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

    async def read_han2x(self, function: int = 3) -> dict[str, object]:
        """The whole han2x map (one request) decoded (see ``decode_han2x``)."""
        return decode_han2x(await self.read_raw(0, HAN2X_COUNT, function))

    async def write(self, address: int, values: list[int]) -> None:
        """FC 06 for one value, FC 16 for several; ``ModbusExceptionResponse`` when refused."""
        for value in values:
            if not 0 <= value <= 0xFFFF:
                raise ValueError(f"register value {value!r} is not a 16-bit word")
        await self.connect()
        assert self._client is not None
        function = 6 if len(values) == 1 else 16
        try:
            if function == 6:
                resp = await self._client.write_register(address, values[0], device_id=self.unit_id)
            else:
                resp = await self._client.write_registers(address, values, device_id=self.unit_id)
        except ModbusException as exc:
            self.close()
            raise ProbeError(f"Modbus TCP {self.address}: FC{function:02d} {address}: {exc}") from exc
        if resp.isError():
            raise ModbusExceptionResponse(function, getattr(resp, "exception_code", 0),
                                          f"{self.address}, address {address}, values {values}")

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

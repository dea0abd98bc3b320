"""CRC-16/X.25, the HCS and FCS of HDLC frames (reflected 0x8408, init 0xFFFF, xorout 0xFFFF)."""

from __future__ import annotations


def _make_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x8408 if crc & 1 else crc >> 1
        table.append(crc)
    return tuple(table)


_TABLE = _make_table()


def crc16_x25(data: bytes) -> int:
    """CRC-16/X.25 of ``data`` as an integer (check value of ``b"123456789"`` is 0x906E)."""
    crc = 0xFFFF
    for byte in data:
        crc = (crc >> 8) ^ _TABLE[(crc ^ byte) & 0xFF]
    return crc ^ 0xFFFF


def crc16_x25_wire(data: bytes) -> bytes:
    """CRC-16/X.25 of ``data`` as the two bytes sent on the line (least significant byte first)."""
    return crc16_x25(data).to_bytes(2, "little")

"""The CRCs of the meter wire formats.

- CRC-16/X.25 (reflected 0x8408, init 0xFFFF, xorout 0xFFFF): the HCS and FCS of HDLC frames.
- CRC-16/ARC (reflected 0xA001, init 0, no xorout): the checksum of P1 telegrams.
"""

from __future__ import annotations

from binascii import crc_hqx


def _make_table(poly: int) -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ poly if crc & 1 else crc >> 1
        table.append(crc)
    return tuple(table)


_ARC_TABLE = _make_table(0xA001)
_REFLECT = bytes(int(f"{b:08b}"[::-1], 2) for b in range(256))  # each byte with its bits reversed


def crc16_x25(data: bytes) -> int:
    """CRC-16/X.25 of ``data`` as an integer (check value of ``b"123456789"`` is 0x906E)."""
    # X.25 is CRC-16/CCITT (0x1021, what binascii.crc_hqx computes in C) with input and output bit-reflected:
    # reflect every byte, run crc_hqx from 0xFFFF (its own reflection), reflect the 16-bit result.
    crc = crc_hqx(bytes(data).translate(_REFLECT), 0xFFFF)
    return ((_REFLECT[crc & 0xFF] << 8) | _REFLECT[crc >> 8]) ^ 0xFFFF


def crc16_x25_wire(data: bytes) -> bytes:
    """CRC-16/X.25 of ``data`` as the two bytes sent on the line (least significant byte first)."""
    crc = crc_hqx(bytes(data).translate(_REFLECT), 0xFFFF)
    return bytes((_REFLECT[crc >> 8] ^ 0xFF, _REFLECT[crc & 0xFF] ^ 0xFF))


def crc16_arc(data: bytes) -> int:
    """CRC-16/ARC of ``data`` as an integer (check value of ``b"123456789"`` is 0xBB3D)."""
    crc = 0
    for byte in data:
        crc = (crc >> 8) ^ _ARC_TABLE[(crc ^ byte) & 0xFF]
    return crc

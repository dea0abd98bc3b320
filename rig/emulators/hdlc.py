"""HDLC frame type 3 (IEC 62056-46) as sent on the HAN port: no octet stuffing, no segmentation."""

from __future__ import annotations

from rig.emulators.crc import crc16_x25_wire

FLAG = 0x7E
MAX_FRAME_LENGTH = 0x7FF  # the 11-bit length sub-field of the frame format


def _check_address(address: bytes, what: str) -> None:
    """An HDLC address ends on the byte whose LSB is 1; every byte before it has LSB 0."""
    if not 1 <= len(address) <= 4:
        raise ValueError(f"{what} address must be 1 to 4 bytes, got {len(address)}")
    if address[-1] & 1 != 1 or any(b & 1 for b in address[:-1]):
        raise ValueError(f"{what} address {address.hex()} is not terminated by its last byte (LSB 1)")


def build_frame(info: bytes, dest: bytes, source: bytes, control: int) -> bytes:
    """An HDLC type-3 frame, flags included: ``7E | A0xx | dest | source | control | HCS | info | FCS | 7E``.

    The length sub-field counts everything between the flags (S bit 0). A frame without ``info``
    carries no HCS, only the FCS. Raises ValueError for a frame longer than 2047 bytes or a bad address.
    """
    _check_address(dest, "destination")
    _check_address(source, "source")
    if not 0 <= control <= 0xFF:
        raise ValueError(f"control field must be one byte, got {control}")
    header_len = 2 + len(dest) + len(source) + 1
    length = header_len + (2 + len(info) if info else 0) + 2
    if length > MAX_FRAME_LENGTH:
        raise ValueError(f"HDLC frame of {length} bytes exceeds the 11-bit length field ({MAX_FRAME_LENGTH})")
    header = bytes([0xA0 | (length >> 8), length & 0xFF]) + dest + source + bytes([control])
    body = header + crc16_x25_wire(header) + info if info else header
    return bytes([FLAG]) + body + crc16_x25_wire(body) + bytes([FLAG])

"""HDLC frame type 3 (IEC 62056-46) as sent on the HAN port: no octet stuffing, no segmentation."""

from __future__ import annotations

from functools import lru_cache

from rig.emulators.crc import crc16_x25_wire

FLAG = 0x7E
MAX_FRAME_LENGTH = 0x7FF  # the 11-bit length sub-field of the frame format
_FLAG_BYTE = bytes([FLAG])


def _check_address(address: bytes, what: str) -> None:
    """An HDLC address ends on the byte whose LSB is 1; every byte before it has LSB 0."""
    if not 1 <= len(address) <= 4:
        raise ValueError(f"{what} address must be 1 to 4 bytes, got {len(address)}")
    if address[-1] & 1 != 1 or any(b & 1 for b in address[:-1]):
        raise ValueError(f"{what} address {address.hex()} is not terminated by its last byte (LSB 1)")


@lru_cache(maxsize=256)
def _header(length: int, dest: bytes, source: bytes, control: int, with_hcs: bool) -> bytes:
    """The checked header ``A0xx | dest | source | control`` and its HCS (``with_hcs``): a meter sends
    frames of a few lengths, so each header is built once."""
    _check_address(dest, "destination")
    _check_address(source, "source")
    if not 0 <= control <= 0xFF:
        raise ValueError(f"control field must be one byte, got {control}")
    header = bytes((0xA0 | (length >> 8), length & 0xFF)) + dest + source + bytes((control,))
    return header + crc16_x25_wire(header) if with_hcs else header


def build_frame(info: bytes, dest: bytes, source: bytes, control: int) -> bytes:
    """An HDLC type-3 frame, flags included: ``7E | A0xx | dest | source | control | HCS | info | FCS | 7E``.

    The length sub-field counts everything between the flags (S bit 0). A frame without ``info``
    carries no HCS, only the FCS. Raises ValueError for a frame longer than 2047 bytes or a bad address.
    """
    header_len = 2 + len(dest) + len(source) + 1
    length = header_len + (2 + len(info) if info else 0) + 2
    if length > MAX_FRAME_LENGTH:
        raise ValueError(f"HDLC frame of {length} bytes exceeds the 11-bit length field ({MAX_FRAME_LENGTH})")
    body = _header(length, bytes(dest), bytes(source), control, bool(info)) + info
    return b"".join((_FLAG_BYTE, body, crc16_x25_wire(body), _FLAG_BYTE))


# -- byte surgery on frames already built (fault injection) ------------------------------------------
def _address_end(frame: bytes, i: int, what: str) -> int:
    for k in range(4):
        if i + k >= len(frame):
            break
        if frame[i + k] & 1:
            return i + k + 1
    raise ValueError(f"no HDLC {what} address at byte {i} of {frame[:16].hex()}")


def header_end(frame: bytes) -> int:
    """Index just after the HCS of the frame at ``frame[0]`` (a flag): where its information field starts.

    Raises ValueError when ``frame`` does not start with a flag and a type-3 header.
    """
    if len(frame) < 3 or frame[0] != FLAG or frame[1] & 0xF0 != 0xA0:
        raise ValueError(f"not an HDLC type-3 frame start: {frame[:8].hex()}")
    ctrl = _address_end(frame, _address_end(frame, 3, "destination"), "source")
    end = ctrl + 3  # control byte + HCS
    if end > len(frame):
        raise ValueError(f"HDLC header cut short: {frame.hex()}")
    return end


def length_field(frame: bytes) -> int:
    """The 11-bit length sub-field of the frame at ``frame[0]``: the bytes between its flags."""
    header_end(frame)
    return ((frame[1] & 0x07) << 8) | frame[2]


def with_length(frame: bytes, length: int) -> bytes:
    """The frame with its length sub-field set to ``length`` and the HCS recomputed (a frame whose
    header checks out but announces the wrong size); the rest, FCS included, is unchanged."""
    if not 0 <= length <= MAX_FRAME_LENGTH:
        raise ValueError(f"HDLC length must be 0..{MAX_FRAME_LENGTH}, got {length}")
    end = header_end(frame)
    header = bytes([(frame[1] & 0xF8) | (length >> 8), length & 0xFF]) + frame[3:end - 2]
    return frame[:1] + header + crc16_x25_wire(header) + frame[end:]


def _spoil(byte: int) -> int:
    """A different byte that is never the flag: inverted, or XOR 0x0F where inverting gives 0x7E."""
    return byte ^ 0xFF if byte ^ 0xFF != FLAG else byte ^ 0x0F


def spoil_hcs(frame: bytes) -> bytes:
    """The frame with both HCS bytes changed (neither becomes a flag), so its header no longer checks."""
    end = header_end(frame)
    return frame[:end - 2] + bytes([_spoil(frame[end - 2]), _spoil(frame[end - 1])]) + frame[end:]


def spoil_fcs(frame: bytes) -> bytes:
    """The complete frame with both FCS bytes changed (neither becomes a flag), so it no longer checks."""
    if frame[-1:] != bytes([FLAG]) or length_field(frame) != len(frame) - 2:
        raise ValueError("spoil_fcs needs a complete HDLC frame, both flags included")
    return frame[:-3] + bytes([_spoil(frame[-3]), _spoil(frame[-2])]) + frame[-1:]


def is_whole_frame(data: bytes) -> bool:
    """True for exactly one complete frame with an information field: both flags, a length sub-field
    equal to the bytes between them, and a right HCS and FCS."""
    try:
        end = header_end(data)
    except ValueError:
        return False
    return (
        data[-1] == FLAG
        and length_field(data) == len(data) - 2
        and len(data) >= end + 3
        and crc16_x25_wire(data[1:end - 2]) == data[end - 2:end]
        and crc16_x25_wire(data[1:-3]) == data[-3:-1]
    )


def split_frame(frame: bytes) -> tuple[bytes, bytes, int, bytes]:
    """``(dest, source, control, info)`` of one whole, checked frame; ValueError when it is not one."""
    if not is_whole_frame(frame):
        raise ValueError(f"not one whole HDLC frame with an information field: {frame[:12].hex()}...")
    dest_end = _address_end(frame, 3, "destination")
    source_end = _address_end(frame, dest_end, "source")
    info = bytes(frame[source_end + 3:-3])  # after the control byte and the HCS, before the FCS
    return bytes(frame[3:dest_end]), bytes(frame[dest_end:source_end]), frame[source_end], info

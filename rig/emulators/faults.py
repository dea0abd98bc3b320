"""Fault injection: pure transforms of the byte stream a meter sends."""

from __future__ import annotations

import random
from dataclasses import replace

from rig.emulators.meter import Frame


def corrupt_fcs(frame: bytes) -> bytes:
    """Invert the FCS of a complete HDLC frame (``7E ... FCS FCS 7E``), so it no longer verifies.

    Reproduces a frame whose content was damaged on the line: the reader must count a checksum error
    and drop the frame.
    """
    if len(frame) < 4 or frame[0] != 0x7E or frame[-1] != 0x7E:
        raise ValueError("corrupt_fcs needs a complete frame with both flags")
    return frame[:-3] + bytes([frame[-3] ^ 0xFF, frame[-2] ^ 0xFF]) + frame[-1:]


def flip_byte(frame: bytes, index: int, mask: int = 0xFF) -> bytes:
    """XOR byte ``index`` with ``mask`` (bit errors from noise or a parity-less glitch on the M-Bus line)."""
    if not 1 <= mask <= 0xFF:
        raise ValueError(f"mask must be 1..255, got {mask}")
    if not -len(frame) <= index < len(frame):
        raise IndexError(f"index {index} outside a frame of {len(frame)} bytes")
    data = bytearray(frame)
    data[index] ^= mask
    return bytes(data)


def truncate(frame: bytes, n_bytes: int) -> bytes:
    """Keep only the first ``n_bytes`` bytes (a frame cut off mid-transmission: meter reboot, cable
    pulled, reader buffer overrun)."""
    if not 0 <= n_bytes <= len(frame):
        raise ValueError(f"cannot keep {n_bytes} bytes of a {len(frame)}-byte frame")
    return frame[:n_bytes]


def garbage(n: int, rng: random.Random) -> bytes:
    """``n`` random bytes from ``rng`` (line noise: a floating bus, a reader plugged in mid-frame,
    another device babbling on the line)."""
    if n < 0:
        raise ValueError(f"n must not be negative, got {n}")
    return rng.randbytes(n)


def with_bad_fcs(frame: Frame) -> Frame:
    """The same frame with its FCS inverted, marked ``corrupt``: it must be counted, never published."""
    return replace(frame, data=corrupt_fcs(frame.data), corrupt=True)

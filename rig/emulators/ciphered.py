"""A meter's frames ciphered on their carrier, sans IO: the plain frame a profile encodes, ciphered as the meter
sends it, and back.

- HDLC (``7E ... 7E``): the APDU after ``E6 E7 00`` becomes general-glo-ciphering in a frame with the same
  addresses and control (``E6 E7 00 DB ...``, the Netz Burgenland E450 way).
- wired M-Bus (``68 L L 68 ...``): the segments' APDU is ciphered and segmented again (Netz NOE Kaifa).
- P1 (``/...!CRC``): the whole telegram is the plaintext, sent as raw ``DB ...`` bytes (Luxembourg Smarty).
"""

from __future__ import annotations

from rig.emulators import dlms, hdlc, mbus
from rig.emulators.security import Security, decipher

CARRIERS = ("hdlc", "mbus", "p1")


def carrier_of(frame: bytes) -> str:
    """``hdlc``, ``mbus`` or ``p1`` by the frame's first byte; ValueError for anything else."""
    first = frame[:1]
    if first == bytes([hdlc.FLAG]):
        return "hdlc"
    if first == bytes([mbus.START]):
        return "mbus"
    if first == b"/":
        return "p1"
    raise ValueError(f"no carrier starts with {first.hex() or 'nothing'}: cannot cipher this frame")


def seal(frame: bytes, security: Security, frame_counter: int, segment_bytes: int = mbus.SEGMENT_BYTES) -> bytes:
    """``frame`` (plain, on its carrier) with its APDU (or telegram) ciphered under ``frame_counter``."""
    carrier = carrier_of(frame)
    if carrier == "p1":
        return security.cipher(frame, frame_counter)
    if carrier == "mbus":
        first = mbus.parse_frame(frame)
        return mbus.encode(security.cipher(mbus.reassemble(frame), frame_counter), segment_bytes,
                           first.control, first.address)
    dest, source, control, info = hdlc.split_frame(frame)
    if not info.startswith(dlms.LLC_HEADER):
        raise ValueError(f"HDLC information field without the LLC header e6e700: {info[:3].hex()}")
    return hdlc.build_frame(dlms.llc_pdu(security.cipher(info[len(dlms.LLC_HEADER):], frame_counter)),
                            dest, source, control)


def unseal(frame: bytes, carrier: str, key: bytes, auth_key: bytes | None = None,
           segment_bytes: int = mbus.SEGMENT_BYTES) -> bytes:
    """The plain frame of a ciphered one (the inverse of :func:`seal`): SecurityError for a wrong key or tag.

    ``carrier`` says what ``frame`` is (a P1 telegram is sent as a bare ``DB`` APDU, so the bytes cannot say).
    """
    if carrier == "p1":
        return decipher(frame, key=key, auth_key=auth_key)
    if carrier == "mbus":
        first = mbus.parse_frame(frame)
        return mbus.encode(decipher(mbus.reassemble(frame), key=key, auth_key=auth_key), segment_bytes,
                           first.control, first.address)
    if carrier != "hdlc":
        raise ValueError(f"unknown carrier {carrier!r}; carriers: {', '.join(CARRIERS)}")
    dest, source, control, info = hdlc.split_frame(frame)
    apdu = decipher(info[len(dlms.LLC_HEADER):], key=key, auth_key=auth_key)
    return hdlc.build_frame(dlms.llc_pdu(apdu), dest, source, control)

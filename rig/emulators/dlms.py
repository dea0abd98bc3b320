"""DLMS application layer as pushed on a HAN port: the LLC header and the DATA-NOTIFICATION APDU."""

from __future__ import annotations

LLC_HEADER = b"\xe6\xe7\x00"  # destination LSAP E6, source LSAP E7 (response), quality 00
DATA_NOTIFICATION = 0x0F
_TAG = bytes([DATA_NOTIFICATION])


def data_notification(invoke_id_and_priority: int, date_time_field: bytes, body: bytes) -> bytes:
    """``0F`` + long-invoke-id-and-priority (4 bytes BE) + the date-time field as sent + the body.

    ``date_time_field`` is the encoded field (Kaifa Norway: ``09 0C`` + 12 bytes; others ``00``).
    """
    if not 0 <= invoke_id_and_priority <= 0xFFFFFFFF:
        raise ValueError(f"long-invoke-id-and-priority must be a uint32, got {invoke_id_and_priority}")
    return b"".join((_TAG, invoke_id_and_priority.to_bytes(4, "big"), date_time_field, body))


def llc_pdu(apdu: bytes) -> bytes:
    """The HDLC information field: LLC header ``E6 E7 00`` followed by the APDU."""
    return LLC_HEADER + apdu

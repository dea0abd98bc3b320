"""LLC header and the DLMS DATA-NOTIFICATION APDU (Green Book), as pushed on HAN ports.

    LLC:                E6 E7 00
    DATA-NOTIFICATION:  0F | long-invoke-id-and-priority(4) | date-time | notification-body
    date-time:          09 0C + 12 bytes (Kaifa Norway), 0C + 12 bytes (Kamstrup rev >= 3), 00 (absent)
"""

from . import axdr

LLC = b"\xe6\xe7\x00"

DATA_NOTIFICATION = 0x0F
GENERAL_GLO_CIPHERING = 0xDB
GENERAL_BLOCK_TRANSFER = 0xE0


class UnknownFormat(ValueError):
    """The bytes are intact but this decoder does not know the message."""


class DecryptError(ValueError):
    """The message is encrypted and could not be decrypted (no key, wrong key, bad tag)."""


class ReplayError(ValueError):
    """The frame counter of a system title did not increase: a replayed (or reordered) frame."""


def strip_llc(payload):
    """The APDU after the LLC header E6 E7 00 (a memoryview when given one)."""
    if len(payload) < 3 or payload[0] != 0xE6 or payload[1] != 0xE7 or payload[2] != 0x00:
        raise UnknownFormat("no LLC header e6 e7 00")
    return payload[3:]


def parse_notification(apdu):
    """Split a DATA-NOTIFICATION into (invoke_id, date_time or None, body_tag, body_value).

    invoke_id is the 4-byte long-invoke-id-and-priority as an int; date_time the 12 raw bytes.
    """
    apdu = axdr._view(apdu)  # a plaintext (bytearray) is read in place too
    pos = body_at(apdu)
    when = None if when_at < 0 else bytes(apdu[when_at:when_at + 12])
    invoke = (apdu[1] << 24) | (apdu[2] << 16) | (apdu[3] << 8) | apdu[4]
    try:
        body = axdr.value(apdu, pos)
    except ValueError as e:
        raise UnknownFormat(str(e)) from None
    return invoke, when, apdu[pos], body


when_at = -1  # body_at()'s second answer: where the header's date-time starts, -1 without one


def body_at(apdu):
    """Check a DATA-NOTIFICATION's header and return where its body starts (its A-XDR type tag); the
    header's 12-byte date-time is at apdu[when_at] (-1: none). Nothing is allocated (not reentrant)."""
    global when_at
    when_at = -1
    n = len(apdu)
    if n == 0:
        raise UnknownFormat("empty apdu")
    tag = apdu[0]
    if tag != DATA_NOTIFICATION:
        if tag == GENERAL_GLO_CIPHERING:
            raise DecryptError("decrypt: encrypted apdu (general-glo-ciphering): decrypted by a Decoder")
        if tag == GENERAL_BLOCK_TRANSFER:
            raise UnknownFormat("unknown format: general-block-transfer apdu: put together by a Decoder")
        raise UnknownFormat("unknown apdu tag 0x%02x" % tag)
    if n < 6:
        raise UnknownFormat("data-notification too short")
    pos = 5
    t = apdu[pos]
    if t == 0x00:
        pos += 1
    elif t == 0x09 or t == 0x0C:
        if t == 0x0C:
            size, pos = 12, pos + 1
        elif pos + 1 < n and apdu[pos + 1] < 0x80:
            size, pos = apdu[pos + 1], pos + 2
        else:
            size, pos = axdr.decode_length(apdu, pos + 1)
        if size != 0 and size != 12:
            raise UnknownFormat("data-notification: date-time of %d bytes" % size)
        if pos + size > n:
            raise UnknownFormat("data-notification ends inside the date-time")
        if size:
            when_at = pos
        pos += size
    else:
        raise UnknownFormat("data-notification: unexpected date-time tag 0x%02x" % t)
    if pos >= n:
        raise UnknownFormat("data-notification without a body")
    return pos

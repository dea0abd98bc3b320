"""DLMS general-glo-ciphering (Green Book, suite 0/1: AES-128-GCM), sans IO: APDU bytes in, APDU bytes out.

A ciphered APDU is ``DB | 08 | system title (8) | length | SC | IC (4, BE) | ciphertext | [tag (12)]``;
the length (A-XDR: one byte, ``81 xx`` or ``82 xx xx``) counts SC through the tag. The IV is system title
|| IC. Security control (SC) bit 5 is encryption, bit 4 authentication:

- ``0x20``/``0x21``: encrypted, no tag, no AAD (the GCM keystream: AES-CTR from counter block IV || 2);
- ``0x30``/``0x31``: AES-128-GCM with AAD = SC || AK and a 12-byte tag;
- ``0x10``/``0x11``: authenticated only: the plaintext in clear, then the tag over SC || AK || plaintext.

Keys are secrets: :class:`Security` never shows them in its ``repr``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from rig.emulators import axdr

GENERAL_GLO_CIPHERING = 0xDB
SYSTEM_TITLE_BYTES = 8
KEY_BYTES = 16
TAG_BYTES = 12
FRAME_COUNTER_MAX = 0xFFFFFFFF
ENCRYPTION = 0x20
AUTHENTICATION = 0x10
# What HAN meters send: 0x20 (Netz NOE Kaifa), 0x21 (Kaifa MA309, Tinetz/Poland), 0x30 (E450 Burgenland, Smarty)
HAN_SECURITY_CONTROLS = (0x20, 0x21, 0x30)
REDACTED = "***"


class SecurityError(ValueError):
    """A ciphered APDU that does not decrypt: wrong key or authentication key (tag mismatch), or not ciphered."""


def check_security_control(sc: int) -> int:
    """``sc`` when it is one this layer implements: suite 0 or 1, no compression, A and/or E set."""
    if not isinstance(sc, int) or not 0 <= sc <= 0xFF:
        raise ValueError(f"security control must be a byte, got {sc!r}")
    if sc & 0x0E or sc & 0x80 or not sc & (ENCRYPTION | AUTHENTICATION):
        raise ValueError(f"security control 0x{sc:02X} is not supported (suite 0/1 with encryption and/or "
                         "authentication, no compression: 0x10, 0x20, 0x21, 0x30, ...)")
    return sc


def _check_bytes(value: bytes | None, size: int, what: str) -> None:
    if not isinstance(value, (bytes, bytearray)) or len(value) != size:
        got = f"{len(value)} bytes" if isinstance(value, (bytes, bytearray)) else repr(type(value).__name__)
        raise ValueError(f"{what} must be {size} bytes, got {got}")


def _check_inputs(key: bytes, auth_key: bytes | None, system_title: bytes, frame_counter: int, sc: int) -> None:
    check_security_control(sc)
    _check_bytes(key, KEY_BYTES, "the encryption key")
    _check_bytes(system_title, SYSTEM_TITLE_BYTES, "the system title")
    if auth_key is not None:
        _check_bytes(auth_key, KEY_BYTES, "the authentication key")
    elif sc & AUTHENTICATION:
        raise ValueError(f"security control 0x{sc:02X} authenticates: it needs an authentication key")
    if not isinstance(frame_counter, int) or not 0 <= frame_counter <= FRAME_COUNTER_MAX:
        raise ValueError(f"frame counter must be 0..{FRAME_COUNTER_MAX}, got {frame_counter!r}")


def _iv(system_title: bytes, frame_counter: int) -> bytes:
    return bytes(system_title) + frame_counter.to_bytes(4, "big")


def _keystream_xor(key: bytes, iv: bytes, data: bytes) -> bytes:
    """GCM's encryption without the tag: AES-CTR from counter block IV || 00000002."""
    ctr = Cipher(algorithms.AES(bytes(key)), modes.CTR(iv + b"\x00\x00\x00\x02")).encryptor()
    return ctr.update(data) + ctr.finalize()


def _gcm_tag(key: bytes, iv: bytes, aad: bytes, plaintext: bytes) -> tuple[bytes, bytes]:
    enc = Cipher(algorithms.AES(bytes(key)), modes.GCM(iv)).encryptor()
    enc.authenticate_additional_data(aad)
    ciphertext = enc.update(plaintext) + enc.finalize()
    return ciphertext, enc.tag[:TAG_BYTES]


def encrypt(plaintext: bytes, *, key: bytes, system_title: bytes, frame_counter: int, security_control: int,
            auth_key: bytes | None = None) -> bytes:
    """The ciphered information ``ciphertext [tag]`` of ``plaintext`` (no SC, IC or header).

    ValueError for a key, auth key or system title of the wrong size, an unsupported SC, an SC that
    authenticates without ``auth_key``, or a frame counter outside 0..2^32-1.
    """
    sc = security_control
    _check_inputs(key, auth_key, system_title, frame_counter, sc)
    iv = _iv(system_title, frame_counter)
    plaintext = bytes(plaintext)
    if not sc & AUTHENTICATION:
        return _keystream_xor(key, iv, plaintext)
    aad = bytes([sc]) + bytes(auth_key or b"")
    if sc & ENCRYPTION:
        ciphertext, tag = _gcm_tag(key, iv, aad, plaintext)
        return ciphertext + tag
    _, tag = _gcm_tag(key, iv, aad + plaintext, b"")
    return plaintext + tag


def glo_cipher(apdu: bytes, *, key: bytes, system_title: bytes, frame_counter: int, security_control: int,
               auth_key: bytes | None = None) -> bytes:
    """The general-glo-ciphering APDU ``DB 08 ST len SC IC ciphertext [tag]`` carrying ``apdu``."""
    body = encrypt(apdu, key=key, system_title=system_title, frame_counter=frame_counter,
                   security_control=security_control, auth_key=auth_key)
    sc_ic = bytes([security_control]) + frame_counter.to_bytes(4, "big")
    return b"".join((bytes((GENERAL_GLO_CIPHERING, SYSTEM_TITLE_BYTES)), bytes(system_title),
                     axdr.length(len(sc_ic) + len(body)), sc_ic, body))


class Ciphered(NamedTuple):
    """A general-glo-ciphering APDU taken apart; ``end`` is the index just after it in the input."""

    system_title: bytes
    security_control: int
    frame_counter: int
    ciphertext: bytes
    tag: bytes | None
    end: int


def _read_length(data: bytes, i: int) -> tuple[int, int]:
    if i >= len(data):
        raise SecurityError("ciphered APDU cut short in its length")
    first = data[i]
    if first < 0x80:
        return first, i + 1
    size = first & 0x7F
    if size not in (1, 2) or i + 1 + size > len(data):
        raise SecurityError(f"ciphered APDU has a bad or cut length field {data[i:i + 3].hex()}")
    return int.from_bytes(data[i + 1:i + 1 + size], "big"), i + 1 + size


def parse_glo(data: bytes) -> Ciphered:
    """The parts of the general-glo-ciphering APDU at ``data[0]``; SecurityError when it is not one or is cut."""
    data = bytes(data)
    if len(data) < 2 or data[0] != GENERAL_GLO_CIPHERING:
        raise SecurityError(f"not a general-glo-ciphering APDU (tag {data[:1].hex() or 'none'}, want db)")
    if data[1] != SYSTEM_TITLE_BYTES or len(data) < 2 + SYSTEM_TITLE_BYTES:
        raise SecurityError(f"ciphered APDU: system title of {data[1]} bytes, want {SYSTEM_TITLE_BYTES}")
    title = data[2:2 + SYSTEM_TITLE_BYTES]
    length, i = _read_length(data, 2 + SYSTEM_TITLE_BYTES)
    end = i + length
    if length < 5 or end > len(data):
        raise SecurityError(f"ciphered APDU announces {length} bytes, {len(data) - i} follow")
    sc = data[i]
    try:
        check_security_control(sc)
    except ValueError as exc:
        raise SecurityError(str(exc)) from None
    counter = int.from_bytes(data[i + 1:i + 5], "big")
    body = data[i + 5:end]
    tag = None
    if sc & AUTHENTICATION:
        if len(body) < TAG_BYTES:
            raise SecurityError(f"ciphered APDU with SC 0x{sc:02X} is too short for its {TAG_BYTES}-byte tag")
        body, tag = body[:-TAG_BYTES], body[-TAG_BYTES:]
    return Ciphered(title, sc, counter, body, tag, end)


def decipher(data: bytes, *, key: bytes, auth_key: bytes | None = None) -> bytes:
    """The plaintext APDU of the general-glo-ciphering APDU at ``data[0]``, its tag checked when it has one.

    SecurityError: not a ciphered APDU, cut short, a tag but no ``auth_key``, or the tag does not match
    (wrong key or wrong authentication key). A wrong key without a tag (SC 0x20) cannot be told here:
    the plaintext is garbage, which the caller's APDU check finds.
    """
    parts = parse_glo(data)
    sc = parts.security_control
    _check_bytes(key, KEY_BYTES, "the encryption key")
    iv = parts.system_title + parts.frame_counter.to_bytes(4, "big")
    if parts.tag is None:
        return _keystream_xor(key, iv, parts.ciphertext)
    if auth_key is None:
        raise SecurityError(f"SC 0x{sc:02X} carries a tag: an authentication key is needed to check it")
    _check_bytes(auth_key, KEY_BYTES, "the authentication key")
    aad = bytes([sc]) + bytes(auth_key)
    if not sc & ENCRYPTION:
        aad, body = aad + parts.ciphertext, b""
    else:
        body = parts.ciphertext
    dec = Cipher(algorithms.AES(bytes(key)), modes.GCM(iv, parts.tag, min_tag_length=TAG_BYTES)).decryptor()
    dec.authenticate_additional_data(aad)
    try:
        plain = dec.update(body) + dec.finalize()
    except InvalidTag:
        raise SecurityError(f"authentication tag mismatch (SC 0x{sc:02X}, frame counter {parts.frame_counter}): "
                            "wrong key or wrong authentication key") from None
    return plain if sc & ENCRYPTION else parts.ciphertext


@dataclass(frozen=True)
class Security:
    """How a meter ciphers its APDUs: keys, system title, security control and the first frame counter.

    ``repr`` shows no key (``***``); :meth:`redacted` gives the JSON-safe view for records and reports.
    """

    key: bytes = field(repr=False)
    system_title: bytes
    security_control: int = 0x20
    auth_key: bytes | None = field(default=None, repr=False)
    frame_counter: int = 1

    def __post_init__(self) -> None:
        _check_inputs(self.key, self.auth_key, self.system_title, self.frame_counter, self.security_control)

    def cipher(self, apdu: bytes, frame_counter: int) -> bytes:
        """``apdu`` as general-glo-ciphering with invocation counter ``frame_counter``."""
        return glo_cipher(apdu, key=self.key, system_title=self.system_title, frame_counter=frame_counter,
                          security_control=self.security_control, auth_key=self.auth_key)

    def config_keys(self) -> dict[str, str]:
        """The keys as a reader's configuration takes them (``meter.key``, ``meter.auth_key``: 32 hex digits).
        Secrets: for the DUT's config only, never for anything the rig writes or prints."""
        keys = {"key": self.key.hex().upper()}
        if self.auth_key is not None:
            keys["auth_key"] = self.auth_key.hex().upper()
        return keys

    def redacted(self) -> dict[str, object]:
        """The settings without secrets: keys shown as ``***`` (or None when absent)."""
        return {"key": REDACTED, "auth_key": None if self.auth_key is None else REDACTED,
                "system_title": self.system_title.hex().upper(),
                "security_control": f"0x{self.security_control:02X}", "frame_counter": self.frame_counter}

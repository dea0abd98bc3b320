"""Encrypted test frames for the firmware's tests, made with the `cryptography` package (independent of the
firmware's GCM and of the rig's encoders). Not a test module.

The plaintexts are those of real captures (decrypted here with their published keys), re-encrypted with any
frame counter or key and wrapped in wired M-Bus segments (the Netz NOE way) or an HDLC frame.
"""

from __future__ import annotations

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from han_testdata import build_hdlc

from tests.spec_frames import load_reference_frames

FRAMES = {f["id"]: f for f in load_reference_frames()}
NOE = FRAMES["kaifa_at_netznoe_mbus_enc"]
NOE_KEY = bytes.fromhex(NOE["key_ek"])
NOE_TITLE = bytes.fromhex("4B464D6750000009")
E450 = FRAMES["lg_e450_at_gh501_2_hdlc_enc"]
E450_KEY = bytes.fromhex(E450["key_ek"])
E450_AK = bytes.fromhex(E450["key_ak"])


def _ctr(key: bytes, iv: bytes, data: bytes) -> bytes:
    return Cipher(algorithms.AES(key), modes.CTR(iv + b"\x00\x00\x00\x02")).encryptor().update(data)


def _length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    if n < 0x100:
        return bytes([0x81, n])
    return bytes([0x82, n >> 8, n & 0xFF])


def ggc(plain: bytes, key: bytes, title: bytes, ic: int, sc: int = 0x20, auth_key: bytes | None = None) -> bytes:
    """A general-glo-ciphering APDU of plain (SC 0x20/0x21: no tag; 0x30: AAD SC || AK, a 12-byte tag)."""
    iv = title + ic.to_bytes(4, "big")
    if sc & 0x10:
        body = AESGCM(key).encrypt(iv, plain, bytes([sc]) + (auth_key or b""))
        body = body[:-16] + body[-16:-4]  # the tag truncated to 12 bytes
    else:
        body = _ctr(key, iv, plain)
    return b"\xdb\x08" + title + _length(5 + len(body)) + bytes([sc]) + ic.to_bytes(4, "big") + body


def mbus_segments(apdu: bytes, sizes: tuple[int, ...] = (245,)) -> bytes:
    """apdu in wired M-Bus long frames of at most sizes[i] data bytes each (CI: segment number, FIN bit)."""
    out, pos, k = b"", 0, 0
    while pos < len(apdu):
        part = apdu[pos:pos + sizes[min(k, len(sizes) - 1)]]
        pos += len(part)
        ci = k | (0x10 if pos >= len(apdu) else 0)
        body = bytes([0x53, 0xFF, ci, 0x01, 0x67]) + part
        out += bytes([0x68, len(body), len(body), 0x68]) + body + bytes([sum(body) & 0xFF, 0x16])
        k += 1
    return out


def noe_plaintext() -> bytes:
    """The Netz NOE example's DATA-NOTIFICATION (decrypted from the capture with its published key)."""
    data = bytes.fromhex(NOE["data_hex"])
    first = data[9:4 + data[1]]  # after 68 L L 68 C A CI STSAP DTSAP
    second = data[6 + data[1]:]
    apdu = first + second[9:4 + second[1]]
    assert apdu[:2] == b"\xdb\x08" and apdu[10:12] == b"\x81\xf8"
    return _ctr(NOE_KEY, NOE_TITLE + apdu[13:17], apdu[17:])


def noe_frames(ic: int, key: bytes = NOE_KEY, title: bytes = NOE_TITLE) -> bytes:
    """The Netz NOE reading, encrypted (SC 0x20) with frame counter ic, in two M-Bus segments."""
    return mbus_segments(ggc(noe_plaintext(), key, title, ic))


def e450_plaintext() -> bytes:
    data = bytes.fromhex(E450["data_hex"])
    apdu = data[12:-3]  # after 7E A0 76 CE FF 03 13 HCS(2) E6 E7 00
    return _ctr(E450_KEY, apdu[2:10] + apdu[12:16], apdu[16:-12])


def e450_frame(ic: int, key: bytes = E450_KEY, auth_key: bytes = E450_AK) -> bytes:
    """The E450 (Netz Burgenland) reading, SC 0x30 with frame counter ic, in an HDLC frame."""
    apdu = ggc(e450_plaintext(), key, bytes.fromhex("4C475A6772A9A111"), ic, 0x30, auth_key)
    return build_hdlc(b"\xe6\xe7\x00" + apdu, address=b"\xce\xff\x03", control=0x13)

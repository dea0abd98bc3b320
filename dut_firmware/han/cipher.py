"""DLMS general-glo-ciphering: the APDU, its decryption, the replay check (see the comments)."""

# DLMS general-glo-ciphering (han-protocols.md s.4): the APDU, its decryption and the replay check.
#
#     DB | 08 | system-title(8) | length | SC | IC(4, BE) | ciphertext | [tag(12)]
#
# length (one byte below 0x80, else 81 xx or 82 xx xx) counts SC + IC + ciphertext + tag. SC: bit 4
# authentication (a 12-byte tag follows the ciphertext), bit 5 encryption, bits 0-3 the security suite
# (0 or 1: AES-128-GCM). AES-128-GCM with IV = system title || IC; with SC bit 4 the AAD is SC || AK and
# the tag is checked when an authentication key is set (without one it cannot be, and is not).
#
#     c = Ciphering(key, auth_key, aes)   # aes: key -> AES-ECB block object (the HAL's); None: cryptolib
#     plain, system_title, ic, checked = c.decrypt(apdu)  # DecryptError (a ValueError) when it cannot;
#                                                         # checked: the tag was checked
#     c.check_counter(system_title, ic)           # ReplayError when IC is not above the last one seen
#     open_apdu(c, apdu)   # both, then the decoder's result tuple of the plaintext (the Decoder's way)
#
# A wrong key shows as a failed tag (SC 0x30 with an authentication key) or as a plaintext that is no
# DATA-NOTIFICATION (0F, invoke id, a date-time tag 00 / 09 / 0C) nor P1 telegram ('/').


from . import p1
from .dlms import DecryptError, ReplayError, UnknownFormat
from .gcm import AuthError, Gcm

MAX_TITLES = 8  # system titles whose last frame counter is kept


# the AES block when no HAL gave one: MicroPython's cryptolib (ECB: mode 1), else (CPython, the firmware
# imported as a package: rig decode) the HAL's
def _platform_aes(key):
    from ..hal.aes import ecb  # cryptolib where it exists, else the cryptography package
    return ecb(key)


def _start(apdu, n):
    """The index of SC in a general-glo-ciphering APDU of n bytes, its length checked."""
    k = apdu[10] if n > 13 and apdu[1] == 8 else 0xFF
    if k < 0x80:
        size, pos = k, 11
    elif k == 0x81:
        size, pos = apdu[11], 12
    elif k == 0x82:
        size, pos = apdu[11] << 8 | apdu[12], 13
    else:
        size = pos = 0
    if not pos or size < (17 if apdu[pos] & 0x10 else 5) or pos + size != n:
        raise DecryptError("decrypt: bad apdu length")
    return pos


class Ciphering:
    def __init__(self, key=None, auth_key=None, aes=None):
        self._aes = aes or _platform_aes
        self._last = {}  # system title -> last frame counter
        self._iv = bytearray(12)  # system title || IC of the APDU being decrypted
        self.set_keys(key, auth_key)

    def set_keys(self, key, auth_key):
        """New keys for the next APDU (the frame counters seen are kept: the same meter goes on)."""
        self.key = key
        self.auth_key = auth_key
        self._gcm = None
        self._aad = None  # SC || AK of the last tagged APDU
        if key:  # the GHASH table now, not amid a frame's objects (small heaps)
            try:
                self._gcm = Gcm(self._aes(bytes(key)))
            except ImportError:
                pass

    def decrypt(self, apdu):
        """(plaintext, system_title, ic, tag_checked); DecryptError with the reason when it cannot."""
        n = len(apdu)
        pos = _start(apdu, n)
        sc = apdu[pos]
        if sc & 0xAE != 0x20:  # encryption, suite 0 or 1, no compression
            raise DecryptError("decrypt: security control 0x%02x not supported" % sc)
        if not self.key:
            raise DecryptError("decrypt: no key")
        apdu = memoryview(apdu)  # slices without copies
        iv = self._iv
        for i in range(8):
            iv[i] = apdu[2 + i]
        for i in range(4):
            iv[8 + i] = apdu[pos + 1 + i]
        tag = None
        if sc & 0x10:
            n -= 12
            if self.auth_key:  # without it the tag cannot be checked
                tag = apdu[n:]
        if self._gcm is None:
            raise DecryptError("decrypt: no AES on this platform")
        aad = b""
        if tag is not None:
            if self._aad is None or self._aad[0] != sc:
                self._aad = bytes((sc,)) + self.auth_key
            aad = self._aad
        try:
            plain = self._gcm.decrypt(iv, apdu[pos + 5:n], aad, tag)
        except AuthError:
            raise DecryptError("decrypt: authentication failed: wrong key or authentication key") from None
        # what a right key gives: a DATA-NOTIFICATION with a date-time tag, or a P1 telegram
        b = plain[0] if plain else 0
        if b != 0x2F and (b != 0x0F or len(plain) < 7 or plain[5] not in (0, 9, 12)):
            raise DecryptError("decrypt: wrong key")
        ic = iv[8] << 24 | iv[9] << 16 | iv[10] << 8 | iv[11]
        return plain, bytes(apdu[2:10]), ic, tag is not None

    def check_counter(self, title, ic):
        """Record ic as the last frame counter of title; ReplayError when it is not above the last."""
        last = self._last.get(title)
        if last is not None and ic <= last:
            raise ReplayError("replay: frame counter %d after %d" % (ic, last))
        if last is None and len(self._last) >= MAX_TITLES:
            self._last.clear()  # a reader sees one meter: more titles than this are noise
        self._last[title] = ic


def open_apdu(c, apdu):
    """Decrypt, check the frame counter and decode: the Decoder's result tuple of the plaintext.

    A P1 telegram's CRC is checked unless the GCM tag authenticated it: the tag covers every byte
    (the Smarty reference telegram's CRC does not match its text, which its tag authenticates)."""
    from . import decoder
    plain, title, ic, checked = c.decrypt(apdu)
    c.check_counter(title, ic)
    if plain[0] != 0x2F:
        return decoder._decode_apdu(plain)
    r = p1.parse(plain, 0, len(plain), len(plain) + 1, 0)
    if r[0] == p1.OK or r[0] == p1.BAD_CRC and checked:
        return decoder._decode_p1(plain, 0, r[2] if r[0] == p1.OK else r[1] - 5)  # read in place
    raise UnknownFormat("unknown format: damaged p1 telegram")

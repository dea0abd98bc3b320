"""AES-128-GCM on the HAL's AES block (comments below: a small heap compiles no long docstring)."""

# AES-128-GCM (NIST SP 800-38D) on an AES-ECB block primitive, as DLMS general-glo-ciphering uses it.
#
#     g = Gcm(block)                    # block: an object with encrypt(16 bytes) -> 16 bytes (the HAL's
#                                       # AES-ECB of one key: cryptolib.aes(key, 1) on MicroPython)
#     plain = g.decrypt(iv, data, aad, tag)   # tag None: not checked (DLMS SC 0x20 / 0x21); AuthError
#     data, tag = g.encrypt(iv, plain, aad)   # when the tag is given and wrong
#
# The IV is 12 bytes (DLMS: system title || invocation counter), so J0 = IV || 00000001 and the data is
# AES-CTR from counter IV || 00000002. GHASH multiplies in GF(2^128) with Shoup's 4-bit table: 16
# multiples of H, built once per key, 32 table steps per block. Small heaps: a 128-bit value is eight
# 16-bit limbs in an array (small ints on every port: no step allocates), the state, counter and
# keystream blocks belong to the object, and a block that encrypts into a buffer (encrypt(src, dst):
# MicroPython's cryptolib) is used so: a decryption allocates its plaintext only. The bit order of GCM is
# reflected: the first bit of a block is the top bit of limb 0, a multiplication by x a right shift.
# Pure Python of the MicroPython subset; the only cipher is the injected block.

from array import array

# x^4 reduction: the 4 bits shifted out of Z >> 4, folded back into its top limb
_LAST4 = (0x0000, 0x1C20, 0x3840, 0x2460, 0x7080, 0x6CA0, 0x48C0, 0x54E0,
          0xE100, 0xFD20, 0xD940, 0xC560, 0x9180, 0x8DA0, 0xA9C0, 0xB5E0)
TAG_SIZE = 12


class AuthError(ValueError):
    """The authentication tag does not match (wrong key, wrong authentication key or damaged data)."""


class Gcm:
    def __init__(self, block):
        enc = self._enc = block.encrypt
        self._y = array("H", bytes(16))  # the GHASH state
        self._z = array("H", bytes(16))  # the product being made
        self._ctr = bytearray(16)  # a counter block
        self._ks = bytearray(16)  # its encryption, when the block encrypts into a buffer (else None)
        self._t = bytearray(16)  # a tag
        e = enc(bytes(16))
        try:
            enc(bytes(16), self._ks)
        except Exception:
            self._ks = None
        if self._ks != e:
            self._ks = None
        h = self._y
        for i in range(8):
            h[i] = e[2 * i] << 8 | e[2 * i + 1]
        m = self._m = array("H", bytes(256))  # nibble n -> n times H, limbs m[8n:8n + 8]
        for n in (8, 4, 2, 1):  # H times 1, x, x^2, x^3: nibble bits 1000, 0100, 0010, 0001
            m[8 * n:8 * n + 8] = h
            carry = h[7] & 1  # h times x
            for i in range(7, 0, -1):
                h[i] = h[i] >> 1 | (h[i - 1] & 1) << 15
            h[0] = h[0] >> 1 ^ (0xE100 if carry else 0)
        for n in (2, 4, 8):  # the other multiples: sums of those
            for j in range(1, n):
                for i in range(8):
                    m[8 * (n + j) + i] = m[8 * n + i] ^ m[8 * j + i]

    # the encryption of counter c of iv: self._ks, or new bytes from a block that has no dst
    def _keystream(self, iv, c):
        ctr = self._ctr
        for j in range(12):
            ctr[j] = iv[j]
        for j in range(4):
            ctr[15 - j] = c >> 8 * j & 255
        if self._ks is None:
            return self._enc(bytes(ctr))
        self._enc(ctr, self._ks)
        return self._ks

    # the state times H, in place (Shoup: from the block's last nibble to its first)
    def _mult_h(self):
        y = self._y
        z = self._z
        m = self._m
        for i in range(8):
            z[i] = 0
        for q in range(31, -1, -1):
            k = (y[q >> 2] >> ((3 - (q & 3)) << 2) & 15) << 3
            rem = z[7] & 15
            for i in range(7, 0, -1):  # z >> 4, plus the multiple of H
                z[i] = (z[i] >> 4 | (z[i - 1] & 15) << 12) ^ m[k + i]
            z[0] = z[0] >> 4 ^ _LAST4[rem] ^ m[k]
        for i in range(8):
            y[i] = z[i]

    # part absorbed into the state, zero-padded to whole blocks
    def _absorb(self, part):
        y = self._y
        n = len(part)
        for i in range(0, n, 16):
            for j in range(n - i if n - i < 16 else 16):
                y[j >> 1] ^= part[i + j] << (0 if j & 1 else 8)
            self._mult_h()

    # data XOR the keystream from counter iv || 00000002: a new bytearray
    def _ctr_xor(self, iv, data):
        n = len(data)
        out = bytearray(n)
        for i in range(0, n, 16):
            ks = self._keystream(iv, 2 + (i >> 4))
            for j in range(n - i if n - i < 16 else 16):
                out[i + j] = data[i + j] ^ ks[j]
        return out

    # the full 16-byte tag of data (the ciphertext) and aad, GHASH then XOR E(J0): a buffer of the object
    def tag(self, iv, aad, data):
        y = self._y
        for i in range(8):
            y[i] = 0
        self._absorb(aad)
        self._absorb(data)
        a = len(aad) * 8
        d = len(data) * 8
        for i in range(4):  # the lengths block: bits of aad, bits of data, 64 bits each, big-endian
            y[3 - i] ^= a >> 16 * i & 0xFFFF
            y[7 - i] ^= d >> 16 * i & 0xFFFF
        self._mult_h()
        e = self._keystream(iv, 1)
        t = self._t
        for j in range(16):
            t[j] = e[j] ^ y[j >> 1] >> (0 if j & 1 else 8) & 255
        return t

    # the plaintext of data; with tag (its first len(tag) bytes checked), AuthError when wrong
    def decrypt(self, iv, data, aad=b"", tag=None):
        if len(iv) != 12:
            raise ValueError("gcm: iv of %d bytes, not 12" % len(iv))
        if tag is not None:
            want = self.tag(iv, aad, data)
            diff = 0 if 4 <= len(tag) <= 16 else 1
            for i in range(min(len(tag), 16)):
                diff |= want[i] ^ tag[i]
            if diff:
                raise AuthError("decrypt: authentication tag mismatch")
        return self._ctr_xor(iv, data)

    # (ciphertext, tag of tag_size bytes)
    def encrypt(self, iv, plain, aad=b"", tag_size=TAG_SIZE):
        data = self._ctr_xor(iv, plain)
        return data, bytes(self.tag(iv, aad, data)[:tag_size])

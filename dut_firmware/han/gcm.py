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
# multiples of H, built once per key, 32 table steps per block on 128-bit ints (the bit order of GCM is
# reflected: the first bit of a block is the int's most significant bit, a multiplication by x a right
# shift). Pure Python of the MicroPython subset; the only cipher is the injected block function.


# x^4 reduction: the 4 bits shifted out of Z >> 4, folded back into its top 16 bits (times 2^112)
_LAST4 = (0x0000, 0x1C20, 0x3840, 0x2460, 0x7080, 0x6CA0, 0x48C0, 0x54E0,
          0xE100, 0xFD20, 0xD940, 0xC560, 0x9180, 0x8DA0, 0xA9C0, 0xB5E0)
_R = 0xE1 << 120
TAG_SIZE = 12


class AuthError(ValueError):
    """The authentication tag does not match (wrong key, wrong authentication key or damaged data)."""


class Gcm:
    def __init__(self, block):
        self._enc = block.encrypt
        h = int.from_bytes(block.encrypt(bytes(16)), "big")
        m = [0] * 16
        m[8] = h
        for i in (4, 2, 1):  # H times x, x^2, x^3: nibble bits 0100, 0010, 0001
            h = (h >> 1) ^ _R if h & 1 else h >> 1
            m[i] = h
        for i in (2, 4, 8):
            for j in range(1, i):
                m[i + j] = m[i] ^ m[j]
        self._m = m

    def _mult_h(self, x):
        """x times H in GF(2^128) (x: a 128-bit int)."""
        m = self._m
        r = _LAST4
        z = 0
        for b in reversed(x.to_bytes(16, "big")):  # from the last nibble of the block to its first
            z = (z >> 4) ^ (r[z & 15] << 112) ^ m[b & 15]
            z = (z >> 4) ^ (r[z & 15] << 112) ^ m[b >> 4]
        return z

    def _ctr(self, iv, data):
        """data XOR the keystream from counter iv || 00000002."""
        n = len(data)
        out = bytearray(n)
        counter = bytearray(iv) + b"\x00\x00\x00\x02"
        for i in range(0, n, 16):
            k = min(16, n - i)
            ks = int.from_bytes(self._enc(counter), "big") >> (8 * (16 - k))
            out[i:i + k] = (int.from_bytes(data[i:i + k], "big") ^ ks).to_bytes(k, "big")
            counter[12:] = (i // 16 + 3).to_bytes(4, "big")
        return out

    def tag(self, iv, aad, data):
        """The full 16-byte tag of data (the ciphertext) and aad: GHASH, then XOR E(J0)."""
        y = 0
        for part in (aad, data):
            for i in range(0, len(part), 16):
                block = bytes(part[i:i + 16])
                y = self._mult_h(y ^ int.from_bytes(block + bytes(16 - len(block)), "big"))
        y = self._mult_h(y ^ ((len(aad) * 8) << 64) ^ (len(data) * 8))
        return (y ^ int.from_bytes(self._enc(bytes(iv) + b"\x00\x00\x00\x01"), "big")).to_bytes(16, "big")

    def decrypt(self, iv, data, aad=b"", tag=None):
        """The plaintext of data; with tag (its first len(tag) bytes checked), AuthError when wrong."""
        if len(iv) != 12:
            raise ValueError("gcm: iv of %d bytes, not 12" % len(iv))
        if tag is not None:
            want = self.tag(iv, aad, data)
            diff = 0 if 4 <= len(tag) <= 16 else 1
            for i in range(len(tag)):
                diff |= want[i] ^ tag[i]
            if diff:
                raise AuthError("decrypt: authentication tag mismatch")
        return self._ctr(iv, data)

    def encrypt(self, iv, plain, aad=b"", tag_size=TAG_SIZE):
        """(ciphertext, tag of tag_size bytes)."""
        data = self._ctr(iv, plain)
        return data, self.tag(iv, aad, data)[:tag_size]

"""The firmware's AES-128-GCM (han/gcm.py) on the HAL's AES block (hal/aes.py): the DLMS Green Book vector
(han-protocols.md s.4, Table 40) under CPython and under the real MicroPython (cryptolib), and agreement with
the `cryptography` package's AES-GCM for every length around the block size."""

import os
import random
import subprocess

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

import dut_firmware
from dut_firmware.hal.aes import ecb
from dut_firmware.han.gcm import AuthError, Gcm

FIRMWARE_DIR = dut_firmware.__path__[0]
FIRMWARE_ROOT = os.path.dirname(FIRMWARE_DIR)  # the folder holding the package: on sys.path

# Green Book Table 40
EK = bytes.fromhex("000102030405060708090A0B0C0D0E0F")
AK = bytes.fromhex("D0D1D2D3D4D5D6D7D8D9DADBDCDDDEDF")
IV = bytes.fromhex("4D4D4D0000BC614E") + bytes.fromhex("01234567")  # system title || IC
PLAIN = bytes.fromhex("C0010000080000010000FF0200")
CIPHER = bytes.fromhex("411312FF935A47566827C467BC")
TAG_30 = bytes.fromhex("7D825C3BE4A77C3FCC056B6B")


def test_green_book_vector_sc30():
    g = Gcm(ecb(EK))
    data, tag = g.encrypt(IV, PLAIN, b"\x30" + AK)
    assert bytes(data) == CIPHER and tag == TAG_30
    assert bytes(g.decrypt(IV, CIPHER, b"\x30" + AK, TAG_30)) == PLAIN


def test_green_book_vector_sc20_is_ctr_without_tag():
    assert bytes(Gcm(ecb(EK)).decrypt(IV, CIPHER)) == PLAIN


@pytest.mark.parametrize("where", ["tag", "data", "aad"])
def test_a_changed_byte_fails_the_tag(where):
    g = Gcm(ecb(EK))
    data, tag, aad = bytearray(CIPHER), bytearray(TAG_30), bytearray(b"\x30" + AK)
    {"tag": tag, "data": data, "aad": aad}[where][3] ^= 0x01
    with pytest.raises(AuthError, match="tag mismatch"):
        g.decrypt(IV, bytes(data), bytes(aad), bytes(tag))


def test_wrong_key_fails_the_tag():
    with pytest.raises(AuthError):
        Gcm(ecb(bytes(16))).decrypt(IV, CIPHER, b"\x30" + AK, TAG_30)


def test_agrees_with_cryptography_for_every_length():
    rng = random.Random(9)
    for n in list(range(0, 50)) + [255, 256, 257, 481, 700]:
        key, iv = rng.randbytes(16), rng.randbytes(12)
        plain, aad = rng.randbytes(n), rng.randbytes(rng.choice((0, 1, 17, 33)))
        want = AESGCM(key).encrypt(iv, plain, aad)
        g = Gcm(ecb(key))
        data, tag = g.encrypt(iv, plain, aad, 16)
        assert bytes(data) + tag == want, n
        assert bytes(g.decrypt(iv, want[:-16], aad, want[-16:-4])) == plain  # 12 bytes of tag, as DLMS


def test_bad_inputs_are_refused():
    with pytest.raises(ValueError, match="16"):
        ecb(bytes(15))
    with pytest.raises(ValueError, match="iv of 8 bytes"):
        Gcm(ecb(EK)).decrypt(IV[:8], CIPHER)


MP_GCM = r"""
import sys
sys.path.insert(0, %(fw)r)
from dut_firmware.hal.aes import ecb
from dut_firmware.han.gcm import Gcm, AuthError
import cryptolib
ek = bytes.fromhex(%(ek)r)
block = ecb(ek)
assert type(block) is type(cryptolib.aes(ek, 1))  # the HAL's block is MicroPython's own AES
g = Gcm(block)
data, tag = g.encrypt(bytes.fromhex(%(iv)r), bytes.fromhex(%(plain)r), b"\x30" + bytes.fromhex(%(ak)r))
print(bytes(data).hex(), tag.hex())
try:
    g.decrypt(bytes.fromhex(%(iv)r), data, b"\x30" + bytes(16), tag)
except AuthError as e:
    print("refused:", e)
"""


def test_green_book_vector_on_micropython(micropython):
    code = MP_GCM % {"fw": FIRMWARE_ROOT, "ek": EK.hex(), "ak": AK.hex(), "iv": IV.hex(), "plain": PLAIN.hex()}
    proc = subprocess.run([micropython, "-c", code], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    lines = proc.stdout.splitlines()
    assert lines[0] == f"{CIPHER.hex()} {TAG_30.hex()}"
    assert lines[1] == "refused: decrypt: authentication tag mismatch"


def test_hal_block_is_aes_ecb():
    key = os.urandom(16)
    block = os.urandom(16)
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
    want = Cipher(algorithms.AES(key), modes.ECB()).encryptor().update(block)
    assert ecb(key).encrypt(block) == want

"""The AES-128 block primitive of the HAL (AES-ECB, one block at a time), on which han/gcm.py builds GCM.

``ecb(key)`` returns an object with ``encrypt(block)`` (16 bytes in, 16 bytes out): MicroPython's
``cryptolib.aes(key, 1)`` (mode 1 = ECB) where it exists (the unix port, ESP32), else, under CPython
(the firmware's tests, ``rig decode``), the ``cryptography`` package's AES-ECB.
"""


def ecb(key):
    if len(key) != 16:
        raise ValueError("aes: key of %d bytes, not 16" % len(key))
    try:
        import cryptolib
    except ImportError:
        return _cpython(bytes(key))
    return cryptolib.aes(bytes(key), 1)


def _cpython(key):
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    from .contract import AesBlock

    class Block(AesBlock):
        def __init__(self):
            self.update = Cipher(algorithms.AES(key), modes.ECB()).encryptor().update

        def encrypt(self, block):
            return self.update(bytes(block))

    return Block()

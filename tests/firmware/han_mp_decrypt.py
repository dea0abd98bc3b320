# Decode encrypted frames with dut_firmware's decoder, a Decoder with its keys per case; runs under
# MicroPython (the HAL's AES: cryptolib) and CPython (hal/aes.py: the cryptography package).
#
#     .venv/bin/micropython [-X heapsize=72K] tests/firmware/han_mp_decrypt.py . INPUT
#
# INPUT, one item per line (read line by line, so that it also runs in a small heap):
#     case ID KEY AUTH_KEY     a new case (KEY, AUTH_KEY: 32 hex digits, or - for none)
#     data HEX                 the next bytes of the case, fed to its decoder
#     end                      flush(); prints {"id": ID, "results": [...], "counters": {...}}
# Used by test_encrypted_captures.py; not a test module itself (a comment, not a docstring: small heap).

import sys

sys.path.insert(0, sys.argv[1])  # the folder holding the dut_firmware package

import binascii  # noqa: E402
import gc  # noqa: E402
import json  # noqa: E402

from dut_firmware.han.decoder import Decoder  # noqa: E402

try:
    import cryptolib  # noqa: F401
    ecb = None  # MicroPython: the decoder's default, cryptolib itself, as the HAL gives it (small heaps)
except ImportError:
    from dut_firmware.hal.aes import ecb


def key(text):
    return None if text == "-" else binascii.unhexlify(text)


def main():
    d = None
    name = None
    results = None
    with open(sys.argv[2]) as f:
        for line in f:
            parts = line.split()
            line = None
            if not parts:
                continue
            if parts[0] == "case":
                name = parts[1]
                d = None
                gc.collect()
                d = Decoder(key=key(parts[2]), auth_key=key(parts[3]), aes=ecb)
                results = []
            elif parts[0] == "data":
                data = binascii.unhexlify(parts[1])
                parts = None
                results += d.feed(data)
            else:
                results += d.flush()
                json.dump({"id": name, "results": results, "counters": d.counters}, sys.stdout)
                sys.stdout.write("\n")
                results = None


main()

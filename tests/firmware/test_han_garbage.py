"""The garbage the meter decoder's byte-level parts leave per frame, on the real MicroPython unix port (a
small heap collects what a frame allocates: the less, the fewer collector pauses): ``gc.mem_alloc()`` after
a call minus before it, the collector disabled in between. A-XDR allocates the values and no tuple per
element, the HDLC parse and both CRCs nothing but the parse's result, a GCM decryption (tag checked or not)
its plaintext and not a block more, a general-glo-ciphering APDU its plaintext and a few small objects.
A whole frame through ``Decoder.feed`` (framing, checksums, the list read where it lies, its reading and
result): at most 1 KiB for each list of the Kaifa meter (issue 10), and little more for an Aidon list and a
P1 telegram. The figures per meter, over many frames, are benchmarks/bench_heap.py's."""

from __future__ import annotations

import json
import os
import subprocess

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

import dut_firmware
from tests.spec_frames import LIST1_HEX, LIST2_HEX, LIST3_HEX, load_reference_frames, unhex

FIRMWARE_ROOT = os.path.dirname(dut_firmware.__path__[0])
KEY = bytes(range(16))
AK = bytes(range(16, 32))
TITLE = b"KFM\x00\x00\x00\x00\x01"
SIZES = (16, 138, 711)  # a block, a Kaifa List 2, a Smarty telegram

# Runs on MicroPython: argv = the folder holding the dut_firmware package, the file of the cases (JSON).
PROBE = r"""
import sys, gc, json, binascii
sys.path.insert(0, sys.argv[1])
from dut_firmware.han import axdr, crc, hdlc
from dut_firmware.han.cipher import Ciphering
from dut_firmware.han.gcm import Gcm
import cryptolib
with open(sys.argv[2]) as f:
    cases = json.loads(f.read())
h = binascii.unhexlify


def garbage(fn, *args):
    fn(*args)  # once before: what a first call makes once (a module's table, an interned name) is not garbage
    gc.collect()
    gc.disable()
    a = gc.mem_alloc()
    r = fn(*args)
    b = gc.mem_alloc()
    gc.enable()
    return b - a, r


out = {"word": 8 if sys.maxsize > 2 ** 32 else 4}
g = Gcm(cryptolib.aes(h(cases["key"]), 1))
iv = h(cases["iv"])
aad = h(cases["aad"])
out["gcm"] = []
for c in cases["gcm"]:
    data, tag, plain = memoryview(h(c["data"])), h(c["tag"]), h(c["plain"])
    tagged, p1 = garbage(g.decrypt, iv, data, aad, tag)
    untagged, p2 = garbage(g.decrypt, iv, data)
    out["gcm"].append([len(plain), tagged, untagged, bytes(p1) == plain and bytes(p2) == plain])
one = h(cases["one"])
many = h(cases["many"])
out["axdr"] = [garbage(axdr.decode, one, 0)[0], garbage(axdr.decode, many, 0)[0], len(axdr.decode(many, 0)[0])]
frame = bytearray(h(cases["frame"]))
out["hdlc"] = garbage(hdlc.parse, frame, 0, len(frame), 2048)[0]
out["crc"] = [garbage(crc.crc16_x25, frame, 1, len(frame) - 3)[0], garbage(crc.crc16_arc, frame, 1, len(frame) - 3)[0]]
c = Ciphering(h(cases["key"]), h(cases["ak"]))
apdu = memoryview(h(cases["apdu"]))
n, r = garbage(c.decrypt, apdu)
out["cipher"] = [n, len(r[0]), r[3]]
print(json.dumps(out))
"""


def _cases() -> dict:
    iv = TITLE + bytes(4)
    aad = b"\x30" + AK
    gcm = []
    for n in SIZES:
        plain = bytes((7 * i + 3) & 0xFF for i in range(n))
        sealed = AESGCM(KEY).encrypt(iv, plain, aad)
        gcm.append({"plain": plain.hex(), "data": sealed[:-16].hex(), "tag": sealed[-16:-4].hex()})
    frame = unhex(LIST2_HEX)
    apdu_plain = frame[12:-3]  # the Kaifa List 2 APDU, after the HDLC header and the LLC
    ic = bytes.fromhex("00000017")
    sealed = AESGCM(KEY).encrypt(TITLE + ic, apdu_plain, aad)
    body = b"\x30" + ic + sealed[:-4]  # SC, IC, ciphertext, a tag of 12 bytes
    apdu = b"\xdb\x08" + TITLE + bytes([0x81, len(body)]) + body
    u32 = bytes.fromhex("0600000fe7")
    return {"key": KEY.hex(), "ak": AK.hex(), "iv": iv.hex(), "aad": aad.hex(), "gcm": gcm,
            "one": ("0201" + u32.hex()), "many": ("0218" + u32.hex() * 24), "frame": frame.hex(), "apdu": apdu.hex()}


def _probe(micropython: str, tmp_path) -> dict:
    probe = tmp_path / "probe.py"
    probe.write_text(PROBE)
    cases = tmp_path / "cases.json"
    cases.write_text(json.dumps(_cases()))
    proc = subprocess.run([micropython, str(probe), FIRMWARE_ROOT, str(cases)], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    return json.loads(proc.stdout)


def test_the_decoder_parts_leave_no_garbage_but_their_values(micropython, tmp_path):
    got = _probe(micropython, tmp_path)
    word = got["word"]
    # GCM: the plaintext (a bytearray: its object and its bytes) and nothing per block, tag checked or not
    for n, tagged, untagged, right in got["gcm"]:
        assert right, n
        assert untagged <= n + 64, (n, untagged)
        assert tagged <= n + 64, (n, tagged)
    # A-XDR: 23 more elements cost their list slots, no tuple or int object each
    one, many, count = got["axdr"]
    assert count == 24
    assert many - one <= 23 * word + 32, (one, many)
    # HDLC: its result tuple only (the CRCs over the frame in place)
    assert got["hdlc"] <= 8 * word, got["hdlc"]
    assert got["crc"] == [0, 0]
    # a general-glo-ciphering APDU: its plaintext, the system title, and a few small objects (views, result)
    n, plain, checked = got["cipher"]
    assert checked and plain == len(unhex(LIST2_HEX)[12:-3])
    assert n <= plain + 48 * word, n


# Runs on MicroPython: argv = the folder holding the dut_firmware package, the file of the frames (JSON).
PROBE_FRAMES = r"""
import sys, gc, json, binascii
sys.path.insert(0, sys.argv[1])
from dut_firmware.han.decoder import Decoder
with open(sys.argv[2]) as f:
    cases = json.loads(f.read())
out = {}
for name, h in cases:
    data = binascii.unhexlify(h)
    d = Decoder()
    for _ in range(3):  # what the first frames make once: modules loaded, the meter's texts
        d.feed(data)
    gc.collect()
    gc.disable()
    a = gc.mem_alloc()
    r = d.feed(data)
    b = gc.mem_alloc()
    gc.enable()
    out[name] = [b - a, len(r) == 1 and r[0]["ok"]]
print(json.dumps(out))
"""

# the garbage a whole frame may leave (bytes, 64-bit unix port): the Kaifa lists at most 1 KiB (measured: 640,
# 896, 992), as a Swedish E360 P1 telegram (992); an Aidon List 3 with its clock item a little more (1056)
FRAME_BOUNDS = {"kaifa-l1": 1024, "kaifa-l2": 1024, "kaifa-l3": 1024, "aidon-l3": 1088, "e360-p1": 1024}


def test_a_whole_frame_leaves_at_most_1_kib(micropython, tmp_path):
    refs = {f["id"]: f for f in load_reference_frames()}
    cases = [["kaifa-l1", unhex(LIST1_HEX).hex()], ["kaifa-l2", unhex(LIST2_HEX).hex()],
             ["kaifa-l3", unhex(LIST3_HEX).hex()], ["aidon-l3", refs["aidon_no_gh1119_1_l3"]["data_hex"]],
             ["e360-p1", refs["lg_e360_se_gh382_p1"]["data_text"].encode().hex()]]
    probe = tmp_path / "probe_frames.py"
    probe.write_text(PROBE_FRAMES)
    spec = tmp_path / "frames.json"
    spec.write_text(json.dumps(cases))
    proc = subprocess.run([micropython, str(probe), FIRMWARE_ROOT, str(spec)], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    got = json.loads(proc.stdout)
    for name, bound in FRAME_BOUNDS.items():
        garbage, ok = got[name]
        assert ok, name
        assert garbage <= bound, (name, garbage, bound)

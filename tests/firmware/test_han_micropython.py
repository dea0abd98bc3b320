"""The HAN decoder under the real MicroPython (unix port): same results as CPython for the HDLC frames (Kaifa,
Aidon, Kamstrup) and the P1 telegrams (also in a small heap), and every module compiles."""

import glob
import json
import os
import random
import subprocess
import sys

import han_testdata as td
import pytest
from test_han_aidon_kamstrup import kamstrup_no_list

import dut_firmware
from tests.spec_frames import unhex

FIRMWARE_DIR = dut_firmware.__path__[0]
FIRMWARE_ROOT = os.path.dirname(FIRMWARE_DIR)  # the folder holding the package: on sys.path
SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "han_mp_decode_frames.py")
HAN_FILES = sorted(glob.glob(os.path.join(FIRMWARE_DIR, "han", "*.py")))


def _p1_telegrams(reference_frames):
    return [f["data_text"].encode() for f in reference_frames if f["kind"] == "p1"]


def _spec(reference_frames):
    frames = [f["data_hex"] for f in td.hdlc_frames(reference_frames)]
    frames += [unhex(t).hex() for _, t, _, _ in td.ANNOTATED]
    frames += [kamstrup_no_list(True).hex()]  # the Kamstrup reference frame is encrypted
    telegrams = _p1_telegrams(reference_frames)
    frames += [t.hex() for t in telegrams]
    llc = [f["data_hex"] for f in td.kaifa_frames(reference_frames, ("llc",))]
    # the stream: every frame, garbage, a corrupt FCS, a bad length, a truncated frame
    l1, l2, l3 = (unhex(t) for _, t, _, _ in td.ANNOTATED)
    bad_fcs = bytearray(l2)
    bad_fcs[-2] ^= 0x55
    bad_len = bytearray(l3)
    bad_len[2] ^= 0x01
    parts = [bytes.fromhex(h) for h in frames[:len(frames) - len(telegrams)]]
    stream = b"junk" + b"".join(parts) + bytes(bad_fcs) + l1 + bytes(bad_len) + l1 + l3[:50] + l2 + l2[:70]
    # the P1 stream: garbage with '/', every P1 telegram, a bad CRC, an HDLC frame, a telegram cut off by
    # the next one, one without CRC, and a '/' with half an ident line at the end
    e360 = next(t for t in telegrams if t.startswith(b"/LGF5E360") and b"!2154" in t)
    bad_crc = e360.replace(b"230.7*V", b"231.7*V")
    no_crc = e360[:e360.index(b"!") + 1] + b"\r\n"
    p1_stream = (b"noise / 1/2 " + b"".join(telegrams) + bad_crc + l1 + e360[:300] + e360 + no_crc
                 + b"/LGF5")
    rng = random.Random(5)
    chunks = [rng.randint(1, 97) for _ in range(len(stream) // 45)]
    return {"frames": frames, "llc": llc, "streams": [stream.hex(), p1_stream.hex()], "chunks": chunks}


def _run(interpreter, spec_path, *options, root=FIRMWARE_ROOT):
    proc = subprocess.run(
        [interpreter, *options, SCRIPT, str(root), spec_path],
        capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 0, proc.stderr + proc.stdout
    return [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]


def _same(a, b, path="$"):
    """Equal JSON values, floats within 1e-9 (the interpreters may print floats differently)."""
    if isinstance(a, float) or isinstance(b, float):
        assert isinstance(a, (int, float)) and isinstance(b, (int, float)), path
        assert abs(a - b) < 1e-9, (path, a, b)
    elif isinstance(a, dict):
        assert isinstance(b, dict) and set(a) == set(b), (path, a, b)
        for k in a:
            _same(a[k], b[k], path + "." + k)
    elif isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b), (path, a, b)
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _same(x, y, f"{path}[{i}]")
    else:
        assert a == b and type(a) is type(b), (path, a, b)


@pytest.fixture(scope="module")
def spec_path(tmp_path_factory, reference_frames):
    spec = _spec(reference_frames)
    path = tmp_path_factory.mktemp("han_mp") / "spec.txt"
    lines = []
    for h in spec["frames"]:  # a long frame (a P1 telegram) in lines of 256 hex digits
        lines += ["more " + h[i:i + 256] for i in range(0, len(h) - 256, 256)]
        lines.append("frame " + h[(len(h) - 1) // 256 * 256:])
    lines += ["llc " + h for h in spec["llc"]]
    for hexdata in spec["streams"]:
        lines.append("begin " + bytes(spec["chunks"]).hex())  # sizes 1..97: one byte each
        lines += ["data " + hexdata[i:i + 256] for i in range(0, len(hexdata), 256)] + ["end"]
    path.write_text("\n".join(lines) + "\n")
    (path.parent / "spec.json").write_text(json.dumps(spec))
    return str(path)


def _stream(out, s):
    """The results of stream s and its counters."""
    records = [x for x in out if x["case"] == "stream" and x["s"] == s]
    return [x["result"] for x in records[:-1]], records[-1]["counters"]


# The small heap: 72 KiB of the 64-bit unix port (about half as much on a 32-bit board), with the modules
# frozen by mpy-cross as a device holds them (compiling from source needs the compiler's heap too, and how
# much depends on where things land: the length of the temp path is enough to tip it). The decoder's
# modules, its buffer and this test's own reading of its input fit in it (70K does not: dsmr.py, loaded
# with the first telegram, finds no room); a P1 telegram is read in place, line by line: no table of lines,
# no list of lines.
SMALL_HEAP = "72K"


@pytest.mark.parametrize("heap", [None, SMALL_HEAP])
def test_micropython_decodes_like_cpython(spec_path, heap, micropython):
    cpython = _run(sys.executable, spec_path)
    if heap:
        from rig.dut.freeze import freeze

        out = _run(micropython, spec_path, "-X", "heapsize=" + heap, root=freeze(FIRMWARE_DIR))
    else:
        out = _run(micropython, spec_path)
    _same(out, cpython)
    frames = [x for x in cpython if x["case"] == "frame"]
    # HDLC (12 Kaifa, 3 Aidon, 1 Kamstrup) + P1 (the Kaifa P1 has a bad CRC)
    assert sum(x["counters"]["frames_ok"] for x in frames) == 16 + 4
    hdlc = [r["format"] for x in frames for r in x["results"] if r["ok"] and r["format"].startswith("hdlc")]
    assert hdlc.count("hdlc/aidon") == 3 and hdlc.count("hdlc/kamstrup") == 1
    p1 = [r for x in frames for r in x["results"] if r["format"].startswith("p1")]
    assert [r["format"] for r in p1].count("p1/dsmr") == 4
    assert [r["error"] for r in p1 if not r["ok"]] == ["crc mismatch: telegram says D770, computed B2F6"]
    assert all("reading" in x for x in cpython if x["case"] == "llc")
    results, c = _stream(cpython, 0)
    assert len(results) == sum(c.values())
    assert c["frames_ok"] == 16 + 3 and c["checksum_errors"] == 2 and c["truncated"] == 2
    assert c["framing_errors"] == 1
    results, c = _stream(cpython, 1)
    assert len(results) == sum(c.values())
    assert c == {"frames_ok": 4 + 1 + 1, "checksum_errors": 3, "framing_errors": 2, "truncated": 1,
                 "oversized": 0, "unknown_format": 0, "decrypt_errors": 0, "replays": 0}
    # the telegram without a CRC comes after ones with it: this meter lost it (a checksum error)
    assert [r["format"] for r in results if r["ok"]] == ["p1/dsmr"] * 4 + ["hdlc/kaifa-kfm001"] + ["p1/dsmr"]


def test_micropython_results_match_the_in_process_decoder(spec_path, micropython):
    # the script under CPython is the decoder the other tests exercise
    from dut_firmware.han.decoder import Decoder

    with open(os.path.join(os.path.dirname(spec_path), "spec.json")) as f:
        spec = json.load(f)
    out = _run(micropython, spec_path)
    for x in (x for x in out if x["case"] == "frame"):
        d = Decoder()
        _same(x["results"], d.feed(bytes.fromhex(spec["frames"][x["i"]])) + d.flush())


@pytest.mark.parametrize("path", HAN_FILES, ids=[os.path.basename(p) for p in HAN_FILES])
def test_han_module_compiles_under_micropython(path, micropython):
    proc = subprocess.run([micropython, "-X", "compile-only", path], capture_output=True, text=True,
                          timeout=30)
    assert proc.returncode == 0, proc.stderr + proc.stdout


def test_han_package_has_the_expected_modules():
    names = {os.path.basename(p) for p in HAN_FILES}
    assert {"__init__.py", "crc.py", "hdlc.py", "axdr.py", "dlms.py", "cosem_time.py", "kaifa.py",
            "reading.py", "decoder.py", "p1.py", "dsmr.py", "obis.py", "aidon.py", "kamstrup.py"} <= names

"""The HAN decoder under the real MicroPython (unix port): same results as CPython, and it compiles."""

import glob
import json
import os
import random
import subprocess
import sys

import han_testdata as td
import pytest

import dut_firmware
from tests.spec_frames import unhex

FIRMWARE_DIR = dut_firmware.__path__[0]
SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "han_mp_decode_frames.py")
HAN_FILES = sorted(glob.glob(os.path.join(FIRMWARE_DIR, "han", "*.py")))


def _spec(reference_frames):
    frames = [f["data_hex"] for f in td.hdlc_frames(reference_frames)]
    frames += [unhex(t).hex() for _, t, _, _ in td.ANNOTATED]
    llc = [f["data_hex"] for f in td.kaifa_frames(reference_frames, ("llc",))]
    # the stream: every frame, garbage, a corrupt FCS, a bad length, a truncated frame
    l1, l2, l3 = (unhex(t) for _, t, _, _ in td.ANNOTATED)
    bad_fcs = bytearray(l2)
    bad_fcs[-2] ^= 0x55
    bad_len = bytearray(l3)
    bad_len[2] ^= 0x01
    parts = [bytes.fromhex(h) for h in frames]
    stream = b"junk" + b"".join(parts) + bytes(bad_fcs) + l1 + bytes(bad_len) + l1 + l3[:50] + l2 + l2[:70]
    rng = random.Random(5)
    chunks = [rng.randint(1, 97) for _ in range(len(stream) // 45)]
    return {"frames": frames, "llc": llc, "stream": stream.hex(), "chunks": chunks}


def _run(interpreter, spec_path, *options):
    proc = subprocess.run(
        [interpreter, *options, SCRIPT, FIRMWARE_DIR, spec_path],
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
    lines = ["frame " + h for h in spec["frames"]] + ["llc " + h for h in spec["llc"]]
    lines.append("begin " + " ".join(str(n) for n in spec["chunks"]))
    hexdata = spec["stream"]
    lines += ["data " + hexdata[i:i + 256] for i in range(0, len(hexdata), 256)] + ["end"]
    path.write_text("\n".join(lines) + "\n")
    (path.parent / "spec.json").write_text(json.dumps(spec))
    return str(path)


@pytest.mark.parametrize("heap", [None, "64K"])
def test_micropython_decodes_like_cpython(spec_path, heap, micropython):
    cpython = _run(sys.executable, spec_path)
    options = ("-X", "heapsize=" + heap) if heap else ()
    _same(_run(micropython, spec_path, *options), cpython)
    frames = [x for x in cpython if x["case"] == "frame"]
    assert sum(x["counters"]["frames_ok"] for x in frames) == 12
    assert all("reading" in x for x in cpython if x["case"] == "llc")
    stream = [x for x in cpython if x["case"] == "stream"]
    c = stream[-1]["counters"]
    assert len(stream) - 1 == sum(c.values())
    assert c["frames_ok"] == 12 + 3 and c["checksum_errors"] == 2 and c["truncated"] == 2
    assert c["framing_errors"] == 1


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
            "reading.py", "decoder.py"} <= names

"""Every encrypted capture of captures/ decodes to its values with its published keys: general-glo-ciphering
(SC 0x20, 0x21, 0x30) in wired M-Bus segments (Kaifa MA309, Netz NOE and Poland), in HDLC (L+G E450 Netz
Burgenland, Kamstrup Omnipower), in general-block-transfer over three HDLC frames (L+G E450) and raw on P1
(Luxembourg Smarty); on CPython and on the real MicroPython (cryptolib), also in its 72 KiB heap."""

import json
import os
import subprocess
import sys

import han_encrypt as he
import pytest
from han_testdata import build_hdlc, fw_reading
from test_han_aidon_kamstrup import KAMSTRUP_EXPECTED
from test_han_micropython import _same

import dut_firmware
from dut_firmware.hal.aes import ecb
from dut_firmware.han.decoder import Decoder
from tests.spec_frames import LIST2_HEX, LIST2_READING, load_reference_frames, unhex

FIRMWARE_DIR = dut_firmware.__path__[0]
FIRMWARE_ROOT = os.path.dirname(FIRMWARE_DIR)  # the folder holding the package: on sys.path
SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "han_mp_decrypt.py")

FRAMES = load_reference_frames()
ENCRYPTED = [f for f in FRAMES if f["encrypted"]]
WITH_KEY = [f for f in ENCRYPTED if f["key_ek"]]

FORMATS = {
    "kaifa_at_netznoe_mbus_enc": "mbus/obis-list",
    "kaifa_pl_gh905_mbus_enc": "mbus/obis-list",
    "kamstrup_omnipower_hdlc_enc": "hdlc/kamstrup",
    "lg_e450_hdlc_gbt_enc_1": "hdlc/obis-list",
    "lg_e450_hdlc_gbt_enc_2": "hdlc/obis-list",
    "lg_e450_at_gh501_1_hdlc_enc": "hdlc/lgz-e450-values",
    "lg_e450_at_gh501_2_hdlc_enc": "hdlc/lgz-e450-values",
    "smarty_lu_ggc_p1": "p1/dsmr",
}
# Values the capture header does not state, read by hand from the decrypted bytes
EXTRA = {
    # 0C 07E5091B0114380000 FF88 80 (deviation -120: +02:00); 02 02 09 06 0000600100FF 09 0E "1KFM0200169986";
    # 1.0.32.7.0 12 08DF scaler -1; 1.0.31.7.0 12 04D9 scaler -2; 1.0.1.7.0 12 0B33; 1.0.1.8.0 06 00043E19
    "kaifa_pl_gh905_mbus_enc": {"timestamp": "2021-09-27T20:56:00+02:00", "meter_id": "1KFM0200169986",
                                "u_l1_mv": 227100, "u_l2_mv": 233000, "u_l3_mv": 233600, "i_l1_ma": 12410,
                                "i_l2_ma": 20, "i_l3_ma": 310, "p_import_w": 2867, "p_export_w": 0,
                                "e_import_wh": 278041, "e_export_wh": 0, "r_import_varh": 3932,
                                "r_export_varh": 38584},
    # han-protocols.md s.4 test vector 3: 0C 07E7031C02130B14 FF800000, 12 00EC 12 00ED 12 00EC (V), 12 0000
    # 12 0004 12 001A (0.01 A), 06 0000001D 06 00000000 (W), 06 01DE7E8E 06 00001DC3 (Wh), 09 08 "30137181"
    "lg_e450_at_gh501_1_hdlc_enc": {"timestamp": "2023-03-28T19:11:20", "u_l1_mv": 236000, "u_l2_mv": 237000,
                                    "u_l3_mv": 236000, "i_l1_ma": 0, "i_l2_ma": 40, "i_l3_ma": 260,
                                    "p_import_w": 29, "p_export_w": 0, "e_import_wh": 31358606,
                                    "e_export_wh": 7619, "meter_id": "30137181"},
    "lg_e450_at_gh501_2_hdlc_enc": {"timestamp": "2023-03-28T19:11:25"},
    "kamstrup_omnipower_hdlc_enc": KAMSTRUP_EXPECTED,
    # 0C 07E602150111251E FF800000 (deviation unspecified: no offset)
    "lg_e450_hdlc_gbt_enc_1": {"timestamp": "2022-02-21T17:37:30"},
    "smarty_lu_ggc_p1": {"meter_type": "53663629_D", "q_export_var": 7},
}
# The Netz NOE clock states its deviation (FF88: -120 min), which the capture's `expected` leaves out
OFFSETS = {"kaifa_at_netznoe_mbus_enc": "+02:00"}


def _key(text):
    return bytes.fromhex(text) if text else None


def decode(frame, chunks=None):
    data = bytes.fromhex(frame["data_hex"])
    d = Decoder(key=_key(frame["key_ek"]), auth_key=_key(frame["key_ak"]), aes=ecb)
    results = []
    if chunks is None:
        results += d.feed(data)
    else:
        for i in range(0, len(data), chunks):
            results += d.feed(data[i:i + chunks])
    results += d.flush()
    assert sum(d.counters.values()) == len(results)
    return results, d.counters


def check_reading(frame, reading):
    want = fw_reading(frame["expected"])   # the capture's values are SI: the firmware's are int mA, mV
    want.update(EXTRA.get(frame["id"], {}))
    assert want, frame["id"]
    for field, value in want.items():
        got = reading[field]
        if field == "timestamp" and frame["id"] in OFFSETS:
            assert got == value + OFFSETS[frame["id"]]
        else:
            assert got == value and type(got) is type(value), (field, got, value)


def test_the_encrypted_captures_are_there():
    assert {f["id"] for f in WITH_KEY} == set(FORMATS)
    assert [f["id"] for f in ENCRYPTED if not f["key_ek"]] == ["kaifa_at_gh433_1_mbus_enc_nokey"]


@pytest.mark.parametrize("frame", WITH_KEY, ids=[f["id"] for f in WITH_KEY])
def test_encrypted_capture_decodes_to_its_values(frame):
    results, counters = decode(frame)
    assert len(results) == 1, results  # a message of several frames is one result
    (r,) = results
    assert r["ok"], r
    assert r["format"] == FORMATS[frame["id"]]
    check_reading(frame, r["reading"])
    assert counters["frames_ok"] == 1
    # any chunking gives the same result, byte by byte included
    assert decode(frame, chunks=1) == (results, counters)
    assert decode(frame, chunks=7) == (results, counters)


def test_the_capture_without_a_published_key_is_counted_never_published():
    (frame,) = [f for f in ENCRYPTED if not f["key_ek"]]
    results, counters = decode(frame)
    assert results == [{"ok": False, "code": "decrypt", "format": "mbus", "error": "decrypt: no key"}]
    assert counters["decrypt_errors"] == 1 and counters["frames_ok"] == 0
    # with the key of another meter (SC 0x20, no tag): the plaintext is no DLMS message
    noe = next(f for f in FRAMES if f["id"] == "kaifa_at_netznoe_mbus_enc")
    d = Decoder(key=_key(noe["key_ek"]), aes=ecb)
    results = d.feed(bytes.fromhex(frame["data_hex"])) + d.flush()
    assert [r["error"] for r in results] == ["decrypt: wrong key"]


def test_all_encrypted_captures_in_one_stream():
    # one decoder per key, every frame of the library's encrypted captures back to back, twice: the second
    # round repeats every frame counter, so each is a replay, counted and not published
    for frame in WITH_KEY:
        data = bytes.fromhex(frame["data_hex"])
        d = Decoder(key=_key(frame["key_ek"]), auth_key=_key(frame["key_ak"]), aes=ecb)
        results = d.feed(data) + d.feed(data) + d.flush()
        assert [r["ok"] for r in results] == [True, False], (frame["id"], results)
        assert results[1]["error"].startswith("replay: frame counter ")
        assert d.counters["frames_ok"] == 1 and d.counters["replays"] == 1


def _spec(tmp_path, frames):
    lines = []
    for f in frames:
        lines.append(f"case {f['id']} {f['key_ek'] or '-'} {f['key_ak'] or '-'}")
        h = f["data_hex"]
        lines += ["data " + h[i:i + 256] for i in range(0, len(h), 256)] + ["end"]
    path = tmp_path / "spec.txt"
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def _run(interpreter, spec, *options):
    proc = subprocess.run([interpreter, *options, SCRIPT, FIRMWARE_ROOT, spec], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    return [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]


def test_micropython_decrypts_like_cpython(tmp_path, micropython):
    spec = _spec(tmp_path, ENCRYPTED)
    cpython = _run(sys.executable, spec)
    mp = _run(micropython, spec)
    _same(mp, cpython)
    by_id = {x["id"]: x for x in mp}
    for frame in WITH_KEY:
        (r,) = by_id[frame["id"]]["results"]
        assert r["ok"] and r["format"] == FORMATS[frame["id"]], r
        check_reading(frame, r["reading"])
    assert by_id["kaifa_at_gh433_1_mbus_enc_nokey"]["counters"]["decrypt_errors"] == 1


# A small heap: the plain decoder's 72 KiB (test_han_micropython.py) plus 8 KiB for the decoder with a key
# (its GCM and general-glo-ciphering modules, loaded when the key is set), in which it reads encrypted Kaifa
# List 2 frames (SC 0x20, and 0x30 with its tag checked). At 72 KiB itself it reads them with nothing to
# spare, and whether it does depends on things as small as the length of the firmware's path (file names
# are kept on the heap). The captures' carriers and lists load more modules (M-Bus framing, segments, block
# transfer, other lists) and need 74 KiB (Kamstrup, HDLC) to 96 KiB (Netz NOE, M-Bus) of this port's heap
# when compiled from source, 80 KiB all in one process when frozen by mpy-cross.
SMALL_HEAP_KEYED = "80K"
def test_an_encrypted_frame_decodes_in_the_small_heap(tmp_path, micropython):
    plain = unhex(LIST2_HEX)[12:-3]  # the APDU after the HDLC header and the LLC
    key, ak, title = bytes(range(16)), bytes(range(16, 32)), b"KFM\x00\x00\x00\x00\x01"
    lines = []
    for sc in (0x20, 0x30):
        frame = build_hdlc(b"\xe6\xe7\x00" + he.ggc(plain, key, title, 1, sc, ak))
        lines += [f"case sc{sc:x} {key.hex()} {ak.hex() if sc == 0x30 else '-'}", f"data {frame.hex()}", "end"]
    spec = tmp_path / "l2.txt"
    spec.write_text("\n".join(lines) + "\n")
    out = _run(micropython, str(spec), "-X", "heapsize=" + SMALL_HEAP_KEYED)
    assert [x["id"] for x in out] == ["sc20", "sc30"]
    for x in out:
        (r,) = x["results"]
        assert r["ok"], r  # a MemoryError would be counted as unknown_format
        assert r["format"] == "hdlc/kaifa-kfm001" and r["reading"] == fw_reading(LIST2_READING)

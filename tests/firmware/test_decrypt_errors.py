"""Decryption errors, replays and keys: in the decoder (CPython), and end to end in the software DUT on the real
MicroPython (a pty as the M-Bus line, /health, /meter, POST /configuration, the DUT's log).

A wrong key, a failed tag or a missing key is counted in decrypt_errors and never published, and later frames
still decode; a frame counter that does not increase (per system title) is counted in replays and not
published; a key set at run time takes effect on the next frame; keys never come back out.
"""

from __future__ import annotations

import json

import han_encrypt as he
import pytest
from han_testdata import build_hdlc, run

from dut_firmware.hal.aes import ecb
from dut_firmware.han.decoder import Decoder
from rig.dut import SoftwareDut
from rig.line import LineSettings
from rig.links import PtyLink
from rig.probes.http import HttpProbe
from rig.wait import wait_until

OTHER_KEY = bytes.fromhex("39436F513777354C4D466F4C5333674A")
WRONG_KEY = "00000000000000000000000000000001"


def decoder(key=he.NOE_KEY, auth_key=None):
    return Decoder(key=key, auth_key=auth_key, aes=ecb)


def oks(results):
    return [r["ok"] for r in results]


def test_a_wrong_key_is_counted_and_the_next_frames_decode():
    stream = he.noe_frames(100) + he.noe_frames(101, key=OTHER_KEY) + he.noe_frames(102)
    results, counters = run(stream, decoder=decoder())
    assert oks(results) == [True, False, True]
    assert results[1] == {"ok": False, "code": "decrypt", "format": "mbus", "error": "decrypt: wrong key"}
    assert counters["frames_ok"] == 2 and counters["decrypt_errors"] == 1
    assert results[2]["reading"]["u_l1_mv"] == 233700


def test_a_wrong_authentication_key_fails_the_tag():
    frame = he.e450_frame(7)
    results, counters = run(frame + he.e450_frame(8), decoder=decoder(he.E450_KEY, bytes(16)))
    assert [r["error"] for r in results] == ["decrypt: authentication failed: wrong key or authentication key"] * 2
    assert counters["decrypt_errors"] == 2 and counters["frames_ok"] == 0
    # a wrong encryption key fails the same tag; without an authentication key the tag is not checked
    assert run(frame, decoder=decoder(OTHER_KEY, he.E450_AK))[1]["decrypt_errors"] == 1
    (r,), _ = run(frame, decoder=decoder(he.E450_KEY))
    assert r["ok"] and r["reading"]["meter_id"] == "30137181"
    # a changed ciphertext byte (in a frame with right checksums) fails the tag
    apdu = bytearray(he.ggc(he.e450_plaintext(), he.E450_KEY, bytes(8), 9, 0x30, he.E450_AK))
    apdu[30] ^= 0x01
    results, counters = run(build_hdlc(b"\xe6\xe7\x00" + bytes(apdu)), decoder=decoder(he.E450_KEY, he.E450_AK))
    assert counters["decrypt_errors"] == 1 and results[0]["error"].startswith("decrypt: authentication failed")


def test_a_frame_counter_that_does_not_increase_is_a_replay():
    other_title = bytes.fromhex("4B464D6750000010")
    stream = (he.noe_frames(100) + he.noe_frames(100) + he.noe_frames(99) + he.noe_frames(5, title=other_title)
              + he.noe_frames(101))
    results, counters = run(stream, decoder=decoder())
    assert oks(results) == [True, False, False, True, True]  # each system title has its own counter
    assert [r["error"] for r in results if not r["ok"]] == ["replay: frame counter 100 after 100",
                                                          "replay: frame counter 99 after 100"]
    assert counters["replays"] == 2 and counters["frames_ok"] == 3


def test_frames_before_a_key_then_the_key_set_at_run_time():
    d = Decoder(aes=ecb)
    first = d.feed(he.noe_frames(1) + he.e450_frame(2))
    assert [r["error"] for r in first] == ["decrypt: no key", "decrypt: no key"]
    half = he.noe_frames(3)
    assert d.feed(half[:100]) == []
    d.set_keys(he.NOE_KEY, None)  # mid-frame: the bytes held stay, the key applies to this frame
    (r,) = d.feed(half[100:])
    assert r["ok"] and r["reading"]["e_import_wh"] == 12937
    assert d.counters["decrypt_errors"] == 2 and d.counters["frames_ok"] == 1
    d.set_keys(None, None)
    assert d.feed(he.noe_frames(4))[0]["error"] == "decrypt: no key"


def test_keys_never_appear_in_results():
    keys = [he.NOE_KEY, OTHER_KEY, he.E450_KEY, he.E450_AK]
    stream = he.noe_frames(1) + he.noe_frames(2, key=OTHER_KEY) + he.e450_frame(3) + he.noe_frames(1)
    for key, ak in ((he.NOE_KEY, None), (OTHER_KEY, bytes(16)), (he.E450_KEY, he.E450_AK)):
        results, _ = run(stream, decoder=decoder(key, ak))
        text = json.dumps(results).lower()
        for k in keys:
            assert k.hex() not in text


# -- end to end: the software DUT on MicroPython ---------------------------------------------------------------
MBUS_LINE = LineSettings(2400, 8, "E", 1)
TOKEN = "admin-t0ken"
READ_TOKEN = "read-t0ken"


@pytest.fixture
def line():
    with PtyLink(MBUS_LINE, speed=100) as link:
        yield link


def _wait(condition, what, dut):
    return wait_until(condition, 5, what, lambda: f"DUT console:\n{dut.tail()}")


def test_dut_counts_decrypt_errors_and_replays_and_keeps_keys_secret(tmp_path, micropython, line):
    key_hex = he.NOE_KEY.hex()
    seen = []  # every HTTP response body

    def get(http, path):
        resp = http.request("GET", path)
        seen.append(resp.text)
        return resp

    with SoftwareDut(tmp_path, line.device, micropython=micropython,
                     extra_config={"token": TOKEN, "read_token": READ_TOKEN}) as dut, \
            HttpProbe(dut.http_url, token=TOKEN) as http, HttpProbe(dut.http_url, token=READ_TOKEN) as reader:
        dut.wait_for_line(r"serial .* open", timeout=5)
        # a frame before a key is configured: counted, the last error says why, nothing published
        line.write(he.noe_frames(10))
        health = _wait(lambda: (h := get(http, "/health").json())["counters"]["decrypt_errors"] == 1 and h,
                       "the no-key decrypt error", dut)
        assert health["last_decrypt_error"]["message"] == "decrypt: no key"
        assert health["last_decrypt_error"]["code"] == "decrypt" and health["last_decrypt_error"]["ts"] > 0
        assert get(http, "/meter").status_code == 503

        # tokens: configuration changes need the token; the read token may read, not change (403)
        assert reader.request("GET", "/health").status_code == 200
        assert reader.request("POST", "/configuration", {"meter": {"key": key_hex}}).status_code == 403
        with HttpProbe(dut.http_url) as anonymous:
            assert anonymous.request("POST", "/configuration", {"meter": {"key": key_hex}}).status_code == 401
        with HttpProbe(dut.http_url, token="wrong") as wrong:
            assert wrong.request("POST", "/configuration", {"meter": {"key": key_hex}}).status_code == 401
            assert wrong.request("GET", "/meter").status_code == 401
        # a key of a wrong format is refused with 400, its value not echoed
        for bad in ("12345", key_hex[:-1] + "g", key_hex + "00", " " + key_hex[1:]):
            resp = http.request("POST", "/configuration", {"meter": {"key": bad}})
            assert resp.status_code == 400 and bad not in resp.text
            assert "32 hex digits" in resp.json()["error"]
        assert get(http, "/configuration").json()["meter"]["key_set"] is False

        # the key set at run time: the next frame decodes
        answer = http.request("POST", "/configuration", {"meter": {"key": key_hex.upper()}})
        seen.append(answer.text)
        assert answer.status_code == 200 and answer.json()["meter"] == {"key": None, "auth_key": None,
                                                                          "key_set": True, "auth_key_set": False}
        line.write(he.noe_frames(11))
        _wait(lambda: get(http, "/health").json()["counters"]["frames_ok"] == 1, "the first decrypted frame", dut)
        meter = get(http, "/meter").json()
        assert meter["u"][0] == 233.7 and meter["ic"] == 12.937

        # a replayed frame and one that goes back: counted in replays, not published
        line.write(he.noe_frames(11) + he.noe_frames(9))
        health = _wait(lambda: (h := get(http, "/health").json())["counters"]["replays"] == 2 and h,
                       "two replays", dut)
        assert health["counters"]["readings_published"] == 1
        assert health["last_decrypt_error"]["message"] == "replay: frame counter 9 after 11"

        # a wrong key: counted, and the right one again decodes the next frame
        assert http.configure({"meter": {"key": WRONG_KEY}})["meter"]["key_set"] is True
        line.write(he.noe_frames(12))
        health = _wait(lambda: (h := get(http, "/health").json())["counters"]["decrypt_errors"] == 2 and h,
                       "the wrong-key decrypt error", dut)
        assert health["last_decrypt_error"]["message"] == "decrypt: wrong key"
        http.configure({"meter": {"key": key_hex}})
        line.write(he.noe_frames(13))
        _wait(lambda: get(http, "/health").json()["counters"]["frames_ok"] == 2, "the next frame decoded", dut)
        seen += [get(http, p).text for p in ("/meter", "/meter/data", "/han", "/health", "/configuration")]

    log = dut.log_path.read_text(errors="replace")
    assert "Traceback" not in log
    for secret in (key_hex, key_hex.upper(), WRONG_KEY, TOKEN, READ_TOKEN):
        assert secret not in log, secret
        for text in seen:
            assert secret not in text, (secret, text)


def test_a_decoder_without_an_aes_given_uses_the_platforms():
    # CPython has no cryptolib: the decoder takes the HAL's AES (what `rig decode --key` relies on)
    d = Decoder(key=he.NOE_KEY)
    (r,) = d.feed(he.noe_frames(1))
    assert r["ok"] and r["reading"]["meter_id"] == "181220000009"


def test_dut_reads_keys_from_its_config_file(tmp_path, micropython, line):
    # SC 0x30 with the tag checked, keys given in the config file (the rig keeps that file private)
    keys = {"key": he.E450_KEY.hex(), "auth_key": he.E450_AK.hex()}
    with SoftwareDut(tmp_path, line.device, micropython=micropython, extra_config={"meter": keys}) as dut, \
            HttpProbe(dut.http_url) as http:
        dut.wait_for_line(r"serial .* open", timeout=5)
        line.write(he.e450_frame(1) + he.e450_frame(2, auth_key=bytes(16)))
        health = _wait(lambda: (h := http.health())["counters"]["decrypt_errors"] == 1 and h, "the bad tag", dut)
        assert health["counters"]["frames_ok"] == 1
        assert http.meter_message()["meter_id"] == "30137181"
        assert http.configuration()["meter"] == {"key": None, "auth_key": None, "key_set": True,
                                                 "auth_key_set": True}
        texts = [http.request("GET", p).text for p in ("/meter", "/health", "/configuration", "/han")]
    log = dut.log_path.read_text(errors="replace")
    for secret in keys.values():
        assert all(secret not in t.lower() for t in texts + [log.lower()])

"""Outcome codes (dut_firmware/han/outcome.py): every decoder result carries its code, each code counts in
its counter, and the state records errors by code (never by matching their text)."""

import han_encrypt as he
from han_testdata import build_hdlc, run

from dut_firmware import state as state_mod
from dut_firmware.hal.aes import ecb
from dut_firmware.han import outcome
from dut_firmware.han.decoder import COUNTERS, Decoder
from tests.spec_frames import LIST1_HEX, LIST2_HEX, unhex

# the codes /health shows in last_error.code (an interface: the rig's checks and the tests read them)
HEALTH_CODES = {"checksum", "framing", "truncated", "oversized", "unknown_format", "decrypt", "replay",
                "counter_decrease", "bad_timestamp", "decoder"}


def _stream():
    """Frames of every decoder outcome, each once, in one stream."""
    l1, l2 = unhex(LIST1_HEX), unhex(LIST2_HEX)
    bad_fcs = bytearray(l1)
    bad_fcs[-3] ^= 0xFF
    bad_hcs = bytearray(l2)
    bad_hcs[8] ^= 0xFF
    unknown = build_hdlc(b"\xe6\xe7\x00\x0f\x00\x00\x00\x00\x00\x09\x03abc")  # an octet-string, no list
    oversized = build_hdlc(bytes(600))                  # over the decoder's max_frame of 512 below
    telegram = b"/LGF5E360\r\n\r\n1-0:1.8.0(00000001.001*kWh)\r\n!"
    bad_crc = telegram + b"0000\r\n"
    return (l1 + b"garbage" + bytes(bad_fcs) + l2 + bytes(bad_hcs) + l1 + unknown + oversized + l1 + bad_crc
            + he.noe_frames(1) + l2[:40])


def test_every_result_carries_its_code_and_counts_in_its_counter():
    results, counters = run(_stream(), decoder=Decoder(max_frame=512))
    codes = [r["code"] for r in results]
    assert {"ok", "framing", "checksum", "unknown_format", "oversized", "decrypt", "truncated"} <= set(codes)
    for r in results:
        assert (r["code"] == outcome.OK) is r["ok"], r
        assert r["code"] in outcome.COUNTER, r
        assert ("error" in r) is not r["ok"], r  # the text stays, for logs and /health
    by_counter = {name: 0 for name in COUNTERS}
    for code in codes:
        by_counter[outcome.COUNTER[code]] += 1
    assert by_counter == counters


def test_a_replay_has_its_own_code():
    frame = he.noe_frames(5)
    d = Decoder(key=he.NOE_KEY, aes=ecb)
    results, counters = run(frame + frame, decoder=d)
    assert [r["code"] for r in results] == ["ok", "replay"] and counters["replays"] == 1


def test_the_codes_health_shows_keep_their_values():
    codes = {v for k, v in vars(outcome).items() if k.isupper() and isinstance(v, str)}
    assert codes == HEALTH_CODES | {"ok"}
    assert set(outcome.DECODER_COUNTERS) == set(COUNTERS)
    assert {outcome.COUNTER[c] for c in codes} - {None} >= set(COUNTERS)


def test_the_state_keeps_the_code_of_a_decoder_result_and_the_last_decryption_error_apart():
    st = state_mod.State("CET-1CEST,M3.5.0,M10.5.0/3", clock=lambda: 1234)
    results, _ = run(he.noe_frames(1) + b"xx")                    # no key: decrypt; then garbage
    for r in results:
        st.error(r["code"], r["error"], r["format"], 10)
    assert st.last_error["code"] == "framing" and st.last_error["ts"] == 1234   # the clock's time
    assert st.last_decrypt_error["code"] == "decrypt" and st.last_decrypt_error["message"] == "decrypt: no key"


def test_a_text_that_reads_like_another_outcome_does_not_change_the_code():
    st = state_mod.State("CET-1CEST,M3.5.0,M10.5.0/3")
    st.error(outcome.UNKNOWN_FORMAT, "unknown format: bad value in line 1-0:1.8.0(replay crc fcs)", "p1")
    assert st.last_error["code"] == "unknown_format" and st.last_decrypt_error is None

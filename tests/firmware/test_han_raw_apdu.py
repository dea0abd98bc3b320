"""General-glo-ciphering APDUs sent raw on P1 (0xDB, no framing of their own: the Luxembourg way), as the
rig's emulator sends any P1 profile encrypted: a clean line decodes at every security control, and the
decoder's two rules for a raw APDU (han/decoder.py) hold: an APDU cut short by the next one of the same
system title is counted truncated and the next one decoded; one whose content nothing checks (no tag, or
no authentication key to check it) is decoded only at a frame boundary of a line that has not shown a
framing with a checksum of its own. Every frame is decoded or counted exactly once."""

from __future__ import annotations

from datetime import datetime

import pytest

from dut_firmware.hal.aes import ecb
from dut_firmware.han.decoder import COUNTERS, Decoder
from rig.emulators import Meter
from rig.emulators.security import Security

KEY = bytes(range(16))
AK = bytes(range(16, 32))
TITLE = b"KFM\x00\x00\x00\x00\x09"
START = datetime(2024, 10, 1, 18, 59, 30)
P1_METERS = ("kaifa-p1-se", "landis-gyr-e360")


def _frames(meter: str, sc: int, count: int = 4) -> list[bytes]:
    security = Security(key=KEY, system_title=TITLE, security_control=sc, auth_key=AK if sc & 0x10 else None,
                        frame_counter=100)
    return [f.data for f in Meter(meter, seed=5, security=security).frames(start=START, count=count)]


def _plain(meter: str, count: int = 4) -> list[dict]:
    d = Decoder()
    data = b"".join(f.data for f in Meter(meter, seed=5).frames(start=START, count=count))
    return [r["reading"] for r in d.feed(data) + d.flush() if r["ok"]]


def _decode(d: Decoder, *parts: bytes, flush_between: bool = False) -> list[dict]:
    before = sum(d.counters[c] for c in COUNTERS)
    results = []
    for part in parts:
        results += d.feed(part)
        if flush_between:
            results += d.flush()
    results += d.flush()
    assert sum(d.counters[c] for c in COUNTERS) - before == len(results)  # each result counted once
    return results


def _ok(results: list[dict]) -> list[dict]:
    return [r["reading"] for r in results if r["ok"]]


@pytest.mark.parametrize("meter", P1_METERS)
@pytest.mark.parametrize(("sc", "checked"), [(0x20, False), (0x21, False), (0x30, True), (0x30, False)])
def test_a_clean_raw_p1_line_decodes_every_frame(meter, sc, checked):
    """Back to back in one stream, byte by byte, and with a silence after each: every telegram's reading,
    the tag checked or not (0x30 without an authentication key at the reader)."""
    frames = _frames(meter, sc)
    assert all(f[:2] == b"\xdb\x08" for f in frames)
    want = _plain(meter)
    assert len(want) == len(frames)
    auth = AK if checked else None
    stream = b"".join(frames)
    assert _ok(_decode(Decoder(key=KEY, auth_key=auth, aes=ecb), stream)) == want
    assert _ok(_decode(Decoder(key=KEY, auth_key=auth, aes=ecb), *(stream[i:i + 1] for i in range(len(stream))))) \
        == want
    assert _ok(_decode(Decoder(key=KEY, auth_key=auth, aes=ecb), *frames, flush_between=True)) == want


@pytest.mark.parametrize("sc", [0x20, 0x30])
def test_a_raw_apdu_cut_short_is_truncated_and_the_next_decoded(sc):
    frames = _frames("kaifa-p1-se", sc, 2)
    want = _plain("kaifa-p1-se", 2)
    cut = frames[0][:len(frames[0]) // 3]
    results = _decode(Decoder(key=KEY, auth_key=AK if sc & 0x10 else None, aes=ecb), cut + frames[1])
    assert [r["code"] for r in results] == ["truncated", "ok"]
    assert results[0]["error"] == f"truncated: next apdu after {len(cut)} of {len(frames[0])} bytes"
    assert _ok(results) == want[1:]


def test_an_unchecked_raw_apdu_after_stray_bytes_is_framing_and_the_next_one_decoded():
    """SC 0x20: stray bytes, then APDUs back to back (a reader that starts listening mid-telegram): the first
    is no frame start (its bytes count once, with the stray ones, as framing: it is not decrypted); the next
    starts where the first one's length says it ends, a boundary: decoded, and so are the ones after."""
    frames = _frames("kaifa-p1-se", 0x20, 3)
    want = _plain("kaifa-p1-se", 3)
    d = Decoder(key=KEY, aes=ecb)
    results = _decode(d, b"\x00\x13" + frames[0] + frames[1] + frames[2])
    assert [r["code"] for r in results] == ["framing", "ok", "ok"]
    assert results[0]["error"] == f"framing: {2 + len(frames[0]) - frames[0].count(0x7E)} bytes skipped"  # flags aside
    assert _ok(results) == want[1:]
    assert d.counters["decrypt_errors"] == 0
    stream = b"\x00\x13" + b"".join(frames)  # any chunking (the buffer compacted at other points): the same
    for size in (1, 97, 700):
        chunks = [stream[i:i + size] for i in range(0, len(stream), size)]
        assert _decode(Decoder(key=KEY, aes=ecb), *chunks) == results, size


def test_an_unchecked_raw_apdu_after_a_failed_one_is_decoded():
    """SC 0x20: an APDU that does not decrypt (here a replay) is counted, its bytes looked through for a frame;
    the next one, where its length says it ends, is decoded."""
    frames = _frames("kaifa-p1-se", 0x20, 2)
    results = _decode(Decoder(key=KEY, aes=ecb), frames[0] + frames[0] + frames[1])
    assert [r["code"] for r in results] == ["ok", "replay", "ok"]
    assert _ok(results) == _plain("kaifa-p1-se", 2)


def test_a_checked_raw_apdu_after_stray_bytes_is_decoded():
    """SC 0x30 with the authentication key: the tag checks every byte, so the APDU is decoded wherever it
    starts; the stray bytes before it count once."""
    frames = _frames("kaifa-p1-se", 0x30, 2)
    results = _decode(Decoder(key=KEY, auth_key=AK, aes=ecb), b"\x00\x13" + frames[0] + b"\x55" + frames[1])
    assert [r["code"] for r in results] == ["framing", "ok", "framing", "ok"]
    assert _ok(results) == _plain("kaifa-p1-se", 2)


def test_an_unchecked_raw_apdu_on_a_framed_line_is_never_decoded():
    """Once a frame with a checksum of its own (here an HDLC frame) checked out, an untagged raw APDU is no
    frame of this line, even at a frame boundary: its bytes count as framing. New keys learn the line again."""
    hdlc = next(iter(Meter("kaifa-ma304h4", seed=5).frames(start=START, count=1))).data
    apdu = _frames("kaifa-p1-se", 0x20, 1)[0]
    d = Decoder(key=KEY, aes=ecb)
    results = _decode(d, hdlc, apdu, flush_between=True)
    assert [r["code"] for r in results] == ["ok", "framing"]
    assert results[0]["format"] == "hdlc/kaifa-kfm001"
    d.set_keys(KEY, None)
    assert [r["code"] for r in _decode(d, apdu)] == ["ok"]

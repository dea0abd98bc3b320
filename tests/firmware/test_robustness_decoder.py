"""Property tests (hypothesis) of the firmware's meter decoder on malformed input: arbitrary bytes and real
frames mutated, fed in random chunks. The million-input run is benchmarks/fuzz.py's.

Invariants, from the decoder's contract (han/decoder.py): no exception leaves ``feed``/``flush``; every
result is counted in exactly one counter (``frames_ok`` or an error counter), so the results equal the
sum of the counters; an input holding any byte but a flag gives at least one result; the results do not
depend on the chunking; no crash is caught by the decoder's last-resort handler ("decode failed").
Values: a frame damaged by at most three bit flips is never decoded (CRC-16/X.25 and CRC-16/ARC find
every such error in frames of these sizes), so a mutated frame yields the original reading or none; under
heavier damage a reading other than the original's may only come from a frame whose checksums are right
by the rig's own CRC code (a valid frame made by chance). After garbage, a valid frame is decoded.
"""

from __future__ import annotations

from datetime import datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dut_firmware.han.decoder import COUNTERS, Decoder
from rig.emulators import Meter
from rig.emulators.crc import crc16_arc, crc16_x25_wire
from tests.spec_frames import load_reference_frames

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FLAG = 0x7E


def _seeds() -> list[bytes]:
    """Plaintext line frames: the real HDLC frames and P1 telegrams of captures/, and the rig's emulated
    frames of each list of a Kaifa, an Aidon and a P1 meter (the seeds kept: those that decode; one real
    P1 telegram of captures/ has a CRC that does not match its text)."""
    out = []
    for ref in load_reference_frames():
        if ref["kind"] == "hdlc" and not ref["encrypted"]:
            out.append(bytes.fromhex(ref["data_hex"]))
        elif ref["kind"] == "p1":
            out.append(ref["data_text"].encode())
    for meter in ("kaifa-ma304h4", "aidon-6534", "kaifa-p1-se"):
        lists: set[int] = set()
        for frame in Meter(meter, seed=3).frames(start=datetime(2024, 10, 1, 18, 59, 50), count=40):
            if frame.list not in lists:
                lists.add(frame.list)
                out.append(frame.data)
    return out


def _ok(data: bytes) -> bool:
    d = Decoder()
    return any(r["ok"] for r in d.feed(data) + d.flush())


SEEDS = [s for s in _seeds() if _ok(s)]


def _decode(data: bytes, sizes: list[int] | None = None) -> tuple[list[dict], dict]:
    d = Decoder()
    results = []
    if not sizes:
        results += d.feed(data)
    else:
        i = k = 0
        while i < len(data):
            n = sizes[k % len(sizes)]
            results += d.feed(data[i:i + n])
            i += n
            k += 1
    results += d.flush()
    return results, d.counters


def _readings(data: bytes) -> list[dict]:
    return [r["reading"] for r in _decode(data)[0] if r["ok"]]


ORIGINALS = [_readings(s) for s in SEEDS]
ALL_READINGS = [r for rs in ORIGINALS for r in rs]


def _valid_frames(data: bytes) -> set[bytes]:
    """The frames in ``data`` whose checksums are right by the rig's CRC code (HDLC FCS, P1 CRC); a P1
    telegram without a CRC line counts as valid here, as the decoder takes one from a meter that has sent
    none before (``test_a_p1_telegram_that_lost_its_crc_publishes_no_wrong_value``: one that has, loses it)."""
    found = set()
    for i in range(len(data) - 8):
        if data[i] == FLAG and data[i + 1] >> 4 == 0xA:
            length = (data[i + 1] & 7) << 8 | data[i + 2]
            frame = data[i + 1:i + 1 + length]
            if len(frame) == length > 8 and crc16_x25_wire(frame[:-2]) == frame[-2:]:
                found.add(frame)
        elif data[i] == 0x2F:
            bang = data.find(b"!", i)
            tail = data[bang + 1:bang + 5] if bang > 0 else b""
            if bang > 0 and (tail[:1] in (b"\r", b"") or tail == b"%04X" % crc16_arc(data[i:bang + 1])):
                found.add(data[i:bang + 5])
    return found


KNOWN_VALID = set().union(*(_valid_frames(s) for s in SEEDS))


def _check_accounting(data: bytes, results: list[dict], counters: dict) -> None:
    assert sum(counters[c] for c in COUNTERS) == len(results)
    if data.strip(bytes((FLAG,))):
        assert results, "an input with bytes other than flags gave no result"
    for r in results:
        assert r["ok"] or "decode failed" not in r["error"], r["error"]


chunk_sizes = st.lists(st.integers(1, 300), min_size=1, max_size=4)


@st.composite
def mutated(draw, max_ops: int = 4) -> tuple[int, bytes]:
    """(seed index, the seed after 1..max_ops mutations)."""
    s = draw(st.integers(0, len(SEEDS) - 1))
    b = bytearray(SEEDS[s])
    for _ in range(draw(st.integers(1, max_ops))):
        op = draw(st.sampled_from(("flip", "set", "insert", "delete", "truncate", "length", "splice",
                                   "flags", "repeat")))
        n = len(b)
        if n == 0:
            break
        i = draw(st.integers(0, n - 1))
        if op == "flip":
            b[i] ^= 1 << draw(st.integers(0, 7))
        elif op == "set":
            b[i] = draw(st.integers(0, 255))
        elif op == "insert":
            b[i:i] = draw(st.binary(min_size=1, max_size=8))
        elif op == "delete":
            del b[i:i + draw(st.integers(1, 16))]
        elif op == "truncate":
            del b[i:]
        elif op == "length" and n > 3:
            b[draw(st.sampled_from((1, 2)))] = draw(st.integers(0, 255))
        elif op == "splice":
            other = SEEDS[draw(st.integers(0, len(SEEDS) - 1))]
            b = b[:i] + other[draw(st.integers(0, len(other))):]
        elif op == "flags":
            b[i:i] = bytes((FLAG,)) * draw(st.integers(1, 20))
        elif op == "repeat":
            b[i:i] = b[i:i + draw(st.integers(1, 32))] * draw(st.integers(1, 3))
    return s, bytes(b)


def test_every_seed_decodes_on_its_own():
    """The oracle's premise: each seed frame gives its readings (one per frame)."""
    assert all(ORIGINALS), [i for i, rs in enumerate(ORIGINALS) if not rs]


@SETTINGS
@given(st.binary(max_size=600), chunk_sizes)
def test_arbitrary_bytes_are_accounted_for_in_any_chunking(data, sizes):
    results, counters = _decode(data, sizes)
    _check_accounting(data, results, counters)
    assert results == _decode(data)[0]


@SETTINGS
@given(mutated(), chunk_sizes)
def test_a_mutated_frame_is_accounted_for_and_publishes_no_wrong_value(case, sizes):
    s, data = case
    results, counters = _decode(data, sizes)
    _check_accounting(data, results, counters)
    assert results == _decode(data)[0]
    for r in results:
        if r["ok"] and r["reading"] not in ALL_READINGS:
            new = _valid_frames(data) - KNOWN_VALID
            assert new, "a reading no seed has, and no frame valid by the rig's CRC made by chance"


@SETTINGS
@given(st.integers(0, len(SEEDS) - 1), st.lists(st.integers(0, 10**6), min_size=1, max_size=3), chunk_sizes)
def test_up_to_three_bit_flips_never_give_another_reading(s, bits, sizes):
    b = bytearray(SEEDS[s])
    for bit in set(bits):
        bit %= 8 * len(b)
        b[bit // 8] ^= 1 << (bit % 8)
    results, counters = _decode(bytes(b), sizes)
    _check_accounting(bytes(b), results, counters)
    assert len(results) >= 1
    for r in results:
        if r["ok"]:
            assert r["reading"] in ORIGINALS[s]


def _resyncable(junk: bytes) -> bytes:
    """Garbage without what the decoder cannot resynchronise after: a P1 telegram cut inside its ident line
    (its line ended here). The start bytes of the framings whose length has no check of its own (0x68 wired
    M-Bus, 0xDB raw APDU) stay: the bytes such a length claims are looked through for a frame."""
    slash = junk.rfind(b"/")
    if slash >= 0 and b"\n" not in junk[slash:]:
        junk += b"\r\n"
    return junk


garbage = st.one_of(st.binary(max_size=300).map(_resyncable), mutated().map(lambda case: _resyncable(case[1])))


@SETTINGS
@given(garbage, st.integers(0, len(SEEDS) - 1), chunk_sizes)
def test_a_valid_frame_after_garbage_is_decoded(junk, s, sizes):
    """Resynchronisation: garbage (random bytes, or a damaged frame, which may be cut short) then an intact
    frame; the intact frame's reading comes out, and the garbage is counted."""
    data = junk + SEEDS[s]
    results, counters = _decode(data, sizes)
    _check_accounting(data, results, counters)
    got = [r["reading"] for r in results if r["ok"]]
    for reading in ORIGINALS[s]:
        assert reading in got


def _encrypted(kind: str) -> tuple[bytes, bytes | None, bytes | None]:
    for ref in load_reference_frames():
        if ref["kind"] == kind and ref.get("key_ek"):
            ak = bytes.fromhex(ref["key_ak"]) if ref.get("key_ak") else None
            return bytes.fromhex(ref["data_hex"]), bytes.fromhex(ref["key_ek"]), ak
    raise AssertionError(kind)


def test_an_mbus_message_after_a_frame_cut_short_is_decoded():
    from dut_firmware.hal.aes import ecb

    frame, key, auth = _encrypted("mbus")
    d = Decoder(key=key, auth_key=auth, aes=ecb)
    alone = [r for r in d.feed(frame) + d.flush() if r["ok"]]
    assert alone
    d = Decoder(key=key, auth_key=auth, aes=ecb)
    results = d.feed(frame[:len(frame) * 6 // 10] + frame) + d.flush()
    assert [r["reading"] for r in results if r["ok"]] == [alone[0]["reading"]]


def test_a_raw_apdu_after_one_cut_short_is_decoded():
    """A raw APDU (0xDB on P1) cut short, then a whole one of the same system title inside the bytes its length
    claims: the first is counted truncated, the second decoded."""
    from dut_firmware.hal.aes import ecb

    apdu, key, auth = _encrypted("ggc-p1")
    d = Decoder(key=key, auth_key=auth, aes=ecb)
    alone = [r for r in d.feed(apdu) + d.flush() if r["ok"]]
    assert alone
    d = Decoder(key=key, auth_key=auth, aes=ecb)
    results = d.feed(apdu[:len(apdu) * 6 // 10] + apdu) + d.flush()
    assert [r["reading"] for r in results if r["ok"]] == [alone[0]["reading"]]


# The Netz NOE M-Bus message of captures/ (encryption only: security byte 0x20, no authentication tag)
# as benchmarks/fuzz.py damaged it (seed 1): its first length byte 0xFA -> 0xFF (no M-Bus frame any more)
# and two ciphertext bytes changed (45, 101); the test flips one bit more, in the energy register (byte 72).
_DAMAGED_MBUS = bytes.fromhex(
    "68fffa6853ff000167db084b464d675000000981f8200000002388d5ab4f97515aafc6b88d2f85daa7a0e3c0c42d004535c397c9"
    "d037ab7dbda329107615444894a1a0dd7e85f02d496cecd3ff46af5fb3c9229cfe8f3ee4606ab2e1f409f36aad2e50900a4296fc"
    "6c2e083f373233a69616950758bfc7d63a9e9b6e99e21b2cbc2b934772ca51fd4d69830711cab1f8cff25f0a329337cba51904f0"
    "caed88d61968743c8454ba922eb00038182c22fe316d16f2a9f544d6f75d51a4e92a1c4ef8ab19a2b7feaa32d0726c0ed80229ae"
    "6c0f7621a4209251ace2b2bc66ff0327a653bb686c756be033c7a281f1d2a7e1fa31c3983e15f8fd16cc5787e6f5171668141468"
    "53ff110167419a3cfda44be438c96f0e38bf83d98316")


def test_an_unchecked_raw_apdu_in_a_damaged_mbus_frame_publishes_no_wrong_value():
    """A raw APDU (0xDB) in the remains of a damaged M-Bus frame, nothing to check its content (no M-Bus
    checksum, no GCM tag: security byte 0x20): never decrypted (a damaged ciphertext bit would become a wrong
    value, e_import_wh 12936 for 12937); its bytes are counted as framing."""
    from dut_firmware.hal.aes import ecb

    frame, key, auth = _encrypted("mbus")
    assert frame[:2] == bytes.fromhex("68fa") and auth is None
    d = Decoder(key=key, auth_key=auth, aes=ecb)
    original = [r["reading"] for r in d.feed(frame) + d.flush() if r["ok"]][0]
    assert original["e_import_wh"] == 12937
    damaged = bytearray(_DAMAGED_MBUS)
    damaged[72] ^= 0x01
    d = Decoder(key=key, auth_key=auth, aes=ecb)
    for r in d.feed(bytes(damaged)) + d.flush():
        if r["ok"]:
            assert all(original.get(k) == v for k, v in r["reading"].items()), r["reading"]


def _p1(ref_id: str) -> bytes:
    return [r for r in load_reference_frames() if r["id"] == ref_id][0]["data_text"].encode()


def test_a_p1_telegram_that_lost_its_crc_publishes_no_wrong_value():
    telegram = _p1("lg_e360_se_gh382_p1")
    assert telegram.endswith(b"!2154\r\n") and b"1-0:2.7.0(0000.000*kW)" in telegram
    damaged = telegram[:-6].replace(b"1-0:2.7.0(0000.000*kW)", b"1-0:2.7.0(0009.000*kW)") + b"\r\n"
    readings = _readings(telegram + damaged)  # the meter's telegrams so far came with their CRC
    assert readings[0]["p_export_w"] == 0
    for reading in readings:
        assert reading["p_export_w"] == 0


def test_a_p1_telegram_after_one_cut_in_its_ident_line_is_decoded():
    telegram = _p1("lg_e360_se_gh382_p1")
    assert len(_readings(telegram[:12] + telegram)) == 1  # cut after the ident line: found
    assert len(_readings(telegram[:8] + telegram)) == 1

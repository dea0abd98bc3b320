"""The fault catalogue judged by the reader firmware's own decoder (CPython), exactly.

For every fault alone and for compositions, over 30 seeds and both Kaifa profiles, the writes are fed
to ``dut_firmware.han.decoder.Decoder`` as the firmware's main loop feeds them: one chunk per write,
``flush()`` wherever the line then stays idle for the firmware's idle gap, and at the end. Its counters
must equal the sum of the writes' ``counts``, counter by counter, and the readings it decodes must be
those of the published writes, in order.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from functools import cache

import pytest

from dut_firmware.han.decoder import COUNTERS, Decoder
from dut_firmware.meter_line import IDLE_GAP_MS
from rig.emulators import Meter
from rig.emulators.faults import FAULTS, IDLE_GAP_S, Emission, apply_faults, emissions_from_frames, flip_byte
from tests.spec_frames import LIST1_HEX, unhex

PROFILES = ("kaifa-ma304h4", "kaifa-ma304h3e")
SEEDS = range(30)
START = datetime(2024, 10, 1, 18, 59, 30)
FRAMES = 40  # 80 s across the hour: List 3 at 19:00:10 is the middle of the stream

SINGLE = [*FAULTS, "split:2", "split:9", "garbage:1", "garbage:300", "truncate:1", "bitflip:1", "bad_fcs:1",
          "bad_hcs:1", "bad_length:1", "duplicate:1", "oversized:600", "clock_jump:-3600", "clock_jump:86400",
          "silence:20s", "restart:0s", "restart:10s"]
COMPOSED = [
    "clock_jump:-3600 no_list3 mid_frame bad_fcs:5 bad_hcs:6 bad_length:3 truncate:7 bitflip:4 duplicate:3 "
    "oversized garbage split:4",
    "restart:10s truncate:3 duplicate:2 oversized:600 garbage:3 split:2",
    "silence:20s bad_length:2 oversized garbage split",
    "bad_fcs:3 duplicate:2 garbage:40 split:5",
    "truncate:2 bad_hcs:5 garbage:8 no_list3 silence:9s split",
    "clock_jump:90 mid_frame bitflip:2 garbage:1 split:2",
    "bad_hcs:1 garbage split:6",
    "bad_length:1 oversized:2000 garbage:100 split:10",
]


@cache
def _meter_and_stream(profile: str, seed: int) -> tuple[Meter, tuple[Emission, ...]]:
    meter = Meter(profile, seed=seed, start=START)
    return meter, tuple(emissions_from_frames(meter.frames(count=FRAMES), START))


def _feed(stream: list[Emission], char_s: float, idle_flush: bool = True) -> tuple[dict, list]:
    """The decoder's counters and results for ``stream``: one feed() per write; flush() where the line
    then stays idle for the firmware's idle gap (the writes go out one after the other), and at the end."""
    decoder, results, line_free = Decoder(), [], 0.0
    for i, e in enumerate(stream):
        line_free = max(e.t, line_free) + len(e.data) * char_s
        results += decoder.feed(e.data)
        if idle_flush and i + 1 < len(stream) and stream[i + 1].t - line_free >= IDLE_GAP_S:
            results += decoder.flush()
    results += decoder.flush()
    return dict(decoder.counters), results


def _si(reading: dict) -> dict:
    """The firmware's reading (int mA / mV: `*_ma`, `*_mv`) in the rig's SI units (A, V)."""
    return {(k[:-2] + k[-1] if k.endswith(("_ma", "_mv")) else k):
            (v / 1000 if k.endswith(("_ma", "_mv")) and v is not None else v) for k, v in reading.items()}


def _judge(specs: list[str], idle_flush: bool = True) -> None:
    failures = []
    for profile in PROFILES:
        for seed in SEEDS:
            meter, clean = _meter_and_stream(profile, seed)
            stream = apply_faults(clean, specs, seed=seed, meter=meter)
            assert stream != list(clean), f"{specs} changed nothing ({profile}, seed {seed})"
            counters, results = _feed(stream, meter.profile.line.char_time_s, idle_flush)
            expected = Counter()
            for e in stream:
                expected.update(e.counts)
            expected = {name: expected.get(name, 0) for name in COUNTERS}
            decoded = [_si(r["reading"]) for r in results if r["ok"]]
            published = [e.reading for e in stream if e.published]
            if counters != expected or decoded != published:
                failures.append(f"{profile} seed {seed}: expected {expected}, decoder {counters}; "
                                f"{len(published)} readings published, {len(decoded)} decoded")
    assert not failures, f"{specs} ({len(failures)} streams):\n" + "\n".join(failures[:5])


@pytest.mark.parametrize("spec", SINGLE)
@pytest.mark.parametrize("idle_flush", [True, False], ids=["idle-flush", "one-stream"])
def test_each_fault_alone_counts_exactly(spec: str, idle_flush: bool) -> None:
    # fed with no idle flush at all (a capture decoded in one go), the counts of a single fault hold too
    _judge([spec], idle_flush)


@pytest.mark.parametrize("specs", COMPOSED, ids=[f"composed-{i}" for i in range(len(COMPOSED))])
def test_composed_faults_count_exactly(specs: str) -> None:
    _judge(specs.split())


def test_the_idle_gap_is_the_firmwares() -> None:
    assert IDLE_GAP_MS == IDLE_GAP_S * 1000


# A List 1 whose FCS happens to be 7E A3 (a flag and a header's first byte), with one bit of its
# information field flipped: the reader finds its header right and its FCS wrong, one checksum error.
# Its closing flag is where its length says, so the reader goes on there: the 7E A3 inside the frame is
# not read as another header (a bad one with the next frame behind it, a truncated one without). The
# injectors pass such frames over; this is the case itself.
_FCS_7EA3 = unhex("7ea027010201105a87e6e7000f40000000090c07e80a0102123b38ff8000000201060000098e7ea37e")


def test_the_frame_with_fcs_7ea3_is_a_good_frame() -> None:
    decoder = Decoder()
    (result,) = decoder.feed(_FCS_7EA3)
    assert result["ok"] and _FCS_7EA3[-3:-1] == b"\x7e\xa3"


@pytest.mark.parametrize("behind", [b"", unhex(LIST1_HEX)], ids=["alone", "next-frame-behind"])
def test_remains_of_a_bad_frame_are_not_counted_again(behind: bytes) -> None:
    bad = flip_byte(_FCS_7EA3, 20, 0x01)
    decoder = Decoder()
    decoder.feed(bad + behind)
    decoder.flush()
    expected = {name: 0 for name in COUNTERS} | {"checksum_errors": 1, "frames_ok": 1 if behind else 0}
    assert decoder.counters == expected

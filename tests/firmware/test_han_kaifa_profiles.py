"""The firmware decodes every Kaifa variant the rig plays to exactly the reading the rig says it sent (CPython).

Every list of every profile, over several seeds and start times (hourly List 3 included), streamed
through one ``Decoder`` in chunks of awkward sizes: every frame decodes, with the list number and the
reading the emulator states. One known disagreement is marked: the firmware applies the 3-wire IT rule
(placeholder 0 -> None) to the MA304H3E only, so the CT meter MA304T3's U2 and I2 placeholders come out
as 0.0 where the rig states None (not measured).
"""

from datetime import datetime, timedelta

import pytest
from han_testdata import fw_reading

from dut_firmware.han.decoder import Decoder
from rig.emulators import Meter

PROFILES = ["kaifa-ma105h2e", "kaifa-ma304t4", "kaifa-ma304h4-se", "kaifa-ma304h4d-se", "kaifa-ma105h2e-se",
            "kaifa-ma304t4-se", "kaifa-p1-se"]
IT_CT = "kaifa-ma304t3"  # 3-wire CT: U2 and I2 are placeholders, published as None
STARTS = [datetime(2024, 10, 1, 18, 59, 50), datetime(2024, 1, 15, 6, 59, 40), datetime(2025, 7, 4, 23, 59, 58)]
SEEDS = [1, 2, 17, 12345]


def frames_of(profile: str, seed: int) -> list:
    meter = Meter(profile, seed=seed)
    span = timedelta(minutes=1) if profile == "kaifa-p1-se" else timedelta(seconds=40)
    return [f for start in STARTS for f in meter.frames(start=start, until=start + span)]


def decode_stream(data: bytes, chunk: int) -> tuple[list[dict], dict]:
    decoder = Decoder()
    results = []
    for k in range(0, len(data), chunk):
        results += decoder.feed(data[k:k + chunk])
    return results + decoder.flush(), decoder.counters


@pytest.mark.parametrize("profile", [*PROFILES, IT_CT])
@pytest.mark.parametrize("seed", SEEDS)
def test_firmware_decodes_exactly_the_reading(profile, seed):
    frames = frames_of(profile, seed)
    p1 = profile == "kaifa-p1-se"
    assert {f.list for f in frames} == ({1} if p1 else {1, 2, 3})
    results, counters = decode_stream(b"".join(f.data for f in frames), chunk=7 + seed % 50)
    assert counters["frames_ok"] == len(frames) == len(results)
    assert sum(counters.values()) == counters["frames_ok"]
    for frame, result in zip(frames, results, strict=True):
        assert result["ok"], result
        assert result["list"] == (None if p1 else frame.list)
        assert result["format"] == ("p1/dsmr" if p1 else "hdlc/kaifa-obis" if profile == "kaifa-ma304h4-se"
                                    else "hdlc/kaifa-kfm001")
        assert result["reading"] == fw_reading(frame.reading), (frame.at, frame.list)


@pytest.mark.parametrize("seed", SEEDS)
def test_ma304t3_placeholders_are_not_measurements(seed):
    """The MA304T3 sends 0 for U2 and I2 (3-wire): the reader says None, never 0."""
    frames = [f for f in frames_of("kaifa-ma304t3", seed) if f.list != 1]
    results, counters = decode_stream(b"".join(f.data for f in frames), chunk=64)
    assert counters["frames_ok"] == len(frames) == len(results)
    for result in results:
        assert result["reading"]["u_l2_mv"] is None and result["reading"]["i_l2_ma"] is None

"""The field's faults on demand: each is injected into a stream, and the reader must count exactly what a
correct reader counts, publish every good frame on every interface, and never publish a damaged one."""

from __future__ import annotations

import threading
from datetime import datetime

import pytest

from rig.emulators.faults import FAULTS, parse_fault
from rig.probes.http import HttpProbe
from rig.wait import wait_until

START = datetime(2024, 10, 1, 18, 59, 40)  # crosses a full hour: List 1, List 2 and the hourly List 3

# fault spec -> (frames in the stream, the counter a correct reader must see rise, or None)
CASES = {
    "split": (12, None),
    "split:6": (8, None),
    "garbage": (10, "framing_errors"),
    "mid_frame": (6, "framing_errors"),
    "truncate": (12, "truncated"),
    "bitflip": (12, "checksum_errors"),
    "bad_fcs": (12, "checksum_errors"),
    "bad_hcs": (12, "checksum_errors"),
    "bad_length": (12, None),
    "duplicate": (12, None),
    "oversized": (12, "oversized"),
    "clock_jump": (12, None),
    "clock_jump:-7200": (12, None),
    "no_list3": (20, None),
    "restart:20s": (30, "truncated"),
}


def test_every_fault_of_the_catalogue_has_a_scenario() -> None:
    covered = {parse_fault(spec).name for spec in CASES} | {"silence"}
    assert covered == set(FAULTS)


@pytest.mark.parametrize("spec", list(CASES))
def test_fault_is_counted_exactly_and_good_frames_are_published(harness, spec: str) -> None:
    count, counter = CASES[spec]
    h = harness(speed=8)
    frames = h.frames(count, start=START)
    writes = h.emissions(frames, spec, seed=7)
    assert writes != h.emissions(frames), f"{spec} changed nothing in {count} frames"

    result = h.stream(writes)

    h.assert_passed(result)
    assert result.sent, "no frame left to publish"
    if counter:
        assert result.expected_counts[counter] > 0 and result.dut_counters[counter] == result.expected_counts[counter]
    if spec == "no_list3":
        assert 3 in {f.list for f in frames} and 3 not in {f.list_no for f in result.sent}


def test_a_silent_meter_is_reported_and_the_reader_recovers_without_a_reboot(harness) -> None:
    """The meter goes quiet for 90 s: /han says "silent" once a minute passes with no reading, then
    "reading" again as soon as frames come back, and every frame after the silence is published."""
    h = harness(speed=20)
    writes = h.emissions(h.frames(120, start=START), "silence:90s")
    states: list[str] = []
    done = threading.Event()
    probe = HttpProbe(h.dut.http_url)  # a session of its own: the stream's pollers use h.http

    def watch() -> None:
        while not done.is_set():
            state = probe.state().get("state")
            if not states or states[-1] != state:
                states.append(state)
            done.wait(0.1)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        result = h.stream(writes)
        wait_until(lambda: h.http.state().get("state") == "reading", timeout=3, what="/han state 'reading'")
    finally:
        done.set()
        watcher.join(timeout=2)
        probe.close()
    h.assert_passed(result)
    assert "silent" in states, f"/han states seen: {states}"
    assert states.index("silent") > states.index("reading")
    assert h.health()["uptime_s"] > 0 and h.dut.alive()

"""The status LED seen from outside: every state of the pattern table (rig/led/patterns.json) provoked on
the DUT and recognised through the bench's photodiode (pyvisa) and camera (OpenCV) at once. Frames on the
meter line give read OK and, with a bad checksum or a wrong decryption key, read failed; the software
DUT's control channel gives the button, Wi-Fi, network, update and critical-error states. Each scenario
adds its timeline (expected against measured) to the HTML report. Benches without a photodiode or a
camera skip, saying so."""

from __future__ import annotations

from contextlib import ExitStack

import pytest

from rig.led.control import PROVOKE, send_control
from rig.led.patterns import load_patterns
from rig.led.session import open_paths, watch_all
from rig.report.led_timeline import expected_segments, timeline_png

T = load_patterns()
WINDOW_S = 2.0  # each record; the state is provoked LEAD_S into it
LEAD_S = 0.3
FEATURES = {"photodiode": "led_photodiode", "camera": "led_camera"}
STATES = ["booting", "online", "read_ok", "read_failed", "handshake", "ap_mode", "wifi_error", "offline",
          "firmware_update", "critical_error", "factory_reset"]


def test_every_state_of_the_table_has_a_scenario() -> None:
    assert set(STATES) == set(T.states)


def _paths_or_skip(bench) -> tuple[str, ...]:
    have = tuple(path for path, feature in FEATURES.items() if bench.has(feature))
    if not have:
        pytest.skip(f"bench {bench.name} has neither 'led_photodiode' nor 'led_camera' (see its [features])")
    return have


def _bad_checksum(data: bytes) -> bytes:
    """The frame with its frame check sequence broken (the byte before the closing flag)."""
    return data[:-3] + bytes([data[-3] ^ 0xFF]) + data[-2:]


def _action(state: str, h):
    if state == "booting":
        return h.dut.start
    if state == "online":
        return None
    if state in ("read_ok", "read_failed"):
        data = h.frames(1)[0].data
        return lambda: h.send(data if state == "read_ok" else _bad_checksum(data))
    if not h.bench.is_software:
        pytest.skip(f"{state} is provoked through the software DUT's control channel; a board has none")
    start, end = PROVOKE[state]

    def provoke() -> None:
        send_control(h.dut.led_events_path, *start)
        if end:
            import time

            time.sleep(1.2)
            send_control(h.dut.led_events_path, *end)
    return provoke


@pytest.mark.parametrize("state", STATES)
def test_led_state_is_recognised(state: str, bench, harness, request) -> None:
    which = _paths_or_skip(bench)
    if state == "booting" and not bench.is_software:
        pytest.skip("booting is seen only when the rig starts the DUT (the software DUT)")
    h = harness()
    with ExitStack() as stack:
        paths = open_paths(bench.led, h.dut, h.workdir, stack, which)
        action = _action(state, h)
        if state == "booting":
            h.dut.stop()
        watches = watch_all(paths, WINDOW_S, action, LEAD_S)
    verdicts = {name: watch.verdict(state) for name, watch in watches.items()}
    _attach_timeline(request, state, watches, verdicts)
    for name, v in verdicts.items():
        request.node.user_properties.append((f"led.{name}", v.message))
    failed = [f"{name}: {v.message}" for name, v in verdicts.items() if not v.ok]
    assert not failed, "\n".join(failed)


def _attach_timeline(request, state: str, watches, verdicts) -> None:
    ref = min(w.host_t0 for w in watches.values())
    rows = []
    pattern = T.state(state)
    match = next((v.match for v in verdicts.values() if v.match is not None), None)
    first = next(iter(watches.values()))
    start = match.start_ms + (first.host_t0 - ref) * 1000 if match is not None else LEAD_S * 1000
    if pattern.kind == "steady":
        start = 0.0
    base = T.rgb("green", "dim") if state not in ("booting", "offline") else T.rgb("red", "dim")
    rows.append(("expected", expected_segments(pattern, T, start, WINDOW_S * 1000, base)))
    for name, watch in watches.items():
        shift = (watch.host_t0 - ref) * 1000
        rows.append((f"{name}", [s.__class__(s.colour, s.intensity, s.start_ms + shift, s.duration_ms, s.level)
                                 for s in watch.segments]))
    texts = [f"{name}: {'PASS' if v.ok else 'FAIL'} {v.message}"[:125] for name, v in verdicts.items()]
    png = timeline_png(f"LED {state}: expected against measured", rows, texts)
    images = getattr(request.node, "_rig_images", [])
    images.append((f"LED timeline {state}", png))
    request.node._rig_images = images


def test_bad_checksum_shows_as_failed_read(bench, harness) -> None:
    """A damaged frame is a failed read on the LED, not a silent 'no data'; the next good one reads OK."""
    which = _paths_or_skip(bench)
    h = harness()
    frames = h.frames(2)
    with ExitStack() as stack:
        paths = open_paths(bench.led, h.dut, h.workdir, stack, which)
        watches = watch_all(paths, WINDOW_S, lambda: h.send(_bad_checksum(frames[0].data)), LEAD_S)
        again = watch_all(paths, 1.2, lambda: h.send(frames[1].data), LEAD_S)
    for name in watches:
        assert watches[name].verdict("read_failed").ok, watches[name].verdict("read_failed").message
        assert again[name].verdict("read_ok").ok, again[name].verdict("read_ok").message
        assert not watches[name].verdict("read_ok").ok  # the damaged frame never flashes read OK


def test_wrong_decryption_key_shows_as_failed_read(bench, harness) -> None:
    """A frame the reader cannot decrypt (its key is wrong) is a failed read on the LED, never a silent
    'no data', and it is counted as a decryption error."""
    which = _paths_or_skip(bench)
    h = harness(profile="kaifa-ma309-netznoe")  # M-Bus, encrypted (security control 0x20)
    h.http.configure({"meter": {"key": "00" * 16}})  # not the meter's key
    data = h.frames(1)[0].data
    with ExitStack() as stack:
        paths = open_paths(bench.led, h.dut, h.workdir, stack, which)
        watches = watch_all(paths, WINDOW_S, lambda: h.send(data), LEAD_S)
    assert h.health()["counters"]["decrypt_errors"] == 1
    for name in watches:
        assert watches[name].verdict("read_failed").ok, watches[name].verdict("read_failed").message
        assert not watches[name].verdict("read_ok").ok

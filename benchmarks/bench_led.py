"""Benchmark of the LED paths on the software DUT: the photodiode path's timing error and the camera path's
colour accuracy over every provokable state of the pattern table.

Usage (from the repository root):
    .venv/bin/python benchmarks/bench_led.py [ROUNDS]

Each round provokes every state (frames for read OK / read failed, the control channel for the rest) on
one software DUT and records a window on both simulated instruments at once (the scope through pyvisa-py,
the camera through an MJPEG file read by OpenCV). The truth is the firmware's own LED events file, mapped
to the host clock as the simulation maps it.

- photodiode timing error: each edge (a change of colour or intensity) the photodiode path found against
  the nearest edge of the truth (ms), and each blink's measured on-time against the truth's;
- camera colour accuracy: the share of frames whose class (colour and intensity) is the truth's at the
  frame's exposure, all frames and frames clear of an edge (a frame whose exposure holds an edge mixes two
  colours); and the share of windows whose state the camera recognised.
The same figures for recognition through the photodiode, and against the table (the firmware's own timing
included) are printed too.
"""

from __future__ import annotations

import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rig.dut import SoftwareDut  # noqa: E402
from rig.emulators import Meter, get_profile  # noqa: E402
from rig.led.control import PROVOKE, send_control  # noqa: E402
from rig.led.decoder import classify, segments_from_events  # noqa: E402
from rig.led.render import drive_at, latest_run, parse_events  # noqa: E402
from rig.led.session import open_paths, watch_all  # noqa: E402
from rig.links import PtyLink  # noqa: E402

STATES = ["read_ok", "read_failed", "handshake", "ap_mode", "wifi_error", "offline", "firmware_update",
          "critical_error", "factory_reset"]
WINDOW_S = 2.0
LEAD_S = 0.3
LED = {"photodiode": "sim", "photodiode_rate_hz": 2000.0, "camera": "sim", "camera_roi": [180, 90, 40, 40]}


def _action(state: str, dut: SoftwareDut, link: PtyLink, frame: bytes):
    if state in ("read_ok", "read_failed"):
        data = frame if state == "read_ok" else frame[:-3] + bytes([frame[-3] ^ 0xFF]) + frame[-2:]
        return lambda: link.write(data)
    start, end = PROVOKE[state]

    def provoke() -> None:
        send_control(dut.led_events_path, *start)
        if end:
            time.sleep(1.2)
            send_control(dut.led_events_path, *end)
    return provoke


def _truth(dut: SoftwareDut, host_t0: float) -> tuple[list, float]:
    events = latest_run(parse_events(dut.led_events_path.read_text()))
    t0 = dut.uptime_of(host_t0)
    return events, t0


def _edges(segs, offset: float = 0.0) -> np.ndarray:
    return np.array([s.start_ms + offset for s in segs[1:]])


def main(rounds: int) -> None:
    profile = get_profile("kaifa-ma304h4")
    frame = next(iter(Meter(profile, seed=1).frames(count=1))).data
    edge_err: list[float] = []
    on_err: list[float] = []
    on_err_table: list[float] = []
    frames_total = frames_ok = clear_total = clear_ok = 0
    recognised = {"photodiode": 0, "camera": 0}
    windows = 0
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        link = stack.enter_context(PtyLink(profile.line, speed=100))
        dut = stack.enter_context(SoftwareDut(Path(tmp), link.device))
        paths = open_paths(LED, dut, Path(tmp), stack)
        time.sleep(0.6)  # past booting
        for _ in range(rounds):
            for state in STATES:
                watches = watch_all(paths, WINDOW_S, _action(state, dut, link, frame), LEAD_S)
                windows += 1
                for name, watch in watches.items():
                    recognised[name] += watch.verdict(state).ok
                pd = watches["photodiode"]
                events, t0 = _truth(dut, pd.host_t0)
                truth = segments_from_events([e for e in events], t0 + WINDOW_S * 1000, start_ms=t0)
                truth_edges = _edges(truth, -t0)
                for e in _edges(pd.segments):
                    if len(truth_edges):
                        edge_err.append(float(np.min(np.abs(truth_edges - e))))
                table = pd.table
                want = table.state(state)
                for obs in pd.observations:
                    for blink in obs.blinks if not obs.cut else ():
                        near = [s for s in truth if s.intensity == "high"]
                        if near:
                            on_err.append(min(abs(blink.on_ms - s.duration_ms) for s in near))
                        if want.kind == "blink" and state in obs.names:
                            on_err_table.append(abs(blink.on_ms - want.on_ms))
                cam = watches["camera"]
                events, t0 = _truth(dut, cam.host_t0)
                stamps = t0 + np.arange(len(cam.levels)) * 1000.0 / cam.rate_hz
                exposure = np.linspace(0, 4.0, 5)
                drives = drive_at(events, (stamps[:, None] + exposure[None, :]).ravel()).reshape(-1, 5, 3)
                mixed = np.any(drives != drives[:, :1, :], axis=(1, 2))
                want_c, want_i, _ = classify(drives.mean(axis=1) / 255.0)
                got_c, got_i, _ = classify(cam.levels)
                match = (want_c == got_c) & (want_i == got_i)
                frames_total += len(match)
                frames_ok += int(match.sum())
                clear_total += int((~mixed).sum())
                clear_ok += int(match[~mixed].sum())
    e = np.array(edge_err)
    o = np.array(on_err)
    ot = np.array(on_err_table)
    print(f"LED paths on the software DUT: {windows} windows of {WINDOW_S:g} s, {len(STATES)} states x {rounds}")
    print(f"photodiode timing error, edges vs the firmware's events ({len(e)} edges): "
          f"mean {e.mean():.2f} ms, p95 {np.percentile(e, 95):.2f} ms, max {e.max():.2f} ms")
    print(f"photodiode blink on-time vs the events ({len(o)} blinks): mean {o.mean():.2f} ms, max {o.max():.2f} ms")
    if len(ot):
        print(f"photodiode blink on-time vs the table ({len(ot)} blinks, firmware timing included): "
              f"mean {ot.mean():.2f} ms, max {ot.max():.2f} ms")
    print(f"camera colour accuracy: {frames_ok}/{frames_total} frames = {100 * frames_ok / frames_total:.1f} %; "
          f"frames clear of an edge {clear_ok}/{clear_total} = {100 * clear_ok / max(1, clear_total):.1f} %")
    for name, n in recognised.items():
        print(f"{name}: state recognised in {n}/{windows} windows")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1)

"""Pacing benchmark: achieved vs ideal duration and byte-arrival jitter of a PtyLink.

Run: ``.venv/bin/python benchmarks/bench_pacing.py``. The reader is a separate process (as the DUT is):
it reads the slave side and records when each chunk arrived (CLOCK_MONOTONIC is system-wide). The
lateness of a chunk is its arrival time minus the ideal deadline of its last byte (negative: early,
by at most the pacer's 0.5 ms lead). Scenarios: speed 1 and 120, idle and with a busy Python thread.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rig.line import LineSettings  # noqa: E402
from rig.links import PtyLink  # noqa: E402

READER = r"""
import json, os, select, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_NOCTTY)
want = int(sys.argv[2]); got = 0; arrivals = []
print("ready", flush=True)
while got < want:
    r, _, _ = select.select([fd], [], [], 10)
    if not r:
        break
    n = len(os.read(fd, 65536)); got += n; arrivals.append((time.monotonic(), n))
print(json.dumps(arrivals))
"""


def run(speed: float, n: int, busy: bool) -> dict[str, float]:
    line = LineSettings(2400, 8, "E", 1)
    stop = threading.Event()
    with PtyLink(line, speed=speed) as link:
        reader = subprocess.Popen([sys.executable, "-c", READER, link.device, str(n)],
                                  stdout=subprocess.PIPE, text=True)
        assert reader.stdout is not None
        reader.stdout.readline()
        if busy:
            def spin() -> None:
                x = 0
                while not stop.is_set():
                    x += 1
            threading.Thread(target=spin, daemon=True).start()
        time.sleep(0.05)
        t_call = time.monotonic()
        end = link.write(bytes(n))
        t_ret = time.monotonic()
        stop.set()
        arrivals = json.loads(reader.stdout.readline())
        reader.wait()
        assert link.last_write is not None
        t0 = link.last_write[0]
    ct = link.pacer.char_time_s
    ideal = n * ct
    lateness, idx = [], 0
    for t, k in arrivals:
        idx += k
        lateness.append((t - (t0 + idx * ct)) * 1e3)
    return {"speed": speed, "bytes": n, "busy_thread": busy, "ideal_s": ideal, "achieved_s": t_ret - t_call,
            "end_minus_ideal_ms": (end - t_call - ideal) * 1e3, "reads": len(arrivals),
            "late_mean_ms": statistics.fmean(lateness), "late_sd_ms": statistics.pstdev(lateness),
            "late_min_ms": min(lateness), "late_max_ms": max(lateness),
            "received": sum(k for _, k in arrivals)}


def main() -> None:
    print(f"{'speed':>5} {'bytes':>6} {'busy':>5} {'ideal s':>8} {'achieved s':>10} {'reads':>6} "
          f"{'late mean ms':>12} {'sd ms':>7} {'min ms':>7} {'max ms':>7}")
    for speed, n in ((1, 240), (120, 28800)):
        for busy in (False, True):
            r = run(speed, n, busy)
            assert r["received"] == n, r
            print(f"{speed:>5} {n:>6} {str(busy):>5} {r['ideal_s']:>8.4f} {r['achieved_s']:>10.4f} "
                  f"{r['reads']:>6} {r['late_mean_ms']:>12.3f} {r['late_sd_ms']:>7.3f} "
                  f"{r['late_min_ms']:>7.3f} {r['late_max_ms']:>7.3f}")


if __name__ == "__main__":
    main()

"""Benchmark: the rig's memory and per-frame cost from an hour to a week of meter time (goal: both flat).

Each span runs `rig run --meter kaifa-ma304h4 --speed X --duration D --no-store` against the software DUT
in a fresh child interpreter that runs the rig in-process, so the figures are the rig's own:

- ``rig MiB``: peak resident memory of the rig's process (RUSAGE_SELF of that child);
- ``DUT MiB``: the largest peak of the processes the rig started (the MicroPython DUT, the broker);
- ``rig us/frame``: the rig's CPU time (user + system, every thread) over the whole run, per frame sent
  (start-up included); ``stream us/frame``: the same while it streams (what stays constant per frame);
- ``real s``, ``stream s``: the whole command and the stream itself (first write to the DUT's counters read);
- the verdict, frames sent and decoded, and how many frames each polled interface judged.

Usage (from the repository root):
    .venv/bin/python benchmarks/bench_memory.py [--speed 1440] [--week] [SPAN ...]   # spans: 1h 24h (+ 7d)
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

START = "2024-10-27T00:00:00"  # a 25-hour day: the daylight-saving change included

# Runs in the child: the rig's CLI in this process, then the process's own figures as the last line.
PROBE = """
import contextlib, io, json, resource, sys
from rig.cli import main
out = io.StringIO()
with contextlib.redirect_stdout(out):
    try:
        main(sys.argv[1:], standalone_mode=False)
    except SystemExit:
        pass
me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
summary = out.getvalue()
print(json.dumps({"self_kib": me.ru_maxrss, "children_kib": kids.ru_maxrss, "cpu_s": me.ru_utime + me.ru_stime,
                  "summary": json.JSONDecoder().raw_decode(summary[summary.index("{"):])[0]}))
"""


def measure(span: str, speed: float, meter: str) -> dict[str, object]:
    """Run one span in a fresh child interpreter and read its figures."""
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-c", PROBE, "run", "--meter", meter, "--duration", span, "--speed", str(speed),
               "--start", START, "--run-dir", str(Path(tmp) / "run"), "--json", "--no-store"]
        began = time.monotonic()
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        wall = time.monotonic() - began
    try:
        figures = json.loads(done.stdout.strip().splitlines()[-1])
    except (json.JSONDecodeError, IndexError, ValueError):
        return {"span": span, "error": (done.stderr or done.stdout)[-600:]}
    summary = figures["summary"]
    frames = summary.get("frames_sent") or 0
    interfaces = summary.get("interfaces", {})
    timing = summary.get("timing_s", {})
    return {"span": span, "verdict": summary.get("verdict"), "frames": frames,
            "decoded": summary.get("frames_decoded"), "real_s": round(wall, 1),
            "stream_s": timing.get("stream_total_s"), "lag_s": timing.get("lag_end_s"),
            "rig_mib": round(figures["self_kib"] / 1024, 1), "dut_mib": round(figures["children_kib"] / 1024, 1),
            "us_per_frame": round(figures["cpu_s"] / frames * 1e6) if frames else None,
            "stream_us_per_frame": (round(timing["rig_cpu_s"] / frames * 1e6)
                                    if frames and "rig_cpu_s" in timing else None),
            "http": interfaces.get("http", {}).get("passed", 0) + interfaces.get("http", {}).get("failed", 0),
            "modbus": interfaces.get("modbus", {}).get("passed", 0) + interfaces.get("modbus", {}).get("failed", 0),
            "failed": summary.get("failures_total")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("spans", nargs="*", help="meter time per run (90s, 2h, 24h); default 1h 24h")
    parser.add_argument("--speed", type=float, default=1440.0, help="time compression (default 1440)")
    parser.add_argument("--meter", default="kaifa-ma304h4", help="meter profile id")
    parser.add_argument("--week", action="store_true", help="add a week of meter time (7 min real at x1440)")
    args = parser.parse_args()
    spans = args.spans or ["1h", "24h"]
    if args.week:
        spans.append("168h")
    print(f"rig run --meter {args.meter} --speed {args.speed:g} from {START} --no-store")
    head = (f"{'span':>6} {'verdict':>8} {'frames':>8} {'decoded':>8} {'real s':>7} {'stream s':>8} {'lag s':>6} "
            f"{'rig MiB':>8} {'DUT MiB':>8} {'rig us/frame':>13} {'stream us/frame':>16} {'HTTP':>6} {'Modbus':>7} "
            f"{'failed':>6}")
    print(head)
    for span in spans:
        row = measure(span, args.speed, args.meter)
        if "error" in row:
            print(f"{span:>6}  error: {row['error']}")
            continue
        print(f"{row['span']:>6} {row['verdict']!s:>8} {row['frames']!s:>8} {row['decoded']!s:>8} {row['real_s']:>7} "
              f"{row['stream_s']!s:>8} {row['lag_s']!s:>6} {row['rig_mib']:>8} {row['dut_mib']:>8} "
              f"{row['us_per_frame']!s:>13} {row['stream_us_per_frame']!s:>16} {row['http']:>6} {row['modbus']:>7} "
              f"{row['failed']!s:>6}")
    print("HTTP, Modbus: frames each polled interface judged (the others were overtaken); MQTT judges every frame.")


if __name__ == "__main__":
    main()

"""Benchmark: how the rig's real time and peak memory grow with the meter time of a `rig run`.

Each span runs `rig run --meter kaifa-ma304h4 --speed X --duration D` against the software DUT in a
child process and prints the verdict, frames, real time and the peak resident memory of the rig's
process (the largest of the run's processes: the broker and the DUT stay far smaller).

Usage (from the repository root):
    .venv/bin/python benchmarks/bench_memory.py [--speed 1440] [SPAN ...]   # spans default to 1h 6h 24h
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RIG = str(Path(sys.executable).with_name("rig"))
START = "2024-10-27T00:00:00"  # a 25-hour day: the daylight-saving change included


def measure(span: str, speed: float, meter: str) -> dict[str, object]:
    """Run one span in a fresh child interpreter; its peak RSS is that child's own (RUSAGE_CHILDREN of it)."""
    with tempfile.TemporaryDirectory() as tmp:
        probe = ("import resource, subprocess, sys\n"
                 "out = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
                 "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
                 "print(out.stdout)\n")
        cmd = [sys.executable, "-c", probe, RIG, "run", "--meter", meter, "--duration", span, "--speed", str(speed),
               "--start", START, "--run-dir", str(Path(tmp) / "run"), "--json"]
        began = time.monotonic()
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        wall = time.monotonic() - began
    peak_kib, _, summary_text = done.stdout.partition("\n")
    try:
        summary = json.loads(summary_text)
    except json.JSONDecodeError:
        return {"span": span, "error": (done.stderr or done.stdout)[-400:]}
    return {"span": span, "verdict": summary.get("verdict"), "frames": summary.get("frames_sent"),
            "decoded": summary.get("frames_decoded"), "real_s": round(wall, 1),
            "peak_mib": round(int(peak_kib) / 1024, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("spans", nargs="*", default=["1h", "6h", "24h"], help="meter time per run (90s, 2h, 24h)")
    parser.add_argument("--speed", type=float, default=1440.0, help="time compression (default 1440)")
    parser.add_argument("--meter", default="kaifa-ma304h4", help="meter profile id")
    args = parser.parse_args()
    print(f"rig run --meter {args.meter} --speed {args.speed:g} from {START}; peak RSS of the run's largest process")
    print(f"{'span':>6} {'verdict':>12} {'frames':>8} {'decoded':>8} {'real s':>8} {'peak MiB':>9}")
    for span in args.spans:
        row = measure(span, args.speed, args.meter)
        if "error" in row:
            print(f"{span:>6}  error: {row['error']}")
            continue
        print(f"{row['span']:>6} {row['verdict']!s:>12} {row['frames']!s:>8} {row['decoded']!s:>8} "
              f"{row['real_s']:>8} {row['peak_mib']:>9}")
    print(f"(this process's own peak: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.1f} MiB)")


if __name__ == "__main__":
    main()

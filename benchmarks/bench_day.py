"""A day of Kaifa traffic: the time to generate 43,200 frames through the API and through `rig frames`.

Run: ``.venv/bin/python benchmarks/bench_day.py [REPEATS] [--profile]`` (median, best and spread of
REPEATS runs, default 3, in wall-clock and CPU seconds: on a shared machine the CPU time says more). From
the same start (2024-10-01 00:00:00, meter ``kaifa-ma304h4``, seed 1):

- API: ``Meter.frames(count=43200)``, every frame built (model, quantizing, encoding) and dropped;
- CLI: ``rig frames --meter kaifa-ma304h4 --at 2024-10-01T00:00:00 --count 43200 --json > /dev/null`` as a
  subprocess (interpreter start, imports and JSON output included).

``--profile`` adds the functions that take the most time in one API day (cProfile, by own time; the
profiler roughly doubles the run time, so read the shares, not the seconds).
"""

from __future__ import annotations

import cProfile
import io
import pstats
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rig.emulators import Meter  # noqa: E402

METER = "kaifa-ma304h4"
START = datetime(2024, 10, 1)
DAY = 43_200


def api_day() -> int:
    sent = 0
    for _ in Meter(METER, seed=1, start=START).frames(count=DAY):
        sent += 1
    return sent


def cli_command() -> list[str]:
    rig = Path(sys.executable).with_name("rig")
    head = [str(rig)] if rig.exists() else [sys.executable, "-m", "rig.cli"]
    return [*head, "frames", "--meter", METER, "--at", START.isoformat(), "--count", str(DAY), "--json"]


def cli_day() -> None:
    subprocess.run(cli_command(), stdout=subprocess.DEVNULL, check=True, cwd=ROOT)


def cpu_seconds() -> float:
    """CPU time (user + system) of this process and of its finished subprocesses."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def timed(fn: Callable[[], object], repeats: int) -> tuple[list[float], list[float]]:
    """The wall-clock and the CPU seconds of each of ``repeats`` runs of ``fn``."""
    walls, cpus = [], []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), cpu_seconds()
        fn()
        walls.append(time.perf_counter() - t0)
        cpus.append(cpu_seconds() - c0)
    return walls, cpus


def hotspots(limit: int = 15) -> str:
    profiler = cProfile.Profile()
    profiler.runcall(api_day)
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(limit)
    return out.getvalue()


def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    repeats = int(args[0]) if args else 3
    assert api_day() == DAY
    print(f"a day of {METER} traffic: {DAY} frames from {START.isoformat()}, {repeats} runs")
    for name, fn in (("API  Meter.frames", api_day), ("CLI  rig frames --json", cli_day)):
        walls, cpus = timed(fn, repeats)
        median, cpu = statistics.median(walls), statistics.median(cpus)
        print(f"{name:<24} median {median:5.2f} s  (best {min(walls):.2f}, spread {min(walls):.2f}-{max(walls):.2f})  "
              f"{DAY / median:6.0f} frames/s  {median / DAY * 1e6:5.1f} us/frame;  CPU median {cpu:5.2f} s")
    print("CLI:", " ".join(cli_command()[-9:]), "> /dev/null")
    if "--profile" in sys.argv:
        print(hotspots())


if __name__ == "__main__":
    main()

"""Benchmark: the end-of-line station on software DUTs (rig/eol) -- boot-to-verdict per unit (target <= 15 s)
and units per minute with 1 and 4 slots; optionally power cycles of one unit in compressed time.

- ``boot-to-verdict``: per unit, from its serial number in (output on) to its verdict (record duration_s);
  mean, median and max over the units of the run;
- ``units/min``: units judged per minute of the whole run (the station's start-up included: broker, supply);
- ``steps``: where a unit's time goes, the mean seconds per step; the measurements that failed, if any
  (with how many units), and the errors;
- ``LED step``: its mean seconds per unit and, within it, the boot into real time (the step power-cycles
  the unit to x1: a real reader's LED patterns last their real durations, rig/eol/led.py); every slot's
  window comes from the station's one camera (the simulated view of all the fixtures, read as a live stream);
- ``--cycles N``: N power cycles (output on, READY, GET /health, output off) of one unit, the seconds per
  cycle and how many it recovered from (rig/scenarios/test_power.py runs 50 in CI).

Usage (from the repository root):
    .venv/bin/python benchmarks/bench_eol.py [--units 20] [--slots 1 4] [--cycles 1000]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rig.bench import load_bench  # noqa: E402
from rig.eol.power import PoweredUnit  # noqa: E402
from rig.eol.station import SerialSource, run_station  # noqa: E402

BENCH = Path(__file__).resolve().parents[1] / "rig" / "benches" / "eol-sim.toml"


def station(units: int, slots: int) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-eol-") as tmp:
        began = time.monotonic()
        records = run_station(load_bench(BENCH), Path(tmp), SerialSource("BEN-0001", units=units), slots=slots,
                              db_url=f"sqlite:///{tmp}/results.sqlite")
        real = time.monotonic() - began
        boots = [json.loads(p.read_text())["boot_real_time_s"] for r in records
                 if (p := Path(r.links["run_dir"]) / "led.json").exists()]
    per_unit = [r.duration_s for r in records]
    passed = sum(r.verdict == "pass" for r in records)
    steps: dict[str, list[float]] = {}
    for r in records:
        for name, seconds in r.station["steps_s"].items():
            steps.setdefault(name, []).append(seconds)
    print(f"{slots} slot(s), {len(records)} units ({passed} passed) in {real:.1f} s: "
          f"{len(records) / real * 60:.1f} units/min; boot-to-verdict per unit "
          f"mean {statistics.mean(per_unit):.2f} s, median {statistics.median(per_unit):.2f} s, "
          f"max {max(per_unit):.2f} s (target <= 15 s)")
    print("    steps (mean s): " + ", ".join(f"{k} {statistics.mean(v):.2f}" for k, v in steps.items()))
    failed: dict[str, int] = {}
    for r in records:
        for m in r.measurements:
            if m.outcome == "fail":
                failed[m.name] = failed.get(m.name, 0) + 1
        for f in r.failures:
            print(f"    {r.dut['serial']}: {f.get('text')}")
    if failed:
        print("    failed measurements (units): " + ", ".join(f"{k} {v}" for k, v in sorted(failed.items())))
    if boots:
        print(f"    LED step (in real time): mean {statistics.mean(steps['led']):.2f} s per unit, of which the "
              f"power cycle's boot at x1 {statistics.mean(boots) * 1000:.0f} ms")


def cycles(count: int) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-eol-cycles-") as tmp, PoweredUnit(Path(tmp)) as unit:
        began, recovered = time.monotonic(), 0
        for _ in range(count):
            unit.on()
            recovered += unit.answers()
            unit.off()
        real = time.monotonic() - began
    print(f"{count} power cycles in {real:.1f} s ({real / count * 1000:.0f} ms per cycle): "
          f"recovered {recovered} of {count}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--units", type=int, default=20, help="units per station run (default 20)")
    parser.add_argument("--slots", type=int, nargs="+", default=[1, 4], help="slot counts to run (default 1 4)")
    parser.add_argument("--cycles", type=int, default=0, help="also N power cycles of one unit (e.g. 1000)")
    args = parser.parse_args()
    for slots in args.slots:
        station(args.units, slots)
    if args.cycles:
        cycles(args.cycles)


if __name__ == "__main__":
    main()

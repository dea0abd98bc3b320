"""Benchmark: the software DUT's boot, from source and frozen by mpy-cross (rig.dut.freeze).

For each way of running the firmware it prints:

- ``boot ms``: spawn to READY, median of N starts (the default heap);
- ``free KiB``: the free heap the DUT reports on ``GET /health`` just after READY (``gc.mem_free()``);
- ``heap needed``: the smallest MicroPython heap (``-X heapsize``, in steps of 4 KiB) in which the
  firmware boots to READY and answers ``GET /han`` (found by bisection).

Usage (from the repository root):
    .venv/bin/python benchmarks/bench_boot.py [N]
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
from pathlib import Path

import requests

from rig.dut.base import DutError
from rig.dut.software import SoftwareDut


def boot(frozen: bool, heapsize: str | None, workdir: Path) -> tuple[float, int | None] | None:
    """(boot seconds, free heap bytes) of one start, None when it does not boot in ``heapsize``."""
    master, slave = os.openpty()
    dut = SoftwareDut(workdir, os.ttyname(slave), frozen=frozen, heapsize=heapsize, ready_timeout=5.0)
    try:
        dut.start()
        free = requests.get(dut.http_url + "/health", timeout=2).json().get("free_heap")
        requests.get(dut.http_url + "/han", timeout=2).raise_for_status()
        return dut.boot_s or 0.0, free
    except (DutError, requests.RequestException):
        return None
    finally:
        dut.stop()
        os.close(master)
        os.close(slave)


def heap_needed(frozen: bool, workdir: Path, low: int = 16, high: int = 512) -> int:
    """The smallest heap in KiB (a multiple of 4) the firmware boots in."""
    while high - low > 4:
        mid = (low + high) // 8 * 4
        if boot(frozen, f"{mid}K", workdir / f"h{mid}") is None:
            low = mid
        else:
            high = mid
    return high


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    with tempfile.TemporaryDirectory() as tmp:
        print(f"{'firmware':<10} {'boot ms':>8} {'free KiB':>9} {'heap needed':>12}")
        for frozen in (False, True):
            starts = [boot(frozen, None, Path(tmp) / f"{frozen}-{n}") for n in range(runs)]
            ok = [s for s in starts if s is not None]
            if not ok:
                print(f"{'frozen' if frozen else 'source':<10} does not boot")
                continue
            boot_ms = statistics.median(s[0] for s in ok) * 1000
            free = statistics.median(s[1] or 0 for s in ok) / 1024
            need = heap_needed(frozen, Path(tmp) / f"bisect-{frozen}")
            print(f"{'frozen' if frozen else 'source':<10} {boot_ms:>8.0f} {free:>9.0f} {need:>9} KiB", flush=True)


if __name__ == "__main__":
    main()

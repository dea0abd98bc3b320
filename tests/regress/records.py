"""Hand-made run records (schema han-rig-record/1) for the regression tests: a clean run of a build, and
variations of it."""

from __future__ import annotations

import copy
import uuid
from typing import Any

CLEAN = {  # name: (value, unit, limits)
    "frames_sent": (30, "frames", {"low": 1}),
    "frames_decoded": (30, "frames", {"expected": 30, "tolerance": 0}),
    "frames_lost": (0, "frames", {"high": 0}),
    "http.passed": (30, "checks", {}),
    "http.failed": (0, "checks", {"high": 0}),
    "http.latency_p50": (3.0, "ms", {"high": 2100.0}),
    "http.latency_max": (9.0, "ms", {"high": 2100.0}),
    "mqtt.failed": (0, "checks", {"high": 0}),
    "mqtt.latency_p50": (2.0, "ms", {"high": 2100.0}),
    "dut.boot_time": (45.0, "ms", {}),
    "dut.free_heap": (900_000, "bytes", {}),
}


def judged(name: str, value: Any, unit: str, limits: dict[str, Any]) -> dict[str, Any]:
    """A measurement dict judged as rig.record.Measurement judges."""
    from rig.record import Measurement

    return Measurement(name, value, unit, **limits).judge().as_dict()


def record(build: str = "base", verdict: str | None = None, meter: str = "kaifa-ma304h4", speed: float = 10.0,
           **values: Any) -> dict[str, Any]:
    """A record of one run: the clean figures, ``values`` replacing some (``None`` leaves one out; a name with
    ``__`` for ``.``, e.g. ``http__latency_p50=40.0``); the verdict "fail" when a measurement fails."""
    figures = copy.deepcopy(CLEAN)
    measurements = []
    for name, (value, unit, limits) in figures.items():
        key = name.replace(".", "__")
        if key in values:
            value = values.pop(key)
            if value is None:
                continue
        measurements.append(judged(name, value, unit, limits))
    if values:
        raise TypeError(f"unknown figures: {sorted(values)}")
    if verdict is None:
        verdict = "fail" if any(m["outcome"] == "fail" for m in measurements) else "pass"
    run_id = uuid.uuid4().hex
    return {
        "schema": "han-rig-record/1", "id": run_id, "kind": "run", "verdict": verdict,
        "started": "2026-11-30T05:00:00+00:00", "ended": "2026-11-30T05:00:05+00:00", "duration_s": 5.0,
        "dut": {"serial": "SIM-0001", "model": "HAN-RIG-SW", "firmware": "0.1.0", "kind": "software",
                "build": {"spec": build, "path": f"/fw/{build}", "tree_hash": f"{build:0<40}"[:40]}},
        "rig": {"version": "0.1.0"},
        "station": {"bench": "sim", "station": "sim", "bench_file": "sim.toml"},
        "meter": {"profile": meter, "capture": None, "speed": speed, "start": "2026-11-30T05:59:30",
                  "duration_s": 60.0},
        "measurements": measurements,
        "failures": [] if verdict == "pass" else [{"frame": 3, "interface": "mqtt", "outcome": "fail",
                                                   "text": "frame 3 on mqtt: fail: no message"}],
        "links": {"run_dir": f"reports/{build}-{run_id[:6]}",
                  "logs": {"dut.log": f"reports/{build}-{run_id[:6]}/dut.log"}},
    }

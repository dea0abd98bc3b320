"""Valid run records (schema han-rig-record/1) for the results-store tests, and a sample set with known answers."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any


def measurement(name: str, value: Any, outcome: str = "pass", unit: str | None = None, low: float | None = None,
                high: float | None = None, expected: Any = None, tolerance: float | None = None) -> dict:
    return {"name": name, "value": value, "unit": unit, "low": low, "high": high, "expected": expected,
            "tolerance": tolerance, "outcome": outcome}


def failure(frame: int, interface: str, outcome: str = "fail", mismatches: list[tuple] = (),
            latency_ms: float | None = 120.0) -> dict:
    """A frame failure; ``mismatches`` as (field, sent, published, tolerance, unit) tuples."""
    rows = [dict(zip(("field", "sent", "published", "tolerance", "unit"), m, strict=True)) for m in mismatches]
    text = f"frame {frame} {interface}: {outcome}" + "".join(f", {m['field']}" for m in rows)
    return {"frame": frame, "interface": interface, "outcome": outcome, "latency_ms": latency_ms,
            "mismatches": rows, "detail": f"{len(rows)} field(s) wrong" if rows else outcome, "text": text}


def make_record(serial: str, started: str, verdict: str, measurements: list[dict] = (),
                failures: list[dict] = (), firmware: str = "1.4.2", profile: str | None = "aidon-6534",
                capture: str | None = None, duration_s: float = 62.5) -> dict:
    """One valid record of a run of DUT ``serial`` started at ``started`` (ISO 8601 with an offset)."""
    begin = datetime.fromisoformat(started)
    run_id = uuid.uuid4().hex
    return {
        "schema": "han-rig-record/1",
        "id": run_id,
        "kind": "run",
        "verdict": verdict,
        "started": started,
        "ended": (begin + timedelta(seconds=duration_s)).isoformat(),
        "duration_s": duration_s,
        "dut": {"serial": serial, "model": "HAN-R2", "firmware": firmware, "kind": "bench"},
        "rig": {"version": "0.1.0"},
        "station": {"bench": "line-1", "station": "st-3", "bench_file": "benches/line-1.toml"},
        "meter": {"profile": profile, "capture": capture, "speed": 10.0, "start": "2024-03-31T01:30:00",
                  "duration_s": 600.0},
        "measurements": list(measurements),
        "failures": list(failures),
        "links": {"run_dir": f"reports/{run_id[:8]}-run", "logs": {"dut": f"reports/{run_id[:8]}-run/dut.log"}},
    }


def sample_records() -> list[dict]:
    """Four DUTs over three UTC days, every verdict, numeric/text/null values (answers: see the tests)."""
    volt = "voltage_l1"
    return [
        make_record("A1", "2024-05-01T10:00:00+00:00", "fail",
                    [measurement(volt, 251.0, "fail", "V", 207.0, 250.0), measurement("banner", "HAN-R2 1.4.2")],
                    [failure(3, "mqtt", mismatches=[("p_import_w", 1520, 1250, 5, "W"),
                                                    ("u_l1_v", 231.2, 213.2, 0.5, "V")])]),
        make_record("A1", "2024-05-01T11:00:00Z", "pass", [measurement(volt, 231.0, "pass", "V", 207.0, 250.0)]),
        make_record("B2", "2024-05-01T10:30:00Z", "pass", [measurement(volt, 229.5, "pass", "V", 207.0, 250.0)],
                    firmware="1.4.1"),
        make_record("C3", "2024-05-01T12:00:00Z", "fail",
                    [measurement("latency_p95", None, "fail", "ms", None, 2000.0)],
                    [failure(7, "http", "missing", latency_ms=None)], capture="captures/kaifa-ma304.hex",
                    profile=None),
        make_record("B2", "2024-05-02T09:00:00Z", "pass", [measurement(volt, 230.0, "pass", "V", 207.0, 250.0)]),
        make_record("C3", "2024-05-02T09:30:00Z", "interrupted", [measurement(volt, 228.0, "unset", "V")]),
        # 01:15 at UTC+2 is 23:15 UTC the day before: it counts on 2024-05-02.
        make_record("D4", "2024-05-03T01:15:00+02:00", "fail", [measurement(volt, 260.25, "fail", "V", 207.0, 250.0)],
                    [failure(1, "mqtt", mismatches=[("p_import_w", 800, 0, 5, "W")]),
                     failure(2, "mqtt", mismatches=[("p_import_w", 810, 0, 5, "W")])]),
        make_record("A1", "2024-05-03T08:00:00Z", "pass", [measurement(volt, 230.5, "pass", "V", 207.0, 250.0)]),
    ]

"""The measurements a regression report compares, as rig.record makes them: frames lost, the DUT's boot time
and free heap, and every latency quantile an interface summary gives."""

from __future__ import annotations

from rig.checks import Check, InterfaceSummary, Outcome
from rig.record import count_measurements, dut_measurements, interface_measurements


def by_name(measurements) -> dict:
    return {m.name: m for m in measurements}


def test_frames_lost_are_the_frames_neither_decoded_nor_counted() -> None:
    expected = {"frames_ok": 28, "checksum_errors": 2}
    clean = by_name(count_measurements(30, expected, {"frames_ok": 28, "checksum_errors": 2}))
    lost = clean["frames_lost"]
    assert (lost.value, lost.unit, lost.outcome) == (0, "frames", "pass")
    lossy = by_name(count_measurements(30, expected, {"frames_ok": 25, "checksum_errors": 2}))
    assert (lossy["frames_lost"].value, lossy["frames_lost"].outcome) == (3, "fail")
    # a damaged frame counted as the wrong error is miscounted, not lost
    miscounted = by_name(count_measurements(30, expected, {"frames_ok": 28, "framing_errors": 2}))
    assert miscounted["frames_lost"].value == 0 and miscounted["checksum_errors"].outcome == "fail"
    assert "frames_lost" not in by_name(count_measurements(30, expected, None))  # counters unknown: not measured


def test_boot_time_and_free_heap_when_known() -> None:
    found = by_name(dut_measurements({"boot_s": 0.0451, "free_heap_end": 889_344}))
    assert (found["dut.boot_time"].value, found["dut.boot_time"].unit) == (45.1, "ms")
    assert (found["dut.free_heap"].value, found["dut.free_heap"].unit) == (889_344, "bytes")
    assert all(m.outcome == "unset" for m in found.values())
    assert dut_measurements({"boot_s": None, "free_heap_end": None}) == []
    assert dut_measurements({}) == []


def test_every_latency_quantile_the_summary_gives() -> None:
    summary = InterfaceSummary("http")
    for frame, latency in enumerate((0.002, 0.004, 0.010)):
        summary.add(Check("http", frame, Outcome.PASS, latency_s=latency))
    found = by_name(interface_measurements({"http": summary}, 300.0))
    shown = summary.as_dict()["latency_ms"]
    quantiles = [q for q in ("p50", "p95", "p99", "max") if shown.get(q) is not None]
    assert {"p50", "max"} <= set(quantiles)
    assert {f"http.latency_{q}": found[f"http.latency_{q}"].value for q in quantiles} == {
        f"http.latency_{q}": shown[q] for q in quantiles}
    assert all(found[f"http.latency_{q}"].unit == "ms" and found[f"http.latency_{q}"].high == 300.0 for q in quantiles)

"""The station end to end: software DUTs powered through the simulated supply (pyvisa-py on loopback),
slots running units at once, one record per unit in the results store, and deliberately faulty units
failing on exactly the measurement their fault touches."""

from __future__ import annotations

import dataclasses

import pytest
import sqlalchemy as sa

from rig.bench import BenchError, load_bench
from rig.eol.sequence import STEPS, parse_fault
from rig.eol.station import SerialSource, run_station
from rig.results.store import list_records, open_store

BENCH = "rig/benches/eol-sim.toml"
SKIPPED = {"led.colours", "led.read_ok_flash"}  # the sim station has no LED instruments


def failing(record) -> set[str]:
    return {m.name for m in record.measurements if m.outcome == "fail"}


def test_two_slots_four_units_with_two_faulty(tmp_path) -> None:
    db = f"sqlite:///{tmp_path / 'results.sqlite'}"
    faults = dict([parse_fault("EOL-0002=overdraw"), parse_fault("EOL-0003=modbus-dead")])
    records = run_station(load_bench(BENCH), tmp_path / "run", SerialSource("EOL-0001", units=4), slots=2,
                          faults=faults, db_url=db)
    by_serial = {r.dut["serial"]: r for r in records}
    assert sorted(by_serial) == ["EOL-0001", "EOL-0002", "EOL-0003", "EOL-0004"]
    assert {r.station["slot"] for r in records} == {1, 2}
    shown = {s: (failing(r), r.failures) for s, r in by_serial.items()}
    assert failing(by_serial["EOL-0002"]) == {"current.idle", "current.peak"}, shown  # draws too much, nothing else
    assert failing(by_serial["EOL-0003"]) == {"modbus.answers"}, shown  # its Modbus is dead, nothing else
    for serial in ("EOL-0001", "EOL-0004"):
        good = by_serial[serial]
        assert good.verdict == "pass" and not good.failures, shown
        names = {m.name for m in good.measurements}
        assert names == {n for step in STEPS for n in step.measurements} - SKIPPED
        assert set(good.station["skipped"]) == SKIPPED
        assert good.dut["firmware"] == "0.1.0" and good.kind == "eol"
        assert good.measurement("current.idle").value == pytest.approx(75 / 24, abs=0.01)  # 75 mW at 24 V
        assert good.measurement("current.peak").value == pytest.approx(12.5, abs=0.01)  # the boot's 300 mW
        assert good.measurement("factory_reset.settings_not_default").value == 0
    assert [r.verdict for r in records].count("fail") == 2
    stored = list_records(db)
    assert sorted(r["dut"]["serial"] for r in stored) == sorted(by_serial)
    assert {r["kind"] for r in stored} == {"eol"}
    with open_store(db).connect() as conn:
        rows = conn.execute(sa.text("SELECT name, value FROM measurements WHERE outcome = 'fail'")).all()
    assert sorted(rows) == [("current.idle", 21.875), ("current.peak", 31.25), ("modbus.answers", 0.0)]


def test_a_unit_that_does_not_boot_fails_power_on_and_stops_there(tmp_path) -> None:
    # 6 W more than a reader may draw: the supply's limit (twice the budget) browns it out at once
    bench = load_bench(BENCH)
    bench = dataclasses.replace(bench, eol={**bench.eol, "boot_limit_ms": 500.0})
    records = run_station(bench, tmp_path, SerialSource("DEAD-1", units=1), slots=1,
                          faults=dict([parse_fault("DEAD-1=overdraw:6000")]))
    record = records[0]
    assert record.verdict == "fail"
    assert failing(record) == {"boot.time"}
    assert "power_on" in record.failures[0]["text"]
    assert record.measurement("power_off.stopped").value == 1


def test_more_slots_than_the_bench_has_is_refused(tmp_path) -> None:
    with pytest.raises(BenchError, match="the bench has 4 slot"):
        run_station(load_bench(BENCH), tmp_path, SerialSource("X-1", units=1), slots=5)


@pytest.mark.slow
def test_twenty_units_over_four_slots(tmp_path) -> None:
    db = f"sqlite:///{tmp_path / 'results.sqlite'}"
    records = run_station(load_bench(BENCH), tmp_path / "run", SerialSource("EOL-0001", units=20), slots=4,
                          faults=dict([parse_fault("EOL-0013=modbus-dead")]), db_url=db)
    assert len(records) == 20 and len(list_records(db)) == 20
    assert {r.dut["serial"] for r in records if r.verdict == "fail"} == {"EOL-0013"}
    assert failing(next(r for r in records if r.dut["serial"] == "EOL-0013")) == {"modbus.answers"}
    assert {r.station["slot"] for r in records} == {1, 2, 3, 4}


def test_the_supply_named_by_its_visa_resource_string(tmp_path) -> None:
    from rig.instruments.sim_supply import SimSupply, SupplyState

    bench = load_bench(BENCH)
    with SimSupply(SupplyState(channels=4)) as served:
        named = dataclasses.replace(bench, eol={**bench.eol, "supply": served.resource})
        records = run_station(named, tmp_path, SerialSource("VISA-1", units=1), slots=1, supply_state=served.state)
        assert records[0].verdict == "pass", failing(records[0])
        assert served.state.channel(1).load is None and not served.state.channel(1).on  # off, disconnected
    with pytest.raises(BenchError, match="use supply = 'sim'"):
        run_station(named, tmp_path, SerialSource("VISA-2", units=1), slots=1)

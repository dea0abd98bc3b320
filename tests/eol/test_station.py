"""The station end to end: software DUTs powered through the simulated supply (pyvisa-py on loopback),
slots running units at once, one record per unit in the results store, and deliberately faulty units
failing on exactly the measurement their fault touches."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import sqlalchemy as sa

from rig.bench import BenchError, load_bench
from rig.eol.sequence import LED_MEASUREMENTS, STEPS, parse_fault
from rig.eol.station import SerialSource, run_station
from rig.results.store import list_records, open_store

BENCH = "rig/benches/eol-sim.toml"
LED = set(LED_MEASUREMENTS)
NO_BLUE = {"led.colour.blue", "led.colour.magenta", "led.colour.white", "led.colour.cyan", "led.read_ok_flash"}


def failing(record) -> set[str]:
    return {m.name for m in record.measurements if m.outcome == "fail"}


def test_two_slots_four_units_with_two_faulty(tmp_path) -> None:
    db = f"sqlite:///{tmp_path / 'results.sqlite'}"
    faults = dict([parse_fault("EOL-0002=overdraw"), parse_fault("EOL-0003=modbus-dead"),
                   parse_fault("EOL-0004=led-no-blue")])
    records = run_station(load_bench(BENCH), tmp_path / "run", SerialSource("EOL-0001", units=4), slots=2,
                          faults=faults, db_url=db)
    by_serial = {r.dut["serial"]: r for r in records}
    assert sorted(by_serial) == ["EOL-0001", "EOL-0002", "EOL-0003", "EOL-0004"]
    assert {r.station["slot"] for r in records} == {1, 2}
    shown = {s: (failing(r), r.failures) for s, r in by_serial.items()}
    assert failing(by_serial["EOL-0002"]) == {"current.idle", "current.peak"}, shown  # draws too much, nothing else
    assert failing(by_serial["EOL-0003"]) == {"modbus.answers"}, shown  # its Modbus is dead, nothing else
    # its LED's blue die is dead: blue and every colour mixed with it (and the magenta flash) are missing
    assert failing(by_serial["EOL-0004"]) == NO_BLUE, shown
    assert by_serial["EOL-0004"].measurement("led.colour.red").value >= 2
    good = by_serial["EOL-0001"]
    assert good.verdict == "pass" and not good.failures, shown
    names = {m.name for m in good.measurements}
    assert names == {n for step in STEPS for n in step.measurements}
    assert good.station["skipped"] == {}
    assert good.dut["firmware"] == "0.1.0" and good.kind == "eol"
    assert good.measurement("current.idle").value == pytest.approx(75 / 24, abs=0.01)  # 75 mW at 24 V
    assert good.measurement("current.peak").value == pytest.approx(12.5, abs=0.01)  # the boot's 300 mW
    assert good.measurement("factory_reset.settings_not_default").value == 0
    for name in LED - {"led.read_ok_flash"}:  # every colour of the table, in two camera frames or more
        assert good.measurement(name).value >= 2 and good.measurement(name).unit == "frames", name
    flash = good.measurement("led.read_ok_flash")  # 100 ms in real time, timed by the photodiode
    assert flash.expected == 100 and flash.outcome == "pass" and abs(flash.value - 100) <= flash.tolerance
    assert [r.verdict for r in records].count("fail") == 3
    stored = list_records(db)
    assert sorted(r["dut"]["serial"] for r in stored) == sorted(by_serial)
    assert {r["kind"] for r in stored} == {"eol"}
    with open_store(db).connect() as conn:
        rows = conn.execute(sa.text("SELECT name, value FROM measurements WHERE outcome = 'fail'")).all()
    assert sorted(rows) == sorted([("current.idle", 21.875), ("current.peak", 31.25), ("modbus.answers", 0.0),
                                   ("led.colour.blue", 0.0), ("led.colour.cyan", 0.0), ("led.colour.magenta", 0.0),
                                   ("led.colour.white", 0.0), ("led.read_ok_flash", None)])


def test_a_unit_whose_led_is_dead_fails_every_led_measurement_and_nothing_else(tmp_path) -> None:
    records = run_station(load_bench(BENCH), tmp_path, SerialSource("DARK-1", units=1), slots=1,
                          faults=dict([parse_fault("DARK-1=led-dead")]))
    assert failing(records[0]) == LED, records[0].failures
    assert all(records[0].measurement(n).value in (0, None) for n in LED)


def test_a_slot_whose_region_shows_no_led_fails_its_colours_and_the_other_slot_passes(tmp_path) -> None:
    # one camera films both fixtures; slot 2's region is set on the board between the fixtures, not its LED
    bench = load_bench(BENCH)
    slots = [dict(s) for s in bench.eol["slot"]]
    slots[1]["camera_roi"] = [140, 20, 40, 40]
    bench = dataclasses.replace(bench, eol={**bench.eol, "slot": slots})
    records = run_station(bench, tmp_path, SerialSource("ROI-1", units=2), slots=2)
    by_slot = {r.station["slot"]: r for r in records}
    assert sorted(by_slot) == [1, 2]
    assert by_slot[1].verdict == "pass", failing(by_slot[1])
    # every colour missing from its region; its read-OK flash, on its photodiode, still passes
    assert failing(by_slot[2]) == LED - {"led.read_ok_flash"}, by_slot[2].failures
    assert all(by_slot[2].measurement(f"led.colour.{c}").value == 0 for c in ("red", "green", "blue"))
    assert (Path(by_slot[2].links["run_dir"]) / "camera.avi").stat().st_size > 0  # the view kept as evidence
    assert not (Path(by_slot[1].links["run_dir"]) / "camera.avi").exists()


def test_a_bench_without_led_instruments_skips_the_led_step_saying_why(tmp_path) -> None:
    bench = load_bench(BENCH)
    bench = dataclasses.replace(bench, features={**bench.features, "led_camera": False, "led_photodiode": False})
    record = run_station(bench, tmp_path, SerialSource("NOLED-1", units=1), slots=1)[0]
    assert record.verdict == "pass", failing(record)
    assert not LED & {m.name for m in record.measurements}
    assert set(record.station["skipped"]) == LED
    assert "no LED camera or LED photodiode" in record.station["skipped"]["led.read_ok_flash"]
    assert "led_camera, led_photodiode" in record.station["skipped"]["led.colour.blue"]


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

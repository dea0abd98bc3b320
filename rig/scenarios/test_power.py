"""Power faults: the software DUT on a simulated supply channel reached through pyvisa-py (rig/eol/power.py).
Power cycles in compressed time, cuts in the middle of a configuration write, brown-outs at the Kaifa HAN
(24 V, 500 mW / 21 mA) and P1 (5 V, 250 mA) budgets: the reader comes back every time, answering, with
its stored configuration whole. A power cut is SIGKILL: the firmware gets no chance to clean up.
Boards are skipped: cutting a board's power needs a supply wired to it (the station's [eol] bench)."""

from __future__ import annotations

import json
import random
import threading
import time

import pytest

from rig.eol.power import PoweredUnit

CYCLES = 50  # benchmarks/bench_eol.py --cycles 1000 runs the long version


@pytest.fixture
def unit(bench, rig_workdir):
    if not bench.is_software:
        pytest.skip(f"bench {bench.name}: power faults need the software DUT on the simulated supply")
    with PoweredUnit(rig_workdir) as powered:
        yield powered


def test_power_cycles_in_compressed_time(unit) -> None:
    recovered = 0
    for cycle in range(CYCLES):
        unit.on()
        assert unit.answers(), f"cycle {cycle}: the unit did not answer after power on; log {unit.dut.log_path}"
        unit.off()
        assert unit.dut.exit_code == -9
        recovered += 1
    assert recovered == CYCLES and unit.load.starts == CYCLES


def test_cut_during_a_configuration_write_never_corrupts_it(unit) -> None:
    """The configuration file is written through a temporary file and a rename: a cut at any moment leaves
    the old settings or the new ones, never a broken file; the unit boots on it every time."""
    rng = random.Random(12)
    levels = ("debug", "warning")
    unit.on()
    for cut in range(20):
        want = levels[cut % 2]
        probe = unit.http()
        writer = threading.Thread(target=lambda p=probe, w=want: _post_quietly(p, {"log_level": w}))
        writer.start()
        time.sleep(rng.uniform(0.0, 0.01))  # somewhere in the request, the validation or the write
        unit.off()
        writer.join()
        probe.close()
        stored = json.loads(unit.dut.config_path.read_text())  # a whole JSON file, or this fails
        # the file the rig wrote at first names no log level (the firmware's default, info, applies) until
        # the unit has saved a change: a cut before the first save leaves that file
        stored.setdefault("log_level", "info")
        assert stored["log_level"] in ("info",) + levels
        unit.on()
        assert unit.answers(), f"cut {cut}: no answer after the cut; log {unit.dut.log_path}"
        probe = unit.http()
        try:
            assert probe.configuration()["log_level"] == stored["log_level"]  # it came up with what was stored
        finally:
            probe.close()


def _post_quietly(probe, changes: dict) -> None:
    try:
        probe.configure(changes)
    except Exception:  # the power went while the request was in flight
        pass


@pytest.mark.parametrize("port", ["han", "p1"])
def test_brown_outs_at_the_port_budget(rig_workdir, bench, port: str) -> None:
    if not bench.is_software:
        pytest.skip(f"bench {bench.name}: power faults need the software DUT on the simulated supply")
    with PoweredUnit(rig_workdir / port, port=port) as unit:
        unit.on()
        probe = unit.http()
        try:
            probe.configure({"log_level": "warning", "persist": True})
            for _ in range(10):  # at the port's budget a correct unit runs, bursts and all
                probe.state()
        finally:
            probe.close()
        assert unit.channel.brownouts == 0
        for n in range(5):
            unit.set_limit_ma(1.0)  # the port sags below what the unit draws
            assert unit.wait_state(alive=False, timeout=3), f"brown-out {n}: the unit kept running"
            unit.set_limit_ma(unit.budget.limit_ma)  # the port recovers: the unit boots by itself
            assert unit.wait_state(alive=True), f"brown-out {n}: the unit did not come back"
            assert unit.answers()
        assert unit.channel.brownouts == 5 and unit.channel.restarts == 5
        unit.psu.set_voltage(3.0)  # below the converter's input: no brown-out, just nothing
        assert unit.wait_state(alive=False, timeout=3)
        unit.psu.set_voltage(unit.budget.volts)
        assert unit.wait_state(alive=True) and unit.answers()
        probe = unit.http()
        try:
            assert probe.configuration()["log_level"] == "warning"  # the stored settings survived every one
        finally:
            probe.close()

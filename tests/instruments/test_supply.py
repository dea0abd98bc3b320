"""The power-supply driver against the simulated supply, through real pyvisa-py sessions on loopback: the
SCPI subset, the error queue, channels; and a software DUT really powered by it (output on starts it,
off kills it, a limit below its draw browns it out, the current follows its state)."""

from __future__ import annotations

import time

import pytest
import requests

from rig.dut.software import SoftwareDut
from rig.emulators import get_profile
from rig.instruments.sim_supply import DutLoad, PowerModel, SimSupply, SupplyState
from rig.instruments.supply import InstrumentError, Supply
from rig.links import open_link
from rig.wait import wait_until


def test_power_model_fits_the_port_budgets() -> None:
    model = PowerModel()
    assert [round(model.amps(s, 5.0) * 1000, 3) for s in ("boot", "idle", "burst", "off")] == [60, 15, 18, 0]
    assert round(model.amps("boot", 24.0) * 1000, 3) == 12.5  # Kaifa HAN: 24 V, at most 21 mA / 500 mW
    assert model.milliwatts("boot") <= 500 and model.amps("boot", 5.0) <= 0.250  # P1: 250 mA
    assert model.amps("idle", 4.0) == 0.0  # below the converter's minimum input it draws nothing
    assert round(model.amps("idle", 24.0, extra_mw=450) * 1000, 3) == 21.875


@pytest.fixture
def supply():
    with SimSupply(SupplyState(channels=2)) as sim, Supply(sim.resource) as psu:
        yield sim, psu


def test_scpi_subset_channels_and_error_queue(supply) -> None:
    sim, psu = supply
    assert psu.idn.startswith("HAN-RIG,SIM-PSU") and psu.channels == 2
    psu.set_voltage(5.0, 2)
    psu.set_current_limit(0.25, 2)
    assert (psu.voltage_setting(2), psu.current_limit(2), psu.voltage_setting(1)) == (5.0, 0.25, 0.0)
    psu.output(True, 2)
    assert psu.output_on(2) and not psu.output_on(1)
    assert psu.measure_current(2) == 0.0  # nothing connected
    with pytest.raises(InstrumentError, match=r"-113,\"Undefined header; FOO"):
        psu.write("FOO 1")
    with pytest.raises(InstrumentError, match="-222"):
        psu.write("VOLT 99,(@1)")
    with pytest.raises(InstrumentError, match="-224"):
        psu.write("OUTP ON,(@7)")
    with pytest.raises(InstrumentError, match="channels 1..2"):
        psu.output(True, 3)
    assert psu.query("SYST:ERR?").startswith("0,")  # every error was read with its command


def test_bad_resource_is_refused_with_the_reason() -> None:
    with pytest.raises(InstrumentError, match="not a VISA resource"):
        Supply("localhost:5025")
    with pytest.raises(InstrumentError, match="cannot open"):
        Supply("TCPIP0::127.0.0.1::1::SOCKET", timeout_ms=500).open()


@pytest.fixture
def unit(tmp_path, supply):
    sim, psu = supply
    link = open_link("sim", get_profile("kaifa-ma304h4").line, speed=10)
    dut = SoftwareDut(tmp_path, link.device, clock_scale=10, serial_number="PSU-0001")
    load = DutLoad(dut)
    sim.state.attach(1, load)
    psu.set_voltage(24.0)
    psu.set_current_limit(0.040)
    yield sim, psu, dut, load
    dut.kill()
    link.close()


def test_output_on_starts_the_dut_and_off_kills_it(unit) -> None:
    sim, psu, dut, load = unit
    assert not dut.alive()
    psu.output(True)
    assert load.wait_ready(10) > 0 and dut.alive()
    assert requests.get(dut.http_url + "/health", timeout=2).ok
    assert psu.peak_current() * 1000 == pytest.approx(12.5)  # the boot drew 300 mW from 24 V
    wait_until(lambda: psu.measure_current() * 1000 == pytest.approx(75 / 24, abs=1e-3), 3, "the idle draw")
    assert psu.measure_voltage() == 24.0
    psu.output(False)
    assert not dut.alive() and dut.exit_code == -9  # SIGKILL: no warning
    assert psu.measure_current() == 0.0
    assert "power cut: SIGKILL" in dut.log_path.read_text()


def test_current_follows_radio_bursts(unit) -> None:
    sim, psu, dut, load = unit
    psu.output(True)
    load.wait_ready(10)
    seen = set()
    for _ in range(20):
        requests.get(dut.http_url + "/han", timeout=2)  # the answer goes out: a radio burst
        seen.add(round(psu.measure_current() * 1000, 3))
    assert 3.75 in seen  # 90 mW from 24 V


def test_limit_below_the_draw_browns_out_then_recovers(unit) -> None:
    sim, psu, dut, load = unit
    psu.output(True)
    load.wait_ready(10)
    psu.set_current_limit(0.002)  # below the idle draw (3.1 mA)
    wait_until(lambda: not dut.alive() or None, 3, "the brown-out")
    assert dut.exit_code == -9 and sim.state.channel(1).brownouts == 1
    psu.set_current_limit(0.010)  # above idle, below the boot draw (12.5 mA): it cannot start
    time.sleep(0.3)
    assert not dut.alive() and load.starts == 1
    psu.set_current_limit(0.021)
    wait_until(lambda: dut.alive() and load.ready_at is not None or None, 10, "the restart")
    assert sim.state.channel(1).restarts == 1 and load.starts == 2
    assert requests.get(dut.http_url + "/health", timeout=2).ok

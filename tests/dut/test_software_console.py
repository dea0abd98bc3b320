"""The software DUT's console: lines kept and logged with the run clock's stamps, READY read, lines waited for."""

import io
import time

import pytest

from rig.dut import DutError
from rig.dut.software_console import Console
from rig.runclock import RunClock


def _console(tmp_path) -> Console:
    console = Console(tmp_path / "dut.log", RunClock(), "SIM-0009")
    console.open()
    console.begin()
    return console


def test_ready_is_read_and_every_line_is_logged_under_a_header(tmp_path):
    console = _console(tmp_path)
    assert not console.is_ready() and console.ready is None
    console.copy(io.BytesIO(b'10 INFO booting\r\n20 INFO READY {"http": 8080, "modbus": null}\n30 INFO up\n'))
    assert console.wait_ready(0) and console.ready == {"http": 8080, "modbus": None}
    assert console.boot_s is not None and console.boot_s >= 0
    console.note("stopped")
    console.close()
    header, *lines = console.log_path.read_text().splitlines()
    assert header == console.clock.header("console of the software DUT SIM-0009")
    assert [line.split(" ", 1)[1] for line in lines] == [
        "10 INFO booting", '20 INFO READY {"http": 8080, "modbus": null}', "30 INFO up", "[rig] stopped"]
    assert all(line.startswith("+") for line in lines)
    assert console.tail(2) == '20 INFO READY {"http": 8080, "modbus": null}\n30 INFO up'


def test_an_unparsable_ready_line_is_noted_and_not_taken(tmp_path):
    console = _console(tmp_path)
    console.copy(io.BytesIO(b"1 INFO READY {nope}\n"))
    assert not console.is_ready() and console.ready is None
    assert "[rig] unparsable READY line: '1 INFO READY {nope}'" in console.log_path.read_text()


def test_lines_are_waited_for_from_the_latest_start_only(tmp_path):
    console = _console(tmp_path)
    console.copy(io.BytesIO(b"1 INFO first run\n"))
    assert console.wait_for_line("first", timeout=0) == "1 INFO first run"
    console.begin()
    console.copy(io.BytesIO(b"1 INFO second run\n"))
    assert console.wait_for_line("run", timeout=0) == "1 INFO second run"
    with pytest.raises(DutError, match="no DUT console line matching 'first' within 0.1 s") as info:
        console.wait_for_line("first", timeout=0.1)
    assert "1 INFO second run" in str(info.value) and str(console.log_path) in str(info.value)
    assert console.lines() == ["1 INFO first run", "1 INFO second run"]


def test_uptime_is_mapped_from_the_earliest_possible_start(tmp_path):
    console = _console(tmp_path)
    with pytest.raises(DutError, match="SIM-0009 has printed no console line yet"):
        console.uptime_of(time.monotonic())
    console.copy(io.BytesIO(b"500 INFO a\n"))  # 500 ms of device time had passed when it arrived
    arrived = time.monotonic()
    assert console.uptime_of(arrived) >= 500
    assert console.uptime_of(arrived + 1.0) - console.uptime_of(arrived) == pytest.approx(1000.0)
    # a device clock running ten times real time: a real second later is ten device seconds later
    assert console.uptime_of(arrived + 1.0, 10.0) - console.uptime_of(arrived, 10.0) == pytest.approx(10_000.0)

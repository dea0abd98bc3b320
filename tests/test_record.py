"""The record of a run: measurements judged against their limits, the record as data and back, the DUT's
identity as the DUT gives it."""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from rig.bench import load_bench
from rig.checks import Check, InterfaceSummary, Outcome
from rig.netutil import free_port
from rig.record import SCHEMA, Measurement, Record, read_dut_identity, record_of_run, run_measurements
from rig.runner import RunResult
from rig.stream_result import StreamResult


@pytest.mark.parametrize("measurement, outcome", [
    (Measurement("n", 5, "frames"), "unset"),
    (Measurement("n", None, "frames"), "unset"),
    (Measurement("n", 5, "frames", low=1), "pass"),
    (Measurement("n", 0, "frames", low=1), "fail"),
    (Measurement("n", 300.0, "ms", high=300.0), "pass"),  # limits are inclusive
    (Measurement("n", 300.1, "ms", high=300.0), "fail"),
    (Measurement("n", 2, "frames", low=1, high=3), "pass"),
    (Measurement("n", 4, "frames", low=1, high=3), "fail"),
    (Measurement("n", 5, "frames", expected=5), "pass"),
    (Measurement("n", 6, "frames", expected=5), "fail"),  # no tolerance: exactly
    (Measurement("n", 229.5, "V", expected=230, tolerance=0.5), "pass"),
    (Measurement("n", 229.4, "V", expected=230, tolerance=0.5), "fail"),
    (Measurement("n", None, "frames", expected=5), "fail"),  # not measured: nothing shows it within
])
def test_a_measurement_is_judged_against_its_limits(measurement: Measurement, outcome: str) -> None:
    assert measurement.judge().outcome == outcome


def _result(**stream: object) -> RunResult:
    result = RunResult(meter="kaifa-ma304h4", speed=4, start="2024-10-01T19:00:12", duration_s=4, frames_sent=0,
                       frames_by_list={}, dut_counters={}, run_dir=None,
                       interfaces={name: InterfaceSummary(name) for name in ("http", "modbus", "mqtt")})
    checks = [Check("http", 0, Outcome.PASS, 0.004), Check("http", 1, Outcome.PASS, 0.7),
              Check("modbus", 0, Outcome.PASS, 0.01), Check("mqtt", 0, Outcome.FAIL, detail="no message")]
    result.absorb(StreamResult([], checks, {"frames_ok": 2, "checksum_errors": 2},
                               Counter({"frames_ok": 2, "checksum_errors": 1}), **stream))  # type: ignore[arg-type]
    result.frames_sent = 2
    result.real_time_s = 3.456
    return result


def test_the_measurements_of_a_run_carry_units_limits_and_outcomes() -> None:
    by_name = {m.name: m for m in run_measurements(_result(), interval_s=2.0)}
    assert (by_name["frames_sent"].value, by_name["frames_sent"].outcome) == (2, "pass")
    assert (by_name["frames_decoded"].expected, by_name["frames_decoded"].outcome) == (2, "pass")
    errors = by_name["checksum_errors"]
    assert (errors.value, errors.expected, errors.unit, errors.outcome) == (2, 1, "frames", "fail")
    assert "framing_errors" not in by_name  # neither expected nor counted
    # at speed x4 a 2 s frame interval is 500 ms real: a value must show within 600 ms
    assert by_name["http.latency_p50"].high == 600.0 and by_name["http.latency_p50"].outcome == "pass"
    assert (by_name["http.latency_max"].value, by_name["http.latency_max"].outcome) == (700.0, "fail")
    assert by_name["mqtt.failed"].outcome == "fail" and by_name["modbus.failed"].outcome == "pass"
    assert "mqtt.latency_p50" not in by_name  # nothing was timed
    assert by_name["real_time_s"].value == 3.46 and by_name["real_time_s"].outcome == "unset"
    assert all(m.unit and m.outcome in ("pass", "fail", "unset") for m in by_name.values())


def test_counters_that_could_not_be_read_fail_as_unknown() -> None:
    by_name = {m.name: m for m in run_measurements(_result(counters_error="refused"), interval_s=2.0)}
    assert (by_name["frames_decoded"].value, by_name["frames_decoded"].outcome) == (None, "fail")
    assert (by_name["checksum_errors"].value, by_name["checksum_errors"].outcome) == (None, "fail")


def test_a_record_is_data_and_comes_back_from_it(tmp_path: Path) -> None:
    result = _result()
    result.run_dir = tmp_path
    (tmp_path / "dut.log").write_text("console\n")
    identity = {"serial": "SIM-0042", "model": "HAN-X", "firmware": "2.3.4"}
    record = record_of_run(result, load_bench(), 2.0, identity, started="2024-10-01T17:00:00.000+00:00",
                           ended="2024-10-01T17:00:03.456+00:00")
    data = json.loads(json.dumps(record.as_dict()))
    assert list(data) == ["schema", "id", "kind", "name", "verdict", "started", "ended", "duration_s", "dut", "rig",
                          "station", "meter", "measurements", "failures", "links"]
    assert data["schema"] == SCHEMA and len(data["id"]) == 32 and data["kind"] == "run"
    assert data["verdict"] == "fail" == result.verdict and data["duration_s"] == 3.46
    assert data["dut"] == {"serial": "SIM-0042", "model": "HAN-X", "firmware": "2.3.4", "kind": "software"}
    assert data["station"]["bench"] == "sim" and data["station"]["bench_file"].endswith("sim.toml")
    assert data["meter"] == {"profile": "kaifa-ma304h4", "capture": None, "speed": 4, "start": "2024-10-01T19:00:12",
                             "duration_s": 4}
    assert data["rig"]["version"]
    assert [f["interface"] for f in data["failures"]] == ["mqtt"]
    assert data["links"] == {"run_dir": str(tmp_path), "logs": {"dut.log": str(tmp_path / "dut.log")}}
    assert set(data["measurements"][0]) == {"name", "value", "unit", "low", "high", "expected", "tolerance",
                                            "outcome"}
    again = Record.from_dict(data)
    assert again == record and again.as_dict() == data
    with pytest.raises(ValueError, match="not a han-rig-record/1 record"):
        Record.from_dict({**data, "schema": "other/1"})


def test_without_its_identity_the_record_names_the_bench_serial_and_no_model() -> None:
    record = record_of_run(_result(), load_bench())
    assert record.dut == {"serial": "SIM-0001", "model": None, "firmware": None, "kind": "software"}


@pytest.fixture
def reader_api() -> Iterator[str]:
    """A loopback HTTP server answering /han without a model and /configuration with one."""
    answers = {"/han": {"type": "HAN_STATE_MESSAGE", "serial": "B-7", "version": "9.8.7", "model": None},
               "/configuration": {"device": {"serial": "B-7", "model": "HAN-BOARD"}}}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            body = json.dumps(answers[self.path]).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_the_dut_names_its_firmware_and_model(reader_api: str) -> None:
    assert read_dut_identity(reader_api) == {"serial": "B-7", "model": "HAN-BOARD", "firmware": "9.8.7"}


def test_an_unreachable_dut_gives_no_identity() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    assert read_dut_identity(url, timeout=0.5) == {"serial": None, "model": None, "firmware": None}

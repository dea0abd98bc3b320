"""The outputs of a run: each writes its artefact from the run's record, the store gets the record dict."""

from __future__ import annotations

import json
import sys
import types
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

import pytest

from rig.bench import load_bench
from rig.checks import Check, InterfaceSummary, Outcome
from rig.outputs import OUTPUTS, Destination, write_outputs
from rig.outputs import store as store_output
from rig.outputs.text import format_summary
from rig.record import Record, record_of_run
from rig.runner import RunResult
from rig.stream_result import StreamResult


def _run(run_dir: Path, **stream: object) -> tuple[Record, RunResult]:
    result = RunResult(meter="kaifa-ma304h4", speed=4, start="2024-10-01T19:00:12", duration_s=4, frames_sent=0,
                       frames_by_list={}, dut_counters={}, run_dir=run_dir,
                       interfaces={name: InterfaceSummary(name) for name in ("http", "modbus", "mqtt")})
    checks = [Check("http", 0, Outcome.PASS, 0.004), Check("modbus", 0, Outcome.PASS, 0.01),
              Check("mqtt", 0, Outcome.FAIL, detail="no message received")]
    result.absorb(StreamResult([], checks, {"frames_ok": 1}, Counter({"frames_ok": 1}), **stream))  # type: ignore[arg-type]
    result.frames_sent, result.frames_by_list = 1, {1: 1}
    identity = {"serial": "SIM-0001", "model": "HAN-RIG-SW", "firmware": "0.1.0"}
    return record_of_run(result, load_bench(), 2.0, identity), result


def test_every_output_writes_its_file_from_the_record(tmp_path: Path) -> None:
    record, result = _run(tmp_path)
    done = {w.output: w for w in write_outputs(record, result, Destination(tmp_path))}
    assert set(done) == {"text", "summary", "record", "junit", "store"} and len(OUTPUTS) == 5
    assert done["store"].path is None and done["store"].note == "not stored (no database given)"
    text = (tmp_path / "summary.txt").read_text()
    assert text == format_summary(result, record) + "\n"
    assert text.startswith(f"DUT SIM-0001: HAN-RIG-SW, firmware 0.1.0 (software DUT on bench sim); record {record.id}\n"
                           "meter kaifa-ma304h4, 4 s of meter time from 2024-10-01T19:00:12")
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary == {**json.loads(json.dumps(result.as_dict())), "record_id": record.id}
    assert Record.from_dict(json.loads((tmp_path / "record.json").read_text())) == record


def test_junit_has_a_failing_testcase_per_failing_interface_with_measurements_as_properties(tmp_path: Path) -> None:
    record, result = _run(tmp_path)
    write_outputs(record, result, Destination(tmp_path), outputs=("rig.outputs.junit",))
    suite = ET.parse(tmp_path / "junit.xml").getroot().find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("4", "1", "0")
    suite_props = {p.get("name"): p.get("value") for p in suite.findall("properties/property")}
    assert suite_props["dut_firmware"] == "0.1.0" and suite_props["record_id"] == record.id
    cases = {case.get("name"): case for case in suite.findall("testcase")}
    assert list(cases) == ["counters", "http", "modbus", "mqtt"]
    props = {p.get("name"): p.get("value") for p in cases["http"].findall("properties/property")}
    assert props["http.passed"] == "1" and props["http.latency_p50"] == "4.0"
    assert props["http.latency_p50.judged"] == "pass (ms; high 600.0)"
    failure = cases["mqtt"].find("failure")
    assert failure is not None and failure.get("message") == "mqtt.failed: 1 checks"
    assert "no message received" in (failure.text or "")
    assert cases["http"].find("failure") is None and cases["counters"].find("failure") is None


def test_junit_of_a_stopped_stream_errors_and_of_an_interrupted_run_skips(tmp_path: Path) -> None:
    record, result = _run(tmp_path, error="the DUT exited after 1 of 3 writes")
    result.interrupted = "SIGINT"
    write_outputs(record, result, Destination(tmp_path), outputs=("rig.outputs.junit",))
    cases = {c.get("name"): c for c in ET.parse(tmp_path / "junit.xml").getroot().iter("testcase")}
    error = cases["counters"].find("error")
    assert error is not None and error.get("message") == "the DUT exited after 1 of 3 writes"
    assert cases["http"].find("skipped") is not None and cases["mqtt"].find("failure") is not None


@pytest.fixture
def fake_store(monkeypatch: pytest.MonkeyPatch) -> list[tuple[dict, str]]:
    saved: list[tuple[dict, str]] = []
    module = types.ModuleType("fake_results_store")

    def save_record(record: dict, url: str) -> None:
        if url == "broken://":
            raise RuntimeError("database is locked")
        saved.append((record, url))

    module.save_record = save_record  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "fake_results_store", module)
    monkeypatch.setattr(store_output, "STORE_MODULE", "fake_results_store")
    return saved


def test_the_store_gets_the_record_dict_and_a_failure_to_store_is_a_note(
        tmp_path: Path, fake_store: list[tuple[dict, str]]) -> None:
    record, result = _run(tmp_path)
    (written,) = write_outputs(record, result, Destination(tmp_path, "sqlite:///x.sqlite"), ("rig.outputs.store",))
    assert written.note == "stored in sqlite:///x.sqlite"
    assert fake_store == [(record.as_dict(), "sqlite:///x.sqlite")]
    (written,) = write_outputs(record, result, Destination(tmp_path, "broken://"), ("rig.outputs.store",))
    assert written.describe() == "store: failed to store in broken://: RuntimeError: database is locked"


def test_without_a_results_store_the_store_output_skips(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store_output, "STORE_MODULE", "rig.no_such_package.store")
    record, result = _run(tmp_path)
    (written,) = write_outputs(record, result, Destination(tmp_path, "sqlite:///x.sqlite"), ("rig.outputs.store",))
    assert written.note == "skipped: this rig has no results store"

"""`rig eol` as the operator and CI run it: serial numbers scanned on standard input, a big verdict per unit,
the failing measurement named, JSON records, the exit code."""

from __future__ import annotations

import json

from click.testing import CliRunner

from rig.cli import main
from rig.cli_eol import big, verdict_lines
from rig.record import Measurement, Record


def test_scanned_serials_on_stdin_give_json_records(tmp_path) -> None:
    db = f"sqlite:///{tmp_path / 'r.sqlite'}"
    result = CliRunner().invoke(main, ["eol", "--slots", "1", "--serials", "-", "--json", "--db", db,
                                       "--run-dir", str(tmp_path / "run")], input="SCAN-0042\nq\nSCAN-0043\n")
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in result.output.splitlines()]
    assert [(r["dut"]["serial"], r["verdict"], r["kind"]) for r in records] == [("SCAN-0042", "pass", "eol")]


def test_a_faulty_unit_fails_with_its_measurement_named(tmp_path) -> None:
    result = CliRunner().invoke(main, ["eol", "--slots", "1", "--units", "1", "--yes", "--faulty",
                                       "EOL-0001=overdraw", "--db", f"sqlite:///{tmp_path / 'r.sqlite'}",
                                       "--run-dir", str(tmp_path / "run")])
    assert result.exit_code == 1, result.output
    assert "slot 1  EOL-0001  FAIL" in result.output and big("FAIL")[4] in result.output
    failed = [line.split()[1] for line in result.output.splitlines() if line.startswith("  FAILED")]
    assert failed == ["current.idle", "current.peak"]
    assert "1 units on 1 slot(s)" in result.output and "0 passed, 1 failed" in result.output


def test_bad_options_are_refused() -> None:
    runner = CliRunner()
    assert "SERIAL=KIND" in runner.invoke(main, ["eol", "--faulty", "nonsense", "--yes"]).output
    assert "the bench has 4 slot(s)" in runner.invoke(main, ["eol", "--slots", "9", "--yes"]).output
    assert "cannot read" in runner.invoke(main, ["eol", "--serials", "/no/such/file", "--yes"]).output


def test_verdict_lines() -> None:
    record = Record("fail", "", "", 1.5, {"serial": "S-1"}, {"slot": 2, "skipped": {"led.colours": "no camera"}}, {},
                    measurements=[Measurement("current.idle", 25.0, "mA", high=20.833).judge(),
                                  Measurement("boot.time", 80.0, "ms", high=3000).judge()])
    lines = verdict_lines(record)
    assert lines[1].startswith("slot 2  S-1  FAIL")
    assert any("FAILED current.idle" in line and "25.0 mA" in line and "<= 20.833" in line for line in lines)
    assert not any("boot.time" in line for line in lines)
    assert any("skipped led.colours: no camera" in line for line in lines)

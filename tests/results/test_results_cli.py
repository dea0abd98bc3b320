"""`rig results` on a real SQLite file and a real PostgreSQL database: the same answers on both."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from rig.cli import main
from rig.netutil import free_port
from rig.results.store import save_record
from tests.results.records import sample_records


def rig(*args: str) -> str:
    result = CliRunner().invoke(main, ["results", *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture(scope="module")
def records() -> list[dict]:
    return sample_records()


def _fill(url: str, records: list[dict]) -> str:
    for record in records:
        save_record(record, url)
    return url


def test_list_export_yield_failures_agree_on_sqlite_and_postgresql(sqlite_url: str, pg_url: str,
                                                                    records: list[dict]) -> None:
    answers = []
    for url in (_fill(sqlite_url, records), _fill(pg_url, records)):
        answers.append({args: rig(*args, "--db", url) for args in (
            ("list",), ("list", "--json"), ("list", "--verdict", "fail", "--since", "2024-05-02"),
            ("export",), ("export", "--format", "csv"), ("yield",), ("yield", "--json"),
            ("failures",), ("failures", "--json"))})
    assert answers[0] == answers[1]
    out = answers[0]
    lines = out[("list",)].splitlines()
    assert lines[0].split() == ["started", "verdict", "DUT", "serial", "firmware", "meter", "failures"]
    assert lines[1].split() == ["2024-05-03", "08:00:00Z", "pass", "A1", "1.4.2", "aidon-6534", "0"]
    assert lines[5].split() == ["2024-05-01", "12:00:00Z", "fail", "C3", "1.4.2", "captures/kaifa-ma304.hex", "2"]
    assert len(lines) == 1 + len(records)
    assert out[("list", "--verdict", "fail", "--since", "2024-05-02")].splitlines()[1:] == [
        "2024-05-02 23:15:00Z  fail     D4          1.4.2     aidon-6534  3"]
    assert [json.loads(line) for line in out[("list", "--json")].splitlines()][-1] == records[0]
    exported = json.loads(out[("export",)])
    assert sorted(exported, key=lambda r: r["id"]) == sorted(records, key=lambda r: r["id"])
    assert out[("yield",)].splitlines() == [
        "day         units  passed  yield %",
        "2024-05-01  3      2       66.7",
        "2024-05-02  2      1       50.0",
        "2024-05-03  1      1       100.0"]
    assert json.loads(out[("yield", "--json")].splitlines()[0]) == \
        {"day": "2024-05-01", "units": 3, "passed": 2, "yield_pct": 66.7}
    assert out[("failures",)].splitlines()[:3] == [
        "check            failures  runs  units",
        "mqtt.p_import_w  3         2     2",
        "voltage_l1       2         2     2"]
    assert len(out[("failures", "--json")].splitlines()) == 5


def test_csv_export_has_one_row_per_measurement(sqlite_url: str, records: list[dict], tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    result = CliRunner().invoke(main, ["results", "export", "--db", _fill(sqlite_url, records), "--format", "csv",
                                       "-o", str(target), "--serial", "A1"])
    assert result.exit_code == 0, result.output
    assert "3 run(s) written to" in result.output
    rows = list(csv.DictReader(io.StringIO(target.read_text())))
    assert [(r["dut_serial"], r["started"], r["name"], r["value"], r["outcome"]) for r in rows] == [
        ("A1", "2024-05-01T10:00:00+00:00", "voltage_l1", "251.0", "fail"),
        ("A1", "2024-05-01T10:00:00+00:00", "banner", "HAN-R2 1.4.2", "pass"),
        ("A1", "2024-05-01T11:00:00Z", "voltage_l1", "231.0", "pass"),
        ("A1", "2024-05-03T08:00:00Z", "voltage_l1", "230.5", "pass")]
    assert rows[0]["failures"] == "1" and rows[0]["verdict"] == "fail" and rows[0]["meter_profile"] == "aidon-6534"


def test_the_default_store_is_reports_results_sqlite(tmp_path: Path, records: list[dict],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    save_record(records[0], "sqlite:///reports/results.sqlite")
    assert (tmp_path / "reports" / "results.sqlite").is_file()
    assert "A1" in rig("list")


@pytest.mark.parametrize("db, reason", [
    ("nonsense", "not a database URL: 'nonsense'"),
    ("oracle://u@127.0.0.1/db", "unsupported database 'oracle'"),
    ("sqlite:///{tmp}/none.sqlite", "no results store at"),
    ("postgresql+psycopg://rig@127.0.0.1:{port}/results", "cannot reach the results store"),
])
@pytest.mark.parametrize("command", ["list", "export", "yield", "failures"])
def test_a_bad_or_unreachable_store_is_a_usage_error_about_db(command: str, db: str, reason: str,
                                                              tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["results", command, "--db", db.format(tmp=tmp_path, port=free_port())])
    assert result.exit_code == 2, result.output
    assert "Invalid value for '--db'" in result.output and reason in result.output
    assert "Traceback" not in result.output and isinstance(result.exception, SystemExit)

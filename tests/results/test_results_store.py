"""The results store on a real SQLite file and a real PostgreSQL server: the same records, the same answers."""

from __future__ import annotations

import sqlite3
from datetime import UTC, date, datetime
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa

from rig.results.store import (
    FAILURES_BY_CHECK_SQL,
    YIELD_PER_DAY_SQL,
    StoreError,
    failures_by_check,
    list_records,
    measurement_series,
    open_store,
    save_record,
    yield_per_day,
)
from tests.results.records import make_record, measurement, sample_records

YIELD = [
    {"day": date(2024, 5, 1), "units": 3, "passed": 2, "yield_pct": 66.7},
    {"day": date(2024, 5, 2), "units": 2, "passed": 1, "yield_pct": 50.0},
    {"day": date(2024, 5, 3), "units": 1, "passed": 1, "yield_pct": 100.0},
]
FAILURES = [
    {"check": "mqtt.p_import_w", "failures": 3, "runs": 2, "units": 2},
    {"check": "voltage_l1", "failures": 2, "runs": 2, "units": 2},
    {"check": "http.missing", "failures": 1, "runs": 1, "units": 1},
    {"check": "latency_p95", "failures": 1, "runs": 1, "units": 1},
    {"check": "mqtt.u_l1_v", "failures": 1, "runs": 1, "units": 1},
]


@pytest.fixture
def filled(store_url: str) -> tuple[str, list[dict]]:
    records = sample_records()
    for record in records:
        save_record(record, store_url)
    return store_url, records


def _counts(url: str) -> dict[str, int]:
    with open_store(url).connect() as conn:
        return {t: conn.execute(sa.text(f"SELECT COUNT(*) FROM {t}")).scalar_one()
                for t in ("runs", "measurements", "failures")}


def test_migrations_create_the_schema_from_empty(store_url: str) -> None:
    url = sa.make_url(store_url)
    if url.get_backend_name() == "sqlite":
        assert not Path(url.database).parent.exists()
    engine = open_store(store_url)
    inspector = sa.inspect(engine)
    assert {"runs", "measurements", "failures", "alembic_version"} <= set(inspector.get_table_names())
    indexed = {(t, tuple(i["column_names"])) for t in ("runs", "measurements", "failures")
               for i in inspector.get_indexes(t)}
    assert {("runs", ("started",)), ("runs", ("dut_serial",)), ("runs", ("day",)),
            ("measurements", ("name",)), ("failures", ("check_name",))} <= indexed
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar_one() == "0001"
    assert _counts(store_url) == {"runs": 0, "measurements": 0, "failures": 0}


def test_records_come_back_exactly_as_saved(filled: tuple[str, list[dict]]) -> None:
    url, records = filled
    by_start = sorted(records, key=lambda r: datetime.fromisoformat(r["started"].replace("Z", "+00:00")))
    assert list_records(url, oldest_first=True) == by_start
    assert list_records(url) == by_start[::-1]
    assert list_records(url, limit=2) == by_start[::-1][:2]
    assert [r["dut"]["serial"] for r in list_records(url, serial="A1", oldest_first=True)] == ["A1"] * 3
    assert {r["verdict"] for r in list_records(url, verdict="interrupted")} == {"interrupted"}
    # D4 started 2024-05-02T23:15Z: a day's start is midnight UTC.
    assert [r["dut"]["serial"] for r in list_records(url, since=date(2024, 5, 2), oldest_first=True)] == \
        ["B2", "C3", "D4", "A1"]
    assert len(list_records(url, since="2024-05-02T23:00:00+00:00")) == 2
    assert list_records(url, since=datetime(2024, 5, 4, tzinfo=UTC)) == []


def test_saving_a_record_twice_stores_it_once(filled: tuple[str, list[dict]]) -> None:
    url, records = filled
    before = _counts(url)
    assert before == {"runs": 8, "measurements": 9, "failures": 5}
    for record in records[:3]:
        save_record(record, url)
    save_record(dict(records[0], verdict="pass"), url)  # same id: the first save stands
    assert _counts(url) == before
    assert list_records(url, serial="A1", oldest_first=True)[0] == records[0]


def test_yield_per_day(filled: tuple[str, list[dict]]) -> None:
    assert yield_per_day(filled[0]) == YIELD


def test_failures_by_check(filled: tuple[str, list[dict]]) -> None:
    assert failures_by_check(filled[0]) == FAILURES


def test_measurement_series_shows_drift_in_time_order(filled: tuple[str, list[dict]]) -> None:
    url = filled[0]
    series = measurement_series(url, "voltage_l1")
    assert [v for _, v in series] == [251.0, 229.5, 231.0, 230.0, 228.0, 260.25, 230.5]
    assert series[5][0] == datetime(2024, 5, 2, 23, 15, tzinfo=UTC)
    assert measurement_series(url, "voltage_l1", serial="A1") == [
        (datetime(2024, 5, 1, 10, tzinfo=UTC), 251.0), (datetime(2024, 5, 1, 11, tzinfo=UTC), 231.0),
        (datetime(2024, 5, 3, 8, tzinfo=UTC), 230.5)]
    assert [v for _, v in measurement_series(url, "banner")] == ["HAN-R2 1.4.2"]
    assert [v for _, v in measurement_series(url, "latency_p95")] == [None]
    assert measurement_series(url, "no such") == []


def test_the_documented_sql_runs_on_the_database_itself(filled: tuple[str, list[dict]]) -> None:
    """The README's SQL, run by the database's own driver (no SQLAlchemy), gives the same answers."""
    url = sa.make_url(filled[0])
    if url.get_backend_name() == "sqlite":
        conn = sqlite3.connect(url.database)
    else:
        conn = psycopg.connect(host=url.host, port=url.port, user=url.username, dbname=url.database)
    with conn:
        days = conn.execute(YIELD_PER_DAY_SQL).fetchall()
        checks = conn.execute(FAILURES_BY_CHECK_SQL).fetchall()
    conn.close()
    assert [(str(d), u, p, float(y)) for d, u, p, y in days] == [
        (str(y["day"]), y["units"], y["passed"], y["yield_pct"]) for y in YIELD]
    assert [tuple(c) for c in checks] == [tuple(f.values()) for f in FAILURES]


def test_a_store_with_one_record_of_each_value_kind(store_url: str) -> None:
    record = make_record("E5", "2024-06-01T00:00:00Z", "pass",
                         [measurement("int", 3, expected=3, tolerance=0), measurement("flag", "yes", expected="yes"),
                          measurement("none", None, "unset")])
    save_record(record, store_url)
    assert list_records(store_url) == [record]
    with open_store(store_url).connect() as conn:
        rows = conn.execute(sa.text("SELECT name, value, value_text, expected FROM measurements ORDER BY seq")).all()
    assert [tuple(r) for r in rows] == [("int", 3.0, None, "3"), ("flag", None, "yes", "yes"),
                                        ("none", None, None, None)]


@pytest.mark.parametrize("url, reason", [
    ("not a url", "not a database URL"),
    ("mysql://u@127.0.0.1/db", "unsupported database 'mysql'"),
    ("postgresql+psycopg2://u@127.0.0.1/db", "cannot use postgresql+psycopg2://u@127.0.0.1/db"),
])
def test_bad_urls_are_a_store_error(url: str, reason: str) -> None:
    with pytest.raises(StoreError, match=reason.replace("+", r"\+")):
        open_store(url)


def test_an_unreachable_server_is_a_store_error_without_the_password() -> None:
    from rig.netutil import free_port

    port = free_port()
    with pytest.raises(StoreError, match=f"cannot reach the results store .*127.0.0.1:{port}.*refused") as err:
        open_store(f"postgresql://rig:secret@127.0.0.1:{port}/results")
    assert "secret" not in str(err.value)

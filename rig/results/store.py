"""The results store: one row per run record, with its measurements and failures, in SQLite or PostgreSQL.

One schema serves both databases (SQLAlchemy Core); alembic creates and migrates it on first use. Each run
keeps its full record as JSON, so nothing is lost and an export gives back exactly what was saved. The two
factory queries (yield per day, failures by check) are plain SQL, the same text the README documents.
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.engine import URL, Engine, make_url

from rig.results import DEFAULT_URL

MIGRATIONS = Path(__file__).with_name("migrations")

metadata = sa.MetaData()
runs = sa.Table(
    "runs", metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("schema", sa.String(64)), sa.Column("kind", sa.String(32)), sa.Column("verdict", sa.String(16)),
    sa.Column("started", sa.DateTime(timezone=True)), sa.Column("ended", sa.DateTime(timezone=True)),
    sa.Column("day", sa.Date), sa.Column("duration_s", sa.Float),
    sa.Column("dut_serial", sa.String(128)), sa.Column("dut_model", sa.String(128)),
    sa.Column("dut_firmware", sa.String(128)), sa.Column("dut_kind", sa.String(64)),
    sa.Column("rig_version", sa.String(64)),
    sa.Column("bench", sa.String(128)), sa.Column("station", sa.String(128)), sa.Column("bench_file", sa.Text),
    sa.Column("meter_profile", sa.String(128)), sa.Column("meter_capture", sa.Text),
    sa.Column("meter_speed", sa.Float), sa.Column("meter_start", sa.String(64)),
    sa.Column("meter_duration_s", sa.Float),
    sa.Column("run_dir", sa.Text), sa.Column("record", sa.JSON),
)
measurements = sa.Table(
    "measurements", metadata,
    sa.Column("run_id", sa.String(32), primary_key=True), sa.Column("seq", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(256)), sa.Column("value", sa.Float), sa.Column("value_text", sa.Text),
    sa.Column("unit", sa.String(32)), sa.Column("low", sa.Float), sa.Column("high", sa.Float),
    sa.Column("expected", sa.Text), sa.Column("tolerance", sa.Float), sa.Column("outcome", sa.String(16)),
)
failures = sa.Table(
    "failures", metadata,
    sa.Column("run_id", sa.String(32), primary_key=True), sa.Column("seq", sa.Integer, primary_key=True),
    sa.Column("failure", sa.Integer), sa.Column("check_name", sa.String(256)),
    sa.Column("frame", sa.Integer), sa.Column("interface", sa.String(64)), sa.Column("outcome", sa.String(64)),
    sa.Column("latency_ms", sa.Float), sa.Column("field", sa.String(128)),
    sa.Column("sent", sa.Text), sa.Column("published", sa.Text),
    sa.Column("tolerance", sa.Float), sa.Column("unit", sa.String(32)),
    sa.Column("detail", sa.Text), sa.Column("text", sa.Text),
)

# Per UTC day: the units (DUT serials) with a judged run (pass or fail; interrupted runs judge nothing), and
# how many of them passed their last judged run of that day.
YIELD_PER_DAY_SQL = """\
WITH last AS (
    SELECT day, dut_serial, verdict,
           ROW_NUMBER() OVER (PARTITION BY day, dut_serial ORDER BY started DESC) AS n
    FROM runs
    WHERE verdict IN ('pass', 'fail')
)
SELECT day,
       COUNT(*) AS units,
       SUM(CASE WHEN verdict = 'pass' THEN 1 ELSE 0 END) AS passed,
       ROUND(100.0 * SUM(CASE WHEN verdict = 'pass' THEN 1 ELSE 0 END) / COUNT(*), 1) AS yield_pct
FROM last
WHERE n = 1
GROUP BY day
ORDER BY day"""

# Every failed measurement (by its name) and every failed field of a frame (interface.field; interface.outcome
# when no field was wrong, e.g. nothing published): how often, in how many runs, on how many units.
FAILURES_BY_CHECK_SQL = """\
SELECT f.check_name,
       COUNT(*) AS failures,
       COUNT(DISTINCT f.run_id) AS runs,
       COUNT(DISTINCT r.dut_serial) AS units
FROM (
    SELECT name AS check_name, run_id FROM measurements WHERE outcome = 'fail'
    UNION ALL
    SELECT check_name, run_id FROM failures
) f
JOIN runs r ON r.id = f.run_id
GROUP BY f.check_name
ORDER BY failures DESC, f.check_name"""


class StoreError(Exception):
    """The store cannot be used: a bad URL, an unreachable server, a missing driver."""


_engines: dict[str, Engine] = {}
_lock = threading.Lock()


def parse_url(url: str) -> URL:
    """``url`` as SQLAlchemy reads it; ``postgresql://`` and ``postgres://`` mean the psycopg driver."""
    try:
        parsed = make_url(url)
    except sa.exc.ArgumentError as exc:
        raise StoreError(f"not a database URL: {url!r} (e.g. {DEFAULT_URL} or "
                         "postgresql+psycopg://user@host:5432/db)") from exc
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise StoreError(f"unsupported database {parsed.get_backend_name()!r} in {_shown(parsed)}: "
                         "use sqlite:///FILE or postgresql+psycopg://user@host:port/db")
    return parsed


def _shown(url: URL) -> str:
    return url.render_as_string(hide_password=True)


def open_store(url: str = DEFAULT_URL) -> Engine:
    """An engine on the store at ``url``, its schema created or migrated to the newest revision (once a process).

    A SQLite file's folder is created. Raises StoreError when the URL is bad or the database unreachable.
    """
    parsed = parse_url(url)
    key = parsed.render_as_string(hide_password=False)
    with _lock:
        if key in _engines:
            return _engines[key]
        if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        try:
            engine = sa.create_engine(parsed, connect_args=_connect_args(parsed))
        except (sa.exc.ArgumentError, ImportError) as exc:
            raise StoreError(f"cannot use {_shown(parsed)}: {exc}") from exc
        try:
            with engine.begin() as conn:
                config = Config()
                config.set_main_option("script_location", str(MIGRATIONS))
                config.attributes["connection"] = conn
                command.upgrade(config, "head")
        except sa.exc.OperationalError as exc:
            engine.dispose()
            reason = str(exc.orig or exc).strip().splitlines()[0]
            raise StoreError(f"cannot reach the results store {_shown(parsed)}: {reason}") from exc
        _engines[key] = engine
        return engine


def _connect_args(url: URL) -> dict[str, Any]:
    return {"connect_timeout": 5} if url.get_backend_name() == "postgresql" else {}


def close_stores() -> None:
    """Dispose of every engine open_store made (their connections close)."""
    with _lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()


def _utc(text: str | None) -> datetime | None:
    if not text:
        return None
    moment = datetime.fromisoformat(text)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _num(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _run_row(record: dict) -> dict[str, Any]:
    dut, rig, station = record.get("dut") or {}, record.get("rig") or {}, record.get("station") or {}
    meter, links = record.get("meter") or {}, record.get("links") or {}
    started = _utc(record["started"])
    return {
        "id": record["id"], "schema": record.get("schema"), "kind": record.get("kind"),
        "verdict": record["verdict"], "started": started, "ended": _utc(record.get("ended")),
        "day": started.date(), "duration_s": _num(record.get("duration_s")),
        "dut_serial": _text(dut.get("serial")), "dut_model": _text(dut.get("model")),
        "dut_firmware": _text(dut.get("firmware")), "dut_kind": _text(dut.get("kind")),
        "rig_version": _text(rig.get("version")),
        "bench": _text(station.get("bench")), "station": _text(station.get("station")),
        "bench_file": _text(station.get("bench_file")),
        "meter_profile": _text(meter.get("profile")), "meter_capture": _text(meter.get("capture")),
        "meter_speed": _num(meter.get("speed")), "meter_start": _text(meter.get("start")),
        "meter_duration_s": _num(meter.get("duration_s")),
        "run_dir": _text(links.get("run_dir")), "record": record,
    }


def _measurement_rows(record: dict) -> list[dict[str, Any]]:
    rows = []
    for seq, m in enumerate(record.get("measurements") or []):
        value = m.get("value")
        rows.append({
            "run_id": record["id"], "seq": seq, "name": str(m["name"]),
            "value": _num(value), "value_text": None if value is None or _num(value) is not None else str(value),
            "unit": _text(m.get("unit")), "low": _num(m.get("low")), "high": _num(m.get("high")),
            "expected": _text(m.get("expected")), "tolerance": _num(m.get("tolerance")),
            "outcome": m.get("outcome") or "unset",
        })
    return rows


def check_name(interface: str | None, field: str | None, outcome: str | None) -> str:
    """The check a frame failure counts against: ``interface.field``, or ``interface.outcome`` without a field."""
    return ".".join(part for part in (interface, field or outcome) if part) or "unknown"


def _failure_rows(record: dict) -> list[dict[str, Any]]:
    """One row per wrong field of each failure; a failure without mismatches is one row with no field."""
    rows: list[dict[str, Any]] = []
    for index, f in enumerate(record.get("failures") or []):
        base = {
            "run_id": record["id"], "failure": index, "frame": _int(f.get("frame")),
            "interface": _text(f.get("interface")), "outcome": _text(f.get("outcome")),
            "latency_ms": _num(f.get("latency_ms")), "detail": _text(f.get("detail")), "text": _text(f.get("text")),
        }
        for mismatch in f.get("mismatches") or [{}]:
            field = _text(mismatch.get("field"))
            rows.append(base | {
                "seq": len(rows), "check_name": check_name(base["interface"], field, base["outcome"]),
                "field": field, "sent": _text(mismatch.get("sent")), "published": _text(mismatch.get("published")),
                "tolerance": _num(mismatch.get("tolerance")), "unit": _text(mismatch.get("unit")),
            })
    return rows


def save_record(record: dict, url: str = DEFAULT_URL) -> None:
    """Store one run record with its measurements and failures; a record whose id is stored already is skipped."""
    engine = open_store(url)
    run = _run_row(record)
    try:
        with engine.begin() as conn:
            if conn.execute(sa.select(runs.c.id).where(runs.c.id == run["id"])).first():
                return
            conn.execute(runs.insert(), run)
            if rows := _measurement_rows(record):
                conn.execute(measurements.insert(), rows)
            if rows := _failure_rows(record):
                conn.execute(failures.insert(), rows)
    except sa.exc.IntegrityError:
        # Saved by another writer between the look and the insert: it is stored once, which is what was asked.
        with engine.connect() as conn:
            if not conn.execute(sa.select(runs.c.id).where(runs.c.id == run["id"])).first():
                raise


def _since(value: str | date | datetime) -> datetime:
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    moment = _utc(value)
    assert moment is not None
    return moment


def list_records(url: str = DEFAULT_URL, since: str | date | datetime | None = None, verdict: str | None = None,
                 serial: str | None = None, limit: int | None = None, oldest_first: bool = False) -> list[dict]:
    """The stored records (exactly as saved), newest first unless ``oldest_first``, filtered as given.

    ``since`` is a UTC moment or day (naive means UTC); ``limit`` None means all.
    """
    query = sa.select(runs.c.record)
    if since is not None:
        query = query.where(runs.c.started >= _since(since))
    if verdict is not None:
        query = query.where(runs.c.verdict == verdict)
    if serial is not None:
        query = query.where(runs.c.dut_serial == serial)
    order = (runs.c.started, runs.c.id) if oldest_first else (runs.c.started.desc(), runs.c.id.desc())
    query = query.order_by(*order).limit(limit)
    with open_store(url).connect() as conn:
        return [row.record for row in conn.execute(query)]


def _day(value: date | str) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def yield_per_day(url: str = DEFAULT_URL) -> list[dict[str, Any]]:
    """Per UTC day: ``{day, units, passed, yield_pct}`` (a unit counts by its last pass/fail run of the day)."""
    with open_store(url).connect() as conn:
        rows = conn.execute(sa.text(YIELD_PER_DAY_SQL)).all()
    return [{"day": _day(r.day), "units": int(r.units), "passed": int(r.passed), "yield_pct": float(r.yield_pct)}
            for r in rows]


def failures_by_check(url: str = DEFAULT_URL) -> list[dict[str, Any]]:
    """Per check (a measurement's name, or ``interface.field`` of a frame): ``{check, failures, runs, units}``."""
    with open_store(url).connect() as conn:
        rows = conn.execute(sa.text(FAILURES_BY_CHECK_SQL)).all()
    checks = [{"check": r.check_name, "failures": int(r.failures), "runs": int(r.runs), "units": int(r.units)}
              for r in rows]
    return sorted(checks, key=lambda c: (-c["failures"], c["check"]))  # the same order whatever the collation


def measurement_series(url: str, name: str, serial: str | None = None) -> list[tuple[datetime, float | str | None]]:
    """A measurement over time (drift): ``(started, value)`` per run that measured ``name``, oldest first."""
    query = (sa.select(runs.c.started, measurements.c.value, measurements.c.value_text)
             .join(measurements, measurements.c.run_id == runs.c.id)
             .where(measurements.c.name == name)
             .order_by(runs.c.started, runs.c.id, measurements.c.seq))
    if serial is not None:
        query = query.where(runs.c.dut_serial == serial)
    with open_store(url).connect() as conn:
        return [(_since(r.started), r.value if r.value is not None else r.value_text) for r in conn.execute(query)]


def export_rows(records: list[dict]) -> tuple[list[str], list[dict[str, Any]]]:
    """CSV columns and rows: one row per measurement with its run's columns (a run without any: one row)."""
    run_cols = ["id", "started", "ended", "verdict", "duration_s", "dut_serial", "dut_model", "dut_firmware",
                "dut_kind", "rig_version", "bench", "station", "meter_profile", "meter_capture", "meter_speed",
                "meter_start", "meter_duration_s", "failures"]
    meas_cols = ["name", "value", "unit", "low", "high", "expected", "tolerance", "outcome"]
    rows = []
    for record in records:
        dut, rig, station, meter = (record.get(k) or {} for k in ("dut", "rig", "station", "meter"))
        run = {
            "id": record["id"], "started": record["started"], "ended": record.get("ended"),
            "verdict": record["verdict"], "duration_s": record.get("duration_s"),
            "dut_serial": dut.get("serial"), "dut_model": dut.get("model"), "dut_firmware": dut.get("firmware"),
            "dut_kind": dut.get("kind"), "rig_version": rig.get("version"), "bench": station.get("bench"),
            "station": station.get("station"), "meter_profile": meter.get("profile"),
            "meter_capture": meter.get("capture"), "meter_speed": meter.get("speed"),
            "meter_start": meter.get("start"), "meter_duration_s": meter.get("duration_s"),
            "failures": len(record.get("failures") or []),
        }
        for m in record.get("measurements") or [{}]:
            rows.append(run | {c: _cell(m.get(c)) for c in meas_cols})
    return run_cols + meas_cols, rows


def _cell(value: Any) -> Any:
    return json.dumps(value) if isinstance(value, dict | list) else value

"""`rig results`: the stored run records (list, export) and the factory's two queries (yield, failures)."""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Callable
from contextlib import nullcontext
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from rig.cli_inputs import bad
from rig.results import DEFAULT_URL

DB_HELP = "The results store: sqlite:///FILE or postgresql+psycopg://user@host:port/db."
VERDICTS = click.Choice(["pass", "fail", "interrupted"])


def _since(ctx: click.Context, param: click.Parameter, value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise bad("--since", f"not a date or time: {value!r} (e.g. 2024-05-01 or 2024-05-01T08:00Z; UTC)") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _db_option(func: Callable) -> Callable:
    return click.option("--db", "db", default=DEFAULT_URL, show_default=True, metavar="URL", help=DB_HELP)(func)


def _filter_options(func: Callable) -> Callable:
    func = click.option("--serial", metavar="SERIAL", help="Only this DUT (serial number).")(func)
    func = click.option("--verdict", type=VERDICTS, help="Only runs with this verdict.")(func)
    return click.option("--since", callback=_since, metavar="WHEN",
                        help="Only runs started at or after WHEN (a day or an ISO 8601 time; UTC unless given).")(func)


def _query(db: str, name: str, **kwargs: Any) -> Any:
    """``rig.results.store.<name>(db, **kwargs)``, its errors made a usage error about --db (never a traceback).

    The store (SQLAlchemy, alembic) is imported here, when needed, not when `rig` starts.
    """
    import sqlalchemy as sa

    from rig.results import store

    try:
        url = store.parse_url(db)
        if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
            if not Path(url.database).is_file():
                raise store.StoreError(f"no results store at {url.database} (no run saved there yet)")
        return getattr(store, name)(db, **kwargs)
    except store.StoreError as exc:
        raise bad("--db", str(exc)) from None
    except sa.exc.SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        raise bad("--db", f"the results store failed: {reason}") from None


def _table(headers: list[str], rows: list[list[Any]]) -> str:
    cells = [headers] + [["-" if v is None else str(v) for v in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    return "\n".join("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip() for row in cells)


def _failed_checks(record: dict) -> int:
    """The failures of a run: its frame failures and its failed measurements."""
    return len(record.get("failures") or []) + sum(m.get("outcome") == "fail" for m in record.get("measurements") or [])


def _started(record: dict) -> str:
    moment = datetime.fromisoformat(record["started"])
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%SZ")


@click.group()
def results() -> None:
    """The results store: every run's record, and the yield and failure counts over them."""


@results.command("list")
@_db_option
@_filter_options
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1), metavar="N", help="At most N runs.")
@click.option("--json", "as_json", is_flag=True, help="One record (JSON) per line.")
def list_(db: str, since: datetime | None, verdict: str | None, serial: str | None, limit: int,
          as_json: bool) -> None:
    """The stored runs, newest first."""
    records = _query(db, "list_records", since=since, verdict=verdict, serial=serial, limit=limit)
    if as_json:
        for record in records:
            click.echo(json.dumps(record))
        return
    if not records:
        click.echo("no runs stored")
        return
    rows = []
    for r in records:
        dut, meter = r.get("dut") or {}, r.get("meter") or {}
        rows.append([_started(r), r["verdict"], dut.get("serial"), dut.get("firmware"),
                     meter.get("profile") or meter.get("capture"), _failed_checks(r)])
    click.echo(_table(["started", "verdict", "DUT serial", "firmware", "meter", "failures"], rows))


@results.command()
@_db_option
@_filter_options
@click.option("--format", "fmt", type=click.Choice(["json", "csv"]), default="json", show_default=True,
              help="json: the records, as saved; csv: one row per measurement, with its run's columns.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True, path_type=Path), metavar="FILE",
              help="Write to FILE (default: standard output).")
def export(db: str, since: datetime | None, verdict: str | None, serial: str | None, fmt: str,
           output: Path | None) -> None:
    """Export the stored runs, oldest first."""
    records = _query(db, "list_records", since=since, verdict=verdict, serial=serial, oldest_first=True)
    with (output.open("w", newline="", encoding="utf-8") if output else nullcontext(sys.stdout)) as out:
        if fmt == "json":
            json.dump(records, out, indent=2)
            out.write("\n")
        else:
            from rig.results.store import export_rows

            columns, rows = export_rows(records)
            writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
    if output:
        click.echo(f"{len(records)} run(s) written to {output}", err=True)


@results.command("yield")
@_db_option
@click.option("--json", "as_json", is_flag=True, help="One JSON object per day.")
def yield_(db: str, as_json: bool) -> None:
    """Yield per UTC day: units tested, units passed (their last pass/fail run of the day), yield %."""
    days = _query(db, "yield_per_day")
    if as_json:
        for d in days:
            click.echo(json.dumps(d | {"day": d["day"].isoformat()}))
        return
    rows = [[d["day"].isoformat(), d["units"], d["passed"], f"{d['yield_pct']:.1f}"] for d in days]
    click.echo(_table(["day", "units", "passed", "yield %"], rows) if rows else "no judged runs stored")


@results.command()
@_db_option
@click.option("--json", "as_json", is_flag=True, help="One JSON object per check.")
def failures(db: str, as_json: bool) -> None:
    """Failures by check (a measurement, or interface.field of a frame), most frequent first."""
    checks = _query(db, "failures_by_check")
    if as_json:
        for c in checks:
            click.echo(json.dumps(c))
        return
    rows = [[c["check"], c["failures"], c["runs"], c["units"]] for c in checks]
    click.echo(_table(["check", "failures", "runs", "units"], rows) if rows else "no failures stored")

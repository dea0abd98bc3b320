"""Parsing and lookups shared by the `rig` commands (durations, times, benches, profiles, run folders)."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

import click

from rig.bench import BenchError, load_bench

REPORTS = Path("reports")


def parse_duration(text: str) -> float:
    """'90', '90s', '2m', '1h', '1h30m' -> seconds."""
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return float(text)
    parts = re.findall(r"(\d+(?:\.\d+)?)([hms])", text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise click.BadParameter(f"{text!r} is not a duration like 90s, 2m, 1h or 1h30m")
    return sum(float(n) * {"h": 3600, "m": 60, "s": 1}[u] for n, u in parts)


def parse_time(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise click.BadParameter(f"{text!r} is not an ISO time like 2024-10-01T19:00:00") from exc
    if value.tzinfo is not None:
        raise click.BadParameter("give the meter's local wall-clock time, without an offset")
    return value


def run_dir_for(kind: str, label: str) -> Path:
    return REPORTS / f"{datetime.now():%Y%m%d-%H%M%S}-{kind}-{label}"


def load_bench_or_exit(path: str | None):
    try:
        return load_bench(path)
    except BenchError as exc:
        raise click.ClickException(str(exc)) from exc


def profile_or_exit(meter_id: str):
    from rig.emulators import get_profile

    try:
        return get_profile(meter_id)
    except KeyError as exc:
        raise click.ClickException(str(exc.args[0]) if exc.args else f"unknown meter {meter_id}") from exc

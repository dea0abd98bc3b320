"""Lookups shared by the `rig` commands (benches, profiles, run folders); input checks are in rig.cli_inputs."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click

REPORTS = Path("reports")


def run_dir_for(kind: str, label: str) -> Path:
    """A new run folder under reports/: ``<YYYYmmdd-HHMMSS>-<kind>-<label>``."""
    return REPORTS / f"{datetime.now():%Y%m%d-%H%M%S}-{kind}-{label}"


def load_bench_or_exit(path: str | None):
    """The bench of ``path`` (None: the software DUT's); a click error saying why it cannot be read."""
    from rig.bench import BenchError, load_bench  # here, not at the top: the schema library loads only when needed

    try:
        return load_bench(path)
    except BenchError as exc:
        raise click.ClickException(str(exc)) from exc


def profile_or_exit(meter_id: str):
    """The meter profile ``meter_id``; a click error naming the known ids otherwise."""
    from rig.emulators import get_profile

    try:
        return get_profile(meter_id)
    except KeyError as exc:
        raise click.ClickException(str(exc.args[0]) if exc.args else f"unknown meter {meter_id}") from exc

"""The runs a regression report compares: the same job on two firmware builds, or two sets of stored runs.

:func:`run_builds` runs one job (the same meters, seed, start, duration and speed) ``repeat`` times on
each build on the software DUT, base and head in turn (so a drift of the host's load touches both
alike), each run in a folder of its own under the report's folder. :func:`stored_records` reads runs
back from the results store by id. :func:`latency_samples` reads every latency a run's interfaces
showed from its ``checks.jsonl``, for the plots.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from rig.bench import Bench
from rig.dut.firmware_tree import FirmwareBuild

SIDES = ("base", "head")


@dataclass
class RegressJob:
    """What both builds run: each meter ``repeat`` times per build, from one start."""

    bench: Bench
    out_dir: Path
    builds: dict[str, FirmwareBuild]  # "base" and "head"
    meters: Sequence[str]
    duration_s: float = 60.0
    speed: float = 1.0
    seed: int = 1
    start: datetime | None = None
    repeat: int = 2
    db_url: str | None = None
    records: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: {s: [] for s in SIDES})


@dataclass
class RunDone:
    """A progress event: a run started (``record`` None) or ended."""

    side: str
    index: int  # 1-based, within the side
    total: int  # runs per side
    meter: str
    run_dir: Path
    record: dict[str, Any] | None = None
    error: str | None = None


def run_builds(job: RegressJob, progress: Callable[[RunDone], None] | None = None) -> dict[str, list[dict[str, Any]]]:
    """Run the job on both builds; the records per side ("base", "head"). A run that could not run at all
    (a ValueError: nothing started) raises; a run that failed keeps its record, as every run does."""
    from rig.runner import RunOptions, default_start, run

    start = job.start or default_start()  # one start for every run: both builds see the same frames
    total = job.repeat * len(job.meters)
    count = {s: 0 for s in SIDES}
    for n in range(1, job.repeat + 1):
        for meter in job.meters:
            for side in SIDES:
                count[side] += 1
                run_dir = job.out_dir / f"{side}-{n}-{meter}"
                if progress:
                    progress(RunDone(side, count[side], total, meter, run_dir))
                result = run(RunOptions(bench=job.bench, run_dir=run_dir, meter=meter, duration_s=job.duration_s,
                                        speed=job.speed, seed=job.seed, start=start, db_url=job.db_url,
                                        firmware=job.builds[side]))
                record = result.record.as_dict() if result.record else None
                if record is not None:
                    job.records[side].append(record)
                if progress:
                    progress(RunDone(side, count[side], total, meter, run_dir, record, result.error))
                if result.interrupted:
                    raise KeyboardInterrupt(result.interrupted)
    return job.records


class StoredRunError(LookupError):
    """A stored run that cannot be found (or an id that names several)."""


def stored_records(ids: Sequence[str], url: str) -> list[dict[str, Any]]:
    """The stored records of ``ids`` (a full id or a prefix that names one run), in that order."""
    import sqlalchemy as sa

    from rig.results.store import open_store, runs

    out = []
    with open_store(url).connect() as conn:
        for run_id in ids:
            if not run_id or any(c in run_id for c in "%_"):
                raise StoredRunError(f"not a run id: {run_id!r}")
            rows = conn.execute(sa.select(runs.c.record).where(runs.c.id.like(f"{run_id}%")).limit(2)).all()
            if not rows:
                raise StoredRunError(f"no stored run {run_id!r} in the results store")
            if len(rows) > 1:
                raise StoredRunError(f"{run_id!r} names several stored runs: give more of the id")
            out.append(rows[0].record)
    return out


def latency_samples(records: Sequence[dict[str, Any]]) -> dict[str, list[float]]:
    """Every latency (ms) each interface showed in these runs, from their ``checks.jsonl`` (runs whose
    folder is gone add nothing)."""
    samples: dict[str, list[float]] = {}
    for record in records:
        run_dir = (record.get("links") or {}).get("run_dir")
        path = Path(run_dir) / "checks.jsonl" if run_dir else None
        if path is None or not path.is_file():
            continue
        with path.open(encoding="utf-8") as fh:
            for line in fh:
                try:
                    check = json.loads(line)
                except ValueError:
                    continue
                latency = check.get("latency_ms") if isinstance(check, dict) else None
                if isinstance(latency, int | float):
                    samples.setdefault(str(check.get("interface")), []).append(float(latency))
    return samples

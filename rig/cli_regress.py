"""`rig regress`: a firmware regression report, head build against base build.

Either runs one job on both builds (``--base``/``--head``: a firmware directory or a git revision) on
the software DUT, ``--repeat`` times each, or compares stored runs (``--base-run``/``--head-run``, ids
from the results store). Writes ``report.html``, ``junit.xml`` and ``regression.json`` into the report
folder and prints a short summary. Exit status 0: no regression; 1: a regression; 2: a usage error;
3: the runs could not be made or read.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import click

from rig.cli_common import load_bench_or_exit, run_dir_for
from rig.cli_inputs import (
    DURATION_HELP,
    METER_HELP,
    SEED,
    SPEED_HELP,
    TIME_HELP,
    Duration,
    MeterTime,
    PathArg,
    Speed,
    bad,
    bench_file,
    check_firmware_bench,
    firmware_build,
    meter_profile,
)
from rig.cli_parse import parse_time
from rig.results import DEFAULT_URL

EXIT_REGRESSION = 1
EXIT_CANNOT = 3
BUILD_HELP = ("a firmware directory (holding main.py) or a git revision of the rig's repository (its dut_firmware/ "
              "is extracted once into the cache)")


def _meters(ctx: click.Context, param: click.Parameter, value: tuple[str, ...]) -> tuple[str, ...]:
    for meter in value:
        meter_profile(ctx, param, meter)
    return value


@click.command()
@click.option("--base", "base", callback=firmware_build, metavar="REV|PATH", help=f"The base build: {BUILD_HELP}.")
@click.option("--head", "head", callback=firmware_build, metavar="REV|PATH", help=f"The head build: {BUILD_HELP}.")
@click.option("--base-run", "base_runs", multiple=True, metavar="ID",
              help="A stored run of the base build (its record id or a prefix of it); repeatable.")
@click.option("--head-run", "head_runs", multiple=True, metavar="ID",
              help="A stored run of the head build; repeatable.")
@click.option("--bench", "bench_path", callback=bench_file, metavar="FILE",
              help="Bench file (TOML) with a software DUT; default: the rig's own.")
@click.option("--meter", "meter_ids", multiple=True, callback=_meters, metavar="ID",
              help=f"{METER_HELP} Repeatable; default: the bench's.")
@click.option("--duration", default="60s", show_default=True, type=Duration(),
              help=f"Meter time each run plays ({DURATION_HELP}).")
@click.option("--speed", default=1.0, show_default=True, type=Speed(), metavar="X",
              help=f"Time compression, {SPEED_HELP}.")
@click.option("--start", "start_text", type=MeterTime(),
              help=f"Meter local time of the first frame ({TIME_HELP}); default: 30 s before the next full hour.")
@click.option("--seed", default=1, show_default=True, type=SEED, metavar="N", help="Seed of the meter model.")
@click.option("--repeat", default=2, show_default=True, type=click.IntRange(1, 100), metavar="N",
              help="Runs per build and meter; two or more measure the run-to-run noise.")
@click.option("--noise-k", "k", default=3.0, show_default=True, type=click.FloatRange(0, 100), metavar="K",
              help="A measurement moved when its medians differ by more than K x the run-to-run spread "
                   "(and more than its floor).")
@click.option("--out", "out_dir", type=PathArg(file_okay=False, path_type=Path),
              help="The report folder (every run's folder goes inside); default: reports/<time>-regress.")
@click.option("--db", "db_url", default=DEFAULT_URL, show_default=True, metavar="URL",
              help="The results store: runs made are stored there; --base-run/--head-run are read from it.")
@click.option("--no-store", is_flag=True, help="Do not store the records of the runs made.")
@click.option("--json", "as_json", is_flag=True, help="Print the comparison as one JSON object.")
def regress(base: Any, head: Any, base_runs: tuple[str, ...], head_runs: tuple[str, ...], bench_path: str | None,
            meter_ids: tuple[str, ...], duration: float, speed: float, start_text: str | None, seed: int, repeat: int,
            k: float, out_dir: Path | None, db_url: str, no_store: bool, as_json: bool) -> None:
    """A firmware regression report: what newly fails, what newly passes and what moved beyond its run-to-run
    noise in the head build against the base build.

    --base/--head run the same job (meters, seed, start, duration, speed) on both builds on the software
    DUT, --repeat times each; --base-run/--head-run compare runs kept in the results store. Writes
    report.html, junit.xml and regression.json into the report folder. Exit status 0: no regression;
    1: a regression; 2: a usage error; 3: the runs could not be made or read.
    """
    ctx = click.get_current_context()
    stored = bool(base_runs or head_runs)
    if stored and (base is not None or head is not None):
        raise bad("--base", "give two builds (--base, --head) or stored runs (--base-run, --head-run), not both")
    if stored:
        if not (base_runs and head_runs):
            raise bad("--head-run" if base_runs else "--base-run", "stored runs need --base-run and --head-run")
        for name in ("meter_ids", "start_text", "bench_path"):
            if ctx.params[name]:
                raise bad(f"--{name.split('_')[0]}", "stored runs ran already: this option is for --base/--head")
        for name in ("duration", "speed", "seed", "repeat"):
            if ctx.get_parameter_source(name) is click.core.ParameterSource.COMMANDLINE:
                raise bad(f"--{name}", "stored runs ran already: this option is for --base/--head")
    elif base is None or head is None:
        raise bad("--head" if base is not None else "--base",
                  "give the two builds to compare (--base REV|PATH --head REV|PATH) or two stored runs "
                  "(--base-run ID --head-run ID)")
    out_dir = out_dir or run_dir_for("regress", "runs" if stored else f"{_short(base)}-{_short(head)}")
    if out_dir.exists() and any(out_dir.iterdir()):
        raise bad("--out", f"the report folder {out_dir} already holds files; give a new or empty folder")

    if stored:
        records, labels = _stored(base_runs, head_runs, db_url), ("base runs", "head runs")
        job: dict[str, object] = {"compared": "stored runs", "base runs": " ".join(base_runs),
                                  "head runs": " ".join(head_runs)}
    else:
        bench = load_bench_or_exit(bench_path)
        check_firmware_bench(base, bench, "--base")
        meters = meter_ids or (bench.profile,)
        records = _run(bench, base, head, meters, duration, speed, parse_time(start_text), seed, repeat, out_dir,
                       None if no_store else db_url)
        labels = (base.spec, head.spec)
        job = {"bench": bench.name, "meters": ", ".join(meters), "duration": f"{duration:g} s of meter time",
               "speed": f"x{speed:g}", "start": start_text or "30 s before the next full hour", "seed": seed,
               "runs per build and meter": repeat}
    _report(records, labels, k, out_dir, job, as_json)


def _short(build: Any) -> str:
    text = build.commit[:8] if build.commit else Path(build.spec or "fw").name
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in text)[:24]


def _stored(base_runs: tuple[str, ...], head_runs: tuple[str, ...], db_url: str) -> dict[str, list[dict]]:
    from rig.regress.job import StoredRunError, stored_records
    from rig.results.store import StoreError, parse_url

    try:
        url = parse_url(db_url)
        if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
            if not Path(url.database).is_file():
                raise bad("--db", f"no results store at {url.database} (no run saved there yet)")
        return {"base": stored_records(base_runs, db_url), "head": stored_records(head_runs, db_url)}
    except StoreError as exc:
        raise bad("--db", str(exc)) from None
    except StoredRunError as exc:
        raise bad("--base-run", str(exc)) from None


def _run(bench: Any, base: Any, head: Any, meters: tuple[str, ...], duration: float, speed: float, start: Any,
         seed: int, repeat: int, out_dir: Path, db_url: str | None) -> dict[str, list[dict]]:
    from rig.regress.job import RegressJob, RunDone, run_builds

    job = RegressJob(bench=bench, out_dir=out_dir, builds={"base": base, "head": head}, meters=meters,
                     duration_s=duration, speed=speed, seed=seed, start=start, repeat=repeat, db_url=db_url)
    began = [0.0]

    def progress(done: RunDone) -> None:
        tag = f"[{done.side} {done.index}/{done.total}] {done.meter}"
        if done.record is None:
            began[0] = time.monotonic()
            click.echo(f"{tag}: running in {done.run_dir}", err=True)
            return
        figures = {m["name"]: m["value"] for m in done.record["measurements"]}
        latency = " ".join(f"{i} {figures[f'{i}.latency_p50']:g}" for i in ("http", "modbus", "mqtt")
                           if figures.get(f"{i}.latency_p50") is not None)
        click.echo(f"{tag}: {done.record['verdict']} in {time.monotonic() - began[0]:.1f} s; frames decoded "
                   f"{figures.get('frames_decoded')}/{figures.get('frames_sent')}, latency p50 ms: {latency}"
                   + (f"; error: {done.error}" if done.error else ""), err=True)

    click.echo(f"regress: {base.spec} against {head.spec}, {repeat} run(s) each of {', '.join(meters)}; report in "
               f"{out_dir}", err=True)
    try:
        return run_builds(job, progress)
    except KeyboardInterrupt:
        click.echo("regress: interrupted", err=True)
        sys.exit(130)
    except ValueError as exc:  # a job the rig cannot honour: nothing ran
        raise bad("--meter", str(exc)) from None
    except Exception as exc:  # a bench that would not start: no report can be made
        click.echo(f"Error: {exc} (logs in {out_dir})", err=True)
        sys.exit(EXIT_CANNOT)


def _report(records: dict[str, list[dict]], labels: tuple[str, str], k: float, out_dir: Path,
            job: dict[str, object], as_json: bool) -> None:
    from rig.regress import html, junit
    from rig.regress.compare import compare
    from rig.regress.job import latency_samples
    from rig.regress.plots import latency_png
    from rig.regress.text import format_regression

    if not records["base"] or not records["head"]:
        click.echo("Error: no record of a run of both builds: nothing to compare", err=True)
        sys.exit(EXIT_CANNOT)
    regression = compare(records["base"], records["head"], base_label=labels[0], head_label=labels[1], k=k)
    out_dir.mkdir(parents=True, exist_ok=True)
    samples = {side: latency_samples(records[side]) for side in ("base", "head")}
    plots = {}
    for interface in sorted(set(samples["base"]) | set(samples["head"])):
        limit = _limit(records["base"], interface)
        plots[interface] = latency_png(interface, {s: samples[s].get(interface, []) for s in samples}, limit)
    page = html.write(regression, out_dir / "report.html", plots, job)
    junit.write(regression, out_dir / "junit.xml")
    (out_dir / "regression.json").write_text(json.dumps(regression.as_dict(), indent=1, default=str) + "\n")
    if as_json:
        click.echo(json.dumps(regression.as_dict(), default=str))
    else:
        click.echo(format_regression(regression, str(page)))
    sys.exit(EXIT_REGRESSION if regression.regressed else 0)


def _limit(records: list[dict], interface: str) -> float | None:
    for record in records:
        for m in record.get("measurements", []):
            if m["name"] == f"{interface}.latency_max" and m.get("high") is not None:
                return float(m["high"])
    return None

"""`rig eol`: the end-of-line station (rig/eol): units through the sequence, a verdict per unit in the
terminal, every measurement in the results store."""

from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path

import click

from rig.cli_common import load_bench_or_exit, run_dir_for

DEFAULT_EOL_BENCH = Path(__file__).parent / "benches" / "eol-sim.toml"
BIG = {  # block letters, five rows each
    "P": ["████ ", "█   █", "████ ", "█    ", "█    "],
    "A": [" ███ ", "█   █", "█████", "█   █", "█   █"],
    "S": [" ████", "█    ", " ███ ", "    █", "████ "],
    "F": ["█████", "█    ", "████ ", "█    ", "█    "],
    "I": ["███", " █ ", " █ ", " █ ", "███"],
    "L": ["█    ", "█    ", "█    ", "█    ", "█████"],
}


def big(word: str) -> list[str]:
    """``word`` in block letters (five lines)."""
    return ["  ".join(BIG[c][row] for c in word) for row in range(5)]


def verdict_lines(record) -> list[str]:
    """The unit's verdict as the operator sees it: the serial, a big PASS or FAIL, each failing measurement."""
    word = "PASS" if record.verdict == "pass" else "FAIL"
    slot, serial = record.station.get("slot"), record.dut.get("serial")
    head = f"slot {slot}  {serial}  {word}  ({len(record.measurements)} measurements, {record.duration_s:.1f} s)"
    lines = ["=" * 72, head, *("    " + row for row in big(word))]
    for m in record.measurements:
        if m.outcome == "fail":
            limits = " ".join(part for part in (
                f">= {m.low:g}" if m.low is not None else "", f"<= {m.high:g}" if m.high is not None else "",
                f"= {m.expected:g}" + (f" ± {m.tolerance:g}" if m.tolerance else "") if m.expected is not None
                else "") if part)
            shown = "not measured" if m.value is None else f"{m.value} {m.unit}".strip()
            lines.append(f"  FAILED {m.name:<38} {shown:<16} limit {limits}")
    for failure in record.failures:
        lines.append(f"  error  {failure.get('text')}")
    for name, why in (record.station.get("skipped") or {}).items():
        lines.append(f"  skipped {name}: {why}")
    lines.append("=" * 72)
    return lines


def _reader(path: str | None):
    """Serial-number lines from a file or standard input (``-``); None when none are given."""
    if path is None:
        return None
    if path == "-":
        return (line.rstrip("\n") for line in sys.stdin)
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise click.BadParameter(f"cannot read {path}: {exc}", param_hint="'--serials'") from exc
    return iter([line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")])


@click.command("eol")
@click.option("--bench", "bench_path", metavar="FILE", help=f"Station bench (TOML) with [eol] and [[eol.slot]] "
              f"sections. Default: {DEFAULT_EOL_BENCH.name}, four simulated slots.")
@click.option("--slots", type=click.IntRange(min=1), help="Use the first N slots of the bench (default: all).")
@click.option("--units", type=click.IntRange(min=1), help="Stop after N units (default: one per slot when the "
              "serial numbers are counted; all the lines given by --serials).")
@click.option("--serials", metavar="FILE|-", help="Serial numbers, one per line: a file, or - for standard input "
              "(a barcode scanner types each as a line). A blank line takes the next counted number; q stops.")
@click.option("--faulty", "faulty", multiple=True, metavar="SERIAL=KIND[:PARAM]",
              help="Make the unit SERIAL deliberately faulty (simulated supply only): overdraw[:MW], modbus-dead, "
              "led-no-blue or led-dead (its LED; 'sim' LED instruments).")
@click.option("--yes", "-y", "yes", is_flag=True, help="No prompts (CI): serial numbers counted from the bench's "
              "[dut] serial_number unless --serials gives them.")
@click.option("--db", "db_url", default="sqlite:///reports/results.sqlite", show_default=True, metavar="URL",
              help="The results store every unit's record goes to.")
@click.option("--run-dir", type=click.Path(path_type=Path), help="Folder for the units' logs and records "
              "(default: a new one under reports/).")
@click.option("--json", "as_json", is_flag=True, help="One JSON record per unit, no banners.")
def eol(bench_path: str | None, slots: int | None, units: int | None, serials: str | None, faulty: tuple[str, ...],
        yes: bool, db_url: str, run_dir: Path | None, as_json: bool) -> None:
    """End of line: each unit powered through the supply, booted, its current against the port's budget, every
    interface checked against a meter stream, its firmware version, its LED, a factory reset; PASS or FAIL."""
    from rig.bench import BenchError
    from rig.eol.sequence import parse_fault
    from rig.eol.station import SerialSource, run_station, slots_of

    bench = load_bench_or_exit(bench_path or str(DEFAULT_EOL_BENCH))
    try:
        faults = dict(parse_fault(spec) for spec in faulty)
        count = len(slots_of(bench, slots))
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    lines = _reader(serials)
    prompt = None
    lock = threading.Lock()
    if lines is None and not yes and sys.stdin.isatty():
        def prompt(slot: int) -> str | None:
            try:
                return click.prompt(f"slot {slot}: place the unit, scan or type its serial number "
                                    "(Enter: the next counted, q: stop)", default="", show_default=False)
            except click.Abort:
                return None
    elif lines is None and units is None:
        units = count
    source = SerialSource(bench.serial_number, units, lines, prompt)
    run_dir = run_dir or run_dir_for("eol", bench.name)
    passed = failed = 0

    def on_start(slot: int, serial: str) -> None:
        if not as_json:
            with lock:
                click.echo(f"slot {slot}: {serial} powering on")

    def on_record(record) -> None:
        nonlocal passed, failed
        passed, failed = passed + (record.verdict == "pass"), failed + (record.verdict != "pass")
        with lock:
            if as_json:
                click.echo(json.dumps(record.as_dict()))
                return
            color = "green" if record.verdict == "pass" else "red"
            for line in verdict_lines(record):
                click.echo(click.style(line, fg=color) if sys.stdout.isatty() else line)

    began = time.monotonic()
    try:
        run_station(bench, run_dir, source, slots, faults, db_url, on_record, on_start)
    except (BenchError, ValueError, RuntimeError, OSError) as exc:
        raise click.ClickException(str(exc)) from exc
    real = time.monotonic() - began
    total = passed + failed
    if not as_json:
        rate = total / real * 60 if real > 0 else 0.0
        click.echo(f"{total} units on {count} slot(s) in {real:.1f} s ({rate:.1f} units per minute): "
                   f"{passed} passed, {failed} failed; records in {db_url}, logs in {run_dir}")
    if failed:
        sys.exit(1)

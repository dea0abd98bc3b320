"""The `rig` command: thin click wrappers that parse, call the rig, and print.

The contract (names, options, JSON lines) is in docs/reading.md and the README; keep it stable.
"""

from __future__ import annotations

import json
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import click

from rig.cli_bench import dut, test
from rig.cli_capture import capture, replay
from rig.cli_common import load_bench_or_exit, profile_or_exit, run_dir_for
from rig.cli_eol import eol
from rig.cli_frames import decode, frames
from rig.cli_inputs import (
    DURATION_HELP,
    FIRMWARE_HELP,
    METER_HELP,
    SCENARIO_HELP,
    SEED,
    SPEED_HELP,
    TIME_HELP,
    Duration,
    MeterTime,
    PathArg,
    Port,
    Speed,
    bad,
    bench_file,
    check_fault_specs,
    check_firmware_bench,
    check_span,
    firmware_build,
    meter_profile,
    plural,
    scenario_name,
)
from rig.cli_led import led
from rig.cli_parse import parse_faults, parse_time
from rig.cli_regress import regress
from rig.cli_results import results
from rig.cli_security import describe as describe_security
from rig.cli_security import run_security, security_of, security_options
from rig.reading import format_reading

PORT_HELP = ("Where to play: sim (a pty of the rig's own), a serial device (/dev/ttyUSB0, a pty), "
             "socket://host:port, rfc2217://host:port or loop:// (all forms above).")
LIVE_FIELDS = ("p_import_w", "u_l1_v", "i_l1_a", "e_import_wh")  # what `rig emulate` shows per frame


def _faults(specs: tuple[str, ...]) -> list:
    """Parse repeated ``--fault NAME[:PARAM]`` options (see `rig faults`)."""
    try:
        return parse_faults(specs)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="'--fault'") from exc


FAULT_HELP = "Inject a fault, NAME[:PARAM]; repeatable, applied in order (see `rig faults`)."


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="han-rig")
def main() -> None:
    """A test rig that plays the electricity meter into HAN/P1 readers and checks what they publish."""


main.add_command(capture)
main.add_command(replay)
main.add_command(test)
main.add_command(dut)
main.add_command(frames)
main.add_command(decode)
main.add_command(results)
main.add_command(regress)
main.add_command(led)
main.add_command(eol)


@main.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def meters(as_json: bool) -> None:
    """The meter profiles the emulator knows."""
    from rig.emulators import list_profiles

    for p in list_profiles():
        info = {
            "id": p.id, "make": p.make, "model": p.model, "country": p.country, "protocol": p.protocol,
            "line": str(p.line), "lists": {str(k): v for k, v in p.lists.items()},
        }
        own = getattr(p, "security", None)
        if own is not None:  # encrypts by default, with public test keys
            info["security"] = {**own.redacted(), "keys": "test keys (see README, Encrypted meters)"}
        if as_json:
            click.echo(json.dumps(info))
        else:
            lists = "; ".join(f"List {k} {v}" for k, v in p.lists.items())
            click.echo(f"{p.id:<18} {p.make} {p.model} ({p.country}), {p.protocol}, {p.line}: {lists}")


@main.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def faults(as_json: bool) -> None:
    """The faults the rig injects (`--fault NAME[:PARAM]` on emulate, replay and run)."""
    from rig.emulators.faults import FAULTS

    for info in FAULTS.values():
        if as_json:
            click.echo(json.dumps({"name": info.name, "summary": info.summary, "param": info.param_help,
                                   "default": info.default}))
        else:
            param = f":{info.param_help}" if info.param_help else ""
            default = f" (default {info.default})" if info.default not in (None, "") else ""
            click.echo(f"{info.name + param:<28} {info.summary}{default}")


@main.command()
@click.option("--meter", "meter_id", required=True, callback=meter_profile, metavar="ID", help=METER_HELP)
@click.option("--port", required=True, type=Port(), help=PORT_HELP)
@click.option("--speed", default=1.0, show_default=True, type=Speed(), metavar="X",
              help=f"Time compression, {SPEED_HELP}: 60 plays a minute of meter time per second (pyserial ports "
                   "send at their own baud rate, so high speeds suit socket:// links).")
@click.option("--duration", type=Duration(), help=f"Meter time to play ({DURATION_HELP}); omitted: plays until "
              "Ctrl-C.")
@click.option("--start", "start_text", type=MeterTime(), help=f"Meter local time to start from ({TIME_HELP}); "
              "default: now.")
@click.option("--seed", default=1, show_default=True, type=SEED, metavar="N",
              help="Seed of the meter model and of the faults.")
@click.option("--fault", "fault_specs", multiple=True, callback=check_fault_specs, metavar="NAME[:PARAM]",
              help=FAULT_HELP)
@click.option("--bad-fcs-every", type=click.IntRange(2, 1_000_000), metavar="N",
              help="Corrupt the FCS of every Nth frame (the same as --fault bad_fcs:N).")
@click.option("--scenario", callback=scenario_name, metavar="NAME", help=SCENARIO_HELP)
@security_options
@click.option("--json", "as_json", is_flag=True, help="One JSON object per write.")
def emulate(meter_id: str, port: str, speed: float, duration: float | None, start_text: str | None,
            seed: int, fault_specs: tuple[str, ...], bad_fcs_every: int | None, scenario: str | None,
            as_json: bool, **security_given: Any) -> None:
    """Play a meter into a port on its real schedule, with a live view of every write.

    Faults shape the stream as the field does (`rig faults` lists them). Without --duration the meter
    plays until Ctrl-C, and the faults apply to each hour of meter time in turn.

    PORT is sim (a pty of the rig's own: it prints the device to point the reader at), pty (the same), a
    serial device (/dev/ttyUSB0, a pty), socket://host:port, rfc2217://host:port, loop:// (bytes go
    nowhere: a dry run), or another pyserial URL (spy://, alt://, hwgrep://, cp2110://).
    """
    from rig.emulators import Meter
    from rig.emulators.faults import apply_faults, emissions_from_frames
    from rig.links import open_link

    profile = profile_or_exit(meter_id)
    faults = _faults(fault_specs + ((f"bad_fcs:{bad_fcs_every}",) if bad_fcs_every else ()))
    start = parse_time(start_text) if start_text else datetime.now().replace(microsecond=0)
    security = security_of(profile, **security_given)
    meter = Meter(profile, seed=seed, start=start, load=scenario, security=security)
    check_span(meter, start, duration, "--start")
    began = meter.utc_of(start)  # meter time is absolute: blocks and pacing in real time, across DST
    window = timedelta(seconds=duration) if duration else timedelta(hours=1)

    def writes_of(block: int) -> list:
        """The writes of the ``block``-th window of meter time, shaped by the faults."""
        block_utc = began + block * window
        frames = list(meter.frames(start=meter.local_of(block_utc), until=meter.local_of(block_utc + window)))
        return apply_faults(emissions_from_frames(frames, block_utc), faults, seed=seed + block, meter=meter)

    try:
        writes = writes_of(0)
    except ValueError as exc:  # faults this stream cannot take (mid_frame twice, ...)
        raise bad("--fault", str(exc)) from exc
    except OverflowError as exc:
        raise bad("--fault", f"{exc}: the faults take the meter's clock out of range") from exc
    try:
        link = open_link(port, profile.line, speed=speed)
    except Exception as exc:  # the link names the URL and the reason
        raise click.ClickException(str(exc)) from exc
    if hasattr(link, "device"):
        click.echo(f"virtual line: point the reader at {link.device}", err=True)
    faults_text = f", faults: {' '.join(f.spec for f in faults)}" if faults else ""
    click.echo(f"playing {profile.id} into {port} at {profile.line}, speed x{speed:g}{faults_text}; "
               "Ctrl-C stops", err=True)
    if security is not None:
        click.echo(f"frames {describe_security(security)}", err=True)
    t0 = time.monotonic()
    sent = 0
    try:
        block = 0
        while True:
            offset = block * window.total_seconds()
            for write in writes:
                due = t0 + (offset + write.t) / speed
                time.sleep(max(0.0, due - time.monotonic()))
                link.write(write.data)
                sent += 1
                tag = f"  [{write.fault}]" if write.fault else ""
                if as_json:
                    click.echo(json.dumps({"meter": profile.id, "t": round(offset + write.t, 6),
                                           "at": write.at.isoformat() if write.at else None, "list": write.list,
                                           "fault": write.fault, "counts": dict(write.counts),
                                           "hex": write.data.hex(), "reading": write.reading}))
                else:
                    shown = {k: write.reading.get(k) for k in LIVE_FIELDS} if write.reading else {}
                    when = f"{write.at:%H:%M:%S} List {write.list}" if write.at else f"+{offset + write.t:9.3f} s"
                    click.echo(f"{when} {len(write.data):4d} B{tag}  {format_reading(shown)}")
            if duration is not None:
                break
            block += 1
            writes = writes_of(block)
    except KeyboardInterrupt:
        pass
    finally:
        link.close()
    click.echo(f"{plural(sent, 'write')} sent", err=True)


@main.command()
@click.option("--bench", "bench_path", callback=bench_file, metavar="FILE",
              help="Bench file (TOML); default: the software DUT.")
@click.option("--meter", "meter_id", callback=meter_profile, metavar="ID",
              help="Meter profile id; default: the bench's.")
@click.option("--duration", default="60s", show_default=True, type=Duration(),
              help=f"Meter time to play ({DURATION_HELP}).")
@click.option("--speed", default=1.0, show_default=True, type=Speed(), metavar="X",
              help=f"Time compression, {SPEED_HELP}: 120 plays an hour in 30 s.")
@click.option("--start", "start_text", type=MeterTime(),
              help=f"Meter local time of the first frame ({TIME_HELP}); default: 30 s before the next full hour.")
@click.option("--seed", default=1, show_default=True, type=SEED, metavar="N", help="Seed of the meter model.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON object.")
@click.option("--run-dir", type=PathArg(file_okay=False, path_type=Path),
              help="Where logs go; default: reports/<time>-run-<meter>.")
@click.option("--capture", "capture_path", type=PathArg(exists=True, dir_okay=False, path_type=Path),
              help="Replay this capture (see README, Captures) instead of playing a meter, and check the DUT "
                   "against its expected readings and counts.")
@click.option("--fault", "fault_specs", multiple=True, callback=check_fault_specs, metavar="NAME[:PARAM]",
              help=FAULT_HELP)
@click.option("--scenario", callback=scenario_name, metavar="NAME", help=SCENARIO_HELP)
@click.option("--db", "db_url", default="sqlite:///reports/results.sqlite", show_default=True, metavar="URL",
              help="The results database the run's record is stored in.")
@click.option("--no-store", is_flag=True, help="Do not store the run's record in the results database.")
@click.option("--firmware", callback=firmware_build, metavar="PATH|REV", help=FIRMWARE_HELP)
@security_options
def run(bench_path: str | None, meter_id: str | None, duration: float, speed: float, start_text: str | None,
        seed: int, as_json: bool, run_dir: Path | None, capture_path: Path | None,
        fault_specs: tuple[str, ...], scenario: str | None, db_url: str, no_store: bool, firmware,
        **security_given: Any) -> None:
    """The main job: stream a meter (or a capture) into the bench's DUT and check every output against it.

    Exit status 0 only when every frame was decoded or counted as the error it is, exactly as a correct
    reader counts, and every check on every interface passed. SIGINT (Ctrl-C) or SIGTERM stops the run
    at once and keeps what was checked until then: exit status 130 or 143, verdict "interrupted".
    """
    import signal

    from rig.runner import Progress, RunOptions, format_summary
    from rig.runner import run as run_bench
    from rig.session import RunDirInUse, check_run_dir

    bench = load_bench_or_exit(bench_path)
    check_firmware_bench(firmware, bench)
    meter = meter_id or bench.profile
    profile = profile_or_exit(meter)
    faults = _faults(fault_specs)
    if start_text and capture_path is None:
        from rig.emulators import Meter

        check_span(Meter(profile), parse_time(start_text), duration, "--start")
    if capture_path is not None and start_text:
        raise click.BadParameter("a capture replays at its recorded times: give --start or --capture, not both",
                                 param_hint="'--start'")
    if capture_path is not None and scenario is not None:
        raise click.BadParameter("a capture replays recorded values: give --scenario or --capture, not both",
                                 param_hint="'--scenario'")
    security, dut_keys = run_security(profile, capture_path is not None, security_given)
    run_dir = run_dir or run_dir_for("run", capture_path.stem if capture_path else meter)
    try:
        check_run_dir(run_dir)
    except RunDirInUse as exc:
        raise click.BadParameter(str(exc), param_hint="'--run-dir'") from exc
    live = sys.stderr.isatty()
    last = [0.0]

    def progress(p: Progress) -> None:
        now = time.monotonic()
        if now - last[0] < 0.5 and p.sent != p.total:
            return
        last[0] = now
        lists = " ".join(f"L{k}:{v}" for k, v in sorted(p.by_list.items()))
        line = f"[{p.sent:>5}/{p.total}] {100 * p.sent // max(p.total, 1):3d}%  {lists}  failed checks: {p.failures}"
        click.echo(("\r" + line) if live else line, err=True, nl=not live or p.sent == p.total)

    if not as_json:
        what = f"capture {capture_path}" if capture_path else f"meter {meter}"
        if firmware is not None:
            what += f", firmware {firmware.spec} ({(firmware.commit or str(firmware.path))[:40]})"
        click.echo(f"bench {bench.name}: {bench.dut_kind} DUT, {what}; logs in {run_dir}", err=True)
    options = RunOptions(bench=bench, run_dir=run_dir, meter=meter, duration_s=duration, speed=speed,
                         seed=seed, start=parse_time(start_text), progress=progress, faults=faults,
                         capture=capture_path, scenario=scenario, db_url=None if no_store else db_url,
                         firmware=firmware, security=security, dut_keys=dut_keys)
    try:
        result = run_bench(options)
    except ValueError as exc:  # a request the rig cannot honour: nothing ran
        raise click.ClickException(str(exc)) from exc
    except Exception as exc:
        raise click.ClickException(f"{exc} (logs in {run_dir})") from exc
    if result.interrupted and live:
        click.echo(err=True)  # end the live progress line
    record = result.record.as_dict() if result.record else None
    click.echo(json.dumps({**result.as_dict(), "record": record}) if as_json else format_summary(result, result.record))
    for written in result.outputs:
        if written.note:  # where the record was stored, or why an output did not write
            click.echo(written.describe(), err=True)
    if result.interrupted:
        sys.exit(128 + signal.Signals[result.interrupted])  # as the shell reports a process ended by it
    sys.exit(0 if result.ok else 1)


if __name__ == "__main__":
    main()

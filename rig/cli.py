"""The `rig` command: thin click wrappers that parse, call the rig, and print.

The contract (names, options, JSON lines) is in docs/reading.md and the README; keep it stable.
"""

from __future__ import annotations

import json
import re
import sys
import time
from datetime import datetime, timedelta
from itertools import islice
from pathlib import Path

import click

from rig.cli_bench import dut, test
from rig.cli_capture import capture, replay
from rig.cli_common import load_bench_or_exit, parse_duration, parse_time, profile_or_exit, run_dir_for
from rig.reading import format_reading

LIVE_FIELDS = ("p_import_w", "u_l1_v", "i_l1_a", "e_import_wh")  # what `rig emulate` shows per frame


def _faults(specs: tuple[str, ...]) -> list:
    """Parse repeated ``--fault NAME[:PARAM]`` options (see `rig faults`)."""
    from rig.emulators.faults import apply_faults, parse_fault

    try:
        faults = [parse_fault(spec) for spec in specs]
        apply_faults([], faults)  # refuses an order whose counts would be uncertain
        return faults
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--fault") from exc


FAULT_HELP = "Inject a fault, NAME[:PARAM]; repeatable, applied in order (see `rig faults`)."
SCENARIO_HELP = ("Load scenario of the meter model: household (the default), ev-charging (3 x 16 A daily from 18:00 "
                 "for 4 h), solar-export (PV from 06:00 to 20:00, exporting around midday), phase-imbalance (one "
                 "line heavy, the others light), voltage-sag (one line at 190-200 V daily from 18:30 for 1 h).")


def _scenario(ctx: click.Context, param: click.Parameter, name: str | None) -> str | None:
    """Check ``--scenario`` against the known load scenarios (rig.emulators.loads)."""
    if name is None:
        return None
    from rig.emulators.loads import check_scenario

    try:
        return check_scenario(name)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="han-rig")
def main() -> None:
    """A test rig that plays the electricity meter into HAN/P1 readers and checks what they publish."""


main.add_command(capture)
main.add_command(replay)
main.add_command(test)
main.add_command(dut)


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
@click.option("--meter", "meter_id", required=True, help="Meter profile id (see `rig meters`).")
@click.option("--at", "at", help="Meter local time of the first frame (ISO, the meter's wall clock in its "
              "time zone; a time in a repeated hour means its first pass, one in a skipped hour is an "
              "error); default: now.")
@click.option("--list", "list_no", type=click.IntRange(1, 3), help="Only this list (1, 2 or 3).")
@click.option("--count", default=1, show_default=True, type=click.IntRange(1), help="Number of frames.")
@click.option("--seed", default=1, show_default=True, help="Seed of the meter model.")
@click.option("--reading", "reading_json", help="JSON object of normalized fields to set explicitly.")
@click.option("--scenario", callback=_scenario, help=SCENARIO_HELP)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def frames(meter_id: str, at: str | None, list_no: int | None, count: int, seed: int,
           reading_json: str | None, scenario: str | None, as_json: bool) -> None:
    """The frames a meter would send, on its schedule from --at.

    Frames follow each other in real time across daylight-saving changes: the clock a frame shows jumps
    over a skipped hour and shows a repeated hour twice. The text shows it with its UTC offset; `--json`
    gives `at` (the wall clock as the meter shows it) and `utc` (the instant).
    """
    from rig.emulators import Meter
    from rig.emulators.schedule import zone

    profile = profile_or_exit(meter_id)
    start = parse_time(at) or datetime.now().replace(microsecond=0)
    overrides = None
    if reading_json:
        try:
            overrides = json.loads(reading_json)
        except json.JSONDecodeError as exc:
            raise click.BadParameter(f"not JSON: {exc}", param_hint="--reading") from exc
        if not isinstance(overrides, dict):
            raise click.BadParameter("must be a JSON object", param_hint="--reading")
    if list_no is not None and list_no not in profile.lists:
        raise click.BadParameter(f"{profile.id} sends no list {list_no}; lists: {sorted(profile.lists)}",
                                 param_hint="--list")
    meter = Meter(profile, seed=seed, start=start, load=scenario)
    try:
        meter.utc_of(start)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--at") from exc
    if at and list_no is not None and count == 1:
        # an explicit time and list: that frame, whether or not the schedule would send it then
        chosen = [(start, list_no)]
    else:
        # the schedule alone (no encoding): each frame is encoded once, below
        times = profile.schedule.frame_times(start, timezone=meter.timezone)
        chosen = list(islice(((t, n) for t, n in times if list_no is None or n == list_no), count))
    for when, number in chosen:
        try:
            frame = meter.frame_at(when, number, overrides=overrides)
        except (ValueError, KeyError) as exc:
            raise click.ClickException(str(exc)) from exc
        if as_json:
            utc = frame.utc.isoformat() if frame.utc else None
            click.echo(json.dumps({"meter": profile.id, "at": frame.at.isoformat(), "utc": utc,
                                   "list": frame.list, "hex": frame.data.hex(), "reading": frame.reading}))
            continue
        # the wall clock with its UTC offset, so both passes of a repeated hour read apart
        shown = frame.utc.astimezone(zone(meter.timezone)).isoformat() if frame.utc else frame.at.isoformat()
        if profile.protocol.startswith("P1"):  # an ASCII telegram: show its text
            click.echo(f"{shown}  List {frame.list}  {len(frame.data)} bytes")
            click.echo(frame.data.decode("ascii").replace("\r\n", "\n"), nl=False)
            click.echo(f"    {format_reading(frame.reading)}")
        else:
            click.echo(f"{shown}  List {frame.list}  {len(frame.data)} bytes  {frame.data.hex()}")
            click.echo(f"    {format_reading(frame.reading)}")


def _read_stream(source: str) -> bytes:
    """The bytes of a stream given as raw bytes, hex text, or the JSON lines of `rig frames --json`."""
    data = sys.stdin.buffer.read() if source == "-" else Path(source).read_bytes()
    text = data.strip()
    if text.startswith(b"{"):
        try:
            return b"".join(bytes.fromhex(json.loads(line)["hex"]) for line in text.splitlines() if line.strip())
        except (ValueError, KeyError, TypeError) as exc:
            raise click.ClickException(f"JSON lines must each carry a 'hex' field of frame bytes: {exc}") from exc
    if text and re.fullmatch(rb"[0-9A-Fa-f\s]+", text):
        digits = re.sub(rb"\s+", b"", text)
        if len(digits) % 2:
            raise click.ClickException("hex input has an odd number of digits")
        return bytes.fromhex(digits.decode())
    return data


@main.command()
@click.argument("source", default="-")
@click.option("--key", help="Encryption key (hex) for encrypted frames.")
@click.option("--auth-key", help="Authentication key (hex).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line (the default output).")
def decode(source: str, key: str | None, auth_key: str | None, as_json: bool) -> None:
    """Decode a byte stream (raw, hex text, or `rig frames --json` lines) with the firmware's own decoder.

    SOURCE is a file, or - for standard input. Prints one JSON line per frame found; never stops at a
    bad frame. Exit status 1 when any frame failed to decode.
    """
    from dut_firmware.han.decoder import Decoder

    try:
        keys = {"key": bytes.fromhex(key) if key else None,
                "auth_key": bytes.fromhex(auth_key) if auth_key else None}
    except ValueError as exc:
        raise click.BadParameter(f"keys are hex strings: {exc}") from exc
    try:
        data = _read_stream(source)
    except OSError as exc:
        raise click.ClickException(f"cannot read {source}: {exc}") from exc
    decoder = Decoder(**keys)
    results = decoder.feed(data) + decoder.flush()
    for result in results:
        click.echo(json.dumps(result, default=str))
    if not results:
        click.echo("no frame found in the input", err=True)
    if not results or any(not r.get("ok") for r in results):
        sys.exit(1)


@main.command()
@click.option("--meter", "meter_id", required=True, help="Meter profile id (see `rig meters`).")
@click.option("--port", required=True, help="pyserial URL: /dev/ttyUSB0, rfc2217://host:port, socket://host:port.")
@click.option("--speed", default=1.0, show_default=True, type=click.FloatRange(min=0.01),
              help="Time compression: 60 plays a minute of meter time per second (pyserial ports send at "
                   "their own baud rate, so high speeds suit socket:// links).")
@click.option("--duration", type=parse_duration, help="Meter time to play (90s, 2m, 1h); default: until Ctrl-C.")
@click.option("--start", "start_text", help="Meter local time to start from (ISO); default: now.")
@click.option("--seed", default=1, show_default=True, help="Seed of the meter model and of the faults.")
@click.option("--fault", "fault_specs", multiple=True, help=FAULT_HELP)
@click.option("--bad-fcs-every", type=click.IntRange(min=2), help="Corrupt the FCS of every Nth frame "
              "(the same as --fault bad_fcs:N).")
@click.option("--scenario", callback=_scenario, help=SCENARIO_HELP)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per write.")
def emulate(meter_id: str, port: str, speed: float, duration: float | None, start_text: str | None,
            seed: int, fault_specs: tuple[str, ...], bad_fcs_every: int | None, scenario: str | None,
            as_json: bool) -> None:
    """Play a meter into a port on its real schedule, with a live view of every write.

    Faults shape the stream as the field does (`rig faults` lists them). Without --duration the meter
    plays until Ctrl-C, and the faults apply to each hour of meter time in turn.
    """
    from rig.emulators import Meter
    from rig.emulators.faults import apply_faults, emissions_from_frames
    from rig.links import open_link

    profile = profile_or_exit(meter_id)
    faults = _faults(fault_specs + ((f"bad_fcs:{bad_fcs_every}",) if bad_fcs_every else ()))
    start = parse_time(start_text) or datetime.now().replace(microsecond=0)
    meter = Meter(profile, seed=seed, start=start, load=scenario)
    try:
        began = meter.utc_of(start)  # meter time is absolute: blocks and pacing in real time, across DST
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--start") from exc
    window = timedelta(seconds=duration) if duration else timedelta(hours=1)
    try:
        link = open_link(port, profile.line, speed=speed)
    except Exception as exc:  # the link names the URL and the reason
        raise click.ClickException(str(exc)) from exc
    if hasattr(link, "device"):
        click.echo(f"virtual line: point the reader at {link.device}", err=True)
    faults_text = f", faults: {' '.join(f.spec for f in faults)}" if faults else ""
    click.echo(f"playing {profile.id} into {port} at {profile.line}, speed x{speed:g}{faults_text}; "
               "Ctrl-C stops", err=True)
    t0 = time.monotonic()
    sent = 0
    try:
        block = 0
        while duration is None or block == 0:
            block_utc = began + block * window
            block_start, block_end = meter.local_of(block_utc), meter.local_of(block_utc + window)
            frames = list(meter.frames(start=block_start, until=block_end))
            writes = apply_faults(emissions_from_frames(frames, block_utc), faults, seed=seed + block, meter=meter)
            offset = (block_utc - began).total_seconds()
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
            block += 1
    except KeyboardInterrupt:
        pass
    finally:
        link.close()
    click.echo(f"{sent} writes sent", err=True)


@main.command()
@click.option("--bench", "bench_path", help="Bench file (TOML); default: the software DUT.")
@click.option("--meter", "meter_id", help="Meter profile id; default: the bench's.")
@click.option("--duration", default="60s", show_default=True, type=parse_duration,
              help="Meter time to play: 90s, 2m, 1h.")
@click.option("--speed", default=1.0, show_default=True, type=click.FloatRange(min=0.01),
              help="Time compression: 120 plays an hour in 30 s.")
@click.option("--start", "start_text",
              help="Meter local time of the first frame (ISO); default: 30 s before the next full hour.")
@click.option("--seed", default=1, show_default=True, help="Seed of the meter model.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON object.")
@click.option("--run-dir", type=click.Path(path_type=Path), help="Where logs go; default: reports/<time>-run-<meter>.")
@click.option("--capture", "capture_path", type=click.Path(path_type=Path, dir_okay=False),
              help="Replay this capture (see README, Captures) instead of playing a meter, and check the DUT "
                   "against its expected readings and counts.")
@click.option("--fault", "fault_specs", multiple=True, help=FAULT_HELP)
@click.option("--scenario", callback=_scenario, help=SCENARIO_HELP)
def run(bench_path: str | None, meter_id: str | None, duration: float, speed: float, start_text: str | None,
        seed: int, as_json: bool, run_dir: Path | None, capture_path: Path | None,
        fault_specs: tuple[str, ...], scenario: str | None) -> None:
    """The main job: stream a meter (or a capture) into the bench's DUT and check every output against it.

    Exit status 0 only when every frame was decoded or counted as the error it is, exactly as a correct
    reader counts, and every check on every interface passed.
    """
    from rig.runner import Progress, RunOptions, format_summary
    from rig.runner import run as run_bench

    bench = load_bench_or_exit(bench_path)
    meter = meter_id or bench.profile
    profile_or_exit(meter)
    faults = _faults(fault_specs)
    if capture_path is not None and not capture_path.is_file():
        raise click.BadParameter(f"{capture_path} is not a file", param_hint="--capture")
    if capture_path is not None and scenario is not None:
        raise click.BadParameter("a capture replays recorded values: give --scenario or --capture, not both",
                                 param_hint="--scenario")
    run_dir = run_dir or run_dir_for("run", capture_path.stem if capture_path else meter)
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
        click.echo(f"bench {bench.name}: {bench.dut_kind} DUT, {what}; logs in {run_dir}", err=True)
    options = RunOptions(bench=bench, run_dir=run_dir, meter=meter, duration_s=duration, speed=speed,
                         seed=seed, start=parse_time(start_text), progress=progress, faults=faults,
                         capture=capture_path, scenario=scenario)
    try:
        result = run_bench(options)
    except ValueError as exc:  # a request the rig cannot honour: nothing ran
        raise click.ClickException(str(exc)) from exc
    except Exception as exc:
        raise click.ClickException(f"{exc} (logs in {run_dir})") from exc
    click.echo(json.dumps(result.as_dict()) if as_json else format_summary(result))
    sys.exit(0 if result.ok else 1)


if __name__ == "__main__":
    main()

"""`rig capture` and `rig replay`: record what a meter sends, and play a recording back with its timing.

A recorded chunk is what arrives without a pause: it ends when the line has been silent for
``GAP_CHARS`` character times (at least ``MIN_GAP_S``, what USB adapters' latency timers need) or
after ``MAX_CHUNK_S`` of continuous data, and its ``t`` is when its first byte was read. Chunk
boundaries therefore fall in the pauses between frames, whatever sizes the reads happen to have.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import click

from rig.cli_inputs import (
    DURATION_HELP,
    SEED,
    SPEED_HELP,
    Duration,
    PathArg,
    Port,
    Speed,
    check_fault_specs,
    line_settings,
    meter_profile,
    plural,
)
from rig.line import LineSettings

if TYPE_CHECKING:  # the commands import what they use when they run: `rig -h` stays quick
    from serial import SerialBase

    from rig.capture import CaptureWriter
    from rig.framing import FrameScanner

DEFAULT_LINE = LineSettings(2400, 8, "E", 1)  # the Nordic M-Bus HAN port (Kaifa, Aidon)
AUTO_LINES = tuple(LineSettings.parse(text) for text in (
    "2400 8E1", "2400 8N1", "9600 8E1", "115200 8N1", "9600 8N1", "115200 8E1"))
PROBE_S = 12.0  # a trial of `--line auto` ends this long after its first byte (P1 meters send every 10 s) ...
PROBE_CHUNKS = 4  # ... or after this many chunks without a valid frame
GAP_CHARS = 3.5
MIN_GAP_S = 0.02
MAX_CHUNK_S = 1.0
LIVE_EVERY_S = 0.5
CAPTURES_DIR = Path("reports") / "captures"


@contextlib.contextmanager
def _stop_on_signals() -> Iterator[threading.Event]:
    """An event set by Ctrl-C or SIGTERM; a second signal interrupts at once (KeyboardInterrupt)."""
    stop = threading.Event()

    def handler(signum: int, frame: object) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


class _Live:
    """A status line on stderr, at most every 0.5 s: refreshed in place on a terminal, else plain lines
    (only when it changed)."""

    def __init__(self) -> None:
        self.tty = sys.stderr.isatty()
        self._last = 0.0
        self._shown = ""
        self._pending = False

    def show(self, text: str, key: object = None, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last < LIVE_EVERY_S:
            return
        if not self.tty and key == self._shown:
            return
        self._last, self._shown = now, key
        if self.tty:
            click.echo(f"\r{text}\x1b[K", err=True, nl=False)
            self._pending = True
        else:
            click.echo(text, err=True)

    def end(self) -> None:
        if self._pending:
            click.echo("", err=True)
            self._pending = False


def _read_chunk(port: SerialBase) -> tuple[float, bytes] | None:
    """The next chunk: bytes until the line is silent for the port's read timeout (the gap), with the
    monotonic time its first byte was read; None if nothing arrived within the gap."""
    first = port.read(1)
    if not first:
        return None
    t = time.monotonic()
    data = bytearray(first)
    while time.monotonic() - t < MAX_CHUNK_S:
        more = port.read(port.in_waiting or 1)
        if not more:
            break
        data += more
    return t, bytes(data)


def _fixed_line(url: str) -> bool:
    """Whether the port carries bytes only, so that line settings mean nothing (a pty, a socket)."""
    if url.startswith(("socket://", "loop://")):
        return True
    real = os.path.realpath(url)
    return real.startswith(("/dev/pts/", "/dev/ttyp")) or real == "/dev/ptmx"


def _gap_s(line: LineSettings | None) -> float:
    return max(MIN_GAP_S, GAP_CHARS * (line or DEFAULT_LINE).char_time_s)


def _probe(port: SerialBase, stop: threading.Event, until: float | None,
           live: _Live) -> tuple[LineSettings | None, float, list[tuple[float, bytes]]]:
    """Try each of :data:`AUTO_LINES` until one yields a valid frame: ``(line, trial start, its chunks)``;
    ``(None, ...)`` when none did or the recording was stopped first."""
    from rig.framing import FrameScanner
    from rig.links.serial import set_line

    for line in AUTO_LINES:
        set_line(port, line)
        port.timeout = _gap_s(line)
        port.reset_input_buffer()
        scanner = FrameScanner()
        chunks: list[tuple[float, bytes]] = []
        t_start = time.monotonic()
        first: float | None = None
        while first is None or (time.monotonic() - first <= PROBE_S and len(chunks) < PROBE_CHUNKS):
            if stop.is_set() or (until is not None and time.monotonic() >= until):
                return None, t_start, []
            chunk = _read_chunk(port)
            if chunk is not None:
                chunks.append(chunk)
                first = first or chunk[0]
                scanner.feed(chunk[1])
                if scanner.frames_ok:
                    live.end()
                    return line, t_start, chunks
            live.show(f"trying {line}: {plural(sum(len(d) for _, d in chunks), 'byte')}, no valid frame yet",
                      key=(line, len(chunks)))
        live.show(f"{line}: no valid frame in {plural(sum(len(d) for _, d in chunks), 'byte')}", key=(line, "done"),
                  force=True)
        live.end()
    return None, time.monotonic(), []


def _record(port: SerialBase, writer: CaptureWriter, scanner: FrameScanner, t_start: float,
            pending: list[tuple[float, bytes]], stop: threading.Event, until: float | None, live: _Live) -> str | None:
    """Write chunks as they arrive until stopped or ``until``; the error that ended it, if one did."""
    from serial import SerialException

    from rig.capture import Chunk

    def keep(t: float, data: bytes) -> None:
        writer.write(Chunk(round(t - t_start, 6), data))
        scanner.feed(data)

    for t, data in pending:
        keep(t, data)
    try:
        while not stop.is_set() and (until is None or time.monotonic() < until):
            chunk = _read_chunk(port)
            if chunk is not None:
                keep(*chunk)
            live.show(f"{time.monotonic() - t_start:7.1f} s  {plural(writer.bytes, 'byte')}  frames ok "
                      f"{scanner.frames_ok}  bad {scanner.frames_bad}  skipped {plural(scanner.skipped, 'byte')}",
                      key=(writer.bytes, scanner.frames_ok, scanner.frames_bad))
    except KeyboardInterrupt:
        pass
    except (SerialException, OSError) as exc:
        return f"reading {port.name or port.port} failed: {exc}"
    finally:
        scanner.flush()
        live.end()
    return None


@click.command()
@click.option("--port", required=True, type=Port(sim=False),
              help="Where to record from: a serial device (/dev/ttyUSB0, a pty), socket://host:port, "
                   "rfc2217://host:port, loop://, or another pyserial URL (spy://, alt://, hwgrep://, cp2110://).")
@click.option("--line", "line_text", callback=line_settings, metavar="LINE",
              help="Line settings: 2400-8E1, 115200-8N1 ... (baud 50 to 4000000), or auto (try the usual ones "
                   "until frames check out). Default: the meter's, else 2400 8E1.")
@click.option("--duration", type=Duration(), help=f"Stop after this long ({DURATION_HELP}); omitted: until Ctrl-C.")
@click.option("-o", "--output", type=PathArg(dir_okay=False, path_type=Path),
              help="Capture file; default: reports/captures/<YYYYmmdd-HHMMSS>.jsonl.")
@click.option("--meter", "meter_id", callback=meter_profile, metavar="ID",
              help="Meter profile id to record in the header (see `rig meters`).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON object.")
def capture(port: str, line_text: str | None, duration: float | None, output: Path | None, meter_id: str | None,
            as_json: bool) -> None:
    """Record what arrives on a port into a capture, with a live count of the frames recognised.

    A chunk is what arrives without a pause (3.5 character times, at least 20 ms); its time is when its
    first byte was read. Ctrl-C or SIGTERM stops, keeping everything recorded.
    """
    from serial import SerialException

    from rig.capture import CaptureWriter
    from rig.framing import FrameScanner
    from rig.links import LinkError
    from rig.links.serial import open_serial

    profile_line = None
    if meter_id:
        from rig.cli_common import profile_or_exit as _profile

        profile_line = _profile(meter_id).line
    auto = line_text is not None and line_text.strip().lower() == "auto"
    try:
        line = None if auto else LineSettings.parse(line_text) if line_text else profile_line or DEFAULT_LINE
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="'--line'") from exc
    fixed = _fixed_line(port)
    if auto and fixed:
        click.echo(f"{port} carries bytes only (a pty or a socket): its line settings cannot change; recording "
                   "the bytes as they come (line unknown)", err=True)
    try:
        serial_port = open_serial(port, line or AUTO_LINES[0], timeout=_gap_s(line))
    except LinkError as exc:
        raise click.ClickException(str(exc)) from exc
    output = output or CAPTURES_DIR / f"{datetime.now():%Y%m%d-%H%M%S}.jsonl"
    live = _Live()
    scanner = FrameScanner()
    with _stop_on_signals() as stop, contextlib.closing(serial_port):
        t_start = time.monotonic()
        until = t_start + duration if duration else None
        pending: list[tuple[float, bytes]] = []
        if auto and not fixed:
            try:
                line, t_start, pending = _probe(serial_port, stop, until, live)
            except (LinkError, SerialException, OSError) as exc:
                raise click.ClickException(f"trying line settings on {port}: {exc}") from exc
            if line is None:
                if stop.is_set() or (until is not None and time.monotonic() >= until):
                    click.echo("stopped before any line settings gave a valid frame: nothing recorded", err=True)
                    return
                raise click.ClickException(f"no valid frame at any of {', '.join(map(str, AUTO_LINES))}: is the "
                                           "meter connected? Give --line to record anyway")
            click.echo(f"line settings: {line} (valid frames seen)", err=True)
        started = datetime.now(UTC) - timedelta(seconds=time.monotonic() - t_start)
        header = {"meter": meter_id, "line": str(line) if line else None,
                  "started": started.isoformat(timespec="milliseconds"), "source": {"link": port}}
        try:
            writer = CaptureWriter(output, header)
        except OSError as exc:
            raise click.ClickException(f"cannot write {output}: {exc.strerror or exc}") from exc
        click.echo(f"recording {port} at {line or 'unknown line settings'} into {output}; Ctrl-C stops", err=True)
        with writer:
            error = _record(serial_port, writer, scanner, t_start, pending, stop, until, live)
        elapsed = time.monotonic() - t_start
    summary = {"file": str(output), "bytes": writer.bytes, "chunks": writer.chunks, "frames_ok": scanner.frames_ok,
               "frames_bad": scanner.frames_bad, "skipped": scanner.skipped, "duration_s": round(elapsed, 3),
               "line": str(line) if line else None, "meter": meter_id, "error": error}
    if as_json:
        click.echo(json.dumps(summary))
    else:
        click.echo(f"capture {output}: {plural(writer.bytes, 'byte')} in {plural(writer.chunks, 'chunk')} over "
                   f"{elapsed:.1f} s; frames ok {scanner.frames_ok}, bad {scanner.frames_bad}; "
                   f"{plural(scanner.skipped, 'byte')} outside frames")
    if error:
        raise click.ClickException(f"{error} (what came before is kept in {output})")


@click.command()
@click.argument("file", type=PathArg(exists=True, dir_okay=False, path_type=Path))
@click.option("--port", required=True, type=Port(),
              help="Where to play: sim (a pty of the rig's own: prints its device), a serial device (/dev/ttyUSB0, "
                   "a pty), socket://host:port, rfc2217://host:port, loop://, or another pyserial URL (spy://, "
                   "alt://, hwgrep://, cp2110://).")
@click.option("--speed", default=1.0, show_default=True, type=Speed(), metavar="X",
              help=f"Time compression, {SPEED_HELP}: the capture's times are divided by it (the rig paces sim, "
                   "socket:// and loop:// at the line rate times it too).")
@click.option("--loop", "loop_", is_flag=True, help="Play again and again (one capture second apart) until Ctrl-C.")
@click.option("--fault", "fault_specs", multiple=True, callback=check_fault_specs, metavar="NAME[:PARAM]",
              help="Inject a fault, NAME[:PARAM]; repeatable, applied in order (see `rig faults`).")
@click.option("--seed", default=1, show_default=True, type=SEED, metavar="N", help="Seed of the faults.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON object.")
def replay(file: Path, port: str, speed: float, loop_: bool, fault_specs: tuple[str, ...], seed: int,
           as_json: bool) -> None:
    """Play a capture (or an imported byte log, hex dump or old line log) into a port with its original timing,
    clean or shaped by faults."""
    from rig.capture import CaptureError, load_capture
    from rig.emulators.faults import apply_faults, emissions_from_capture, parse_fault
    from rig.links import LinkError, open_link
    from rig.replay import ReplayStats
    from rig.replay import replay as play

    try:
        recording = load_capture(file)
    except CaptureError as exc:
        raise click.ClickException(str(exc)) from exc
    if not recording.data:
        raise click.ClickException(f"{file}: the capture holds no bytes")
    try:
        faults = [parse_fault(spec) for spec in fault_specs]
        writes = [(e.t, e.data, _note(e)) for e in apply_faults(emissions_from_capture(recording), faults,
                                                                 seed=seed, line=recording.line)]
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="'--fault'") from exc
    line = recording.line
    if line is None:
        line = DEFAULT_LINE
        click.echo(f"{file} does not say its line settings: playing at {line}", err=True)
    try:
        link = open_link(port, line, speed=speed)
    except Exception as exc:  # the link names the URL and the reason
        raise click.ClickException(str(exc)) from exc
    if hasattr(link, "device"):
        click.echo(f"virtual line: point the reader at {link.device}", err=True)
    chunks = len(writes)
    click.echo(f"replaying {file}: {plural(chunks, 'chunk')}, {plural(len(recording.data), 'byte')} over "
               f"{recording.duration_s:.1f} s, into {port} at {line}, speed x{speed:g}{', looping' if loop_ else ''}; "
               "Ctrl-C stops", err=True)
    live = _Live()
    latest = [ReplayStats()]

    def progress(stats: ReplayStats) -> None:
        latest[0] = stats
        done = stats.chunks - stats.passes * chunks
        live.show(f"pass {stats.passes + 1}  chunk {done}/{chunks}  {plural(stats.bytes, 'byte')}  "
                  f"{stats.elapsed_s:7.1f} s",
                  key=stats.chunks, force=done == chunks and not loop_)

    with _stop_on_signals() as stop, contextlib.closing(link):
        try:
            stats = play(writes, link, speed=speed, loop=loop_, progress=progress, stop=stop)
        except KeyboardInterrupt:  # a second Ctrl-C, during a long write
            stats = latest[0]
            stats.stopped = True
        except LinkError as exc:
            live.end()
            raise click.ClickException(str(exc)) from exc
    live.end()
    summary = {"file": str(file), "port": port, "chunks": stats.chunks, "bytes": stats.bytes, "passes": stats.passes,
               "elapsed_s": round(stats.elapsed_s, 3), "max_late_ms": round(stats.max_late_s * 1000, 3),
               "stopped": stats.stopped}
    if as_json:
        click.echo(json.dumps(summary))
    else:
        passes = f"{plural(stats.passes, 'full pass', 'full passes')}{', stopped' if stats.stopped else ''}"
        click.echo(f"replayed {plural(stats.chunks, 'chunk')}, {plural(stats.bytes, 'byte')} in "
                   f"{stats.elapsed_s:.1f} s ({passes}); "
                   f"latest write {stats.max_late_s * 1000:.1f} ms after its time")


def _note(emission) -> dict | None:
    """The annotations a replayed write carries into the line's own capture."""
    note = {"expect": emission.reading, "list": emission.list, "counts": dict(emission.counts) or None,
            "fault": emission.fault}
    return {k: v for k, v in note.items() if v is not None} or None

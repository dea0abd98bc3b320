"""`rig led observe` and `rig led calibrate`: the status LED through the bench's photodiode and camera."""

from __future__ import annotations

import json
import re
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import click

from rig.cli_common import load_bench_or_exit, run_dir_for
from rig.cli_inputs import PathArg

STATES_HELP = ("Provoke a state on the software DUT once the watch runs (repeatable, one per window): "
               "read_ok, read_failed, handshake, ap_mode, wifi_error, offline, firmware_update, "
               "critical_error, factory_reset.")


@click.group("led")
def led() -> None:
    """The status LED: watch it through the bench's photodiode (pyvisa) and camera (OpenCV)."""


def _start_dut(bench, stack: ExitStack, workdir: Path):
    """The bench's software DUT, started for this command (None for a board: it runs already)."""
    if not bench.is_software:
        return None
    from rig.emulators import get_profile
    from rig.session import open_meter_link, start_dut

    profile = get_profile(bench.profile)
    link = open_meter_link(bench, profile.line, 1.0, workdir, meter=profile.id)
    stack.callback(link.close)
    dut = start_dut(bench, workdir, link, None)
    stack.callback(dut.stop)
    dut.link = link
    return dut


def _provoke(dut, state: str) -> None:
    from rig.led.control import FRAME_STATES, PROVOKE, send_control

    if dut is None:
        raise click.ClickException("--provoke needs the software DUT (a board's LED changes by itself)")
    if state in FRAME_STATES:
        send_control(dut.led_events_path, f"signal {state}")
        return
    start, end = PROVOKE[state]
    send_control(dut.led_events_path, *start)
    if end:
        time.sleep(1.2)
        send_control(dut.led_events_path, *end)


@led.command()
@click.option("--bench", "bench_path", metavar="FILE", help="Bench file (TOML) with an [led] section.")
@click.option("--seconds", type=click.FloatRange(min=0.5), default=10.0, show_default=True,
              help="How long to watch.")
@click.option("--window", type=click.FloatRange(min=0.5, max=60), default=2.5, show_default=True,
              help="Seconds per record (the states of each are printed when it ends).")
@click.option("--path", "which", type=click.Choice(["photodiode", "camera", "both"]), default="both",
              show_default=True, help="Which instrument to watch through.")
@click.option("--provoke", "provoke", multiple=True, metavar="STATE", help=STATES_HELP)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per recognised state.")
def observe(bench_path: str | None, seconds: float, window: float, which: str, provoke: tuple[str, ...],
            as_json: bool) -> None:
    """Print the LED states recognised live, window by window, through each instrument of the bench."""
    from rig.led.control import FRAME_STATES, PROVOKE
    from rig.led.session import PATHS, LedPathError, open_paths, watch_all

    bench = load_bench_or_exit(bench_path)
    known = set(PROVOKE) | set(FRAME_STATES)
    for state in provoke:
        if state not in known:
            raise click.BadParameter(f"{state!r}; known: {', '.join(sorted(known))}", param_hint="'--provoke'")
    wanted = PATHS if which == "both" else (which,)
    with ExitStack() as stack:
        workdir = Path(tempfile.mkdtemp(prefix="rig-led-"))
        dut = _start_dut(bench, stack, workdir)
        try:
            paths = open_paths(bench.led, dut, workdir, stack, wanted)
        except (LedPathError, OSError, RuntimeError) as exc:
            raise click.ClickException(str(exc)) from exc
        if not paths:
            raise click.ClickException(f"bench {bench.name} has no LED instrument for {which} "
                                       f"(set [led] photodiode / camera)")
        if not as_json:
            click.echo(f"watching the LED of {bench.serial_number} through {', '.join(paths)} for {seconds:g} s",
                       err=True)
        start = time.monotonic()
        queue = list(provoke)
        while time.monotonic() - start < seconds:
            state = queue.pop(0) if queue else None
            action = (lambda s=state: _provoke(dut, s)) if state else None
            try:
                watches = watch_all(paths, window, action)
            except (LedPathError, OSError, RuntimeError) as exc:
                raise click.ClickException(str(exc)) from exc
            for name, watch in watches.items():
                for obs in watch.observations:
                    _print(name, watch.host_t0 - start + obs.start_ms / 1000, obs, as_json)


def _print(instrument: str, t_s: float, obs, as_json: bool) -> None:
    names = "|".join(obs.names) or "unknown"
    if as_json:
        click.echo(json.dumps({"t_s": round(t_s, 3), "instrument": instrument, **obs.as_dict()}))
    else:
        cut = " (cut by the window)" if obs.cut else ""
        click.echo(f"{t_s:8.3f} s  {instrument:10s}  {names:16s}  {obs.describe()}{cut}")


@led.command()
@click.option("--bench", "bench_path", required=True, metavar="FILE", help="Bench file with [led] camera.")
@click.option("--seconds", type=click.FloatRange(min=1, max=30), default=2.0, show_default=True,
              help="How long to film the LED (it must change: the software DUT is made to blink).")
@click.option("--png", "png_path", type=PathArg(dir_okay=False, path_type=Path), default=None,
              help="Where the picture with the region goes (default: reports/<time>-led-calibrate/).")
@click.option("--no-write", is_flag=True, help="Do not store the region in the bench file.")
@click.option("--json", "as_json", is_flag=True, help="The result as one JSON object.")
def calibrate(bench_path: str, seconds: float, png_path: Path | None, no_write: bool, as_json: bool) -> None:
    """Find the LED in the camera's view, store its region in the bench file ([led] camera_roi) and write a
    PNG with the region marked."""
    import cv2
    import numpy as np

    from rig.camera.scene import RoiError, find_led
    from rig.led.control import send_control
    from rig.led.session import LedPathError, open_paths

    bench = load_bench_or_exit(bench_path)
    if bench.led.get("camera") is None:
        raise click.ClickException(f"bench {bench.name} has no camera ([led] camera)")
    with ExitStack() as stack:
        workdir = Path(tempfile.mkdtemp(prefix="rig-led-"))
        dut = _start_dut(bench, stack, workdir)
        try:
            camera = open_paths(bench.led, dut, workdir, stack, ("camera",))["camera"]
        except (LedPathError, OSError, RuntimeError) as exc:
            raise click.ClickException(str(exc)) from exc
        camera.begin(seconds)
        if dut is not None:
            send_control(dut.led_events_path, "button hold")  # the factory-reset blink: white on and off
        footage = camera.footage(seconds)  # type: ignore[union-attr]
        if dut is not None:
            send_control(dut.led_events_path, "button press")
    try:
        roi = find_led(footage.frames)
    except RoiError as exc:
        raise click.ClickException(str(exc)) from exc
    picture = np.max(np.stack(footage.frames), axis=0)
    x, y, w, h = roi
    cv2.rectangle(picture, (x, y), (x + w - 1, y + h - 1), (0, 255, 255), 1)
    cv2.putText(picture, f"LED {x},{y} {w}x{h}", (x, max(10, y - 4)), cv2.FONT_HERSHEY_SIMPLEX, 0.35,
                (0, 255, 255), 1)
    png = png_path or run_dir_for("led", "calibrate") / "led-region.png"
    png.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(png), picture):
        raise click.ClickException(f"cannot write {png}")
    if not no_write:
        path = Path(bench.path)
        path.write_text(set_toml_key(path.read_text(), "led", "camera_roi", f"[{x}, {y}, {w}, {h}]"))
        load_bench_or_exit(str(path))  # what was written still validates
    result: dict[str, Any] = {"roi": [x, y, w, h], "png": str(png), "frames": len(footage.frames),
                              "bench": None if no_write else str(bench.path)}
    if as_json:
        click.echo(json.dumps(result))
    else:
        stored = "" if no_write else f"; stored in {bench.path} ([led] camera_roi)"
        click.echo(f"LED found at x={x} y={y}, {w} x {h} pixels in {len(footage.frames)} frames{stored}; picture {png}")


def set_toml_key(text: str, section: str, key: str, value: str) -> str:
    """``text`` (a TOML file) with ``key = value`` set in ``[section]`` (replaced, or added at the section's
    end; the section added when missing); other lines, comments included, stay as they are."""
    lines = text.splitlines()
    header = re.compile(r"\s*\[([^\[\]]+)\]\s*(#.*)?$")
    start = next((i for i, line in enumerate(lines) if (m := header.match(line)) and m.group(1).strip() == section),
                 None)
    new = f"{key} = {value}"
    if start is None:
        return text.rstrip("\n") + f"\n\n[{section}]\n{new}\n"
    end = next((i for i in range(start + 1, len(lines)) if header.match(lines[i])), len(lines))
    for i in range(start + 1, end):
        if re.match(rf"\s*{re.escape(key)}\s*=", lines[i]):
            comment = lines[i].split("#", 1)[1] if "#" in lines[i] else None
            lines[i] = new + (f"  # {comment.strip()}" if comment else "")
            return "\n".join(lines) + "\n"
    insert = end
    while insert > start + 1 and not lines[insert - 1].strip():
        insert -= 1
    lines.insert(insert, new)
    return "\n".join(lines) + "\n"

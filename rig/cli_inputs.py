"""Checks of what a user gives `rig`, made before a command starts any work: the option types and callbacks.

Each refusal is a click usage error (exit status 2) that names the option and says why: numbers finite
and in range, meter times in the range meter clocks show, fields known and carried by the list asked
for, URLs complete, files that exist. The text is parsed by rig.cli_parse; the meter keys are checked by
rig.cli_security's ``key_option``.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import click

from rig.cli_parse import check_port, check_reading, parse_duration, parse_faults, parse_time, shown

SPEED_MIN, SPEED_MAX = 0.01, 100_000.0
DURATION_MAX_S = 366 * 86400
TIME_MIN = datetime(2000, 1, 1)  # the meter model's epoch; P1 telegrams show two-digit years
TIME_MAX = datetime(2099, 12, 31, 23, 59, 59)
SEED_MAX = 2**32 - 1
COUNT_MAX = 1_000_000
BAUD_MIN, BAUD_MAX = 50, 4_000_000

SEED = click.IntRange(0, SEED_MAX)
METER_HELP = "Meter profile id (see `rig meters`)."
SCENARIO_HELP = ("Load scenario of the meter model: household (the default), ev-charging (3 x 16 A daily from 18:00 "
                 "for 4 h), solar-export (PV from 06:00 to 20:00, exporting around midday), phase-imbalance (one "
                 "line heavy, the others light), voltage-sag (one line at 190-200 V daily from 18:30 for 1 h).")
DURATION_HELP = "e.g. 90s, 2m, 1h, 1h30m; more than 0, at most 366 days"
TIME_HELP = "ISO, e.g. 2024-10-01T19:00:00, from 2000 to 2099"
SPEED_HELP = f"from {SPEED_MIN:g} to {SPEED_MAX:g}"


def bad(option: str, message: str) -> click.BadParameter:
    """A usage error about ``option`` (e.g. ``--reading``), named as click names the options it checks."""
    return click.BadParameter(message, param_hint=f"'{option}'")


def plural(n: int, word: str, many: str | None = None) -> str:
    """``1 frame``, ``2 frames`` (``many``: the plural when it is not ``word`` + s)."""
    return f"{n} {word if n == 1 else many or word + 's'}"


class Duration(click.ParamType):
    """A span of meter time: ``90``, ``90s``, ``2m``, ``1h``, ``1h30m`` -> seconds (> 0, at most 366 days)."""

    name = "duration"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        text = str(value)
        if text.startswith("-"):
            self.fail(f"{shown(text)} is negative: give more than 0 s (90s, 2m, 1h)", param, ctx)
        try:
            seconds = parse_duration(text)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)
        if not math.isfinite(seconds) or seconds > DURATION_MAX_S:
            self.fail(f"{shown(text)} is too long: at most 366 days (8784h)", param, ctx)
        if seconds <= 0:
            self.fail(f"{shown(text)} is no time: give more than 0 s (90s, 2m, 1h)", param, ctx)
        return seconds


class Speed(click.ParamType):
    """Time compression: a finite number from :data:`SPEED_MIN` to :data:`SPEED_MAX`."""

    name = "speed"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        try:
            speed = float(value)
        except (TypeError, ValueError):
            self.fail(f"{shown(value)} is not a number", param, ctx)
        if math.isnan(speed):
            self.fail(f"{shown(value)} is not a number: give {SPEED_MIN:g} to {SPEED_MAX:g}", param, ctx)
        if not SPEED_MIN <= speed <= SPEED_MAX:
            self.fail(f"{shown(value)} is out of range: give {SPEED_MIN:g} to {SPEED_MAX:g}", param, ctx)
        return speed


class MeterTime(click.ParamType):
    """A meter's local wall-clock time, ISO without offset, from 2000 to 2099; gives the text back."""

    name = "time"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        text = str(value)
        try:
            when = parse_time(text)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)
        if when is None or not TIME_MIN <= when <= TIME_MAX:
            self.fail(f"{shown(text)} is out of range: meter clocks here run from {TIME_MIN.isoformat()} to "
                      f"{TIME_MAX.isoformat()}", param, ctx)
        return text


class PathArg(click.Path):
    """:class:`click.Path`, refusing a name the OS cannot take (a NUL byte) as a usage error too."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if "\x00" in str(value):
            self.fail(f"{shown(value)} is no file name: it holds a NUL byte", param, ctx)
        return super().convert(value, param, ctx)


class Port(click.ParamType):
    """Where bytes go or come from: ``sim``/``pty`` (when ``sim``), a serial device, or a pyserial URL
    (``socket://host:port``, ``rfc2217://host:port``, ``loop://``, or another handler's URL)."""

    name = "port"

    def __init__(self, sim: bool = True) -> None:
        self.sim = sim

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        try:
            return check_port(str(value), sim=self.sim)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


def check_fault_specs(ctx: click.Context, param: click.Parameter, value: tuple[str, ...]) -> tuple[str, ...]:
    """Callback of ``--fault`` (repeatable): specs that parse, in an order whose counts are certain."""
    try:
        parse_faults(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), ctx=ctx, param=param) from None
    return value


def scenario_name(ctx: click.Context, param: click.Parameter, name: str | None) -> str | None:
    """Callback of ``--scenario``: a known load scenario (rig.emulators.loads)."""
    if name is None:
        return None
    from rig.emulators.loads import check_scenario

    try:
        return check_scenario(name)
    except ValueError as exc:
        raise click.BadParameter(str(exc), ctx=ctx, param=param) from None


FIRMWARE_HELP = ("The firmware build the software DUT runs: a firmware directory (holding main.py) or a git "
                 "revision of the rig's repository (its dut_firmware/, extracted once into the cache); default: "
                 "the firmware next to the rig.")


def firmware_build(ctx: click.Context, param: click.Parameter, value: str | None) -> Any:
    """Callback of ``--firmware``: the :class:`~rig.dut.firmware_tree.FirmwareBuild` a directory or a git
    revision names (a revision's tree is extracted into the cache here); None when not given."""
    if value is None:
        return None
    from rig.dut.firmware_tree import FirmwareError, resolve_firmware

    try:
        return resolve_firmware(value)
    except FirmwareError as exc:
        raise click.BadParameter(str(exc), ctx=ctx, param=param) from None


def check_firmware_bench(build: Any, bench: Any, option: str = "--firmware") -> None:
    """A usage error when a firmware build is given for a board bench (it runs what is flashed on it)."""
    if build is not None and not bench.is_software:
        raise bad(option, f"the bench {bench.name} has a board DUT ([dut] kind = \"board\"), which runs the "
                          "firmware flashed on it; a firmware build runs only on the software DUT")


def meter_profile(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """Callback of ``--meter``: a known profile id (see `rig meters`)."""
    if value is None:
        return None
    from rig.emulators import get_profile, list_profiles

    try:
        get_profile(value)
    except KeyError:
        known = ", ".join(p.id for p in list_profiles())
        raise click.BadParameter(f"unknown meter profile {shown(value)}; known: {known}",
                                 ctx=ctx, param=param) from None
    return value


def bench_file(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """Callback of ``--bench``: a bench file that reads and checks out (None: the software DUT's)."""
    if value is None:
        return None
    from rig.bench import BenchError, load_bench

    try:
        load_bench(value)
    except BenchError as exc:
        raise click.BadParameter(str(exc), ctx=ctx, param=param) from None
    except (OSError, ValueError) as exc:  # unreadable, not UTF-8, a NUL in the name
        raise click.BadParameter(f"cannot read {shown(value)}: {exc}", ctx=ctx, param=param) from None
    return value


def line_settings(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """Callback of ``--line``: ``auto`` or line settings with a baud rate from 50 to 4000000."""
    if value is None or value.strip().lower() == "auto":
        return value
    from rig.line import LineSettings

    try:
        line = LineSettings.parse(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), ctx=ctx, param=param) from None
    if not BAUD_MIN <= line.baud <= BAUD_MAX:
        raise click.BadParameter(f"baud rate {line.baud} is out of range: give {BAUD_MIN} to {BAUD_MAX}",
                                 ctx=ctx, param=param)
    return value


def mqtt_broker(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """Callback of ``--broker``: ``mqtt://host[:port]`` (port 1883 when not given)."""
    if value is None:
        return None
    parts = urlsplit(value)
    try:
        port = parts.port
    except ValueError:
        port = -1
    if parts.scheme != "mqtt" or not parts.hostname:
        raise click.BadParameter(f"{shown(value)}: give mqtt://host:port", ctx=ctx, param=param)
    if port is not None and not 1 <= port <= 65535:
        raise click.BadParameter(f"{shown(value)}: the port must be a number from 1 to 65535", ctx=ctx, param=param)
    return value


def mqtt_topic(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """Callback of ``--topic``: a topic to publish to, where ``{serial}`` stands for the DUT's serial."""
    if value is None:
        return None
    try:
        topic = value.format(serial="x")
        size = len(topic.encode("utf-8"))
    except (ValueError, KeyError, IndexError, AttributeError, UnicodeEncodeError):
        raise click.BadParameter(f"{shown(value)}: braces may only be {{serial}}, and the topic UTF-8 text",
                                 ctx=ctx, param=param) from None
    if not topic or size > 65535 or any(c in topic for c in "+#\x00"):
        raise click.BadParameter(f"{shown(value)}: a topic to publish to is 1 to 65535 bytes without + # or NUL",
                                 ctx=ctx, param=param)
    return value


def reading_json(ctx: click.Context, param: click.Parameter, value: str | None) -> dict[str, Any] | None:
    """Callback of ``--reading``: a JSON object of known normalized fields with values of their kind."""
    if value is None:
        return None
    try:
        return check_reading(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), ctx=ctx, param=param) from None


def check_span(meter: Any, start: datetime, duration_s: float | None, start_hint: str) -> None:
    """BadParameter when ``start`` is a time the meter's clock skips, or ``start`` + ``duration_s``
    runs past :data:`TIME_MAX`."""
    try:
        meter.utc_of(start)
    except ValueError as exc:
        raise bad(start_hint, str(exc)) from None
    if duration_s is not None and start + timedelta(seconds=duration_s) > TIME_MAX + timedelta(seconds=1):
        raise bad("--duration", f"from {start.isoformat()} it runs past {TIME_MAX.isoformat()}, the end of the "
                                "meter clocks' range")

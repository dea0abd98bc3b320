"""`rig frames` and `rig decode`: the bytes a meter sends, and what the firmware's decoder makes of them."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from datetime import datetime
from itertools import islice
from pathlib import Path
from typing import Any

import click

from rig.cli_common import profile_or_exit
from rig.cli_inputs import (
    COUNT_MAX,
    METER_HELP,
    SCENARIO_HELP,
    SEED,
    TIME_HELP,
    MeterTime,
    PathArg,
    bad,
    check_span,
    meter_profile,
    reading_json,
    scenario_name,
)
from rig.cli_parse import check_carried, parse_time
from rig.cli_security import key_option, security_of, security_options
from rig.reading import format_reading


@click.command()
@click.option("--meter", "meter_id", required=True, callback=meter_profile, metavar="ID", help=METER_HELP)
@click.option("--at", "at", type=MeterTime(), help=f"Meter local time of the first frame ({TIME_HELP}; the "
              "meter's wall clock in its time zone; a time in a repeated hour means its first pass, one in a "
              "skipped hour is an error); default: now.")
@click.option("--list", "list_no", type=click.IntRange(1, 3), metavar="N", help="Only this list (1, 2 or 3).")
@click.option("--count", default=1, show_default=True, type=click.IntRange(1, COUNT_MAX),
              metavar="N", help="Number of frames.")
@click.option("--seed", default=1, show_default=True, type=SEED, metavar="N", help="Seed of the meter model.")
@click.option("--reading", "overrides", callback=reading_json, metavar="JSON",
              help="JSON object of normalized fields to set explicitly (docs/reading.md), e.g. "
                   "'{\"p_import_w\": 1500}'; each must be carried by the list(s) sent.")
@click.option("--scenario", callback=scenario_name, metavar="NAME", help=SCENARIO_HELP)
@security_options
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def frames(meter_id: str, at: str | None, list_no: int | None, count: int, seed: int,
           overrides: dict | None, scenario: str | None, as_json: bool, **security: Any) -> None:
    """The frames a meter would send, on its schedule from --at.

    With --key (or on a profile that encrypts by default, with its test keys) every frame is
    general-glo-ciphered, its frame counter one more than the frame before.

    Frames follow each other in real time across daylight-saving changes: the clock a frame shows jumps
    over a skipped hour and shows a repeated hour twice. The text shows it with its UTC offset; `--json`
    gives `at` (the wall clock as the meter shows it) and `utc` (the instant).
    """
    from rig.emulators import Meter
    from rig.emulators.schedule import zone

    profile = profile_or_exit(meter_id)
    start = parse_time(at) if at else datetime.now().replace(microsecond=0)
    if list_no is not None and list_no not in profile.lists:
        raise click.BadParameter(f"{profile.id} sends no list {list_no}; lists: {sorted(profile.lists)}",
                                 param_hint="'--list'")
    meter = Meter(profile, seed=seed, start=start, load=scenario, security=security_of(profile, **security))
    check_span(meter, start, None, "--at")

    def chosen() -> Iterator[tuple[datetime, int]]:
        if at and list_no is not None and count == 1:
            # an explicit time and list: that frame, whether or not the schedule would send it then
            return iter([(start, list_no)])
        # the schedule alone (no encoding): each frame is encoded once, below
        times = profile.schedule.frame_times(start, timezone=meter.timezone)
        return islice(((t, n) for t, n in times if list_no is None or n == list_no), count)

    if overrides:
        first_counter = meter.frame_counter  # the checks encode frames too: the stream starts where asked
        _check_overrides(meter, overrides, start, {list_no} if list_no else _lists_of(chosen(), set(profile.lists)),
                         list_no is None)
        meter.frame_counter = first_counter
    for when, number in chosen():
        try:
            frame = meter.frame_at(when, number, overrides=overrides)
        except (ValueError, KeyError, OverflowError) as exc:
            raise click.ClickException(str(exc)) from exc
        if as_json:
            utc = frame.utc.isoformat() if frame.utc else None
            # plain writes: a day of frames is 43,200 lines, and click.echo flushes each one
            sys.stdout.write(json.dumps({"meter": profile.id, "at": frame.at.isoformat(), "utc": utc,
                                         "list": frame.list, "hex": frame.data.hex(), "reading": frame.reading}) + "\n")
            continue
        # the wall clock with its UTC offset, so both passes of a repeated hour read apart
        shown = frame.utc.astimezone(zone(meter.timezone)).isoformat() if frame.utc else frame.at.isoformat()
        if frame.data[:1] == b"/":  # a plain ASCII telegram: show its text
            click.echo(f"{shown}  List {frame.list}  {len(frame.data)} bytes")
            click.echo(frame.data.decode("ascii").replace("\r\n", "\n"), nl=False)
            click.echo(f"    {format_reading(frame.reading)}")
        else:
            click.echo(f"{shown}  List {frame.list}  {len(frame.data)} bytes  {frame.data.hex()}")
            click.echo(f"    {format_reading(frame.reading)}")


def _lists_of(frames: Iterator[tuple[datetime, int]], every: set[int]) -> set[int]:
    """The lists among ``frames``, reading no further once all of ``every`` were seen."""
    seen: set[int] = set()
    for _, number in frames:
        seen.add(number)
        if seen >= every:
            break
    return seen


def _check_overrides(meter, overrides: dict, at: datetime, lists: set[int], hint_list: bool) -> None:
    """Refuse (``--reading``) fields none of ``lists`` carries and values the meter cannot encode."""
    try:
        check_carried(overrides, meter.profile, lists)
    except ValueError as exc:
        more = " (choose a list with --list)" if hint_list and len(meter.profile.lists) > 1 else ""
        raise bad("--reading", f"{exc}{more}") from exc
    for number in sorted(lists):
        try:
            meter.frame_at(at, number, overrides=overrides)
        except (ValueError, OverflowError) as exc:  # a value outside what the list's encoding holds
            raise bad("--reading", str(exc)) from exc


def _read_stream(source: str) -> bytes:
    """The bytes of a stream given as raw bytes, hex text, the JSON lines of `rig frames --json`, or a capture."""
    data = sys.stdin.buffer.read() if source == "-" else Path(source).read_bytes()
    text = data.strip()
    if text.startswith(b"{"):
        try:
            objects = [json.loads(line) for line in text.splitlines() if line.strip()]
            if objects and isinstance(objects[0], dict) and objects[0].get("format") == "han-rig-capture":
                objects = objects[1:]  # a capture (captures/README.md): its header, then its chunks
            return b"".join(bytes.fromhex(obj["hex"]) for obj in objects)
        except (ValueError, KeyError, TypeError, RecursionError) as exc:
            raise click.ClickException(f"JSON lines must each carry a 'hex' field of frame bytes: {exc}") from exc
    if text and re.fullmatch(rb"[0-9A-Fa-f\s]+", text):
        digits = re.sub(rb"\s+", b"", text)
        if len(digits) % 2:
            raise click.ClickException("hex input has an odd number of digits")
        return bytes.fromhex(digits.decode())
    return data


class AesEcb:
    """The AES-128 block primitive (ECB, one block at a time) the firmware's GCM runs on, from the
    ``cryptography`` package: what MicroPython's ``cryptolib.aes(key, 1)`` is on the device."""

    def __init__(self, key: bytes) -> None:
        from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

        self._encryptor = Cipher(algorithms.AES(bytes(key)), modes.ECB()).encryptor()

    def encrypt(self, block: bytes) -> bytes:
        return self._encryptor.update(bytes(block))


def _si_reading(fw_reading: dict) -> dict:
    """The firmware's reading (exact integers; currents in mA, voltages in mV: `*_ma`, `*_mv`) as the
    normalized reading of docs/reading.md (A, V)."""
    out = {}
    for name, value in fw_reading.items():
        if name.endswith(("_ma", "_mv")):
            name, value = name[:-2] + name[-1], (None if value is None else value / 1000)
        out[name] = value
    return out


@click.command()
@click.argument("source", default="-", type=PathArg(exists=True, dir_okay=False, allow_dash=True))
@click.option("--key", callback=key_option, metavar="HEX", help="Encryption key for encrypted frames (16 bytes, 32 hex "
              "digits).")
@click.option("--auth-key", callback=key_option, metavar="HEX", help="Authentication key (16 bytes, 32 hex digits).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line (the default output).")
def decode(source: str, key: bytes | None, auth_key: bytes | None, as_json: bool) -> None:
    """Decode a byte stream (raw, hex text, or `rig frames --json` lines) with the firmware's own decoder.

    SOURCE is a file, or - for standard input (the default). Prints one JSON line per frame found; never
    stops at a bad frame. Exit status 1 when any frame failed to decode.
    """
    from dut_firmware.han.decoder import Decoder

    if source == "-" and sys.stdin.isatty():
        click.echo("reading frames from standard input (hex or raw); Ctrl-D to end", err=True)
    try:
        data = _read_stream(source)
    except OSError as exc:
        raise click.ClickException(f"cannot read {source}: {exc}") from exc
    decoder = Decoder(key=key, auth_key=auth_key, aes=AesEcb)
    results = decoder.feed(data) + decoder.flush()
    for result in results:
        if result.get("reading") is not None:
            result["reading"] = _si_reading(result["reading"])
        click.echo(json.dumps(result, default=str))
    if not results:
        click.echo("no frame found in the input", err=True)
    if not results or any(not r.get("ok") for r in results):
        sys.exit(1)

"""Benches: the resources of one test station, read from a TOML file and validated here.

A bench names where things are (the meter link, the DUT, the broker, the features it has); the drivers
in ``rig/links``, ``rig/dut`` and ``rig/services`` know how to use them. The default bench is the
software DUT (``rig/benches/sim.toml``): no hardware, no configuration.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from rig.bench_schema import DEFAULT_MODBUS_PORT, KNOWN_FEATURES, BenchFile, Issue, tz_rule, validate

DEFAULT_BENCH = Path(__file__).parent / "benches" / "sim.toml"
__all__ = ["DEFAULT_BENCH", "KNOWN_FEATURES", "Bench", "BenchError", "load_bench", "posix_tz"]


class BenchError(ValueError):
    """A bench file is missing, malformed or inconsistent; the message has one line per problem,
    each as ``FILE:LINE: [section] key: what is wrong``."""


@dataclass(frozen=True)
class Bench:
    """One station: meter link, DUT, broker and features."""

    path: Path
    name: str
    station: str
    link: str
    profile: str
    timezone: str
    dut_kind: str
    serial_number: str
    http_url: str | None = None
    modbus_host: str | None = None
    modbus_port: int | None = None
    broker_spawn: bool = True
    broker_host: str | None = None
    broker_port: int | None = None
    topic_template: str = "han/{serial}"
    features: dict[str, bool] = field(default_factory=dict)
    led: dict[str, Any] = field(default_factory=dict)  # the [led] section (rig.bench_schema.LedSection)
    eol: dict[str, Any] = field(default_factory=dict)  # the [eol] section and its slots (rig.bench_schema.EolSection)

    @property
    def is_software(self) -> bool:
        return self.dut_kind == "software"

    @property
    def topic(self) -> str:
        return self.topic_template.format(serial=self.serial_number)

    def has(self, feature: str) -> bool:
        return bool(self.features.get(feature, False))


def load_bench(path: str | Path | None = None) -> Bench:
    """Read and validate a bench file (the default software bench when ``path`` is None)."""
    bench_path = Path(path) if path else DEFAULT_BENCH
    try:
        text = bench_path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise BenchError(f"bench file not found: {bench_path}") from None
    except (OSError, ValueError) as exc:  # a folder, unreadable, not UTF-8, a NUL in the name
        raise BenchError(f"{bench_path}: cannot read the bench file: {exc}") from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        at = re.search(r"at line (\d+)", str(exc))
        raise BenchError(f"{bench_path}:{at.group(1) if at else 1}: not valid TOML: {exc}") from exc
    model, issues = validate(data)
    if model is None:
        raise BenchError(_report(bench_path, text, issues))
    return _bench(bench_path, model)


def _bench(path: Path, model: BenchFile) -> Bench:
    dut, broker = model.dut, model.broker
    host = port = None
    if broker.url is not None:
        parsed = urlsplit(broker.url)
        host, port = parsed.hostname, parsed.port or 1883
    return Bench(
        path=path,
        name=model.bench.name or path.stem,
        station=model.bench.station or path.stem,
        link=model.meter.link,
        profile=model.meter.profile,
        timezone=model.meter.timezone,
        dut_kind=dut.kind,
        serial_number=dut.serial_number,
        http_url=dut.http_url,
        modbus_host=dut.modbus_host,
        modbus_port=dut.modbus_port or (DEFAULT_MODBUS_PORT if dut.kind == "board" else None),
        broker_spawn=broker.spawn,
        broker_host=host,
        broker_port=port,
        topic_template=broker.topic,
        features=model.features.model_dump(),
        led=model.led.model_dump(),
        eol=model.eol.model_dump(),
    )


def _report(path: Path, text: str, issues: list[Issue]) -> str:
    """One ``FILE:LINE: [section] key: message`` line per issue, in file order."""
    lines = _key_lines(text)
    rows = []
    for loc, message in issues:
        line = next((lines[loc[:n]] for n in range(len(loc), 0, -1) if loc[:n] in lines), 1)
        where = f"[{loc[0]}]" + (f" {'.'.join(loc[1:])}" if len(loc) > 1 else "")
        rows.append((line, f"{path}:{line}: {where}: {message}"))
    return "\n".join(row for _, row in sorted(rows, key=lambda r: r[0]))


_HEADER = re.compile(r"\s*\[\[?([^\]]+)\]")
_KEY = re.compile(r"\s*([\w\-.\"' ]+?)\s*=")


def _dotted(key: str) -> tuple[str, ...]:
    return tuple(part.strip().strip("\"'") for part in key.split("."))


def _key_lines(text: str) -> dict[tuple[str, ...], int]:
    """Line numbers (1-based) of each table header and key in TOML ``text``, by dotted path (first wins).

    tomllib gives no positions; this scan is enough for bench files (no multi-line strings).
    """
    found: dict[tuple[str, ...], int] = {}
    table: tuple[str, ...] = ()
    for number, line in enumerate(text.splitlines(), start=1):
        if header := _HEADER.match(line):
            table = _dotted(header.group(1))
            found.setdefault(table, number)
        elif key := _KEY.match(line):
            path = table + _dotted(key.group(1))
            for n in range(1, len(path) + 1):
                found.setdefault(path[:n], number)
    return found


def posix_tz(name: str) -> str:
    """The POSIX TZ rule of an IANA zone (e.g. Europe/Oslo -> CET-1CEST,M3.5.0,M10.5.0/3).

    It is the footer line of the zone's TZif file; the firmware has no zone database, only this rule.
    """
    try:
        return tz_rule(name)
    except ValueError as exc:
        raise BenchError(str(exc)) from None

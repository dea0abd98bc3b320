"""Benches: the resources of one test station, read from a TOML file and validated here.

A bench names where things are (the meter link, the DUT, the broker, the features it has); the drivers
in ``rig/links``, ``rig/dut`` and ``rig/services`` know how to use them. The default bench is the
software DUT (``rig/benches/sim.toml``): no hardware, no configuration.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

DEFAULT_BENCH = Path(__file__).parent / "benches" / "sim.toml"
KNOWN_FEATURES = ("modbus", "mqtt", "led_photodiode", "led_camera", "power")


class BenchError(ValueError):
    """A bench file is missing, malformed or inconsistent."""


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
    if not bench_path.is_file():
        raise BenchError(f"bench file not found: {bench_path}")
    try:
        data = tomllib.loads(bench_path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise BenchError(f"{bench_path}: not valid TOML: {exc}") from exc
    return _parse(bench_path, data)


def _section(path: Path, data: dict[str, Any], name: str) -> dict[str, Any]:
    value = data.get(name, {})
    if not isinstance(value, dict):
        raise BenchError(f"{path}: [{name}] must be a table")
    return value


def _parse(path: Path, data: dict[str, Any]) -> Bench:
    bench = _section(path, data, "bench")
    meter = _section(path, data, "meter")
    dut = _section(path, data, "dut")
    broker = _section(path, data, "broker")
    features = _section(path, data, "features")

    unknown = sorted(set(features) - set(KNOWN_FEATURES))
    if unknown:
        raise BenchError(f"{path}: unknown features {unknown}; known: {list(KNOWN_FEATURES)}")
    kind = dut.get("kind", "software")
    if kind not in ("software", "board"):
        raise BenchError(f"{path}: [dut] kind must be 'software' or 'board', got {kind!r}")
    link = str(meter.get("link", "sim"))
    if kind == "software" and link not in ("sim", "pty"):
        raise BenchError(f"{path}: the software DUT reads a virtual line: [meter] link must be 'sim'")
    if kind == "board" and not dut.get("http_url"):
        raise BenchError(f"{path}: a board DUT needs [dut] http_url")

    spawn = bool(broker.get("spawn", True))
    host = port = None
    if not spawn:
        url = broker.get("url")
        if not url:
            raise BenchError(f"{path}: [broker] needs spawn = true or a url = 'mqtt://host:port'")
        parsed = urlparse(str(url))
        if parsed.scheme != "mqtt" or not parsed.hostname:
            raise BenchError(f"{path}: [broker] url must look like mqtt://host:1883, got {url!r}")
        host, port = parsed.hostname, parsed.port or 1883

    return Bench(
        path=path,
        name=str(bench.get("name", path.stem)),
        station=str(bench.get("station", path.stem)),
        link=link,
        profile=str(meter.get("profile", "kaifa-ma304h4")),
        timezone=str(meter.get("timezone", "Europe/Oslo")),
        dut_kind=kind,
        serial_number=str(dut.get("serial_number", "SIM-0001")),
        http_url=dut.get("http_url"),
        modbus_host=dut.get("modbus_host"),
        modbus_port=int(dut["modbus_port"]) if "modbus_port" in dut else None,
        broker_spawn=spawn,
        broker_host=host,
        broker_port=port,
        topic_template=str(broker.get("topic", "han/{serial}")),
        features={name: bool(features.get(name, False)) for name in KNOWN_FEATURES},
    )


def posix_tz(name: str) -> str:
    """The POSIX TZ rule of an IANA zone (e.g. Europe/Oslo -> CET-1CEST,M3.5.0,M10.5.0/3).

    It is the footer line of the zone's TZif file; the firmware has no zone database, only this rule.
    """
    import zoneinfo

    for root in zoneinfo.TZPATH:
        candidate = Path(root) / name
        if candidate.is_file():
            return candidate.read_bytes().rstrip(b"\n").rsplit(b"\n", 1)[-1].decode()
    try:
        import importlib.resources

        data = importlib.resources.files("tzdata.zoneinfo").joinpath(*name.split("/")).read_bytes()
        return data.rstrip(b"\n").rsplit(b"\n", 1)[-1].decode()
    except (ModuleNotFoundError, FileNotFoundError) as exc:
        raise BenchError(f"unknown time zone {name!r}") from exc

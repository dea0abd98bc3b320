"""The `rig` commands that work on a bench: `rig test` (the scenario suite) and `rig dut` (the software DUT
by hand)."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import click

from rig.cli_common import load_bench_or_exit, run_dir_for
from rig.cli_inputs import FIRMWARE_HELP, SPEED_HELP, Speed, bench_file, firmware_build, mqtt_broker, mqtt_topic

BENCH_HELP = "Bench file (TOML); default: the software DUT."


class _Reports:
    """A pytest plugin that notes where the HTML and JUnit reports go (the last --html/--junitxml wins)."""

    def __init__(self) -> None:
        self.paths: dict[str, Path] = {}

    def pytest_configure(self, config) -> None:
        for label, option in (("report", "htmlpath"), ("JUnit", "xmlpath")):
            value = config.getoption(option, default=None)
            if value:
                self.paths[label] = Path.cwd() / Path(os.path.expandvars(value)).expanduser()

    def written(self, since: float) -> dict[str, Path]:
        """The reports this run wrote: those that exist, changed since ``since`` (a time.time())."""
        return {label: path for label, path in self.paths.items() if path.is_file() and path.stat().st_mtime >= since}


@click.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.option("--bench", "bench_path", callback=bench_file, metavar="FILE", help=BENCH_HELP)
@click.option("--firmware", metavar="PATH|REV", help=FIRMWARE_HELP)
@click.pass_context
def test(ctx: click.Context, bench_path: str | None, firmware: str | None) -> None:
    """Run the scenario suite on a bench; writes reports/<run>/report.html and junit.xml.

    Extra arguments go to pytest (e.g. -k modbus, -x, or --html=FILE for the report elsewhere). The
    reports' paths are printed at the end, those that were written.
    """
    import pytest

    from rig.fixtures.plugin import run_report_args

    bench = load_bench_or_exit(bench_path)
    run_dir = run_dir_for("test", bench.name)
    scenarios = Path(__file__).parent / "scenarios"
    args = [str(scenarios), *run_report_args(run_dir)]
    if bench_path:
        args += ["--bench", bench_path]
    if firmware:
        args += ["--rig-firmware", firmware]
    reports = _Reports()
    started = time.time() - 1  # file times may be a little coarse
    code = pytest.main(args + list(ctx.args), plugins=[reports])
    for label, path in reports.written(started).items():
        click.echo(f"{label + ':':<7} {path}", err=True)
    sys.exit(int(code))


@click.command()
@click.option("--bench", "bench_path", callback=bench_file, metavar="FILE", help=BENCH_HELP)
@click.option("--broker", "broker_url", callback=mqtt_broker, metavar="URL",
              help="Publish to this broker (mqtt://host:port, port 1883 if not given) instead of our own.")
@click.option("--topic", callback=mqtt_topic, help="MQTT topic, {serial} standing for the DUT's serial number; "
              "default: the bench's (han/{serial}).")
@click.option("--modbus/--no-modbus", default=True, show_default=True, help="Activate Modbus TCP.")
@click.option("--modbus-map", type=click.Choice(["default", "han2x"]), default="default", show_default=True,
              help="The Modbus register map (README: the reader firmware).")
@click.option("--mqtt-per-value", is_flag=True, help="Also publish each value on <topic>/<name>.")
@click.option("--ha-discovery", is_flag=True, help="Send Home Assistant MQTT discovery (homeassistant/...).")
@click.option("--mdns/--no-mdns", default=True, show_default=True,
              help="Advertise _http._tcp by mDNS (on loopback only).")
@click.option("--speed", default=1.0, show_default=True, type=Speed(), metavar="X",
              help=f"Time compression of the line and the DUT's clock, {SPEED_HELP} (match `rig emulate --speed`).")
@click.option("--firmware", callback=firmware_build, metavar="PATH|REV", help=FIRMWARE_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print the addresses as one JSON line.")
def dut(bench_path: str | None, broker_url: str | None, topic: str | None, modbus: bool, modbus_map: str,
        mqtt_per_value: bool, ha_discovery: bool, mdns: bool, speed: float, firmware: Any, as_json: bool) -> None:
    """Start the software DUT by hand and keep it running until interrupted.

    Point `rig emulate --port <meter port>` at it (a pty wired like a null-modem cable to the DUT's
    serial line), and curl, a Modbus tool or mosquitto_sub at the addresses it prints.
    """
    from contextlib import ExitStack
    from dataclasses import replace
    from urllib.parse import urlparse

    from rig.emulators import get_profile
    from rig.links.bridge import PtyBridge
    from rig.probes.http import HttpProbe
    from rig.session import BrokerAddress, open_meter_link, start_broker, start_dut

    bench = load_bench_or_exit(bench_path)
    if not bench.is_software:
        raise click.ClickException("`rig dut` starts the software DUT; this bench has a board")
    if topic:
        bench = replace(bench, topic_template=topic)
    run_dir = run_dir_for("dut", bench.serial_number)
    run_dir.mkdir(parents=True, exist_ok=True)
    with ExitStack() as stack:
        if broker_url:
            parsed = urlparse(broker_url)  # checked by its callback
            broker = BrokerAddress(parsed.hostname or "", parsed.port or 1883)
        else:
            broker, mosquitto = start_broker(bench, run_dir)
            if mosquitto:
                stack.callback(mosquitto.stop)
        link = open_meter_link(bench, get_profile(bench.profile).line, speed, run_dir)
        stack.callback(link.close)
        device = start_dut(bench, run_dir, link, broker, clock_scale=speed, modbus_enabled=modbus, firmware=firmware)
        stack.callback(device.stop)
        bridge = PtyBridge(link)
        stack.callback(bridge.close)
        settings = {"modbus": {"map": modbus_map}, "mdns": {"enabled": mdns},
                    "mqtt": {"per_value": mqtt_per_value, "discovery": ha_discovery}}
        with HttpProbe(device.http_url) as http:  # run-time settings, as a user would POST them
            applied = http.configure(settings)
        serial = bench.serial_number
        info = {
            "serial_device": link.device,  # type: ignore[attr-defined]
            "meter_port": bridge.device,
            "http_url": device.http_url,
            "modbus_port": device.modbus_port if modbus else None,
            "mqtt_host": broker.host,
            "mqtt_port": broker.port,
            "mqtt_topic": bench.topic,
            "modbus_map": applied["modbus"]["map"] if modbus else None,
            "mqtt_per_value": mqtt_per_value,
            "ha_discovery": ha_discovery,
            "mdns": f"HAN reader {serial}._http._tcp.local. (han-{serial}.local, 127.0.0.1:5353)" if mdns else None,
            "log": str(device.log_path),
        }
        if as_json:
            click.echo(json.dumps(info), nl=True)
        else:
            click.echo(f"software DUT {bench.serial_number} running (Ctrl-C stops it)")
            click.echo(f"  meter port     {bridge.device}    rig emulate --meter {bench.profile} "
                       f"--port {bridge.device}")
            click.echo(f"  DUT serial     {info['serial_device']} (the DUT reads it; write meter bytes to the "
                       "meter port)")
            click.echo(f"  HTTP           {device.http_url}/meter")
            click.echo(f"  Modbus TCP     127.0.0.1:{info['modbus_port']} ({modbus_map} map)" if modbus
                       else "  Modbus TCP     off")
            extras = ", ".join(x for x in ("one topic per value" if mqtt_per_value else "",
                                           "Home Assistant discovery" if ha_discovery else "") if x)
            extras = f" ({extras})" if extras else ""
            click.echo(f"  MQTT           {broker.host}:{broker.port} topic {bench.topic}{extras}"
                       f"    mosquitto_sub -h {broker.host} -p {broker.port} -t '{bench.topic}/#' -v")
            click.echo(f"  mDNS           {info['mdns']}" if mdns else "  mDNS           off")
            click.echo(f"  log            {device.log_path}")
        sys.stdout.flush()
        stop = []
        signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
        try:
            while not stop and device.alive():  # type: ignore[attr-defined]
                time.sleep(0.2)
        except KeyboardInterrupt:
            pass
        if not stop and not device.alive():  # type: ignore[attr-defined]
            raise click.ClickException(f"the DUT exited; see {device.log_path}")

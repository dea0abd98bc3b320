"""Bring up the parts of a bench: broker, meter link, DUT. Shared by `rig run`, `rig dut` and the plugin.

Each function starts one resource and returns it ready to use; callers stack them (``ExitStack``) so
everything stops in reverse order, even on failure.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rig.bench import Bench, BenchError, posix_tz
from rig.dut.base import Dut
from rig.line import LineSettings
from rig.links import Link, open_link
from rig.services.broker import Mosquitto


@dataclass(frozen=True)
class BrokerAddress:
    """Where the DUT publishes and the MQTT probe subscribes."""

    host: str
    port: int


def start_broker(bench: Bench, workdir: Path) -> tuple[BrokerAddress, Mosquitto | None]:
    """The bench's broker: a mosquitto of our own on loopback, or the external one the bench names."""
    if bench.broker_spawn:
        broker = Mosquitto(workdir).start()
        return BrokerAddress(broker.host, broker.port), broker
    if not (bench.broker_host and bench.broker_port):
        raise BenchError(f"{bench.path}: [broker] spawn = false needs url = 'mqtt://host:port'")
    return BrokerAddress(bench.broker_host, bench.broker_port), None


def open_meter_link(bench: Bench, line: LineSettings, speed: float, workdir: Path, meter: str | None = None) -> Link:
    """The line the meter talks on, recording every write as a capture in ``workdir/line.jsonl``."""
    return open_link(bench.link, line, speed=speed, log_path=workdir / "line.jsonl", meter=meter)


def start_dut(
    bench: Bench,
    workdir: Path,
    link: Link,
    broker: BrokerAddress | None,
    clock_scale: float = 1.0,
    modbus_enabled: bool = False,
) -> Dut:
    """Start (software) or reach (board) the bench's DUT, publishing MQTT to ``broker`` when given."""
    if bench.is_software:
        from rig.dut.software import SoftwareDut

        mqtt = None
        if broker is not None and bench.has("mqtt"):
            mqtt = {"host": broker.host, "port": broker.port, "topic": bench.topic}
        dut = SoftwareDut(
            workdir,
            link.device,  # type: ignore[attr-defined]  # a software bench always has a pty link
            mqtt=mqtt,
            modbus_enabled=modbus_enabled,
            clock_scale=clock_scale,
            serial_number=bench.serial_number,
            tz=posix_tz(bench.timezone),
        )
    else:
        from rig.dut.bench import BenchDut

        dut = BenchDut(
            http_url=bench.http_url or "",
            modbus_host=bench.modbus_host,
            modbus_port=bench.modbus_port,
            serial_number=bench.serial_number,
        )
    dut.start()
    return dut

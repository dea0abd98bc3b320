"""A mosquitto broker of the rig's own, on a free loopback port, for one session.

Mosquitto logs to stderr without timestamps of its own; a reader thread copies each line into
``workdir/mosquitto.log`` as it comes, prefixed with the run's time base (:class:`~rig.runclock.RunClock`),
under a header that states the wall-clock start. The rig's own notes start with ``[rig]``.
"""

from __future__ import annotations

import shutil
import subprocess
import threading
from pathlib import Path
from typing import IO

from rig.netutil import free_port, wait_for_port
from rig.process import terminate
from rig.runclock import RunClock

INSTALL_HINT = "install it with: apt-get install -y mosquitto (Debian/Ubuntu)"


class BrokerError(RuntimeError):
    """The broker could not be started."""


class Mosquitto:
    """Spawn mosquitto in the foreground with a generated config; use as a context manager.

    ``host``/``port`` tell clients where it listens; its log goes to ``workdir/mosquitto.log``, each line
    stamped with the seconds since ``clock`` started (by default: when this broker was made).
    """

    def __init__(self, workdir: Path, host: str = "127.0.0.1", port: int | None = None,
                 executable: str | None = None, clock: RunClock | None = None) -> None:
        self.workdir = Path(workdir)
        self.host = host
        self.port = port or free_port(host)
        self.executable = executable or shutil.which("mosquitto") or _debian_path()
        self.log_path = self.workdir / "mosquitto.log"
        self.clock = clock or RunClock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._reader: threading.Thread | None = None
        self._log: IO[str] | None = None
        self._log_lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def start(self, timeout: float = 5.0) -> Mosquitto:
        """Spawn the broker and wait until it listens; ``BrokerError`` quoting its log otherwise."""
        if not self.executable:
            raise BrokerError(f"mosquitto was not found on PATH; {INSTALL_HINT}")
        self.workdir.mkdir(parents=True, exist_ok=True)
        conf = self.workdir / "mosquitto.conf"
        # allow_anonymous must be explicit once a listener is set (mosquitto >= 2.0). stderr is unbuffered,
        # so each line reaches the log as it happens.
        conf.write_text(
            f"listener {self.port} {self.host}\n"
            "allow_anonymous true\n"
            "persistence false\n"
            "log_dest stderr\n"
            "log_timestamp false\n"
            "log_type error\nlog_type warning\nlog_type notice\nlog_type information\n"
            "connection_messages true\n"
        )
        self._log = open(self.log_path, "a", encoding="utf-8", errors="replace")
        self._log.write(self.clock.header(f"mosquitto on {self.host}:{self.port}") + "\n")
        self._log.flush()
        # a session of its own: a Ctrl-C on the terminal reaches the rig, which stops the broker in turn
        self._proc = subprocess.Popen([self.executable, "-c", str(conf)], stdout=subprocess.PIPE,
                                      stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            self._reader = threading.Thread(target=self._copy_log, args=(self._proc,),
                                            name=f"mosquitto log {self.port}", daemon=True)
            self._reader.start()
            if not wait_for_port(self.host, self.port, timeout):
                code = self._proc.poll()
                self.stop()
                tail = self.log_path.read_text(errors="replace")[-800:]
                raise BrokerError(f"mosquitto did not listen on {self.host}:{self.port} within {timeout} s "
                                  f"(exit code {code}); log {self.log_path}:\n{tail}")
        except BaseException:
            self.stop()  # an interruption while starting must not leave the broker behind
            raise
        return self

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after 3 s; the log notes how the broker ended."""
        proc = self._proc
        if proc is None:
            return
        how = "ERROR: exited by itself"
        if proc.poll() is None:
            signal = terminate(proc, timeout=3)
            how = ("stopped by the rig (SIGTERM)" if signal == "SIGTERM"
                   else "stopped by the rig (SIGKILL: no exit 3 s after SIGTERM)")
        if self._reader is not None:
            self._reader.join(timeout=2)
        if proc.stdout is not None:
            proc.stdout.close()
        self._note(f"{how}, exit code {proc.returncode}")
        with self._log_lock:
            if self._log is not None:
                self._log.close()
                self._log = None
        self._proc = self._reader = None

    def _copy_log(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdout is not None
        for raw in proc.stdout:
            self._write(raw.decode("utf-8", errors="replace").rstrip("\r\n"))

    def _write(self, text: str) -> None:
        with self._log_lock:
            if self._log is not None:
                self._log.write(f"{self.clock.stamp()} {text}\n")
                self._log.flush()

    def _note(self, text: str) -> None:
        self._write(f"[rig] {text}")

    def __enter__(self) -> Mosquitto:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _debian_path() -> str | None:
    path = Path("/usr/sbin/mosquitto")
    return str(path) if path.exists() else None

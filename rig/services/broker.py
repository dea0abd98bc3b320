"""A mosquitto broker of the rig's own, on a free loopback port, for one session."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from rig.netutil import free_port, wait_for_port

INSTALL_HINT = "install it with: apt-get install -y mosquitto (Debian/Ubuntu)"


class BrokerError(RuntimeError):
    """The broker could not be started."""


class Mosquitto:
    """Spawn mosquitto in the foreground with a generated config; use as a context manager.

    ``host``/``port`` tell clients where it listens; its log goes to ``workdir/mosquitto.log``.
    """

    def __init__(self, workdir: Path, host: str = "127.0.0.1", port: int | None = None,
                 executable: str | None = None) -> None:
        self.workdir = Path(workdir)
        self.host = host
        self.port = port or free_port(host)
        self.executable = executable or shutil.which("mosquitto") or _debian_path()
        self.log_path = self.workdir / "mosquitto.log"
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    def start(self, timeout: float = 5.0) -> Mosquitto:
        if not self.executable:
            raise BrokerError(f"mosquitto was not found on PATH; {INSTALL_HINT}")
        self.workdir.mkdir(parents=True, exist_ok=True)
        conf = self.workdir / "mosquitto.conf"
        # allow_anonymous must be explicit once a listener is set (mosquitto >= 2.0).
        conf.write_text(
            f"listener {self.port} {self.host}\n"
            "allow_anonymous true\n"
            "persistence false\n"
            "log_dest stderr\n"
            "log_type error\nlog_type warning\nlog_type notice\nlog_type information\n"
            "connection_messages true\n"
        )
        log = open(self.log_path, "ab")
        self._proc = subprocess.Popen([self.executable, "-c", str(conf)], stdout=log, stderr=log,
                                      stdin=subprocess.DEVNULL)
        log.close()
        if not wait_for_port(self.host, self.port, timeout):
            code = self._proc.poll()
            self.stop()
            tail = self.log_path.read_text(errors="replace")[-800:]
            raise BrokerError(f"mosquitto did not listen on {self.host}:{self.port} within {timeout} s "
                              f"(exit code {code}); log {self.log_path}:\n{tail}")
        return self

    def stop(self) -> None:
        if self._proc and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=3)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._proc = None

    def __enter__(self) -> Mosquitto:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _debian_path() -> str | None:
    path = Path("/usr/sbin/mosquitto")
    return str(path) if path.exists() else None

"""A real reader on a bench, reached at an address; the rig neither starts nor stops it."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from rig.dut.base import DutError
from rig.netutil import wait_for_port


class BenchDut:
    """A board at ``http_url``; ``start()`` only checks that its HTTP port accepts connections."""

    def __init__(self, http_url: str, modbus_host: str | None = None, modbus_port: int = 502,
                 serial_number: str = "", *, timeout: float = 5.0) -> None:
        parts = urlsplit(http_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"bench DUT http_url must be like http://HOST[:PORT], got {http_url!r}")
        self.http_url = http_url.rstrip("/")
        self.http_host = parts.hostname
        self.http_port = parts.port or (443 if parts.scheme == "https" else 80)
        self.modbus_host = modbus_host or parts.hostname
        self.modbus_port = modbus_port
        self.serial_number = serial_number
        self.log_path: Path | None = None
        self.timeout = timeout

    @property
    def modbus_address(self) -> tuple[str, int]:
        return self.modbus_host, self.modbus_port

    def start(self) -> BenchDut:
        """Check reachability; ``DutError`` naming the address when the board does not answer."""
        if not wait_for_port(self.http_host, self.http_port, self.timeout):
            raise DutError(f"bench DUT {self.serial_number or '(no serial)'} is not reachable: no TCP "
                           f"connection to {self.http_host}:{self.http_port} ({self.http_url}) within "
                           f"{self.timeout} s; is it powered, on the network, at that address?")
        return self

    def stop(self) -> int | None:
        """Nothing to stop: the board keeps running."""
        return None

    def alive(self) -> bool:
        """A board is not watched: its probes report when it stops answering."""
        return True

    def __enter__(self) -> BenchDut:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<BenchDut {self.serial_number} {self.http_url}>"

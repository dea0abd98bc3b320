"""The ``Dut`` contract: a reader reached by a serial line in and an IP address out."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol, runtime_checkable


class DutError(RuntimeError):
    """The DUT could not be started, reached or stopped."""


@runtime_checkable
class Dut(Protocol):
    """What scenarios may rely on, whether the DUT is the software DUT or a board on a bench."""

    http_url: str          # e.g. "http://127.0.0.1:8080" (no trailing slash)
    modbus_host: str
    modbus_port: int
    serial_number: str
    log_path: Path | None  # the DUT's console log, when the rig has one

    def start(self) -> Dut: ...

    def stop(self) -> int | None: ...

    def alive(self) -> bool: ...  # False once the DUT is known to be gone (a board: always True)

    def __enter__(self) -> Dut: ...

    def __exit__(self, *exc: object) -> None: ...

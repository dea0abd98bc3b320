"""What every simulated SCPI instrument shares: a line server on loopback, the error queue, and numbers.

A simulated instrument is a *state* (an object with ``lock``, ``errors`` and ``handle(Command) -> bytes |
None``) served by :class:`SimInstrument` on a free loopback port, which real pyvisa-py reaches as
``TCPIP0::127.0.0.1::PORT::SOCKET``. Commands may be chained with ``;``; an error goes to the state's
queue (read with ``SYST:ERR?``), never to the connection.
"""

from __future__ import annotations

import socket
import socketserver
import threading
from collections.abc import Sequence
from typing import Any, Protocol

from rig.instruments.scpi import Command, ScpiError, parse_command


class InstrumentState(Protocol):
    lock: Any
    errors: list[str]

    def handle(self, cmd: Command) -> bytes | None: ...


def number(args: Sequence[str], low: float, high: float, header: str) -> float:
    """The one number ``args`` holds, within ``low``..``high``; SCPI error -222 otherwise."""
    try:
        value = float(args[0]) if len(args) == 1 else float("nan")
    except ValueError:
        value = float("nan")
    if not low <= value <= high:
        raise ScpiError(f'-222,"Data out of range; {header} takes one number {low:g}..{high:g}, got {tuple(args)!r}"')
    return value


class _Handler(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        state: InstrumentState = self.server.state  # type: ignore[attr-defined]
        for raw in self.rfile:
            line = raw.decode("ascii", errors="replace").strip()
            if not line:
                continue
            for part in line.split(";"):
                with state.lock:
                    try:
                        answer = state.handle(parse_command(part))
                    except ScpiError as exc:
                        state.errors.append(str(exc) if str(exc)[:1] in "-0123456789" else f'-100,"{exc}"')
                        answer = None
                if answer is not None:
                    self.wfile.write(answer + b"\n")
                    self.wfile.flush()


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


class SimInstrument:
    """A simulated instrument serving ``state`` on a free loopback port; a context manager."""

    name = "sim instrument"

    def __init__(self, state: InstrumentState, host: str = "127.0.0.1") -> None:
        self.state = state
        self._server = _Server((host, 0), _Handler)
        self._server.state = state  # type: ignore[attr-defined]
        self.host, self.port = self._server.server_address[:2]
        self._thread = threading.Thread(target=self._server.serve_forever, name=self.name, daemon=True)

    @property
    def resource(self) -> str:
        """The VISA resource string that reaches it."""
        return f"TCPIP0::{self.host}::{self.port}::SOCKET"

    def start(self) -> SimInstrument:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> SimInstrument:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

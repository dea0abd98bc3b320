"""Errors shared by the probes."""

from __future__ import annotations


class ProbeError(RuntimeError):
    """A probe could not read the DUT, or the DUT published something that breaks the contract."""


class HttpStatusError(ProbeError):
    """The DUT answered an HTTP request with an unexpected status."""

    def __init__(self, method: str, url: str, status: int, body: str) -> None:
        self.method = method
        self.url = url
        self.status = status
        self.body = body
        short = body if len(body) <= 300 else body[:300] + "..."
        super().__init__(f"{method} {url} -> HTTP {status}: {short!r}")


class ConnectionRefused(ProbeError):
    """The DUT refused the TCP connection (e.g. its Modbus port is disabled)."""


class ModbusExceptionResponse(ProbeError):
    """The DUT answered a Modbus request with an exception response."""

    def __init__(self, function_code: int, exception_code: int, detail: str = "") -> None:
        self.function_code = function_code
        self.exception_code = exception_code
        super().__init__(f"Modbus exception {exception_code:02d} to function {function_code:02d}"
                         + (f" ({detail})" if detail else ""))


class ProbeTimeout(ProbeError, TimeoutError):
    """What a probe waited for did not arrive in time."""

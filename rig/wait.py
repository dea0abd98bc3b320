"""The one way the rig and its tests wait for a condition: poll it until it holds or a timeout passes."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

INTERVAL_S = 0.01


class WaitTimeout(AssertionError):
    """A condition did not hold in time. An AssertionError: in a scenario an unmet wait is a failed
    expectation, and no ``except OSError`` around network code swallows it (as it would a TimeoutError)."""

    def __init__(self, what: str, timeout: float, detail: str = "") -> None:
        self.what = what
        self.timeout = timeout
        message = f"timed out after {timeout:g} s waiting for {what}"
        super().__init__(f"{message}; {detail}" if detail else message)


def wait_until(condition: Callable[[], T], timeout: float, what: str, hint: str | Callable[[], str] = "",
               interval: float = INTERVAL_S) -> T:
    """Call ``condition`` every ``interval`` seconds until it returns something truthy, and return that.

    The condition is always tried once more at the deadline. ``WaitTimeout`` naming ``what`` when
    ``timeout`` passes, with ``hint`` (e.g. where the DUT's log is, or a function giving its console then).
    """
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        left = deadline - time.monotonic()
        if left <= 0:
            raise WaitTimeout(what, timeout, hint() if callable(hint) else hint)
        time.sleep(min(interval, left))

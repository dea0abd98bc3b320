"""A null-modem into a link: a second pty whose bytes are forwarded onto the line the DUT reads.

Writing to a pty's slave sends bytes back to its master, not to whoever else opened the slave, so a
program cannot reach the software DUT by opening the DUT's own device. ``rig dut`` therefore offers
``bridge.device``: anything written there (by ``rig emulate --port /dev/pts/N``, a replay tool, or a
terminal program) is forwarded onto the DUT's line, paced at its line rate by the link.
"""

from __future__ import annotations

import os
import pty
import select
import threading
import tty

from rig.links.base import Link


class PtyBridge:
    """A pty pair whose slave (``device``) accepts meter bytes; a thread forwards them into ``link``."""

    def __init__(self, link: Link) -> None:
        self.link = link
        self.forwarded = 0
        self._master, self._slave = pty.openpty()
        tty.setraw(self._master)
        self.device = os.ttyname(self._slave)
        self._wake_r, self._wake_w = os.pipe()
        self._closed = False
        self._thread = threading.Thread(target=self._forward, name=f"bridge {self.device}", daemon=True)
        self._thread.start()

    def _forward(self) -> None:
        while True:
            ready, _, _ = select.select([self._master, self._wake_r], [], [], 1.0)
            if self._wake_r in ready:
                return
            if self._master in ready:
                try:
                    data = os.read(self._master, 4096)
                except OSError:  # cannot happen while we hold the slave open; stop quietly
                    return
                self.link.write(data)
                self.forwarded += len(data)

    def close(self) -> None:
        """Stop forwarding and release both ptys."""
        if self._closed:
            return
        self._closed = True
        os.write(self._wake_w, b"x")
        self._thread.join(timeout=2)
        for fd in (self._master, self._slave, self._wake_r, self._wake_w):
            os.close(fd)

    def __enter__(self) -> PtyBridge:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

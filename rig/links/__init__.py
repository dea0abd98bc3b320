"""Links: put bytes onto the serial line the DUT reads (pty pair or any pyserial URL).

``open_link("sim", line)`` gives a paced pty pair for the software DUT; any other string is a
pyserial URL (``/dev/ttyUSB0``, ``rfc2217://host:port``, ``socket://host:port``, ``loop://``).
"""

from __future__ import annotations

from pathlib import Path

from rig.line import LineSettings
from rig.links.base import Link, LinkError
from rig.links.pacing import Pacer
from rig.links.pty import PtyLink
from rig.links.serial import SerialLink
from rig.runclock import RunClock

SIM_URLS = ("sim", "pty")

__all__ = ["Link", "LinkError", "Pacer", "PtyLink", "SerialLink", "open_link", "SIM_URLS"]


def open_link(url: str, line: LineSettings, speed: float = 1.0, log_path: str | Path | None = None,
              meter: str | None = None, clock: RunClock | None = None) -> Link:
    """Open the link named by ``url``: ``"sim"``/``"pty"`` -> :class:`PtyLink`, else :class:`SerialLink`.

    ``speed`` (time compression) applies to the lines the rig paces itself (the pty, ``socket://``,
    ``loop://``); a UART sends at its own baud rate whatever the speed. With ``log_path``, the link
    writes a capture of everything it sends there, naming ``meter`` (a profile id) in its header, its
    times on ``clock`` (the run's time base; by default one started when the link opens).
    """
    if url in SIM_URLS:
        return PtyLink(line, speed=speed, log_path=log_path, url=url, meter=meter, clock=clock)
    return SerialLink(url, line, log_path=log_path, speed=speed, meter=meter, clock=clock)

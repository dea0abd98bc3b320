"""Provoking the LED states of the software DUT: its control channel and the line each state needs.

The unix HAL reads control lines appended to ``<led events file>.control`` (button, Wi-Fi, network,
firmware update, critical error; see dut_firmware/led.py). Read OK and read failed come from frames on
the meter line, not from here (``FRAME_STATES``).
"""

from __future__ import annotations

from pathlib import Path

# state -> (control lines that start it, control lines that end it (modes), the state it shows after)
PROVOKE: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "offline": (("network down",), ("network up",)),
    "handshake": (("network down", "network up"), ()),
    "firmware_update": (("update start",), ("update end",)),
    "critical_error": (("critical set",), ("critical clear",)),
    "factory_reset": (("button hold",), ("button press",)),
    "ap_mode": (("wifi ap",), ()),
    "wifi_error": (("wifi error",), ()),
}
FRAME_STATES = ("read_ok", "read_failed")  # a good frame, a damaged one (bad checksum)
BASE_STATES = ("booting", "online")  # seen without provoking: at start, then once READY


def control_path(events_path: str | Path) -> Path:
    """The control file of the DUT whose LED events go to ``events_path``."""
    return Path(str(events_path) + ".control")


def send_control(events_path: str | Path, *lines: str) -> None:
    """Append control lines (each in one write, so the DUT never reads half a line)."""
    path = control_path(events_path)
    for line in lines:
        if "\n" in line or not line.strip():
            raise ValueError(f"a control line is one non-empty line, got {line!r}")
        with open(path, "a", encoding="ascii") as f:
            f.write(line + "\n")

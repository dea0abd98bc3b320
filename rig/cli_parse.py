"""What a user types into `rig`, parsed: functions from text to values, each raising ValueError that says what
is wrong (rig.cli_inputs turns it into a usage error naming the option). No click here.
"""

from __future__ import annotations

import json
import math
import os
import re
import stat
from collections.abc import Iterable
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

NETWORK_SCHEMES = ("socket", "rfc2217")  # host:port required
OTHER_SCHEMES = ("spy", "alt", "hwgrep", "cp2110")  # further pyserial URL handlers: passed through
PORT_FORMS = "sim, a serial device (/dev/ttyUSB0, a pty), socket://host:port, rfc2217://host:port or loop://"


def shown(value: object, limit: int = 60) -> str:
    """``value`` quoted for a message, cut short when long (a user may paste anything)."""
    text = str(value)
    return repr(text if len(text) <= limit else text[:limit] + "...")


def parse_duration(text: str) -> float:
    """'90', '90s', '2m', '1h', '1h30m' -> seconds (not range-checked); ValueError for anything else."""
    if re.fullmatch(r"\d+(\.\d+)?", text, re.ASCII):
        return float(text)
    parts = re.findall(r"(\d+(?:\.\d+)?)([hms])", text, re.ASCII)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"{shown(text)} is not a duration like 90s, 2m, 1h or 1h30m")
    return sum(float(n) * {"h": 3600, "m": 60, "s": 1}[u] for n, u in parts)


def parse_time(text: str | None) -> datetime | None:
    """An ISO local wall-clock time without offset (None for None); ValueError saying why otherwise."""
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{shown(text)} is not an ISO time like 2024-10-01T19:00:00") from None
    if value.tzinfo is not None:
        raise ValueError("give the meter's local wall-clock time, without an offset")
    return value


def check_port(text: str, sim: bool = True) -> str:
    """``text`` as a port the links open (a URL's scheme in lower case); ValueError saying what is wrong."""
    from rig.links import SIM_URLS

    forms = PORT_FORMS if sim else PORT_FORMS.replace("sim, ", "")
    if text in SIM_URLS:
        if not sim:
            raise ValueError(f"{text} is the rig's own virtual line, for playing into; give {forms}")
        return text
    if "://" not in text:
        return _check_device(text, forms)
    scheme, rest = text.split("://", 1)
    scheme = scheme.lower()
    url = f"{scheme}://{rest}"
    if scheme in NETWORK_SCHEMES:
        parts = urlsplit(url)
        try:
            port = parts.port
        except ValueError:
            port = -1
        if not parts.hostname or port is None:
            raise ValueError(f"{shown(text)} is incomplete: give {scheme}://host:port")
        if not 1 <= port <= 65535:
            raise ValueError(f"{shown(text)}: the TCP port must be a number from 1 to 65535")
        if parts.path not in ("", "/"):
            raise ValueError(f"{shown(text)}: give {scheme}://host:port, without a path")
        return url
    if scheme == "loop":
        if rest and not rest.startswith("?"):
            raise ValueError(f"{shown(text)}: give loop:// (options after ?), without a host or path")
        return url
    if scheme in OTHER_SCHEMES:
        if not rest.strip():
            raise ValueError(f"{shown(text)} is incomplete: {scheme}:// names a port after it")
        return url
    raise ValueError(f"{shown(text)}: unknown URL scheme {shown(scheme)}; give {forms}")


def _check_device(path: str, forms: str) -> str:
    if not path.strip():
        raise ValueError(f"no port given; give {forms}")
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise ValueError(f"{shown(path)}: no such device; give {forms}") from None
    except (OSError, ValueError) as exc:  # ValueError: an embedded NUL
        raise ValueError(f"{shown(path)}: cannot use it as a port ({exc}); give {forms}") from None
    if not stat.S_ISCHR(mode):
        what = "a directory" if stat.S_ISDIR(mode) else "a file"
        raise ValueError(f"{shown(path)} is {what}, not a serial device; give {forms}")
    return path


def parse_faults(specs: Iterable[str]) -> list:
    """The faults of ``NAME[:PARAM]`` specs, in an order whose counts are certain; ValueError otherwise."""
    from rig.emulators import Meter
    from rig.emulators.faults import apply_faults, parse_fault

    faults = [parse_fault(spec) for spec in specs]
    if not faults:
        return faults
    try:
        apply_faults([], faults, meter=Meter("kaifa-ma304h4"))  # the order check; clock_jump asks for a meter
    except OverflowError as exc:
        raise ValueError(f"a fault's parameter is too large ({exc}): {' '.join(f.spec for f in faults)}") from None
    return faults


def check_reading(text: str) -> dict[str, Any]:
    """The reading ``text`` sets; ValueError naming the field and why for anything the meter cannot send."""
    from rig.reading import FIELDS, TEXT_FIELDS

    try:
        reading = json.loads(text)
    except (ValueError, RecursionError) as exc:  # ValueError: JSONDecodeError
        raise ValueError(f"not JSON: {exc}") from None
    if not isinstance(reading, dict):
        raise ValueError("must be a JSON object of fields, e.g. {\"p_import_w\": 1500}")
    for name, value in reading.items():
        if name == "timestamp":
            raise ValueError("timestamp is the frame's time: give it with --at")
        if name not in FIELDS:
            raise ValueError(f"unknown field {shown(name)}; fields: {', '.join(f for f in FIELDS if f != 'timestamp')}")
        if name in TEXT_FIELDS:
            if not isinstance(value, str):
                raise ValueError(f"{name} is text: give a JSON string, not {json.dumps(value)[:40]}")
            if not value.isascii() or not value.isprintable():
                raise ValueError(f"{name} is what the meter sends as a visible string: printable ASCII only, "
                                 f"not {json.dumps(value)[:40]}")
        elif isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"{name} is a number: give a JSON number, not {json.dumps(value)[:40]}")
        elif not math.isfinite(value):
            raise ValueError(f"{name} is {value}: give a finite number")
    return reading


def check_carried(reading: dict[str, Any], profile: Any, lists: Iterable[int]) -> None:
    """ValueError when a field of ``reading`` is carried by none of the ``lists`` of ``profile``."""
    carried: list[str] = []
    for n in sorted(set(lists)):
        carried += [name for name in profile.fields(n) if name not in carried]
    missing = [name for name in reading if name not in carried]
    if missing:
        which = " or ".join(f"List {n}" for n in sorted(set(lists)))
        raise ValueError(f"{profile.id} {which} does not carry {', '.join(missing)}; it carries "
                         f"{', '.join(carried)}")

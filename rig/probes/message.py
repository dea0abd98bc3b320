"""HAN_METER_MESSAGE (HTTP ``/meter``, MQTT payload) -> normalized reading.

The message is the latest state of the meter: arrays ``pi``/``pe``/``ri``/``re``/``p``/``r`` are
[total, L1, L2, L3], ``u``/``i`` are [L1, L2, L3]; energies are kWh/kvarh with 3 decimals; ``ts`` is
epoch milliseconds of the meter clock. ``null`` stays ``None``.
"""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from rig.probes.base import ProbeError
from rig.reading import FIELDS, Reading

MESSAGE_TYPE = "HAN_METER_MESSAGE"

# array -> expected length
ARRAY_LENGTHS: dict[str, int] = {"p": 4, "pi": 4, "pe": 4, "r": 4, "ri": 4, "re": 4, "u": 3, "i": 3}

# (array, index) -> normalized field
_ARRAY_FIELDS: dict[tuple[str, int], str] = {
    ("pi", 0): "p_import_w",
    ("pe", 0): "p_export_w",
    ("ri", 0): "q_import_var",
    ("re", 0): "q_export_var",
}
for _n in (1, 2, 3):
    _ARRAY_FIELDS[("pi", _n)] = f"p_l{_n}_import_w"
    _ARRAY_FIELDS[("pe", _n)] = f"p_l{_n}_export_w"
    _ARRAY_FIELDS[("ri", _n)] = f"q_l{_n}_import_var"
    _ARRAY_FIELDS[("re", _n)] = f"q_l{_n}_export_var"
    _ARRAY_FIELDS[("i", _n - 1)] = f"i_l{_n}_a"
    _ARRAY_FIELDS[("u", _n - 1)] = f"u_l{_n}_v"

# kWh / kvarh key -> Wh / varh field
_ENERGY_FIELDS = {"ic": "e_import_wh", "ec": "e_export_wh", "ric": "r_import_varh", "rec": "r_export_varh"}
_TEXT_FIELDS = ("meter_id", "meter_type", "list_version")

LIST_KEY = "_list"
"""Private key of the reading holding the message's ``list`` (not a normalized field)."""


def message_to_reading(msg: dict[str, Any], tz: str = "Europe/Oslo") -> Reading:
    """Convert a ``HAN_METER_MESSAGE`` dict to a normalized reading.

    ``timestamp`` is ``ts`` rendered in ``tz`` as naive local time; energies become integer Wh/varh.
    The message's ``list`` number is kept under the private key ``"_list"`` (``LIST_KEY``).
    Raises ``ProbeError`` when the message is not a ``HAN_METER_MESSAGE`` or is malformed (an array
    of the wrong length, a non-numeric value). An absent key reads as ``null``.
    """
    if not isinstance(msg, dict):
        raise ProbeError(f"meter message is not a JSON object: {type(msg).__name__}")
    if msg.get("type") != MESSAGE_TYPE:
        raise ProbeError(f"message type is {msg.get('type')!r}, expected {MESSAGE_TYPE!r}")

    reading: Reading = {name: _text(msg, name) for name in _TEXT_FIELDS}
    reading["timestamp"] = _timestamp(msg.get("ts"), tz)

    arrays = {name: _array(msg, name, length) for name, length in ARRAY_LENGTHS.items()}
    for (name, index), field in _ARRAY_FIELDS.items():
        reading[field] = _number(arrays[name][index], f"{name}[{index}]")

    for key, field in _ENERGY_FIELDS.items():
        reading[field] = _kilo_to_unit(msg.get(key), key)

    list_no = msg.get("list")
    if list_no is not None and (isinstance(list_no, bool) or not isinstance(list_no, int)):
        raise ProbeError(f"'list' is {list_no!r}, expected an integer or null")
    ordered: Reading = {name: reading.get(name) for name in FIELDS}
    ordered[LIST_KEY] = list_no
    return ordered


def _text(msg: dict[str, Any], key: str) -> str | None:
    value = msg.get(key)
    return None if value is None else str(value)


def _timestamp(ts: Any, tz: str) -> str | None:
    if ts is None:
        return None
    if isinstance(ts, bool) or not isinstance(ts, int | float):
        raise ProbeError(f"'ts' is {ts!r}, expected epoch milliseconds")
    try:
        zone = ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ProbeError(f"unknown time zone {tz!r}") from exc
    # Integer seconds (floor), so a float ts never rounds up across a second boundary.
    seconds = int(ts) // 1000 if isinstance(ts, int) else int(Decimal(str(ts)) // 1000)
    return datetime.fromtimestamp(seconds, zone).strftime("%Y-%m-%dT%H:%M:%S")


def _array(msg: dict[str, Any], key: str, length: int) -> list[Any]:
    value = msg.get(key)
    if value is None:
        return [None] * length
    if not isinstance(value, list):
        raise ProbeError(f"'{key}' is {value!r}, expected an array of {length} values")
    if len(value) != length:
        raise ProbeError(f"'{key}' has {len(value)} values, expected {length}: {value!r}")
    return value


def _number(value: Any, where: str) -> int | float | None:
    """A JSON number (or numeric string, as evcc tolerates) as int/float; ``None`` stays ``None``."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise ProbeError(f"'{where}' is {value!r}, expected a number")
    if isinstance(value, int | float):
        return value
    if isinstance(value, str):
        try:
            dec = Decimal(value.strip())
        except InvalidOperation:
            raise ProbeError(f"'{where}' is {value!r}, expected a number") from None
        if not dec.is_finite():
            raise ProbeError(f"'{where}' is {value!r}, expected a finite number")
        return int(dec) if dec == dec.to_integral_value() and "." not in value else float(dec)
    raise ProbeError(f"'{where}' is {value!r}, expected a number")


def _kilo_to_unit(value: Any, key: str) -> int | None:
    """kWh/kvarh (3 decimals; number or string) -> integer Wh/varh, computed in decimal."""
    number = _number(value, key)
    if number is None:
        return None
    dec = Decimal(value.strip()) if isinstance(value, str) else Decimal(str(number))
    return int((dec * 1000).to_integral_value(rounding=ROUND_HALF_EVEN))

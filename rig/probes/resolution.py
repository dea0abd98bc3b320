"""What each interface can carry, and how exactly.

HTTP and MQTT publish the HAN_METER_MESSAGE, whose numbers are exact decimal renderings of the wire
integers (0.1 V, 0.001 A, 1 W, 0.001 kWh): tolerance 0 (``rig.reading.compare`` adds a rounding
epsilon). The Modbus map quantises to 0.1 V, 0.01 A and 1 W: half a step either way.
"""

from __future__ import annotations

from rig.reading import FIELDS, TEXT_FIELDS, Reading

_MESSAGE_FIELDS: list[str] = list(FIELDS)  # the message carries every normalized field

_MODBUS_FIELDS: list[str] = [
    "u_l1_v", "u_l2_v", "u_l3_v",
    "i_l1_a", "i_l2_a", "i_l3_a",
    "p_net_w",  # the map carries net active power (import - export) only: see net_power()
]

FIELDS_BY_INTERFACE: dict[str, list[str]] = {
    "http": list(_MESSAGE_FIELDS),
    "mqtt": list(_MESSAGE_FIELDS),
    "modbus": list(_MODBUS_FIELDS),
}
"""Normalized fields each interface can carry (compare only these)."""

_EXACT: dict[str, float] = {name: 0.0 for name in _MESSAGE_FIELDS if name not in TEXT_FIELDS}

_MODBUS: dict[str, float] = {
    **{f"u_l{n}_v": 0.05 for n in (1, 2, 3)},   # 0.1 V registers
    **{f"i_l{n}_a": 0.005 for n in (1, 2, 3)},  # 0.01 A registers
    "p_net_w": 0.5,                             # 1 W register
}

TOLERANCES: dict[str, dict[str, float]] = {
    "http": dict(_EXACT),
    "mqtt": dict(_EXACT),
    "modbus": dict(_MODBUS),
}
"""Per interface, the absolute tolerance of each numeric field, in the field's unit."""


def net_power(reading: Reading) -> float | None:
    """Net active power (import - export) in W, the value the Modbus map carries.

    A meter list without P- (Kaifa List 1) leaves export unknown; the reader then publishes P+ alone.
    """
    imported = reading.get("p_import_w")
    if imported is None:
        return None
    return imported - (reading.get("p_export_w") or 0)


def view(interface: str, reading: Reading) -> Reading:
    """The part of a reading ``interface`` carries, with derived fields (``p_net_w``) filled in."""
    values = dict(reading)
    values["p_net_w"] = net_power(reading)
    return {name: values.get(name) for name in FIELDS_BY_INTERFACE[interface]}


def tolerances(interface: str) -> dict[str, float]:
    """The tolerance table of ``interface`` (a copy); ``KeyError`` naming the known ones if unknown."""
    try:
        return dict(TOLERANCES[interface])
    except KeyError:
        raise KeyError(f"unknown interface {interface!r}; known: {sorted(TOLERANCES)}") from None


def fields(interface: str) -> list[str]:
    """The normalized fields ``interface`` carries (a copy)."""
    try:
        return list(FIELDS_BY_INTERFACE[interface])
    except KeyError:
        raise KeyError(f"unknown interface {interface!r}; known: {sorted(FIELDS_BY_INTERFACE)}") from None

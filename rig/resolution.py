"""Resolution: how finely a meter's format and each interface carry a value, and so what a check tolerates.

The meter states each value at its format's step (a P1 telegram prints 0.1 V, Kamstrup sends whole volts
and 0.01 A, Aidon 10 Wh), and each interface carries it at its own step: the HAN_METER_MESSAGE of HTTP and
MQTT renders exact decimals of W, 0.1 V, 0.001 A and Wh; the Modbus map holds 0.1 V, 0.01 A and 1 W. A
check compares at the coarser of the two steps, field by field, with a tolerance of half that step: every
value a correct reader shows is within it, and a value one step off is not.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from types import MappingProxyType

from rig.reading import FIELDS, TEXT_FIELDS, Reading

_NUMERIC = [name for name in FIELDS if name not in TEXT_FIELDS]

INTERFACE_FIELDS: dict[str, list[str]] = {
    "http": list(FIELDS),  # the message carries every normalized field
    "mqtt": list(FIELDS),
    # the map carries net active power (import - export) only: see net_power()
    "modbus": ["u_l1_v", "u_l2_v", "u_l3_v", "i_l1_a", "i_l2_a", "i_l3_a", "p_net_w"],
}
"""Normalized fields each interface can carry (compare only these)."""


def _steps(volts: float, amps: float, watt_hours: float) -> dict[str, float]:
    """Steps of every numeric field: powers in 1 W / 1 var, the rest as given (energies also in varh)."""
    out = {}
    for name in [*_NUMERIC, "p_net_w"]:
        if name.startswith("u_"):
            out[name] = volts
        elif name.startswith("i_"):
            out[name] = amps
        elif name.startswith(("e_", "r_")):
            out[name] = watt_hours
        else:
            out[name] = 1.0
    return out


def _carried(interface: str, table: dict[str, float]) -> dict[str, float]:
    return {name: step for name, step in table.items() if name in INTERFACE_FIELDS[interface]}


INTERFACE_STEPS: dict[str, dict[str, float]] = {
    "http": _carried("http", _steps(0.1, 0.001, 1.0)),  # the message: kWh/kvarh with 3 decimals
    "mqtt": _carried("mqtt", _steps(0.1, 0.001, 1.0)),
    "modbus": _carried("modbus", _steps(0.1, 0.01, 1.0)),
}
"""Per interface, the step at which it carries each numeric field, in the field's unit."""

FORMAT_STEPS: dict[str, dict[str, float]] = {
    "P1": _steps(0.1, 0.1, 1.0),  # telegram text: 1 W, 0.1 V, 0.1 A, 0.001 kWh (Kaifa P1, Landis+Gyr E360)
    "KFM_001": _steps(0.1, 0.001, 1.0),  # Kaifa lists: W, 0.1 V, mA, Wh
    "AIDON_V0001": _steps(0.1, 0.1, 10.0),  # Aidon: W, 0.1 V, 0.1 A, 10 Wh (scaler +1)
    "Kamstrup_V0001": _steps(1.0, 0.01, 10.0),  # Kamstrup: W, 1 V, 0.01 A, 10 Wh
    "Netz NOE": _steps(0.1, 0.01, 1.0),  # Kaifa MA309 as Netz NOE configures it: W, 0.1 V, 0.01 A, Wh
    "Netz Burgenland": _steps(1.0, 0.01, 1.0),  # Landis+Gyr E450 (Netz Burgenland): W, 1 V, 0.01 A, Wh
}
"""Per meter format, the step at which the meter states each numeric field."""


def meter_format(protocol: str | None) -> str | None:
    """The format (a key of ``FORMAT_STEPS``) a profile's ``protocol`` names; None when it names none.

    ``"HDLC/DLMS KFM_001 with OBIS codes"`` -> ``"KFM_001"``; every ``"P1 (...)"`` -> ``"P1"``; a grid
    operator's configuration named in brackets, ``"... (Netz NOE)"`` -> ``"Netz NOE"``.
    """
    if not protocol:
        return None
    if protocol.startswith("P1"):
        return "P1"
    operator = protocol.rpartition("(")[2].rstrip(")").strip() if protocol.endswith(")") else ""
    if operator in FORMAT_STEPS:
        return operator
    words = protocol.replace("/", " ").split()
    return next((name for name in FORMAT_STEPS if name in words), None)


def _check(interface: str, fmt: str | None) -> None:
    if interface not in INTERFACE_STEPS:
        raise KeyError(f"unknown interface {interface!r}; known: {sorted(INTERFACE_STEPS)}")
    if fmt is not None and fmt not in FORMAT_STEPS:
        raise KeyError(f"unknown meter format {fmt!r}; known: {sorted(FORMAT_STEPS)}")


@cache
def steps(interface: str, fmt: str | None = None) -> Mapping[str, float]:
    """The step each field of ``interface`` is judged at (read-only): the coarser of the interface's and
    the format's (the interface's alone when ``fmt`` is None). ``KeyError`` naming the known ones if
    unknown."""
    _check(interface, fmt)
    meter = FORMAT_STEPS.get(fmt or "", {})
    own = INTERFACE_STEPS[interface]
    return MappingProxyType({name: max(step, meter.get(name, 0.0)) for name, step in own.items()})


@cache
def tolerances(interface: str, fmt: str | None = None) -> Mapping[str, float]:
    """Half of each field's step (see ``steps``, read-only): the absolute tolerance of a check, in the
    field's unit."""
    return MappingProxyType({name: step / 2 for name, step in steps(interface, fmt).items()})


def describe(interface: str, fmt: str | None = None) -> str:
    """The steps of ``interface`` in one line, by unit: ``1 W, 0.1 V, 0.001 A, 1 Wh``."""
    judged = steps(interface, fmt)
    parts = []
    for names, unit in ((("p_import_w", "p_net_w"), "W"), (("u_l1_v",), "V"), (("i_l1_a",), "A"),
                        (("e_import_wh",), "Wh")):
        step = next((judged[name] for name in names if name in judged), None)
        if step is not None:
            parts.append(f"{step:g} {unit}")
    return ", ".join(parts)


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
    return {name: values.get(name) for name in INTERFACE_FIELDS[interface]}


def fields(interface: str) -> list[str]:
    """The normalized fields ``interface`` carries (a copy)."""
    try:
        return list(INTERFACE_FIELDS[interface])
    except KeyError:
        raise KeyError(f"unknown interface {interface!r}; known: {sorted(INTERFACE_FIELDS)}") from None

"""Probes: read what the DUT publishes (HTTP, Modbus TCP, MQTT) as normalized readings.

The errors and the message converter import cheaply; the probe classes load their client library
(requests, pymodbus, aiomqtt) on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

from rig.probes.base import (
    ConnectionRefused,
    HttpStatusError,
    ModbusExceptionResponse,
    ProbeError,
    ProbeTimeout,
)
from rig.probes.message import message_to_reading
from rig.probes.resolution import FIELDS_BY_INTERFACE, TOLERANCES, tolerances

_LAZY = {
    "HttpProbe": "rig.probes.http",
    "ModbusProbe": "rig.probes.modbus",
    "read_once": "rig.probes.modbus",
    "decode_registers": "rig.probes.modbus",
    "MqttProbe": "rig.probes.mqtt",
    "MqttMessage": "rig.probes.mqtt",
    "MqttPayloadError": "rig.probes.mqtt",
}

__all__ = [
    "FIELDS_BY_INTERFACE",
    "TOLERANCES",
    "ConnectionRefused",
    "HttpStatusError",
    "ModbusExceptionResponse",
    "ProbeError",
    "ProbeTimeout",
    "message_to_reading",
    "tolerances",
    *_LAZY,
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'rig.probes' has no attribute {name!r}")

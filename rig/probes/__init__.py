"""Probes: read what the DUT publishes (HTTP, Modbus TCP, MQTT) as normalized readings."""

from __future__ import annotations

from rig.probes.base import (
    ConnectionRefused,
    HttpStatusError,
    ModbusExceptionResponse,
    ProbeError,
    ProbeTimeout,
)
from rig.probes.http import HttpProbe
from rig.probes.message import message_to_reading
from rig.probes.modbus import ModbusProbe
from rig.probes.mqtt import MqttMessage, MqttProbe

__all__ = [
    "HttpProbe",
    "ModbusProbe",
    "MqttMessage",
    "MqttProbe",
    "ConnectionRefused",
    "HttpStatusError",
    "ModbusExceptionResponse",
    "ProbeError",
    "ProbeTimeout",
    "message_to_reading",
]


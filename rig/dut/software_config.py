"""The software DUT's configuration (docs/architecture.md section 4): what it holds, and where it is written.

A configuration without meter keys is ``<workdir>/dut-config.json``. One holding meter keys (secrets) is
written to a private directory of its own (mode 0700, removed when the rig exits), and the run folder gets
a copy with the keys as ``***``: the rig never leaves a key in what it writes.
"""

from __future__ import annotations

import atexit
import copy
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from rig.dut.base import DutError

DEFAULT_TZ = "CET-1CEST,M3.5.0,M10.5.0/3"
CONFIG_NAME = "dut-config.json"
_METER_SECRETS = ("key", "auth_key")


def dut_config(*, serial_device: str, baud: int | str, serial_number: str, host: str, http_port: int,
               modbus_port: int, modbus_enabled: bool, mqtt: dict[str, Any] | None, client_id: str, tz: str,
               clock_scale: float, led_events: Path, extra_config: dict[str, Any] | None) -> dict[str, Any]:
    """The configuration of a software DUT: ``mqtt`` given enables MQTT (its fields over the defaults);
    ``extra_config`` is deep-merged last."""
    mqtt_conf: dict[str, Any] = {"enabled": mqtt is not None, "host": "127.0.0.1", "port": 1883,
                                 "topic": f"han/{serial_number}", "client_id": client_id,
                                 "username": None, "password": None, "keepalive": 30}
    mqtt_conf.update(mqtt or {})
    config: dict[str, Any] = {
        "device": {"serial": serial_number, "name": "HAN reader", "model": "HAN-RIG-SW"},
        "serial": {"device": serial_device, "baud": baud},
        "http": {"host": host, "port": http_port},
        "modbus": {"enabled": modbus_enabled, "host": host, "port": modbus_port, "unit_id": 1},
        "mqtt": mqtt_conf,
        "tz": tz,
        "clock_scale": clock_scale,
        "led": {"events": str(led_events)},
        "token": None,
    }
    if extra_config:
        merge(config, extra_config)
    return config


def merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """Deep-merge ``extra`` into ``base`` (a copy of each value; dicts merged key by key); ``base``."""
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            merge(base[key], value)
        else:
            base[key] = copy.deepcopy(value)
    return base


def meter_keys_in(config: dict[str, Any]) -> bool:
    """Whether ``config`` holds a meter key (a secret)."""
    meter = config.get("meter")
    return isinstance(meter, dict) and any(meter.get(name) for name in _METER_SECRETS)


def redacted_config(config: dict[str, Any]) -> dict[str, Any]:
    """A copy of a DUT config with its meter keys shown as ``***`` (what the rig may write or print)."""
    out = copy.deepcopy(config)
    meter = out.get("meter")
    if isinstance(meter, dict):
        for name in _METER_SECRETS:
            if meter.get(name):
                meter[name] = "***"
    return out


class ConfigFile:
    """Where the configuration of a DUT working in ``workdir`` is: ``path`` (in a private directory once a
    configuration holding meter keys was written)."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.path = workdir / CONFIG_NAME
        self._private_dir: Path | None = None

    def write(self, config: dict[str, Any]) -> None:
        """Write ``config``; one holding meter keys to the private directory, with a redacted copy in ``workdir``."""
        text = json.dumps(config, indent=2) + "\n"
        if not meter_keys_in(config):
            self.path.write_text(text)
            return
        if self._private_dir is None:
            self._private_dir = Path(tempfile.mkdtemp(prefix="han-dut-"))  # mode 0700
            atexit.register(shutil.rmtree, self._private_dir, True)
            self.path = self._private_dir / CONFIG_NAME
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        (self.workdir / CONFIG_NAME).write_text(json.dumps(redacted_config(config), indent=2) + "\n")

    def read(self) -> dict[str, Any]:
        """The file as the firmware left it (it saves run-time changes there when ``persist``)."""
        try:
            return json.loads(self.path.read_text())
        except (OSError, ValueError) as exc:
            raise DutError(f"cannot read the DUT config {self.path}: {exc}") from exc

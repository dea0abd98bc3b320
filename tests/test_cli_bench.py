"""`rig dut` with the reader's newer interfaces: the han2x Modbus map, MQTT per value and Home Assistant
discovery, and mDNS on loopback; what it prints is what the DUT runs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import requests

from rig.probes.mdns import query

RIG = str(Path(sys.executable).with_name("rig"))


def test_rig_dut_shows_and_applies_the_new_interfaces(tmp_path: Path) -> None:
    dut = subprocess.Popen([RIG, "dut", "--json", "--modbus-map", "han2x", "--mqtt-per-value", "--ha-discovery"],
                           cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        info = json.loads(dut.stdout.readline())
        assert info["modbus_map"] == "han2x" and info["mqtt_per_value"] is True and info["ha_discovery"] is True
        assert info["mdns"].startswith("HAN reader SIM-0001._http._tcp.local.")
        cfg = requests.get(info["http_url"] + "/configuration", timeout=2).json()
        assert cfg["modbus"]["map"] == "han2x" and cfg["mdns"]["enabled"] is True
        assert cfg["mqtt"]["per_value"] is True and cfg["mqtt"]["discovery"] is True
        port = int(info["http_url"].rsplit(":", 1)[1])
        records = query("_http._tcp.local", "PTR", timeout=1, every=True)  # another SIM-0001 may answer too
        assert ("HAN reader SIM-0001._http._tcp.local.", "SRV", (port, "han-SIM-0001.local.")) in records
    finally:
        dut.terminate()
        dut.wait(timeout=10)

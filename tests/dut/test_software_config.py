"""The software DUT's configuration: what it holds, and a configuration with meter keys kept out of the run folder."""

import json
import stat

import pytest

from rig.dut import DutError
from rig.dut.software_config import CONFIG_NAME, ConfigFile, dut_config, merge, redacted_config

KEY = "0F1E2D3C4B5A69788796A5B4C3D2E1F0"


def _config(tmp_path, **extra):
    return dut_config(serial_device="/dev/pts/7", baud="auto", serial_number="SIM-0007", host="127.0.0.1",
                      http_port=8080, modbus_port=5020, modbus_enabled=False, mqtt=None, client_id="han-x",
                      tz="UTC0", clock_scale=1.0, led_events=tmp_path / "led.events", extra_config=extra or None)


def test_extra_config_is_merged_deeply_and_copied(tmp_path):
    meter = {"key": KEY}
    conf = _config(tmp_path, http={"token_header": "X"}, meter=meter, persist=True)
    assert conf["http"] == {"host": "127.0.0.1", "port": 8080, "token_header": "X"}
    assert conf["persist"] is True and conf["mqtt"]["enabled"] is False and conf["serial"]["baud"] == "auto"
    meter["key"] = "changed"
    assert conf["meter"]["key"] == KEY  # a copy, not the caller's dict
    assert merge({"a": {"b": 1, "c": 2}}, {"a": {"c": 3}, "d": [1]}) == {"a": {"b": 1, "c": 3}, "d": [1]}


def test_a_config_without_keys_is_written_in_the_workdir(tmp_path):
    file = ConfigFile(tmp_path)
    file.write(_config(tmp_path))
    assert file.path == tmp_path / CONFIG_NAME
    assert file.read()["device"]["serial"] == "SIM-0007"


def test_a_config_with_meter_keys_goes_to_a_private_directory_and_the_workdir_gets_it_redacted(tmp_path):
    conf = _config(tmp_path, meter={"key": KEY, "auth_key": KEY, "system_title": "4B464D"})
    file = ConfigFile(tmp_path)
    file.write(conf)
    assert file.path.parent != tmp_path and file.path.name == CONFIG_NAME
    assert stat.S_IMODE(file.path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(file.path.stat().st_mode) == 0o600
    assert file.read()["meter"]["key"] == KEY  # the firmware reads the keys
    shown = (tmp_path / CONFIG_NAME).read_text()
    assert KEY not in shown
    assert json.loads(shown)["meter"] == {"key": "***", "auth_key": "***", "system_title": "4B464D"}
    private = file.path
    file.write(conf)
    assert file.path == private  # the same private directory for every write


def test_redaction_leaves_the_config_as_it_was():
    conf = {"meter": {"key": KEY, "auth_key": None}}
    assert redacted_config(conf) == {"meter": {"key": "***", "auth_key": None}}
    assert conf["meter"]["key"] == KEY


def test_an_unreadable_config_is_a_dut_error(tmp_path):
    file = ConfigFile(tmp_path)
    with pytest.raises(DutError, match="cannot read the DUT config"):
        file.read()
    file.path.write_text("{")
    with pytest.raises(DutError, match=str(file.path)):
        file.read()

"""The operator lock (config.py ``locked``): keys the operator locked in the configuration file cannot be changed
through the API (403 naming the key) nor by a factory reset; the rest can. In-process, then on the software DUT."""

import pytest
import requests

from dut_firmware import config, factory
from rig.dut import SoftwareDut
from rig.line import LineSettings
from rig.links import PtyLink

LOCKED = ["mqtt.host", "modbus", "token"]


def _cfg(**extra):
    return config.merge(config.DEFAULTS, {"serial": {"device": "/dev/null-han"}, "locked": LOCKED,
                                          "mqtt": {"host": "broker.operator.example"}, "token": "op-token", **extra})


@pytest.mark.parametrize(("change", "key"), [
    ({"mqtt": {"host": "10.0.0.9"}}, "mqtt.host"),
    ({"modbus": {"enabled": True}}, "modbus"),            # a key of a locked section
    ({"token": "mine"}, "token"),
    ({"token": ""}, "token"),                              # clearing it is a change too
    ({"locked": []}, "locked"),                            # the lock itself is never the API's
    ({"log_level": "debug", "mqtt": {"port": 1884, "host": "x"}}, "mqtt.host"),
])
def test_a_change_of_a_locked_key_is_refused_naming_it(change, key):
    with pytest.raises(config.LockedError, match=f"^{key} is locked by the operator$") as err:
        config.apply_changes(_cfg(), change)
    assert err.value.key == key


def test_unlocked_keys_change_and_locked_ones_posted_unchanged_are_no_change():
    cfg = _cfg()
    new = config.apply_changes(cfg, {"mqtt": {"port": 1884, "host": "broker.operator.example"}, "log_level": "debug"})
    assert new["mqtt"]["port"] == 1884 and new["log_level"] == "debug" and new["locked"] == LOCKED
    assert config.apply_changes(cfg, config.public(cfg))["mqtt"] == cfg["mqtt"]  # the GET answer posted back


def test_a_lock_must_name_a_setting_and_a_factory_reset_keeps_it_with_its_values():
    with pytest.raises(ValueError, match="locked: no setting 'mqtt.hots'"):
        config.validate(config.merge(_cfg(), {"locked": ["mqtt.hots"]}))
    with pytest.raises(ValueError, match="locked must be a list of strings"):
        config.validate(config.merge(_cfg(), {"locked": "mqtt"}))
    cfg = config.merge(_cfg(), {"mqtt": {"port": 1999}, "modbus": {"enabled": True}, "log_level": "debug"})
    reset = factory.factory_settings(cfg)
    assert reset["locked"] == LOCKED and reset["mqtt"]["host"] == "broker.operator.example"
    assert reset["modbus"] == cfg["modbus"] and reset["token"] == "op-token"
    assert reset["mqtt"]["port"] == 1883 and reset["log_level"] == "info"       # unlocked: back to the defaults
    config.check_locks(cfg, reset)  # a reset changes nothing locked


def test_the_api_answers_403_naming_the_locked_key(tmp_path):
    auth = {"Authorization": "Bearer op-token"}
    with PtyLink(LineSettings(2400, 8, "E", 1), speed=100) as link, \
            SoftwareDut(tmp_path, link.device, extra_config={"locked": ["mqtt.host", "token"], "token": "op-token",
                                                             "mqtt": {"host": "127.0.0.1"}}) as dut:
        url = dut.http_url + "/configuration"
        refused = requests.post(url, json={"mqtt": {"host": "192.0.2.1"}}, headers=auth, timeout=5)
        assert refused.status_code == 403 and refused.json()["error"] == "mqtt.host is locked by the operator"
        assert requests.post(url, json={"locked": []}, headers=auth, timeout=5).json()["error"] == \
            "locked is locked by the operator"
        current = requests.get(url, headers=auth, timeout=5).json()
        assert current["locked"] == ["mqtt.host", "token"] and current["mqtt"]["host"] == "127.0.0.1"
        taken = requests.post(url, json={"log_level": "debug", "mqtt": {"host": "127.0.0.1"}}, headers=auth, timeout=5)
        assert taken.status_code == 200 and taken.json()["log_level"] == "debug"
        assert requests.post(url, json=current, headers=auth, timeout=5).status_code == 200
        assert requests.get(url, headers=auth, timeout=5).json()["mqtt"]["host"] == "127.0.0.1"

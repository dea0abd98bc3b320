"""The pure parts of the MQTT client (services/mqtt.py, mqtt_topics.py, mqtt_codec.py): per-value texts (the HAN2X
subtopics), Home Assistant discovery configs, the packets for Home Assistant's birth message, the jittered
back-off, and the client's reaction to a birth."""

import json

import pytest

from dut_firmware import config
from dut_firmware import state as state_mod
from dut_firmware.services import mqtt, mqtt_codec, mqtt_topics

LIST2 = {"list_version": "KFM_001", "meter_id": "6970631407262986", "meter_type": "MA304H4", "p_import_w": 2102,
         "p_export_w": 0, "q_import_var": 0, "q_export_var": 719, "i_l1_ma": 3408, "i_l2_ma": 2092,
         "i_l3_ma": 4016, "u_l1_mv": 237300, "u_l2_mv": 232600, "u_l3_mv": 231300}
DEVICE = {"serial": "SIM-0001", "name": "HAN reader", "model": "HAN-RIG-SW"}


def test_value_texts_are_plain_exact_values():
    texts = dict(mqtt_topics.value_texts(dict(LIST2, e_import_wh=236405494, i_l2_ma=None, u_l2_mv=232650)))
    assert texts["actPowPos"] == "2102" and texts["reactPowNeg"] == "719" and texts["meterId"] == "6970631407262986"
    assert texts["currL1"] == "3.408" and texts["voltL3"] == "231.3" and texts["actEnergyPos"] == "236405.494"
    assert texts["voltL2"] == "232.7"                                   # mV to 0.1 V: half away from zero
    assert "currL2" not in texts and "actEnergyNeg" not in texts       # not sent: not published, never 0
    assert mqtt_topics.value_texts({}) == []


def test_discovery_configs_for_json_and_per_value_topics():
    msgs = mqtt_topics.discovery_messages("homeassistant", "han/SIM-0001", False, DEVICE, "0.1.0")
    assert len(msgs) == 14
    topics = [t for t, _ in msgs]
    assert "homeassistant/sensor/han_SIM-0001/actPowPos/config" in topics
    cfgs = {t.split("/")[3]: json.loads(p) for t, p in msgs}
    power = cfgs["actPowPos"]
    assert power["state_topic"] == "han/SIM-0001" and power["value_template"] == "{{ value_json.pi[0] }}"
    assert power["device_class"] == "power" and power["unit_of_measurement"] == "W"
    assert power["availability_topic"] == "han/SIM-0001/status" and power["unique_id"] == "han_SIM-0001_actPowPos"
    assert power["device"] == {"identifiers": ["han-SIM-0001"], "name": "HAN reader", "model": "HAN-RIG-SW",
                               "serial_number": "SIM-0001", "sw_version": "0.1.0"}
    energy = cfgs["actEnergyPos"]
    assert energy["state_class"] == "total_increasing" and energy["value_template"] == "{{ value_json.ic }}"
    assert "device_class" not in cfgs["reactEnergyNeg"]
    per_value = dict(mqtt_topics.discovery_messages("ha", "t", True, DEVICE, "0.1.0"))
    cfg = json.loads(per_value["ha/sensor/han_SIM-0001/voltL2/config"])
    assert cfg["state_topic"] == "t/voltL2" and "value_template" not in cfg
    assert mqtt_topics.node_id("A.B c+#") == "han_A_B_c__"


def test_subscribe_and_publish_packets():
    assert mqtt_codec.subscribe_packet(1, "homeassistant/status") == (
        b"\x82\x19\x00\x01\x00\x14homeassistant/status\x00")
    body = b"\x00\x14homeassistant/status" + b"online"
    assert mqtt_codec.parse_publish(0x30, body) == ("homeassistant/status", b"online")
    assert mqtt_codec.parse_publish(0x32, b"\x00\x01t\x00\x07on") == ("t", b"on")   # QoS 1: a packet id first
    assert mqtt_codec.parse_publish(0x90, body) is None                           # SUBACK
    assert mqtt_codec.parse_publish(0x30, b"\x00\x09ab") is None                  # topic runs past the packet
    assert mqtt_codec.parse_publish(0x30, b"\x00\x02\xff\xfe") is None            # not UTF-8


@pytest.mark.parametrize("step", [1000, 2000, 60000])
def test_backoff_is_jittered_within_a_quarter_of_the_step(step):
    delays = [mqtt.backoff_delay(step, r) for r in (0, 1, 32768, 65535)]
    assert delays[0] == step * 3 // 4 and delays[2] == step and step * 5 // 4 - 1 <= delays[3] < step * 5 // 4
    assert delays == sorted(delays)


class App:
    def __init__(self):
        self.cfg = config.merge(config.DEFAULTS, {"serial": {"device": "/dev/x"}})
        self.state = state_mod.State("CET-1CEST,M3.5.0,M10.5.0/3")
        self.logs = []

    def log(self, level, msg):
        self.logs.append((level, msg))


def test_birth_message_queues_the_discovery_again_and_per_value_only_changes():
    client = mqtt.MqttClient(App())
    client.settings = dict(client.app.cfg["mqtt"], topic="han/x", per_value=True, discovery=True)
    client.on_packet(0x30, b"\x00\x14homeassistant/status" + b"offline")
    assert client.extra == [] and client.births == 0
    client.on_packet(0x30, b"\x00\x14homeassistant/status" + b"online")
    assert client.births == 1 and len(client.extra) == 14
    assert all(p[0] == 0x31 for p in client.extra)                         # retained
    client._take_extra()
    client.app.state.fields.update(LIST2)
    client.connected = True
    assert client.publish("{}") is True
    first = len(client.extra)
    assert first == len(mqtt_topics.value_texts(LIST2))
    client.publish("{}")
    assert len(client.extra) == first                                       # nothing changed: nothing more
    client.app.state.fields["u_l1_mv"] = 238000
    client.publish("{}")
    assert len(client.extra) == first + 1 and b"han/x/voltL1238.0" in client.extra[-1]


@pytest.mark.parametrize("topic_len,payload_len", [(9, 460), (1, 0), (300, 20000), (3, 122), (1, 125)])
def test_put_publish_writes_the_packet_publish_packet_makes(topic_len, payload_len):
    topic, payload = b"t" * topic_len, bytes(range(256)) * (payload_len // 256) + bytes(payload_len % 256)
    out = bytearray(7 + topic_len + payload_len + 3)
    end = mqtt_codec.put_publish(memoryview(out), 3, topic, payload)
    assert bytes(out[3:end]) == mqtt_codec.publish_packet(topic.decode(), payload)


def test_one_send_holds_every_queued_message_then_the_ready_packets():
    client = mqtt.MqttClient(App())
    extra = [mqtt_codec.publish_packet("han/x/voltL1", "238.0", True)]
    texts = [b'{"a":1}', '{"b":2}', b"x" * 3000]            # longer than the kept buffer: it grows
    sent = client._packets("han/x", texts, extra)
    assert sent == b"".join([mqtt_codec.publish_packet("han/x", t) for t in texts] + extra)
    assert client._packets("han/x", texts[:1], []) == mqtt_codec.publish_packet("han/x", texts[0])

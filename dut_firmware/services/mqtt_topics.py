"""What the MQTT client publishes besides the meter message, sans-IO: the per-value subtopics (the HAN2X
subtopics, ``VALUES``) and their plain texts, and the Home Assistant discovery configs. services/mqtt.py
sends them.
"""

import json

from .. import message

# (subtopic, field, exp, decimals, unit, device class, state class, template on the JSON message): the
# value is the field (an int in its base unit, han/reading.py) times 10**exp, shown with ``decimals``
VALUES = (
    ("obisListVersion", "list_version", None, 0, None, None, None, "list_version"),
    ("meterId", "meter_id", None, 0, None, None, None, "meter_id"),
    ("meterType", "meter_type", None, 0, None, None, None, "meter_type"),
    ("actPowPos", "p_import_w", 0, 0, "W", "power", "measurement", "pi[0]"),
    ("actPowNeg", "p_export_w", 0, 0, "W", "power", "measurement", "pe[0]"),
    ("reactPowPos", "q_import_var", 0, 0, "var", "reactive_power", "measurement", "ri[0]"),
    ("reactPowNeg", "q_export_var", 0, 0, "var", "reactive_power", "measurement", "re[0]"),
    ("currL1", "i_l1_ma", 0, 3, "A", "current", "measurement", "i[0]"),
    ("currL2", "i_l2_ma", 0, 3, "A", "current", "measurement", "i[1]"),
    ("currL3", "i_l3_ma", 0, 3, "A", "current", "measurement", "i[2]"),
    ("voltL1", "u_l1_mv", -2, 1, "V", "voltage", "measurement", "u[0]"),
    ("voltL2", "u_l2_mv", -2, 1, "V", "voltage", "measurement", "u[1]"),
    ("voltL3", "u_l3_mv", -2, 1, "V", "voltage", "measurement", "u[2]"),
    ("actEnergyPos", "e_import_wh", 0, 3, "kWh", "energy", "total_increasing", "ic"),
    ("actEnergyNeg", "e_export_wh", 0, 3, "kWh", "energy", "total_increasing", "ec"),
    ("reactEnergyPos", "r_import_varh", 0, 3, "kvarh", None, "total_increasing", "ric"),
    ("reactEnergyNeg", "r_export_varh", 0, 3, "kvarh", None, "total_increasing", "rec"),
)


def value_text(entry, value):
    """The plain text of ``value`` (not None) of the ``VALUES`` entry ``entry``."""
    if entry[2] is None:
        return str(value)
    return message.fixed(message.scaled(value, entry[2]), entry[3])


def value_texts(fields):
    """[(subtopic, plain value text)] of the values known in ``fields`` (units as in ``VALUES``)."""
    out = []
    for entry in VALUES:
        value = fields.get(entry[1])
        if value is not None:
            out.append((entry[0], value_text(entry, value)))
    return out


def node_id(serial):
    """A discovery node id from the serial number: ``han_`` + [a-zA-Z0-9_-] only."""
    out = "han_"
    for ch in serial:
        out += ch if ch.isalpha() or ch.isdigit() or ch in "_-" else "_"
    return out


def discovery_messages(prefix, topic, per_value, device, version):
    """[(topic, payload)] of the Home Assistant discovery configs (sent retained)."""
    node = node_id(device["serial"])
    dev = {"identifiers": ["han-" + device["serial"]], "name": device["name"], "model": device["model"],
           "serial_number": device["serial"], "sw_version": version}
    out = []
    for name, _field, exp, _dec, unit, dclass, sclass, template in VALUES:
        if exp is None:
            continue
        cfg = {"name": name, "unique_id": node + "_" + name, "availability_topic": topic + "/status",
               "payload_available": "online", "payload_not_available": "offline",
               "unit_of_measurement": unit, "state_class": sclass, "device": dev}
        if dclass is not None:
            cfg["device_class"] = dclass
        if per_value:
            cfg["state_topic"] = topic + "/" + name
        else:
            cfg["state_topic"] = topic
            cfg["value_template"] = "{{ value_json.%s }}" % template
        out.append(("%s/sensor/%s/%s/config" % (prefix, node, name), json.dumps(cfg)))
    return out

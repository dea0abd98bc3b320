"""Settings: defaults, load/merge/save of the JSON config, validation of run-time changes.

Secrets (``meter.key``, ``meter.auth_key``, ``mqtt.password``, ``token``, ``read_token``) are
write-only: ``public()`` replaces each by ``null`` and adds ``<name>_set`` (bool) beside it. In a POST, a
secret given as ``null`` leaves it unchanged (so a GET answer can be posted back); ``""`` clears it.
Meter keys are 32 hex digits (AES-128), checked as such; their values appear in no error message.

Tokens (services/http.py): with ``token`` set every request needs ``Authorization: Bearer <token>``
(401 without it or with another); ``read_token`` (only with a ``token``) is a second token that may read
every endpoint but change nothing (403 on POST /configuration).
"""

import json

VERSION = "0.1.0"

LOG_LEVELS = ("debug", "info", "warning", "error")

SECRETS = (("meter", "key"), ("meter", "auth_key"), ("mqtt", "password"), (None, "token"),
           (None, "read_token"))

# None = an optional string (null allowed). Every key of a section is listed here.
DEFAULTS = {
    "device": {"serial": "SIM-0001", "name": "HAN reader", "model": "HAN-RIG-SW"},
    "serial": {"device": None, "baud": 2400, "parity": None},
    # serial.baud "auto": line detection (han/linedetect.py); ``detected`` is the setting last kept
    "line": {"detected": None, "listen_ms": 12000, "bad_frames": 5, "silence_ms": 30000,
             "data_request": True},
    "http": {"host": "127.0.0.1", "port": 8080},
    # modbus.map: "default" or "han2x" (services/modbus.py); scale: the han2x scale factor, per mille
    "modbus": {"enabled": False, "host": "127.0.0.1", "port": 5020, "unit_id": 1, "map": "default",
               "scale": 1000},
    # mqtt.per_value: also <topic>/<name> per value; discovery: Home Assistant MQTT discovery
    "mqtt": {"enabled": False, "host": "127.0.0.1", "port": 1883, "topic": None, "client_id": None,
             "username": None, "password": None, "keepalive": 30, "per_value": False,
             "discovery": False, "discovery_prefix": "homeassistant"},
    # mdns (services/mdns.py): advertises _http._tcp on ``interface`` (the software DUT: loopback only)
    "mdns": {"enabled": False, "interface": "127.0.0.1", "port": 5353},
    "meter": {"key": None, "auth_key": None},
    "tz": "CET-1CEST,M3.5.0,M10.5.0/3",
    "clock_scale": 1.0,
    "led": {"events": None},
    "token": None,
    "read_token": None,
    "log_level": "info",
    "persist": False,
    # the operator lock: dotted keys ("mqtt.host", or a whole section: "mqtt") set in the configuration file
    # at provisioning; the API cannot change them (nor ``locked`` itself) and a factory reset keeps them
    "locked": [],
}


class LockedError(ValueError):
    """A change of a key the operator locked (HTTP 403); ``key`` is its dotted name."""

    def __init__(self, key):
        super().__init__("%s is locked by the operator" % key)
        self.key = key


def get_path(cfg, path):
    """The value at dotted ``path`` of ``cfg``."""
    for part in path.split("."):
        cfg = cfg[part]
    return cfg


def set_path(cfg, path, value):
    parts = path.split(".")
    for part in parts[:-1]:
        cfg = cfg[part]
    cfg[parts[-1]] = value


def check_locks(old, new):
    """LockedError naming the first key locked in ``old`` whose value ``new`` changes (``locked`` included)."""
    for path in ["locked"] + old["locked"]:
        if get_path(old, path) != get_path(new, path):
            raise LockedError(path)


def copy(obj):
    """Deep copy of JSON-like data (no copy module on MicroPython)."""
    if isinstance(obj, dict):
        return {k: copy(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [copy(v) for v in obj]
    return obj


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def _check_section(changes, defaults, path):
    if not isinstance(changes, dict):
        raise ValueError("%s must be an object" % (path or "configuration"))
    for key, value in changes.items():
        where = path + "." + key if path else key
        if key not in defaults:
            raise ValueError("unknown setting %s" % where)
        ref = defaults[key]
        if where == "serial.baud" and value == "auto":
            continue
        if isinstance(ref, dict):
            _check_section(value, ref, where)
        elif isinstance(ref, bool):
            if not isinstance(value, bool):
                raise ValueError("%s must be true or false" % where)
        elif _is_int(ref):
            if not _is_int(value):
                raise ValueError("%s must be an integer" % where)
        elif isinstance(ref, float):
            if not (_is_int(value) or isinstance(value, float)):
                raise ValueError("%s must be a number" % where)
        elif isinstance(ref, str):
            if not isinstance(value, str):
                raise ValueError("%s must be a string" % where)
        elif isinstance(ref, list):
            if not isinstance(value, list) or [v for v in value if not isinstance(v, str)]:
                raise ValueError("%s must be a list of strings" % where)
        elif value is not None and not isinstance(value, str):
            raise ValueError("%s must be a string or null" % where)


_HEX = "0123456789abcdefABCDEF"


def _check_hex_key(value, where):
    """A key is 32 hex digits (16 bytes); the message never quotes the value (a secret)."""
    if value is None or value == "":
        return
    if len(value) != 32:
        raise ValueError("%s must be 32 hex digits (16 bytes)" % where)
    for ch in value:
        if ch not in _HEX:
            raise ValueError("%s must be 32 hex digits (16 bytes)" % where)


def validate(cfg):
    """Semantic checks of a complete (merged) configuration; ValueError with the reason."""
    _check_section(cfg, DEFAULTS, "")
    for sect in ("http", "modbus", "mqtt", "mdns"):
        port = cfg[sect]["port"]
        if not 0 <= port <= 65535:
            raise ValueError("%s.port out of range" % sect)
    if not 0 <= cfg["modbus"]["unit_id"] <= 255:
        raise ValueError("modbus.unit_id out of range")
    if cfg["modbus"]["map"] not in ("default", "han2x"):
        raise ValueError("modbus.map must be \"default\" or \"han2x\"")
    if not 10 <= cfg["modbus"]["scale"] <= 1000000:
        raise ValueError("modbus.scale must be 10..1000000 (per mille)")
    prefix = cfg["mqtt"]["discovery_prefix"]
    if prefix == "" or "#" in prefix or "+" in prefix:
        raise ValueError("mqtt.discovery_prefix must be a non-empty topic name without wildcards")
    if not 0 <= cfg["mqtt"]["keepalive"] <= 65535:
        raise ValueError("mqtt.keepalive out of range")
    topic = cfg["mqtt"]["topic"]
    if topic is not None and (topic == "" or "#" in topic or "+" in topic):
        raise ValueError("mqtt.topic must be a non-empty topic name without wildcards")
    if cfg["serial"]["baud"] != "auto" and cfg["serial"]["baud"] <= 0:
        raise ValueError("serial.baud must be positive or \"auto\"")
    for key in ("listen_ms", "bad_frames", "silence_ms"):
        if cfg["line"][key] <= 0:
            raise ValueError("line.%s must be positive" % key)
    detected = cfg["line"]["detected"]
    if detected is not None:    # as han/linedetect.py writes it: "2400 8E1"
        parts = detected.split()
        if not (len(parts) == 2 and parts[0].isdigit() and parts[1] in ("8N1", "8E1", "8O1")):
            raise ValueError("line.detected must look like '2400 8E1', got %r" % detected)
    if cfg["serial"]["parity"] not in (None, "N", "E", "O"):
        raise ValueError("serial.parity must be N, E, O or null (auto)")
    if not cfg["clock_scale"] > 0:
        raise ValueError("clock_scale must be positive")
    if cfg["log_level"] not in LOG_LEVELS:
        raise ValueError("log_level must be one of %s" % ", ".join(LOG_LEVELS))
    _check_hex_key(cfg["meter"]["key"], "meter.key")
    _check_hex_key(cfg["meter"]["auth_key"], "meter.auth_key")
    if cfg["read_token"] and not cfg["token"]:
        raise ValueError("read_token needs a token (the one that may change the configuration)")
    if cfg["read_token"] and cfg["read_token"] == cfg["token"]:
        raise ValueError("read_token must differ from token")
    for path in cfg["locked"]:
        try:
            get_path(DEFAULTS, path)
        except (KeyError, TypeError):
            raise ValueError("locked: no setting %r" % path) from None
    from .tz import Tz
    Tz(cfg["tz"])  # raises ValueError when the rule does not parse


def merge(base, changes, secrets_keep_null=False, _path=None):
    """A new dict: ``base`` deep-merged with ``changes`` (``changes`` wins; dicts merge)."""
    out = copy(base)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value, secrets_keep_null, key)
        elif secrets_keep_null and value is None and (_path, key) in SECRETS:
            continue
        else:
            out[key] = copy(value)
    return out


READ_ONLY = ("version", "v", "t", "p", "m", "e", "w")


def _strip_read_only(changes):
    """Drop what ``public()`` adds (version, Cozify compact keys, ``*_set`` flags)."""
    out = {}
    for key, value in changes.items():
        if key in READ_ONLY or key.endswith("_set"):
            continue
        if isinstance(value, dict):
            value = {k: v for k, v in value.items() if not k.endswith("_set")}
        out[key] = value
    return out


def apply_changes(cfg, changes):
    """Validate ``changes`` (a run-time POST) and return the new configuration (``cfg`` untouched).

    Read-only keys of the GET answer are ignored, so a GET answer can be posted back as is (a locked key
    posted with its value is no change); LockedError when a key the operator locked would change.
    """
    if not isinstance(changes, dict):
        raise ValueError("configuration must be a JSON object")
    changes = _strip_read_only(_aliases(changes))
    _check_section(changes, DEFAULTS, "")
    new = merge(cfg, changes, secrets_keep_null=True)
    for sect, key in SECRETS:       # "" clears a secret
        holder = new if sect is None else new[sect]
        if holder.get(key) == "":
            holder[key] = None
    validate(new)
    check_locks(cfg, new)
    return new


def _aliases(changes):
    """Top-level ``key`` / ``auth_key`` are accepted for ``meter.key`` / ``meter.auth_key``."""
    if "key" in changes or "auth_key" in changes:
        changes = dict(changes)
        meter = dict(changes.get("meter") or {})
        for name in ("key", "auth_key"):
            if name in changes:
                meter[name] = changes.pop(name)
        changes["meter"] = meter
    return changes


def _drop_unknown(data, defaults, path, dropped):
    out = {}
    for key, value in data.items():
        where = path + "." + key if path else key
        if key not in defaults:
            dropped.append(where)
        elif isinstance(defaults[key], dict) and isinstance(value, dict):
            out[key] = _drop_unknown(value, defaults[key], where, dropped)
        else:
            out[key] = value
    return out


def load(path, ignored=None):
    """Defaults merged with the JSON file at ``path``; ValueError when invalid.

    Unknown keys are ignored (a newer rig may write settings this firmware does not know); their
    dotted names are appended to the list ``ignored`` when given.
    """
    with open(path) as f:
        data = json.load(f)
    if not isinstance(data, dict):
        raise ValueError("config file must hold a JSON object")
    dropped = []
    data = _drop_unknown(_aliases(data), DEFAULTS, "", dropped)
    if ignored is not None:
        ignored.extend(dropped)
    cfg = merge(DEFAULTS, data)
    if isinstance(cfg.get("clock_scale"), int) and not isinstance(cfg.get("clock_scale"), bool):
        cfg["clock_scale"] = float(cfg["clock_scale"])
    validate(cfg)
    if not cfg["serial"]["device"]:
        raise ValueError("serial.device is required")
    return cfg


def save(cfg, path, hal=None):
    """Write ``cfg`` as JSON to ``path``: through ``hal.write_file`` (synced to the disk: a power cut leaves the
    old file or the new one), else through a temporary file, then rename."""
    if hal is not None:
        hal.write_file(path, json.dumps(cfg))
        return
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(json.dumps(cfg))
    import os
    os.rename(tmp, path)


def public(cfg):
    """The configuration as answered by GET/POST /configuration: secrets never echoed."""
    out = copy(cfg)
    for sect, key in SECRETS:
        holder = out if sect is None else out[sect]
        holder[key + "_set"] = bool(holder.get(key))
        holder[key] = None
    out["version"] = VERSION
    # Compact keys read by the Cozify Home Assistant integration (read-only here).
    out["v"] = VERSION
    out["t"] = cfg["tz"]
    out["p"] = None
    out["m"] = {"f": None}
    out["e"] = {"e": True, "n": {"m": "dhcp"}}
    out["w"] = {"e": False, "s": None, "n": {"m": "dhcp"}, "z": None, "b": None}
    return out


def mqtt_topic(cfg):
    return cfg["mqtt"]["topic"] or ("han/" + cfg["device"]["serial"])


def mqtt_client_id(cfg):
    return cfg["mqtt"]["client_id"] or ("han-" + cfg["device"]["serial"])


def meter_keys(cfg):
    """(key, auth_key) as bytes or None."""
    k = cfg["meter"]["key"]
    a = cfg["meter"]["auth_key"]
    return (bytes.fromhex(k) if k else None, bytes.fromhex(a) if a else None)

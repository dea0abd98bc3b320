"""What the firmware's services read of the application, for tests that run a service without the App: the
real configuration and meter state, a log kept as a list, and the messages as their type alone."""

from dut_firmware import config
from dut_firmware import state as state_mod

TZ = "CET-1CEST,M3.5.0,M10.5.0/3"


class ServiceApp:
    def __init__(self, token=None, reading=None):
        self.cfg = config.merge(config.DEFAULTS, {"serial": {"device": "/dev/null"}, "token": token})
        self.state = state_mod.State(TZ)
        if reading is not None:
            self.state.update({"ok": True, "format": "hdlc/kaifa-kfm001", "list": 2, "reading": reading})
        self.logs = []

    def log(self, level, msg):
        self.logs.append((level, msg))

    def meter_id(self):
        return {"manufacturerId": None, "deviceType": None}

    def state_message(self):
        return {"type": "HAN_STATE_MESSAGE"}

    def health_message(self):
        return {"type": "HAN_HEALTH_MESSAGE"}

    def public_config(self):
        return config.public(self.cfg)

    async def configure(self, changes):
        self.cfg = config.apply_changes(self.cfg, changes)
        return config.public(self.cfg)

"""Factory reset: the button held at least 30 s (device time), then pressed, puts every setting back to
its default and stores that configuration, so the unit leaves the line (or a customer's hands) clean.

Kept through a reset: the unit's identity (``device``) and its wiring (the meter port ``serial.device``,
where it serves HTTP, its LED, its clock): what the factory gave it, not what a user set. The LED shows
the factory-reset blink from the hold to the press (led.py); a press after a shorter hold resets nothing.
"""

import asyncio

from . import config

HOLD_MS = 30000
KEEP = ("device", "http", "led", "clock_scale")


def factory_settings(cfg):
    """The configuration a reset leaves: the defaults, with what ``KEEP`` names taken from ``cfg``."""
    new = config.copy(config.DEFAULTS)
    for key in KEEP:
        new[key] = config.copy(cfg[key])
    new["serial"]["device"] = cfg["serial"]["device"]
    new["locked"] = config.copy(cfg["locked"])       # the operator lock survives a reset, with its values
    for path in cfg["locked"]:
        config.set_path(new, path, config.copy(config.get_path(cfg, path)))
    return new


def changes_to(new):
    """A run-time change (as POST /configuration takes it) that gives ``new``: unset secrets as ``""``."""
    out = config.copy(new)
    for sect, key in config.SECRETS:
        holder = out if sect is None else out[sect]
        if holder.get(key) is None:
            holder[key] = ""
    return out


class FactoryReset:
    """Watches the button (``led.on_button``) and resets the configuration.

    Uses: ``led`` (its button), ``clock`` (``uptime_ms``), ``log(level, message)``, ``settings()`` (the
    configuration now), ``await configure(changes)`` (a run-time change, as POST /configuration) and
    ``save(cfg)`` (stores it; OSError when it cannot, None on a unit with no configuration file).
    """

    def __init__(self, led, clock, log, settings, configure, save=None):
        self.clock = clock
        self.log = log
        self.settings = settings
        self.configure = configure
        self.save = save
        self.held_at = None
        self.resets = 0
        led.on_button = self.button

    def button(self, event):
        """``"hold"``: the button went down and stays; ``"press"``: it was released (or pressed)."""
        if event == "hold":
            self.held_at = self.clock.uptime_ms()
            return
        if self.held_at is None:
            return
        held = self.clock.uptime_ms() - self.held_at
        self.held_at = None
        if held < HOLD_MS:
            self.log("INFO", "button held %d ms (less than %d): no factory reset" % (held, HOLD_MS))
            return
        asyncio.create_task(self.reset())

    async def reset(self):
        try:
            await self.configure(changes_to(factory_settings(self.settings())))
        except ValueError as exc:
            self.log("ERROR", "factory reset failed: %s" % exc)
            return
        if self.save is not None:
            try:
                self.save(self.settings())
            except OSError as exc:
                self.log("ERROR", "factory reset: cannot store the configuration: %r" % (exc,))
                return
        self.resets += 1
        self.log("INFO", "factory reset: every setting back to its default")

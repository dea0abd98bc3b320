"""The end-of-line sequence as data: the steps, the measurements each makes and their limits, the power
budgets of the meter ports, the settings a factory reset must bring back, and the faulty units the
simulation can build.

Every step makes judged :class:`~rig.record.Measurement` s (names below); a unit passes when every
one passes. A step that cannot run on a bench (the LED checks without instruments) is skipped with the
reason, and a step that cannot go on (the unit did not boot) fails the measurements it would have made.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

PASS, FAIL = "pass", "fail"


@dataclass(frozen=True)
class Budget:
    """What a meter port supplies: its rail and the most a reader may draw from it."""

    port: str
    volts: float
    max_ma: float
    max_mw: float

    @property
    def limit_ma(self) -> float:
        """The current a reader may draw: the lower of the port's current and power limits."""
        return round(min(self.max_ma, self.max_mw / self.volts), 3)


# The Kaifa HAN port (M-Bus, 24 V): at most 500 mW / 21 mA; the P1 port: 5 V, at most 250 mA.
BUDGETS = {
    "han": Budget("han", 24.0, 21.0, 500.0),
    "p1": Budget("p1", 5.0, 250.0, 1250.0),
}


@dataclass(frozen=True)
class Step:
    """One step of the sequence: its name, what it does, the measurements it makes."""

    name: str
    what: str
    measurements: tuple[str, ...]


# The colours of the spec's LED table (rig/led/patterns.json), in the order the LED step shows them.
LED_COLOURS = ("blue", "red", "green", "white", "cyan", "magenta")
LED_MEASUREMENTS = (*(f"led.colour.{c}" for c in LED_COLOURS), "led.read_ok_flash")

STEPS: tuple[Step, ...] = (
    Step("power_on", "output on at the port's voltage; the unit boots",
         ("boot.time",)),
    Step("identity", "the unit's serial number and firmware version, read from it",
         ("serial.read_back", "firmware.version_ok")),
    Step("idle_current", "the current with nothing to do, against the port's budget",
         ("current.idle",)),
    Step("interfaces", "each interface answers, then a short meter stream checked on every interface",
         ("http.answers", "modbus.answers", "mqtt.answers", "frames_decoded",
          "http.passed", "http.failed", "modbus.passed", "modbus.failed", "mqtt.passed", "mqtt.failed")),
    Step("peak_current", "the highest current since power on (boot, radio bursts), against the budget",
         ("current.peak",)),
    Step("factory_reset", "button held 30 s (device time), then pressed: every setting back to its default",
         ("factory_reset.settings_not_default", "factory_reset.file_not_default")),
    Step("led", "power cycled into real time: every LED colour seen by the camera (frames), the read-OK "
         "flash on a meter frame timed by the photodiode", (*LED_MEASUREMENTS,)),
    Step("power_off", "output off: the unit stops at once and draws nothing",
         ("power_off.current", "power_off.stopped")),
)

# What GET /configuration shows after a factory reset (dotted names; the firmware's defaults).
FACTORY_SETTINGS: dict[str, Any] = {
    "modbus.enabled": False,
    "modbus.unit_id": 1,
    "mqtt.enabled": False,
    "mqtt.topic": None,
    "mqtt.username": None,
    "mqtt.password_set": False,
    "meter.key_set": False,
    "meter.auth_key_set": False,
    "token_set": False,
    "read_token_set": False,
    "log_level": "info",
    "persist": False,
    "serial.baud": 2400,
    "line.detected": None,
}
# Settings the station changes before the reset, so that the reset has something to undo.
BEFORE_RESET = {"log_level": "debug", "persist": True}
HOLD_DEVICE_S = 30.0  # the button is held this long (device time) before the press that resets


def not_default(config: dict[str, Any], secrets_public: bool = True) -> list[str]:
    """The factory settings ``config`` (GET /configuration, or the saved file with ``secrets_public`` False)
    does not hold."""
    wrong = []
    for dotted, want in FACTORY_SETTINGS.items():
        if not secrets_public and dotted.endswith("_set"):
            dotted, want = dotted[:-4], None  # the file holds the secret itself: unset is null
        node: Any = config
        for part in dotted.split("."):
            node = node.get(part, "<missing>") if isinstance(node, dict) else "<missing>"
        if node != want:
            wrong.append(dotted)
    return wrong


FAULT_KINDS = {
    "overdraw": "draws MW milliwatts more than a correct unit in every state (default 450: over the HAN budget)",
    "modbus-dead": "its Modbus answers no request to unit 1 (configured as unit 7)",
    "led-no-blue": "its LED's blue die is dead: no blue light, whatever the firmware drives ('sim' LED instruments)",
    "led-dead": "its LED gives no light at all ('sim' LED instruments)",
}


@dataclass(frozen=True)
class LedDefect:
    """A unit's faulty LED (simulated in its light): ``channels`` (red, green, blue), 1 for a die that lights."""

    channels: tuple[float, float, float] = (1.0, 1.0, 1.0)


LED_DEFECTS = {"led-no-blue": LedDefect((1.0, 1.0, 0.0)), "led-dead": LedDefect((0.0, 0.0, 0.0))}


@dataclass(frozen=True)
class UnitFault:
    """A deliberately faulty software unit (by serial number)."""

    kind: str
    extra_mw: float = 0.0
    config: dict[str, Any] = field(default_factory=dict)
    led: LedDefect | None = None


def parse_fault(spec: str) -> tuple[str, UnitFault]:
    """``SERIAL=overdraw[:MW]``, ``SERIAL=modbus-dead``, ``SERIAL=led-no-blue`` or ``SERIAL=led-dead`` ->
    (serial, fault); ValueError saying why not."""
    serial, sep, rest = spec.partition("=")
    kind, _, param = rest.partition(":")
    if not sep or not serial.strip() or kind not in FAULT_KINDS:
        known = "; ".join(f"{k}: {v}" for k, v in FAULT_KINDS.items())
        raise ValueError(f"a faulty unit is SERIAL=KIND[:PARAM], got {spec!r}; kinds: {known}")
    if kind == "overdraw":
        try:
            mw = float(param) if param else 450.0
        except ValueError:
            mw = -1.0
        if not 0 < mw <= 10000:
            raise ValueError(f"overdraw takes milliwatts 0..10000, got {param!r}")
        return serial.strip(), UnitFault(kind, extra_mw=mw)
    if param:
        raise ValueError(f"{kind} takes no parameter, got {param!r}")
    if kind in LED_DEFECTS:
        return serial.strip(), UnitFault(kind, led=LED_DEFECTS[kind])
    return serial.strip(), UnitFault(kind, config={"modbus": {"unit_id": 7}})

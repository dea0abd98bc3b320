"""The reader firmware's application; ``main.py`` runs it: ``micropython -m dut_firmware.main CONFIG.json``
from the folder that holds the package (on a device, ``import dut_firmware.main`` from the board's own
``main.py``).

One asyncio loop: the serial task feeds the decoder; each decoded frame updates the meter state,
flashes the LED and goes to MQTT; HTTP, Modbus TCP and MQTT serve the state. Logs go to stdout as
``<uptime ms> <LEVEL> <message>``; ``READY {"http": PORT, "modbus": PORT or null}`` once every
service listens. Runs under MicroPython (the target) and CPython.
"""

import asyncio
import sys

from . import config, factory
from . import hal as hal_mod
from . import led as led_mod
from . import state as state_mod
from .meter_line import MeterLine, detect_params
from .services import View
from .services.http import HttpServer
from .services.mdns import MdnsResponder
from .services.modbus import ModbusServer
from .services.mqtt import MqttClient

LEVELS = {"DEBUG": 10, "INFO": 20, "WARNING": 30, "ERROR": 40}
RESTART_ONLY = ("http", "clock_scale", "led")
SILENT_AFTER_MS = 60000     # device ms without a reading before /han says "silent"


class App(MeterLine):
    def __init__(self, cfg, cfg_path=None):
        self.cfg = cfg
        self.cfg_path = cfg_path
        self.hal = hal_mod.create(cfg)
        if cfg_path:    # the firmware store (update) lies next to the configuration file
            self.hal.store = (cfg_path.rsplit("/", 1)[0] if "/" in cfg_path else ".") + "/firmware"
        self.restarting = False
        self._restart = asyncio.Event()
        self._min_level = LEVELS[cfg["log_level"].upper()]
        self.led = led_mod.Led(self.hal)
        self.factory = factory.FactoryReset(self.led, self.hal, self.log, self.settings, self.configure,
                                            self.save if cfg_path else None)
        self.state = state_mod.State(cfg["tz"], self.hal.epoch_ms)
        self.decoder = self._new_decoder()
        # each service gets what it uses, never the application (services/__init__.py View)
        state, hal, log, settings = self.state, self.hal, self.log, self.settings
        self.http = HttpServer(View(settings, state=state, hal=hal, log=log, meter_id=self.meter_id,
                                    state_message=self.state_message, health_message=self.health_message,
                                    public_config=self.public_config, configure=self.configure,
                                    update_firmware=self.update_firmware))
        self.modbus = ModbusServer(View(settings, state=state, hal=hal, log=log, configure=self.configure))
        self.mqtt = MqttClient(View(settings, state=state, hal=hal, log=log, on_mqtt_status=self.on_mqtt_status))
        self.mdns = MdnsResponder(hal, log)
        self.serial = None
        self.serial_open = False
        self.detect = None
        self._setup_line()
        self._rx_pending = False
        self._last_rx_real = 0

    # -- logging -----------------------------------------------------------------------------------
    def log(self, level, msg):
        if LEVELS.get(level, 40) < self._min_level:
            return
        sys.stdout.write("%d %s %s\n" % (self.hal.uptime_ms(), level, msg))
        sys.stdout.flush()

    @property
    def debug(self):
        return self._min_level <= 10

    # -- configuration -----------------------------------------------------------------------------------
    def settings(self):
        """The configuration now (a change replaces the whole dictionary)."""
        return self.cfg

    def save(self, cfg):
        """Store ``cfg`` in the configuration file through the HAL (OSError when it cannot)."""
        config.save(cfg, self.cfg_path, self.hal)

    # -- status --------------------------------------------------------------------------------------
    def online(self):
        if self.cfg["mqtt"]["enabled"]:
            return self.mqtt.connected
        return self.hal.network_up()

    def on_mqtt_status(self, connected):
        self.led.set_online(self.online())
        if connected:
            self.led.signal("handshake")

    def mqtt_settings(self):
        m = self.cfg["mqtt"]
        out = {}
        for key in m:
            out[key] = m[key]
        out["topic"] = config.mqtt_topic(self.cfg)
        out["client_id"] = config.mqtt_client_id(self.cfg)
        return out

    def meter_state(self):
        if not self.state.has_reading:
            return "no_data"
        age = self.hal.uptime_ms() - self.state.last_reading_uptime_ms
        return "reading" if age <= SILENT_AFTER_MS else "silent"

    def state_message(self):
        d = self.cfg["device"]
        return {
            "type": "HAN_STATE_MESSAGE",
            "ts": self.hal.epoch_ms(),
            "uuid": "han-" + d["serial"],
            "name": d["name"],
            "model": d["model"],
            "serial": d["serial"],
            "version": config.VERSION,
            "state": self.meter_state(),
            "mac": self.hal.mac(),
            "ethIp": self.hal.ip(),
            "wifiIp": None,
            "online": self.online(),
            "channel": None,
        }

    def health_message(self):
        up = self.hal.uptime_ms()
        return {
            "type": "HAN_HEALTH_MESSAGE",
            "ts": self.hal.epoch_ms(),
            "uptime_s": up // 1000,
            "uptime_ms": up,
            "free_heap": self.hal.free_heap(),
            "reset_reason": self.hal.reset_reason,
            "counters": self.state.counters(self.decoder),
            "last_error": self.state.last_error,
            "last_decrypt_error": self.state.last_decrypt_error,
            "meter": {"state": self.meter_state(), "format": self.state.format,
                      "list": self.state.list_no},
            "serial": self.serial_status(),
            "modbus": {"enabled": self.cfg["modbus"]["enabled"], "listening": self.modbus.listening,
                       "port": self.modbus.port, "map": self.cfg["modbus"]["map"],
                       "counters": self.modbus.counters},
            "mqtt": {"enabled": self.cfg["mqtt"]["enabled"], "connected": self.mqtt.connected,
                     "sessions": self.mqtt.sessions, "attempts": self.mqtt.attempts,
                     "births": self.mqtt.births, "values_dropped": self.mqtt.values_dropped,
                     "last_error": self.mqtt.last_error},
            "http": self.http.counters(),
            "led": {"patterns_dropped": self.led.dropped},
            "mdns": {"enabled": self.cfg["mdns"]["enabled"], "running": self.mdns.running,
                     "counters": self.mdns.counters},
        }

    def meter_id(self):
        fmt = self.state.format or ""
        maker = fmt.split("/")[-1].split("-")[0] if "/" in fmt else None
        return {"manufacturerId": maker, "deviceType": self.state.fields.get("meter_type"),
                "meterId": self.state.fields.get("meter_id")}

    def public_config(self):
        return config.public(self.cfg)

    # -- run-time configuration ----------------------------------------------------------------------
    async def configure(self, changes):
        new = config.apply_changes(self.cfg, changes)
        for key in RESTART_ONLY:
            if new[key] != self.cfg[key]:
                raise ValueError("%s can only be changed with a restart" % key)
        if new["serial"]["device"] != self.cfg["serial"]["device"]:
            raise ValueError("serial.device can only be changed with a restart")
        old = self.cfg
        self.cfg = new
        self._min_level = LEVELS[new["log_level"].upper()]
        if new["modbus"] != old["modbus"]:
            try:
                await self._apply_modbus()
            except OSError as exc:
                self.cfg = old
                try:
                    await self._apply_modbus()
                except OSError:
                    pass
                raise ValueError("modbus cannot listen on %s:%d: %r" % (
                    new["modbus"]["host"], new["modbus"]["port"], exc)) from None
        if new["mdns"] != old["mdns"]:
            await self._apply_mdns()
        if new["tz"] != old["tz"]:
            self.state.set_tz(new["tz"])
        if new["meter"] != old["meter"]:
            self.decoder.set_keys(*config.meter_keys(new))  # from the next frame on
        request = new["line"]["data_request"]
        if new["serial"] != old["serial"] or detect_params(new) != detect_params(old):
            self._setup_line()
        if self.serial is not None and (new["serial"] != old["serial"] or new["line"] != old["line"]):
            try:
                self.serial.reconfigure(*self.line_setting())
                if request != old["line"]["data_request"]:
                    self.serial.set_request(request)
            except Exception as exc:
                self.log("WARNING", "serial reconfigure: %r" % (exc,))
        await self.mqtt.configure(self.mqtt_settings())
        self.led.set_online(self.online())
        if new["persist"] and self.cfg_path:
            try:
                self.save(new)
            except OSError as exc:
                self.log("WARNING", "cannot save config: %r" % (exc,))
        self.log("INFO", "configuration changed: %s" % ", ".join(sorted(changes)))
        return config.public(new)

    async def _apply_modbus(self):
        m = self.cfg["modbus"]
        if m["enabled"]:
            await self.modbus.start(m["host"], m["port"])
        else:
            await self.modbus.stop()

    async def _apply_mdns(self):
        m = self.cfg["mdns"]
        if m["enabled"]:
            await self.mdns.start(m["port"], m["interface"], self.cfg["http"]["port"], self.cfg["device"])
        else:
            await self.mdns.stop()

    # -- main ------------------------------------------------------------------------------------------
    async def run(self):
        h = self.cfg["http"]
        await self.http.start(h["host"], h["port"])
        self.log("INFO", "http listening on %s:%d" % (h["host"], h["port"]))
        await self._apply_modbus()
        await self._apply_mdns()
        # The port is raw before READY: bytes written to a pty still in cooked mode would be mangled.
        self.open_serial()
        asyncio.create_task(self.guard("led", self.led.run))
        asyncio.create_task(self.guard("led-control", lambda: self.led.control_task(self.log, self.online)))
        asyncio.create_task(self.guard("serial", self.serial_task))
        asyncio.create_task(self.guard("idle", self.idle_task))
        asyncio.create_task(self.guard("detect", self.detect_task))
        await self.mqtt.configure(self.mqtt_settings())
        modbus = str(self.modbus.port) if self.modbus.listening else "null"
        sys.stdout.write('READY {"http": %d, "modbus": %s}\n' % (h["port"], modbus))
        sys.stdout.flush()
        self.led.boot_done()
        self.led.set_online(self.online())
        await self._restart.wait()

    # -- firmware update -------------------------------------------------------------------------------
    async def update_firmware(self, headers, buf, read):
        """POST /update (services/update.py): the LED shows the update; a good image restarts the unit."""
        from .services.update import UpdateError, receive  # loaded on the first update: no heap before
        self.led.set_mode("update", True)
        await asyncio.sleep(0)
        try:
            writer, version = await receive(self.hal, headers, buf, read)
            writer.activate()
        except UpdateError as exc:
            self.led.set_mode("update", False)
            self.log("WARNING", "firmware update refused: %s" % exc.message)
            raise
        except BaseException:
            self.led.set_mode("update", False)
            raise
        self.log("INFO", "firmware %s installed; restarting into it" % version)
        asyncio.create_task(self._restart_soon())
        return {"ok": True, "version": version, "restart": True}

    async def _restart_soon(self):
        await asyncio.sleep(0.2)    # the answer goes out first
        self.restarting = True
        self._restart.set()

    async def guard(self, name, func):
        """Run a task body forever: an unexpected exception is logged and the body restarted."""
        while True:
            try:
                await func()
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.log("ERROR", "%s task failed: %r; restarting" % (name, exc))
                await asyncio.sleep(1)

    async def shutdown(self):
        await self.mdns.stop()
        await self.mqtt.stop()
        await self.modbus.stop()


def main(argv):
    if len(argv) < 2:
        sys.stdout.write("usage: main.py CONFIG.json\n")
        return 2
    ignored = []
    try:
        cfg = config.load(argv[1], ignored)
    except (OSError, ValueError) as exc:
        sys.stdout.write("0 ERROR configuration %s: %s\n" % (argv[1], exc))
        return 2
    app = App(cfg, argv[1])
    app.log("INFO", "HAN reader %s starting (%s)" % (config.VERSION, sys.implementation.name))
    if ignored:
        app.log("WARNING", "unknown settings ignored: %s" % ", ".join(ignored))
    try:
        asyncio.run(app.run())
        if app.restarting:
            asyncio.run(app.shutdown())
            app.log("INFO", "restarting (exit %d)" % app.hal.restart_status)
            return app.hal.restart_status
    except KeyboardInterrupt:
        app.log("INFO", "interrupted, stopping")
        try:
            asyncio.run(app.shutdown())
        except Exception:
            pass
        return 0
    except OSError as exc:
        app.log("ERROR", "fatal: %r" % (exc,))
        return 1
    return 0


def run():
    """The entry point (``main.py``): run with ``sys.argv``, exit with its status."""
    sys.exit(main(sys.argv))

"""Reader firmware entry point: ``micropython dut_firmware/main.py CONFIG.json``.

One asyncio loop: the serial task feeds the decoder; each decoded frame updates the meter state,
flashes the LED and goes to MQTT; HTTP, Modbus TCP and MQTT serve the state. Logs go to stdout as
``<uptime ms> <LEVEL> <message>``; ``READY {"http": PORT, "modbus": PORT or null}`` once every
service listens. Runs under MicroPython (the target) and CPython.
"""

import asyncio
import sys

import config
import factory
import hal as hal_mod
import led as led_mod
import state as state_mod
from han.decoder import Decoder
from han.linedetect import LineDetect, line_text, parse_line
from services.http import HttpServer
from services.mdns import MdnsResponder
from services.modbus import ModbusServer
from services.mqtt import MqttClient

LEVELS = {"DEBUG": 10, "INFO": 20, "WARNING": 30, "ERROR": 40}
RESTART_ONLY = ("http", "clock_scale", "led")
IDLE_GAP_MS = 500           # device ms of line silence that ends a frame (partial -> truncated)
# Floor of the idle gap in real ms, for time-compressed runs (clock_scale > 3.3): the line's writer
# (the rig's pacer, a thread on a loaded host) can pause mid-frame for 5-70 ms, which on the DUT's side
# is indistinguishable from a truncated frame; a real partial frame is still counted, just later.
MIN_IDLE_GAP_REAL_MS = 150
SILENT_AFTER_MS = 60000     # device ms without a reading before /han says "silent"
DETECT_TICK_MS = 200        # device ms between checks of the line detection's listen/silence windows
MIN_DETECT_TICK_REAL_MS = 20  # ... but never more often than this (time-compressed runs)


def _detect_params(cfg):
    line = cfg["line"]
    return (line["detected"], line["listen_ms"], line["bad_frames"], line["silence_ms"])


class App:
    def __init__(self, cfg, cfg_path=None):
        self.cfg = cfg
        self.cfg_path = cfg_path
        self.hal = hal_mod.create(cfg)
        self._min_level = LEVELS[cfg["log_level"].upper()]
        self.led = led_mod.Led(self.hal)
        self.factory = factory.FactoryReset(self)
        self.state = state_mod.State(cfg["tz"])
        self.decoder = self._new_decoder()
        self.http = HttpServer(self)
        self.modbus = ModbusServer(self)
        self.mqtt = MqttClient(self)
        self.mdns = MdnsResponder(self)
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

    # -- meter side --------------------------------------------------------------------------------
    def _new_decoder(self):
        key, auth_key = config.meter_keys(self.cfg)
        return Decoder(key=key, auth_key=auth_key, aes=self.hal.aes_ecb)

    def on_results(self, results):
        if not results:
            return
        up = self.hal.uptime_ms()
        now = self.hal.epoch_ms()
        state = self.state
        mqtt_on = self.mqtt.task is not None
        detect = self.detect
        for res in results:
            if detect is not None:
                if detect.on_frame(bool(res.get("ok")), up):
                    self._apply_line()
                elif detect.just_detected:
                    self._line_detected()
            if res.get("ok"):
                text = state.update(res, up, now)
                self.led.signal("read_ok")
                if mqtt_on and not self.mqtt.publish(text):
                    state.mqtt_not_published += 1
                if self.debug:
                    self.log("DEBUG", "frame ok %s list %s" % (res.get("format"), state.list_no))
            else:
                err = res.get("error") or "error"
                state.error(err, res.get("format"), up, now)
                self.led.signal("read_failed")
                self.log("WARNING", "frame error (%s): %s" % (res.get("format"), err))

    def feed(self, data):
        try:
            results = self.decoder.feed(data)
        except Exception as exc:
            self._decoder_crashed(exc)
            return
        self.on_results(results)

    def flush(self):
        try:
            results = self.decoder.flush()
        except Exception as exc:
            self._decoder_crashed(exc)
            return
        self.on_results(results)

    def _decoder_crashed(self, exc):
        """A bug in the decoder: the bytes it held are lost; counted (``decoder_restarts``) and
        recorded as the last error, so every frame is still decoded or counted."""
        self.log("ERROR", "decoder exception %r; decoder restarted" % (exc,))
        self.state.decoder_restarts += 1
        self.state.error("decoder exception", None, self.hal.uptime_ms(), self.hal.epoch_ms())
        self.led.signal("read_failed")
        self.state.retire_decoder(self.decoder)
        self.decoder = self._new_decoder()

    # -- line settings -------------------------------------------------------------------------------
    def _setup_line(self):
        """Fixed line settings, or (``serial.baud`` "auto") a detection starting at the remembered one."""
        cfg = self.cfg
        if cfg["serial"]["baud"] != "auto":
            self.detect = None
            return
        line = cfg["line"]
        first = parse_line(line["detected"]) if line["detected"] else None
        self.detect = LineDetect(self.hal.uptime_ms(), first=first, listen_ms=line["listen_ms"],
                                 bad_frames=line["bad_frames"], silence_ms=line["silence_ms"])

    def line_setting(self):
        """``(baud, parity)`` to put on the port; parity None: the HAL's default for the baud rate."""
        if self.detect is not None:
            return self.detect.current
        return self.cfg["serial"]["baud"], self.cfg["serial"]["parity"]

    def _apply_line(self):
        """Put the detection's current candidate on the port."""
        self.log("INFO", "line detection: trying %s" % line_text(self.detect.current))
        if self.serial is not None:
            try:
                self.serial.reconfigure(*self.detect.current)
            except Exception as exc:
                self.log("WARNING", "serial reconfigure: %r" % (exc,))

    def _line_detected(self):
        """A candidate yielded a valid frame: keep it, remember it (saved when ``persist``)."""
        self.detect.just_detected = False
        text = line_text(self.detect.current)
        self.log("INFO", "line detected: %s" % text)
        if self.cfg["line"]["detected"] == text:
            return
        self.cfg["line"]["detected"] = text
        if self.cfg["persist"] and self.cfg_path:
            try:
                config.save(self.cfg, self.cfg_path)
            except OSError as exc:
                self.log("WARNING", "cannot save config: %r" % (exc,))

    async def detect_task(self):
        """Move on to the next candidate when a listen window ends, or detect again after a silence."""
        period = max(self.hal.real_delay_ms(DETECT_TICK_MS), MIN_DETECT_TICK_REAL_MS) / 1000
        while True:
            await asyncio.sleep(period if self.detect is not None else 1)
            detect = self.detect
            if detect is not None and self.serial is not None and detect.tick(self.hal.uptime_ms()):
                self._apply_line()

    def serial_status(self):
        """The ``serial`` object of /health."""
        if self.serial is not None and getattr(self.serial, "line", None):
            baud, parity = self.serial.line
        else:
            baud, parity = self.line_setting()
        detect = self.detect
        return {"device": self.cfg["serial"]["device"], "open": self.serial_open, "baud": baud,
                "parity": parity, "auto": detect is not None,
                "detected": detect.detected if detect is not None else None,
                "state": detect.state if detect is not None else "fixed",
                "data_request": bool(self.serial is not None and getattr(self.serial, "request", False))}

    def open_serial(self):
        """Open and configure the meter port; False (logged) when it cannot be opened."""
        cfg = self.cfg["serial"]
        baud, parity = self.line_setting()
        try:
            self.serial = self.hal.open_serial(cfg["device"], baud, parity, self.cfg["line"]["data_request"])
        except Exception as exc:
            self.log("WARNING", "cannot open %s: %r; retrying" % (cfg["device"], exc))
            return False
        self.serial_open = True
        self.log("INFO", "serial %s open at %d baud%s" % (cfg["device"], baud,
                                                          " (line detection)" if self.detect else ""))
        return True

    def serial_pending(self):
        """True when bytes wait in the kernel for the serial task (the HAL polls with timeout 0)."""
        return self.serial is not None and self.serial.pending()

    async def serial_task(self):
        while True:
            device = self.cfg["serial"]["device"]
            if self.serial is None and not self.open_serial():
                await asyncio.sleep(1)
                continue
            try:
                while True:
                    data = await self.serial.read(512)
                    if not data:
                        raise OSError("end of stream")
                    self._last_rx_real = self.hal.real_ms()
                    self._rx_pending = True
                    self.feed(data)
                    # let MQTT, HTTP and Modbus run between reads (a catch-up burst is many reads)
                    await asyncio.sleep(0)
            except Exception as exc:
                self.log("WARNING", "serial %s: %r; reopening" % (device, exc))
            self.serial_open = False
            self.serial.close()
            self.serial = None
            if self._rx_pending:
                self._rx_pending = False
                self.flush()
            await asyncio.sleep(0.5)

    async def idle_task(self):
        """Flush the decoder after a line idle gap, so a partial frame is counted as truncated.

        Never on a stall of the process: when this task wakes late by more than the gap, or bytes
        already wait in the kernel, the serial task has not caught up yet and the line is not idle.
        """
        hal = self.hal
        gap = hal.real_delay_ms(IDLE_GAP_MS)
        if gap < MIN_IDLE_GAP_REAL_MS:
            gap = MIN_IDLE_GAP_REAL_MS
        period_ms = gap / 5
        period = period_ms / 1000
        woke = hal.real_ms()
        while True:
            await asyncio.sleep(period)
            due = woke + period_ms
            woke = hal.real_ms()
            if not self._rx_pending or woke - self._last_rx_real < gap:
                continue
            if woke - due > gap or self.serial_pending():
                continue
            self._rx_pending = False
            self.flush()

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
        if new["serial"] != old["serial"] or _detect_params(new) != _detect_params(old):
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
                config.save(new, self.cfg_path)
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
            await self.mdns.start(m["port"], m["interface"], self.cfg["http"]["port"])
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
        while True:
            await asyncio.sleep(3600)

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


if __name__ == "__main__":
    sys.exit(main(sys.argv))

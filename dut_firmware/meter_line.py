"""The meter side of the application: the serial line (its settings, line detection, the idle gap that
ends a frame) and the decoder it feeds. ``App`` (app.py) is a ``MeterLine``; kept apart to keep each module
small. Uses of the application here: ``cfg``, ``hal``, ``state``, ``led``, ``mqtt``, ``log``, ``save``.
"""

import asyncio

from . import config
from .han import outcome
from .han.decoder import Decoder
from .han.linedetect import LineDetect, line_text, parse_line

IDLE_GAP_MS = 500           # device ms of line silence that ends a frame (partial -> truncated)
# Floor of the idle gap in real ms, for time-compressed runs (clock_scale > 3.3): the line's writer
# (the rig's pacer, a thread on a loaded host) can pause mid-frame for 5-70 ms, which on the DUT's side
# is indistinguishable from a truncated frame; a real partial frame is still counted, just later.
MIN_IDLE_GAP_REAL_MS = 150
DETECT_TICK_MS = 200        # device ms between checks of the line detection's listen/silence windows
MIN_DETECT_TICK_REAL_MS = 20  # ... but never more often than this (time-compressed runs)


def detect_params(cfg):
    line = cfg["line"]
    return (line["detected"], line["listen_ms"], line["bad_frames"], line["silence_ms"])


class MeterLine:
    # -- meter side --------------------------------------------------------------------------------
    def _new_decoder(self):
        key, auth_key = config.meter_keys(self.cfg)
        return Decoder(key=key, auth_key=auth_key, aes=self.hal.aes_ecb)

    def on_results(self, results):
        if not results:
            return
        up = self.hal.uptime_ms()
        state = self.state  # the wall clock is read only for an error (state.clock)
        mqtt_on = self.mqtt.task is not None
        detect = self.detect
        for res in results:
            if detect is not None:
                if detect.on_frame(bool(res.get("ok")), up):
                    self._apply_line()
                elif detect.just_detected:
                    self._line_detected()
            if res.get("ok"):
                state.update(res, up)
                self.led.signal("read_ok")
                # the text is rendered only when something takes it: MQTT here, else the first HTTP poll
                if mqtt_on and not self.mqtt.publish(state.text()):
                    state.mqtt_not_published += 1
                if self.debug:
                    self.log("DEBUG", "frame ok %s list %s" % (res.get("format"), state.list_no))
            else:
                err = res.get("error") or "error"
                state.error(res.get("code") or outcome.UNKNOWN_FORMAT, err, res.get("format"), up)
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
        self.state.error(outcome.DECODER, "decoder exception", None, self.hal.uptime_ms(), self.hal.epoch_ms())
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
                self.save(self.cfg)
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

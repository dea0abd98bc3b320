"""Status LED state machine (patterns of the firmware spec / Cozify seed 000).

Base colour: dim red while booting (at least BOOT_SHOW_MS); then dim green when online, dim red when offline. One-shot
patterns (read OK, read failed, handshake, access-point mode, Wi-Fi error) play over the base colour,
one at a time; at most one waits while another plays (a failure replaces a waiting read-OK flash, never
the other way round), so a fast meter cannot build a backlog. Modes hold the LED until they end, in
this order of precedence: firmware update (steady blue), critical error (red, green, blue in turn),
factory reset (white blink, entered by holding the button); a one-shot asked for during a mode is
dropped. Durations are device milliseconds (the HAL scales them); the HAL records every colour change.

Control lines (``control_task``, from the HAL's control channel where it has one): ``button hold``,
``button press``, ``wifi ap``, ``wifi error``, ``network up|down``, ``update start|end``,
``critical set|clear``, ``signal NAME``.
"""

import asyncio

DIM = 32
HIGH = 255

OFF = (0, 0, 0)
DIM_RED = (DIM, 0, 0)
DIM_GREEN = (0, DIM, 0)
RED = (HIGH, 0, 0)
GREEN = (0, HIGH, 0)
BLUE = (0, 0, HIGH)
MAGENTA = (HIGH, 0, HIGH)
CYAN = (0, HIGH, HIGH)
WHITE = (HIGH, HIGH, HIGH)
BASE = None     # the current base colour

PATTERNS = {
    # one magenta flash of about 100 ms, then the base colour
    "read_ok": ((MAGENTA, 100),),
    # red high twice (125 on, 125 off), then the base colour for 500 ms
    "read_failed": ((RED, 125), (OFF, 125), (RED, 125), (OFF, 125), (BASE, 500)),
    # green at full intensity, one flash of about 100 ms
    "handshake": ((GREEN, 100),),
    # cyan high twice (100 on, 100 off), then the base colour
    "ap_mode": ((CYAN, 100), (OFF, 100), (CYAN, 100), (OFF, 100)),
    # red high three times, then the base colour for 500 ms
    "network_error": ((RED, 125), (OFF, 125), (RED, 125), (OFF, 125), (RED, 125), (OFF, 125),
                      (BASE, 500)),
}

PRIORITY = {"read_ok": 0, "handshake": 1, "ap_mode": 2, "read_failed": 3, "network_error": 4}

# Modes: a steady colour (one step of no duration) or a cycle played until the mode ends.
MODES = {
    "update": ((BLUE, 0),),
    "critical": ((RED, 125), (GREEN, 125), (BLUE, 125)),
    "factory_reset": ((WHITE, 125), (OFF, 125)),
}
MODE_ORDER = ("update", "critical", "factory_reset")
BOOT_SHOW_MS = 500  # booting stays on at least this long, so that it can be seen


class Led:
    def __init__(self, hal):
        self.hal = hal
        self.booting = True
        self.online = False
        self.current = None
        self.playing = None
        self.pending = None
        self.dropped = 0
        self.modes = set()
        self.factory_resets = 0
        self.on_button = None       # called with "hold" or "press" (factory.py)
        self.ready = False          # the reader has started (boot_done)
        self._boot_shown = False    # booting has been on for BOOT_SHOW_MS
        self._wake = asyncio.Event()
        self.set(DIM_RED)

    def base(self):
        if self.booting:
            return DIM_RED
        return DIM_GREEN if self.online else DIM_RED

    def mode(self):
        """The mode holding the LED, or None."""
        for name in MODE_ORDER:
            if name in self.modes:
                return name
        return None

    def set(self, rgb):
        if rgb is BASE:
            rgb = self.base()
        if rgb != self.current:
            self.current = rgb
            self.hal.led(rgb[0], rgb[1], rgb[2])

    def _idle(self):
        return self.playing is None and not self.modes

    def boot_done(self):
        self.ready = True
        if self._boot_shown:
            self._end_boot()

    def _end_boot(self):
        self.booting = False
        if self._idle():
            self.set(BASE)

    def set_online(self, online):
        self.online = bool(online)
        if self._idle():
            self.set(BASE)

    def signal(self, name):
        """Ask for pattern ``name``; never blocks."""
        if name not in PATTERNS:
            raise ValueError("no LED pattern %r" % name)
        if self.modes:
            self.dropped += 1
            return
        if self.pending is not None:
            if PRIORITY[name] < PRIORITY[self.pending]:
                self.dropped += 1
                return
            self.dropped += 1
        self.pending = name
        self._wake.set()

    def set_mode(self, name, on):
        """Enter (``on``) or leave mode ``name`` (update, critical, factory_reset)."""
        if name not in MODES:
            raise ValueError("no LED mode %r" % name)
        if on:
            self.modes.add(name)
            if self.pending is not None:
                self.pending = None
                self.dropped += 1
        else:
            self.modes.discard(name)
        self._wake.set()

    async def _boot_timer(self):
        await self.hal.sleep_ms(BOOT_SHOW_MS)
        self._boot_shown = True
        if self.ready:
            self._end_boot()

    async def run(self):
        if not self._boot_shown:
            asyncio.create_task(self._boot_timer())
        while True:
            mode = self.mode()
            if mode is not None:
                steps = MODES[mode]
                if len(steps) == 1:
                    self.set(steps[0][0])
                    await self._wait()
                    continue
                for rgb, ms in steps:
                    if self.mode() != mode:
                        break
                    self.set(rgb)
                    await self.hal.sleep_ms(ms)
                continue
            if self.pending is None:
                self.set(BASE)
                await self._wait()
                continue
            name = self.pending
            self.pending = None
            self.playing = name
            for rgb, ms in PATTERNS[name]:
                if self.modes:
                    break
                self.set(rgb)
                await self.hal.sleep_ms(ms)
            self.playing = None

    async def _wait(self):
        await self._wake.wait()
        self._wake.clear()

    # -- control channel ---------------------------------------------------------------------------
    def control(self, line, online=None):
        """Apply one control line; returns what it did (for the log), ValueError when unknown.

        ``online`` (a callable) gives the reader's online state after a network change.
        """
        words = line.split()
        if not words:
            return None
        cmd = " ".join(words)
        if cmd in ("button hold", "button press") and self.on_button is not None:
            self.on_button(words[1])
        if cmd == "button hold":
            self.set_mode("factory_reset", True)
            return "button held: factory-reset blink"
        if cmd == "button press":
            if "factory_reset" in self.modes:
                self.factory_resets += 1
                self.set_mode("factory_reset", False)
                return "button pressed: factory reset"
            return "button pressed"
        if cmd == "wifi ap":
            self.signal("ap_mode")
            return "wifi access-point mode"
        if cmd == "wifi error":
            self.signal("network_error")
            return "wifi connection error"
        if cmd in ("network up", "network down"):
            up = words[1] == "up"
            if self.hal.offers("set_network"):
                self.hal.set_network(up)
            self.set_online(online() if online is not None else up)
            if up:
                self.signal("handshake")
            return "network " + words[1]
        if cmd in ("update start", "update end"):
            self.set_mode("update", words[1] == "start")
            return "firmware update " + words[1]
        if cmd in ("critical set", "critical clear"):
            self.set_mode("critical", words[1] == "set")
            return "critical error " + ("raised" if words[1] == "set" else "cleared")
        if len(words) == 2 and words[0] == "signal":
            self.signal(words[1])
            return "pattern " + words[1]
        raise ValueError("unknown LED control %r" % line)

    async def control_task(self, log=None, online=None, period_ms=20):
        """Read the HAL's control channel (``hal.control_lines()``) every ``period_ms`` real ms."""
        if not self.hal.offers("control_lines"):
            return
        read = self.hal.control_lines
        while True:
            for line in read():
                try:
                    done = self.control(line, online)
                except ValueError as exc:
                    done = None
                    if log is not None:
                        log("WARNING", str(exc))
                if done and log is not None:
                    log("INFO", "control: " + done)
            await asyncio.sleep(period_ms / 1000)

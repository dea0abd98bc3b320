"""Status LED state machine (patterns of the firmware spec / Cozify seed 000).

Base colour: dim red while booting; then dim green when online, dim red when offline. Patterns play
over the base colour, one at a time; at most one pattern waits while another plays (a failure
replaces a waiting read-OK flash, never the other way round), so a fast meter cannot build a backlog.
Durations are device milliseconds (the HAL scales them); the HAL records every colour change.
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
BASE = None     # the current base colour

PATTERNS = {
    # one magenta flash of about 100 ms, then the base colour
    "read_ok": ((MAGENTA, 100),),
    # red high twice (125 on, 125 off), then the base colour for 500 ms
    "read_failed": ((RED, 125), (OFF, 125), (RED, 125), (OFF, 125), (BASE, 500)),
    # green at full intensity, one flash of about 100 ms
    "handshake": ((GREEN, 100),),
    # red high three times, then the base colour for 500 ms
    "network_error": ((RED, 125), (OFF, 125), (RED, 125), (OFF, 125), (RED, 125), (OFF, 125),
                      (BASE, 500)),
}

PRIORITY = {"read_ok": 0, "handshake": 1, "read_failed": 2, "network_error": 3}


class Led:
    def __init__(self, hal):
        self.hal = hal
        self.booting = True
        self.online = False
        self.current = None
        self.playing = None
        self.pending = None
        self.dropped = 0
        self._wake = asyncio.Event()
        self.set(DIM_RED)

    def base(self):
        if self.booting:
            return DIM_RED
        return DIM_GREEN if self.online else DIM_RED

    def set(self, rgb):
        if rgb is BASE:
            rgb = self.base()
        if rgb != self.current:
            self.current = rgb
            self.hal.led(rgb[0], rgb[1], rgb[2])

    def boot_done(self):
        self.booting = False
        if self.playing is None:
            self.set(BASE)

    def set_online(self, online):
        self.online = bool(online)
        if self.playing is None:
            self.set(BASE)

    def signal(self, name):
        """Ask for pattern ``name``; never blocks."""
        if self.pending is not None:
            if PRIORITY[name] < PRIORITY[self.pending]:
                self.dropped += 1
                return
            self.dropped += 1
        self.pending = name
        self._wake.set()

    async def run(self):
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self.pending is not None:
                name = self.pending
                self.pending = None
                self.playing = name
                for rgb, ms in PATTERNS[name]:
                    self.set(rgb)
                    await self.hal.sleep_ms(ms)
                self.playing = None
                self.set(BASE)

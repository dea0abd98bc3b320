"""Line-settings detection: which baud rate and parity the meter sends on (sans-IO).

A state machine fed frame outcomes and the time (device ms); it never touches the port. The caller
applies :attr:`LineDetect.current` to the port whenever :meth:`LineDetect.on_frame` or
:meth:`LineDetect.tick` returns True (the setting changed).

- Detecting: listen on each setting for at most ``listen_ms`` (or until ``bad_frames`` bad frames
  without a valid one), cycling; the first that yields a valid frame is kept (``detected``). Errors
  before that first valid frame are expected (the switch may cut a frame). The order: the remembered
  setting (``first``) if any, then the candidates in their order.
- Detected: ``bad_frames`` consecutive bad frames, or no valid frame for ``silence_ms``, means the
  meter changed (or the line did): detect again, the candidates in their order, the setting that just
  failed last.

A line setting is ``(baud, parity)`` with 8 data bits and 1 stop bit; parity ``"N"``, ``"E"``, ``"O"``.
"""

#: the usual meter lines, tried in this order: HAN/M-Bus (Kaifa, Aidon), P1 (DSMR 4/5, E360), 9600 8E1
#: (Kamstrup and older P1 at 9600), 2400 8N1 (M-Bus adapters set without parity)
CANDIDATES = ((2400, "E"), (115200, "N"), (9600, "E"), (2400, "N"))

LISTEN_MS = 12000       # a P1 meter sends every 10 s: listen a little longer than that
BAD_FRAMES = 5
SILENCE_MS = 30000


def line_text(setting):
    """``(2400, "E")`` -> ``"2400 8E1"``."""
    return "%d 8%s1" % (setting[0], setting[1])


def parse_line(text):
    """``"2400 8E1"`` -> ``(2400, "E")``; ValueError for anything else."""
    parts = str(text).split()
    if len(parts) == 2 and parts[0].isdigit() and len(parts[1]) == 3 and parts[1][0] == "8" \
            and parts[1][1] in "NEO" and parts[1][2] == "1":
        return (int(parts[0]), parts[1][1])
    raise ValueError("line settings must look like '2400 8E1', got %r" % (text,))


class LineDetect:
    """Detect, keep and re-detect the meter's line setting among ``candidates``."""

    def __init__(self, now_ms, candidates=CANDIDATES, first=None, listen_ms=LISTEN_MS,
                 bad_frames=BAD_FRAMES, silence_ms=SILENCE_MS):
        """Start detecting at ``now_ms`` with ``first`` (a remembered setting) or the first candidate."""
        self.candidates = tuple(tuple(c) for c in candidates)
        if not self.candidates:
            raise ValueError("no candidate line settings")
        self.listen_ms = listen_ms
        self.bad_frames = bad_frames
        self.silence_ms = silence_ms
        self.index = 0
        self.order = self.candidates
        if first is not None:
            first = tuple(first)
            self.order = (first,) + tuple(c for c in self.candidates if c != first)
        self.detected = False
        self.detections = 0     # times a setting was kept (the first detection included)
        self.switches = 0       # times the setting changed
        self._since = now_ms    # when the current candidate started, or the last valid frame
        self._bad = 0           # bad frames on this candidate (detecting) / in a row (detected)
        self.just_detected = False  # set by on_frame when a setting was kept; the caller clears it

    @property
    def current(self):
        """The setting to put on the port: ``(baud, parity)``."""
        return self.order[self.index]

    @property
    def state(self):
        return "detected" if self.detected else "detecting"

    def on_frame(self, ok, now_ms):
        """A frame outcome (valid or bad) read at the current setting; True when the setting changed."""
        if ok:
            self._bad = 0
            self._since = now_ms
            if not self.detected:
                self.detected = True
                self.detections += 1
                self.just_detected = True
            return False
        self._bad += 1
        if self._bad >= self.bad_frames:
            return self._next(now_ms)
        return False

    def tick(self, now_ms):
        """Let time pass; True when the setting changed (listen window over, or silence)."""
        limit = self.silence_ms if self.detected else self.listen_ms
        if now_ms - self._since >= limit:
            return self._next(now_ms)
        return False

    def _next(self, now_ms):
        failed = self.current
        if self.detected:
            self.order = tuple(c for c in self.candidates if c != failed) + (failed,)
            self.index = 0
        else:
            self.index = (self.index + 1) % len(self.order)
        self.detected = False
        self._bad = 0
        self._since = now_ms
        if self.current == failed:
            return False
        self.switches += 1
        return True

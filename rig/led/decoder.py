"""The LED pattern decoder (sans-IO): samples -> segments -> recognised states -> a verdict.

Samples are light levels relative to the LED's full drive (1.0 = a channel at its high intensity):
a photodiode gives one channel (no colour) or three (red, green, blue) at a known rate; a camera gives
one RGB colour per frame. Each sample is classed (colour, intensity: off, dim, high); runs of one class
are segments; segments shorter than the instrument's ``min_segment_ms`` (edges, noise) are absorbed by
the segment before. Runs of short high and off segments are episodes (blinks); long segments are steady
colours. Episodes and steady colours are matched against the pattern table (rig/led/patterns.py), and
:func:`verdict` says whether an expected state was seen, and if not, what was seen instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from rig.led.patterns import Pattern, PatternTable, Tolerance

OFF_BELOW = 0.07  # a level under this (of full drive) is off
HIGH_ABOVE = 0.4  # a level over this is high intensity; between the two, dim (the firmware's dim is 32/255)
CHANNEL_ON = 0.5  # a channel counts in the colour when at least this fraction of the brightest channel
STEADY_MS = 400.0  # a segment at least this long is a steady colour, not part of a blink
COLOUR_NAMES = {(1, 0, 0): "red", (0, 1, 0): "green", (0, 0, 1): "blue", (1, 0, 1): "magenta",
                (0, 1, 1): "cyan", (1, 1, 0): "yellow", (1, 1, 1): "white"}


class DecodeError(ValueError):
    """The samples cannot be decoded (wrong shape, no rate, not finite)."""


@dataclass(frozen=True)
class Segment:
    """A run of one class: ``colour`` is None for a one-channel photodiode and for off."""

    colour: str | None
    intensity: str  # off, dim, high
    start_ms: float
    duration_ms: float
    level: float  # the mean brightest-channel level over the segment

    @property
    def end_ms(self) -> float:
        return self.start_ms + self.duration_ms

    def label(self) -> str:
        if self.intensity == "off":
            return "off"
        return f"{self.intensity} {self.colour or 'light'}"


@dataclass(frozen=True)
class Blink:
    colour: str | None
    on_ms: float
    off_ms: float  # dark time after it (0 when the next colour or the base follows at once)


@dataclass(frozen=True)
class Observation:
    """A recognised stretch of the LED: a steady colour or an episode of blinks."""

    kind: str  # steady, blink
    start_ms: float
    duration_ms: float
    names: tuple[str, ...]  # the table's states it matches (several when ambiguous, none when unknown)
    colour: str | None = None
    intensity: str = "high"
    blinks: tuple[Blink, ...] = ()
    hold_ms: float | None = None  # base colour after the blinks (None: capture ended or no base)
    cut: bool = False  # the capture started or ended inside it
    hold_cut: bool = True  # the capture ended during the base colour after it (its length is a lower bound)

    @property
    def end_ms(self) -> float:
        return self.start_ms + self.duration_ms

    def describe(self) -> str:
        if self.kind == "steady":
            return f"steady {self.intensity} {self.colour or 'light'} for {self.duration_ms:.0f} ms"
        colours = [b.colour or "light" for b in self.blinks]
        distinct = list(dict.fromkeys(colours))
        names = "/".join(distinct) if len(colours) > 4 or len(distinct) == 1 else ", ".join(colours)
        n = len(self.blinks)
        text = f"{n} {names} blink{'s' if n != 1 else ''} of {_span([b.on_ms for b in self.blinks])} ms"
        offs = [b.off_ms for b in self.blinks if b.off_ms]
        if offs:
            text += f" ({_span(offs)} ms off)"
        if self.hold_ms is not None:
            text += f", then the base for {self.hold_ms:.0f} ms"
        return text

    def as_dict(self) -> dict:
        return {"kind": self.kind, "names": list(self.names), "start_ms": round(self.start_ms, 1),
                "duration_ms": round(self.duration_ms, 1), "colour": self.colour, "intensity": self.intensity,
                "blinks": [[b.colour, round(b.on_ms, 1), round(b.off_ms, 1)] for b in self.blinks],
                "hold_ms": None if self.hold_ms is None else round(self.hold_ms, 1), "cut": self.cut,
                "text": self.describe()}


@dataclass(frozen=True)
class Verdict:
    ok: bool
    expected: str
    saw: str
    match: Observation | None = None
    problems: tuple[str, ...] = field(default=())

    @property
    def message(self) -> str:
        if self.ok:
            return f"saw {self.expected}: {self.saw}"
        return f"expected {self.expected}, saw {self.saw}" + (f" ({'; '.join(self.problems)})" if self.problems else "")


def _span(values: list[float]) -> str:
    """``127, 124`` for a few values, ``60-126`` for many."""
    if len(values) > 4:
        return f"{min(values):.0f}-{max(values):.0f}"
    return ", ".join(f"{v:.0f}" for v in values)


# -- samples -> segments ---------------------------------------------------------------------------
def classify(levels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per sample: (colour code 0-7 as RGB bits, or -1 without colour; intensity 0 off/1 dim/2 high; level)."""
    arr = np.asarray(levels, dtype=float)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2 or arr.shape[1] not in (1, 3):
        raise DecodeError(f"samples must be N levels or N x 3 (red, green, blue), got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise DecodeError("samples hold NaN or infinite values")
    peak = arr.max(axis=1)
    intensity = np.where(peak < OFF_BELOW, 0, np.where(peak < HIGH_ABOVE, 1, 2))
    if arr.shape[1] == 1:
        colour = np.full(len(arr), -1)
    else:
        on = arr >= CHANNEL_ON * np.maximum(peak, 1e-9)[:, None]
        colour = on[:, 0] * 4 + on[:, 1] * 2 + on[:, 2] * 1
    colour = np.where(intensity == 0, -1, colour)
    return colour.astype(int), intensity.astype(int), peak


def _colour_name(code: int) -> str | None:
    if code < 0:
        return None
    return COLOUR_NAMES.get(((code >> 2) & 1, (code >> 1) & 1, code & 1))


def segments(levels: np.ndarray | Sequence, rate_hz: float, t0_ms: float = 0.0,
             min_segment_ms: float = 0.0) -> list[Segment]:
    """Segments of samples taken at ``rate_hz`` from ``t0_ms``; shorter ones than ``min_segment_ms``
    are absorbed by the segment before (the first by the one after)."""
    if not rate_hz or rate_hz <= 0:
        raise DecodeError(f"sample rate must be positive, got {rate_hz!r}")
    colour, intensity, peak = classify(np.asarray(levels, dtype=float))
    n = len(colour)
    if n == 0:
        return []
    period = 1000.0 / rate_hz
    code = (colour + 1) * 3 + intensity
    edges = np.flatnonzero(np.diff(code)) + 1
    starts = np.concatenate(([0], edges))
    ends = np.concatenate((edges, [n]))
    runs = [[int(code[s]), int(s), int(e)] for s, e in zip(starts, ends, strict=True)]
    min_samples = min_segment_ms / period
    if min_samples > 0 and len(runs) > 1:
        kept: list[list[int]] = []
        for run in runs:
            if run[2] - run[1] < min_samples and kept:
                kept[-1][2] = run[2]
            elif kept and kept[-1][0] == run[0]:
                kept[-1][2] = run[2]
            else:
                kept.append(run)
        if len(kept) > 1 and kept[0][2] - kept[0][1] < min_samples:
            kept[1][1] = kept[0][1]
            kept.pop(0)
        runs = kept
    out = []
    for c, s, e in runs:
        out.append(Segment(colour=_colour_name(c // 3 - 1), intensity=("off", "dim", "high")[c % 3],
                           start_ms=t0_ms + s * period, duration_ms=(e - s) * period,
                           level=float(peak[s:e].mean())))
    return out


def segments_from_events(events: Sequence[tuple[float, int, int, int]], end_ms: float, full: int = 255,
                         start_ms: float | None = None) -> list[Segment]:
    """Segments straight from the firmware's LED events (``(uptime_ms, r, g, b)``, a change each) up to ``end_ms``."""
    if not events:
        return []
    out: list[Segment] = []
    first = events[0][0] if start_ms is None else start_ms
    for i, (t, r, g, b) in enumerate(events):
        nxt = events[i + 1][0] if i + 1 < len(events) else end_ms
        t0 = max(t, first)
        if nxt <= t0:
            continue
        colour, intensity, peak = classify(np.array([[r / full, g / full, b / full]]))
        seg = Segment(_colour_name(int(colour[0])), ("off", "dim", "high")[int(intensity[0])], t0, nxt - t0,
                      float(peak[0]))
        if out and (out[-1].colour, out[-1].intensity) == (seg.colour, seg.intensity):
            prev = out.pop()
            seg = Segment(prev.colour, prev.intensity, prev.start_ms, seg.end_ms - prev.start_ms, prev.level)
        out.append(seg)
    return out


# -- segments -> observations ----------------------------------------------------------------------
def _is_flash(seg: Segment) -> bool:
    return seg.intensity in ("high", "off") and seg.duration_ms < STEADY_MS


def observe(segs: Sequence[Segment], table: PatternTable, tolerance: Tolerance, period_ms: float = 0.0) -> list[
        Observation]:
    """The steady colours and blink episodes of ``segs``, each matched against the table."""
    out: list[Observation] = []
    if not segs:
        return out
    capture_start, capture_end = segs[0].start_ms, segs[-1].end_ms
    i = 0
    while i < len(segs):
        seg = segs[i]
        if _is_flash(seg) and seg.intensity == "high":
            j = i
            while j < len(segs) and _is_flash(segs[j]):
                j += 1
            episode = segs[i:j]
            blinks = []
            for k, s in enumerate(episode):
                if s.intensity == "high":
                    nxt = episode[k + 1] if k + 1 < len(episode) else None
                    off = nxt.duration_ms if nxt is not None and nxt.intensity == "off" else 0
                    blinks.append(Blink(s.colour, s.duration_ms, off))
            after = segs[j] if j < len(segs) else None
            hold = after.duration_ms if after is not None and after.intensity == "dim" else None
            cut = seg.start_ms <= capture_start or after is None
            hold_cut = after is None or after.end_ms >= capture_end
            obs = Observation("blink", seg.start_ms, episode[-1].end_ms - seg.start_ms, (), None, "high",
                              tuple(blinks), hold, cut, hold_cut)
            out.append(_named(obs, table, tolerance, period_ms))
            i = j
            continue
        if seg.intensity != "off" and seg.duration_ms >= STEADY_MS or (seg.intensity == "dim"):
            cut = seg.start_ms <= capture_start or seg.end_ms >= capture_end
            obs = Observation("steady", seg.start_ms, seg.duration_ms, (), seg.colour, seg.intensity, cut=cut)
            out.append(_named(obs, table, tolerance, period_ms))
        i += 1
    return out


def _named(obs: Observation, table: PatternTable, tol: Tolerance, period_ms: float) -> Observation:
    names = tuple(name for name, p in table.states.items() if not _mismatch(obs, p, tol, period_ms))
    return Observation(obs.kind, obs.start_ms, obs.duration_ms, names, obs.colour, obs.intensity, obs.blinks,
                       obs.hold_ms, obs.cut, obs.hold_cut)


def _mismatch(obs: Observation, p: Pattern, tol: Tolerance, period_ms: float) -> list[str]:
    """Why ``obs`` is not state ``p`` (empty when it is)."""
    limit = tol.limit_ms(period_ms)
    if p.kind == "steady":
        if obs.kind != "steady":
            return ["blinks, not a steady colour"]
        problems = []
        if obs.colour is not None and obs.colour != p.colour:
            problems.append(f"colour {obs.colour}, not {p.colour}")
        if obs.intensity != p.intensity:
            problems.append(f"intensity {obs.intensity}, not {p.intensity}")
        return problems
    if obs.kind != "blink":
        return ["a steady colour, no blinks"]
    problems = []
    blinks = obs.blinks
    n = len(blinks)
    cycle = len(p.colours)
    for k, b in enumerate(blinks):
        want = p.colours[k % cycle]
        if b.colour is not None and b.colour != want:
            problems.append(f"blink {k + 1} is {b.colour}, not {want}")
            break
    if p.repeats is not None and n != p.repeats * cycle:
        problems.append(f"{n} blink{'s' if n != 1 else ''}, not {p.repeats * cycle}")
    if p.repeats is None and n < 2 and not obs.cut:
        problems.append("one blink, not a repeating blink")
    last = n - 1
    for k, b in enumerate(blinks):
        edge = obs.cut and (k == 0 or k == last)  # the capture may have cut the first or last blink short
        if abs(b.on_ms - p.on_ms) > limit and not (edge and b.on_ms < p.on_ms):
            problems.append(f"blink {k + 1} lasts {b.on_ms:.0f} ms, not {p.on_ms}±{limit:g}")
            break
    for k, b in enumerate(blinks):
        if k == last and (obs.cut or p.off_ms == 0 and p.repeats is None):
            break
        if abs(b.off_ms - p.off_ms) > limit:
            problems.append(f"dark {b.off_ms:.0f} ms after blink {k + 1}, not {p.off_ms}±{limit:g}")
            break
    if p.then == "base" and obs.hold_ms is None and not obs.hold_cut:
        problems.append("no base colour after the blinks")
    if p.then == "base" and p.hold_ms and obs.hold_ms is not None and not obs.hold_cut:
        if obs.hold_ms < p.hold_ms - limit:
            problems.append(f"base colour held {obs.hold_ms:.0f} ms, not at least {p.hold_ms}")
    return problems


# -- the verdict -----------------------------------------------------------------------------------
def verdict(observations: Sequence[Observation], expected: Pattern, table: PatternTable, tolerance: Tolerance,
            period_ms: float = 0.0) -> Verdict:
    """Was ``expected`` seen among ``observations``? When not, what the closest observation was, and why not."""
    limit = tolerance.limit_ms(period_ms)
    want = _expected_text(expected, limit)
    for obs in observations:
        if expected.name in obs.names:
            return Verdict(True, want, obs.describe(), obs)
    if not observations:
        return Verdict(False, want, "nothing (no light at all)")
    same_kind = [o for o in observations if o.kind == expected.kind]
    if expected.kind == "blink":
        coloured = [o for o in same_kind if o.blinks and o.blinks[0].colour in (expected.colour, None)]
        pool = coloured or same_kind
    else:
        pool = [o for o in same_kind if o.colour in (expected.colour, None)] or same_kind
    if not pool:
        seen = "; ".join(o.describe() for o in observations[:3])
        return Verdict(False, want, seen or "nothing", None, ("no " + expected.kind + " seen",))
    best = min(pool, key=lambda o: len(_mismatch(o, expected, tolerance, period_ms)))
    return Verdict(False, want, best.describe(), best, tuple(_mismatch(best, expected, tolerance, period_ms)))


def _expected_text(p: Pattern, limit: float) -> str:
    text = p.describe(limit)
    if p.then == "base":
        text += ", then the base colour" + (f" for {p.hold_ms} ms" if p.hold_ms else "")
    return text


def recognise(levels: np.ndarray | Sequence, rate_hz: float, table: PatternTable, instrument: str,
              t0_ms: float = 0.0) -> list[Observation]:
    """Samples of ``instrument`` (photodiode, camera) straight to observations."""
    tol = table.tolerance(instrument)
    segs = segments(levels, rate_hz, t0_ms, tol.min_segment_ms)
    return observe(segs, table, tol, 1000.0 / rate_hz)

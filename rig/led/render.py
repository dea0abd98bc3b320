"""LED timelines as light (sans-IO): the firmware's events file parsed, a pattern of the table as the
events it should produce, and events sampled into levels with an optical rise time and noise (what the
simulated photodiode and camera see)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from rig.led.patterns import Pattern, PatternTable

Event = tuple[float, int, int, int]  # (time ms, r, g, b): the LED's drive from that time on


class EventsError(ValueError):
    """A line of an LED events file is malformed."""


def parse_events(text: str) -> list[Event]:
    """``<uptime_ms> <r> <g> <b>`` lines (the unix HAL's events file); EventsError naming the bad line.
    A partial last line (still being written) is left out."""
    out: list[Event] = []
    lines = text.split("\n")
    if lines and lines[-1] != "":
        lines = lines[:-1]  # no newline yet: still being written
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        parts = line.split()
        try:
            t, r, g, b = (int(x) for x in parts)
        except ValueError:
            raise EventsError(f"LED events line {n}: expected '<uptime_ms> <r> <g> <b>', got {line!r}") from None
        if not all(0 <= v <= 255 for v in (r, g, b)):
            raise EventsError(f"LED events line {n}: drive out of 0..255 in {line!r}")
        out.append((float(t), r, g, b))
    return out


def latest_run(events: Sequence[Event]) -> list[Event]:
    """The events of the DUT's latest start (the file is appended to; each start counts from 0 again)."""
    start = 0
    for i in range(1, len(events)):
        if events[i][0] < events[i - 1][0]:
            start = i
    return list(events[start:])


def pattern_events(p: Pattern, table: PatternTable, start_ms: float, base: tuple[int, int, int],
                   cycles: int = 2) -> list[Event]:
    """The events a correct firmware writes for ``p`` from ``start_ms`` (``cycles`` cycles of a repeating
    blink), ending on the base colour."""
    if p.kind == "steady":
        return [(start_ms, *table.rgb(p.colour, p.intensity))]
    out: list[Event] = []
    t = start_ms
    count = (p.repeats if p.repeats is not None else cycles) * len(p.colours)
    for k in range(count):
        out.append((t, *table.rgb(p.colours[k % len(p.colours)], p.intensity)))
        t += p.on_ms
        if p.off_ms:
            out.append((t, 0, 0, 0))
            t += p.off_ms
    out.append((t, *base))
    return out


def drive_at(events: Sequence[Event], times_ms: np.ndarray, before: tuple[int, int, int] = (0, 0, 0)) -> np.ndarray:
    """The drive (N x 3, 0-255) in force at each of ``times_ms``."""
    times = np.asarray(times_ms, dtype=float)
    if not events:
        return np.tile(np.array(before, dtype=float), (len(times), 1))
    stamps = np.array([e[0] for e in events])
    colours = np.array([before] + [e[1:] for e in events], dtype=float)
    index = np.searchsorted(stamps, times, side="right")
    return colours[index]


def light(events: Sequence[Event], t0_ms: float, rate_hz: float, count: int, *, rise_ms: float = 0.0,
          noise: float = 0.0, full: int = 255, seed: int | None = None, history_ms: float = 50.0,
          before: tuple[int, int, int] = (0, 0, 0)) -> np.ndarray:
    """Light levels (N x 3, 1.0 = full drive) sampled at ``rate_hz`` from ``t0_ms``: the drive through a
    first-order optical response of time constant ``rise_ms`` (10-90 % rise 2.2 x that), plus Gaussian
    noise of ``noise`` (standard deviation, of full scale)."""
    period = 1000.0 / rate_hz
    lead = int(history_ms / period) if rise_ms > 0 else 0
    times = t0_ms + (np.arange(count + lead) - lead) * period
    levels = drive_at(events, times, before) / full
    if rise_ms > 0:
        alpha = 1.0 - np.exp(-period / rise_ms)
        out = np.empty_like(levels)
        acc = levels[0].copy()
        for i in range(len(levels)):  # a one-pole low-pass, per channel
            acc += alpha * (levels[i] - acc)
            out[i] = acc
        levels = out
    levels = levels[lead:]
    if noise > 0:
        rng = np.random.default_rng(seed)
        levels = levels + rng.normal(0.0, noise, levels.shape)
    return levels


def merge_events(chunks: Iterable[Sequence[Event]]) -> list[Event]:
    """Events of several timelines in time order, repeated drives dropped."""
    out: list[Event] = []
    for e in sorted((e for chunk in chunks for e in chunk), key=lambda e: e[0]):
        if out and out[-1][1:] == e[1:]:
            continue
        out.append(e)
    return out

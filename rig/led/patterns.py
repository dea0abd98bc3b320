"""The status LED's patterns as data (``patterns.json``): read by the rig's checks and the firmware's tests.

Each state is either steady (a colour at an intensity) or a blink: ``colours`` in turn, each ``on_ms`` on
and ``off_ms`` off, ``repeats`` times (None: until the state ends), then the base colour for at least
``hold_ms``. Tolerances are per instrument kind (``events``, ``photodiode``, ``camera``): a duration
passes within ``time_ms`` plus ``frames`` sample periods of the instrument.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, Literal

INSTRUMENTS = ("events", "photodiode", "camera")


class PatternError(ValueError):
    """The pattern table is malformed, or a state/instrument name is unknown."""


@dataclass(frozen=True)
class Pattern:
    """One state of the LED table."""

    name: str
    kind: Literal["steady", "blink"]
    colours: tuple[str, ...]
    intensity: Literal["dim", "high"]
    on_ms: int = 0
    off_ms: int = 0
    repeats: int | None = None
    then: str | None = None
    hold_ms: int = 0

    @property
    def colour(self) -> str:
        return self.colours[0]

    @property
    def repeating(self) -> bool:
        return self.kind == "blink" and self.repeats is None

    def describe(self, tol_ms: float | None = None) -> str:
        """``2 red blinks of 125±25 ms`` / ``steady dim green``."""
        if self.kind == "steady":
            return f"steady {self.intensity} {self.colour}"
        pm = f"±{tol_ms:.0f}" if tol_ms is not None else ""
        colours = "/".join(self.colours)
        count = "repeating" if self.repeats is None else str(self.repeats)
        plural = "s" if self.repeats != 1 else ""
        text = f"{count} {colours} blink{plural} of {self.on_ms}{pm} ms"
        if self.off_ms:
            text += f" ({self.off_ms}{pm} ms off)"
        return text


@dataclass(frozen=True)
class Tolerance:
    time_ms: float
    frames: int = 0
    min_segment_ms: float = 0

    def limit_ms(self, period_ms: float = 0.0) -> float:
        """The allowed error of a duration for an instrument sampling every ``period_ms``."""
        return self.time_ms + self.frames * period_ms


@dataclass(frozen=True)
class PatternTable:
    levels: dict[str, int]
    colours: dict[str, tuple[int, int, int]]
    states: dict[str, Pattern]
    tolerances: dict[str, Tolerance]

    def state(self, name: str) -> Pattern:
        try:
            return self.states[name]
        except KeyError:
            raise PatternError(f"unknown LED state {name!r}; known: {', '.join(self.states)}") from None

    def tolerance(self, instrument: str) -> Tolerance:
        try:
            return self.tolerances[instrument]
        except KeyError:
            raise PatternError(f"no tolerance for instrument {instrument!r}; known: "
                               f"{', '.join(self.tolerances)}") from None

    def rgb(self, colour: str, intensity: str) -> tuple[int, int, int]:
        """The 0-255 drive of ``colour`` at ``intensity`` (what the firmware writes to the LED)."""
        level = self.levels[intensity]
        r, g, b = self.colours[colour]
        return (r * level, g * level, b * level)


def _pattern(name: str, raw: dict[str, Any], colours: dict[str, Any]) -> Pattern:
    try:
        kind = raw["kind"]
        names = tuple(raw["colours"]) if "colours" in raw else (raw["colour"],)
        pattern = Pattern(name=name, kind=kind, colours=names, intensity=raw["intensity"],
                          on_ms=int(raw.get("on_ms", 0)), off_ms=int(raw.get("off_ms", 0)),
                          repeats=raw.get("repeats"), then=raw.get("then"), hold_ms=int(raw.get("hold_ms", 0)))
    except (KeyError, TypeError, ValueError) as exc:
        raise PatternError(f"LED state {name!r}: bad entry {raw!r} ({exc})") from None
    if kind not in ("steady", "blink") or pattern.intensity not in ("dim", "high"):
        raise PatternError(f"LED state {name!r}: kind must be steady/blink and intensity dim/high")
    unknown = [c for c in names if c not in colours]
    if unknown:
        raise PatternError(f"LED state {name!r}: unknown colour {unknown[0]!r}")
    if kind == "blink" and pattern.on_ms <= 0:
        raise PatternError(f"LED state {name!r}: a blink needs on_ms > 0")
    return pattern


def parse_table(data: dict[str, Any]) -> PatternTable:
    """A :class:`PatternTable` from the JSON structure; PatternError saying what is wrong."""
    try:
        colours = {k: (int(v[0]), int(v[1]), int(v[2])) for k, v in data["colours"].items()}
        levels = {k: int(v) for k, v in data["levels"].items()}
        states = {name: _pattern(name, raw, colours) for name, raw in data["states"].items()}
        tolerances = {k: Tolerance(float(v["time_ms"]), int(v.get("frames", 0)), float(v.get("min_segment_ms", 0)))
                      for k, v in data["tolerances"].items()}
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise PatternError(f"malformed LED pattern table: {exc!r}") from None
    return PatternTable(levels=levels, colours=colours, states=states, tolerances=tolerances)


@cache
def load_patterns() -> PatternTable:
    """The table shipped with the rig (``rig/led/patterns.json``)."""
    text = resources.files("rig.led").joinpath("patterns.json").read_text(encoding="utf-8")
    return parse_table(json.loads(text))

"""The LED pattern decoder: every state of the table recognised from simulated light, through each
instrument kind, and each wrong pattern rejected with a verdict that says what was seen."""

from __future__ import annotations

import numpy as np
import pytest

from rig.led.decoder import DecodeError, recognise, segments, segments_from_events, verdict
from rig.led.patterns import load_patterns
from rig.led.render import Event, light, pattern_events

T = load_patterns()
BASE = T.rgb("green", "dim")
PD_RATE = 2000.0
CAM_RATE = 30.0


def _timeline(events: list[Event], lead_ms: float = 600.0) -> tuple[list[Event], float]:
    """The base colour, then ``events`` shifted by ``lead_ms``; and an end one second after the last."""
    shifted = [(t + lead_ms, r, g, b) for t, r, g, b in events]
    return [(0.0, *BASE), *shifted], shifted[-1][0] + 1000.0


def _photodiode(events: list[Event], channels: int = 3, seed: int = 1):
    timeline, end = _timeline(events)
    levels = light(timeline, 0.0, PD_RATE, int(end * PD_RATE / 1000), rise_ms=1.0, noise=0.01, seed=seed)
    if channels == 1:
        levels = levels.max(axis=1)
    return recognise(levels, PD_RATE, T, "photodiode"), T.tolerance("photodiode"), 1000 / PD_RATE


def _camera(events: list[Event], seed: int = 2):
    timeline, end = _timeline(events)
    levels = light(timeline, 11.0, CAM_RATE, int(end * CAM_RATE / 1000), noise=0.02, seed=seed)
    return recognise(levels, CAM_RATE, T, "camera"), T.tolerance("camera"), 1000 / CAM_RATE


def _good(name: str) -> list[Event]:
    return pattern_events(T.state(name), T, 0.0, BASE, cycles=3)


# one channel sees a cycle of colours (critical error) as one steady light: it cannot tell that state
CASES = [(name, path) for path in ("photodiode", "photodiode-1ch", "camera") for name in T.states
         if not (path == "photodiode-1ch" and len(T.state(name).colours) > 1)]


@pytest.mark.parametrize(("name", "path"), CASES)
def test_every_state_is_recognised(name: str, path: str) -> None:
    events = _good(name)
    if path == "camera":
        obs, tol, period = _camera(events)
    else:
        obs, tol, period = _photodiode(events, channels=1 if path.endswith("1ch") else 3)
    result = verdict(obs, T.state(name), T, tol, period)
    assert result.ok, result.message
    if path != "photodiode-1ch":  # without colour, read OK and the handshake look alike
        assert any(name in o.names for o in obs)


def test_measured_timings_are_reported() -> None:
    obs, tol, period = _photodiode(_good("read_failed"))
    result = verdict(obs, T.state("read_failed"), T, tol, period)
    assert result.match is not None
    ons = [b.on_ms for b in result.match.blinks]
    assert len(ons) == 2 and all(abs(on - 125) < 5 for on in ons)
    assert "2 red blinks" in result.saw


def _red_blinks(ons: list[float], off: float = 125.0, colour: str = "red") -> list[Event]:
    out: list[Event] = []
    t = 0.0
    for on in ons:
        out += [(t, *T.rgb(colour, "high")), (t + on, 0, 0, 0)]
        t += on + off
    return out + [(t, *BASE)]


@pytest.mark.parametrize("path", ["photodiode", "camera"])
def test_rejects_a_blink_too_long(path: str) -> None:
    events = _red_blinks([125, 250])
    obs, tol, period = _camera(events) if path == "camera" else _photodiode(events)
    result = verdict(obs, T.state("read_failed"), T, tol, period)
    assert not result.ok
    assert "blink 2 lasts" in result.message and "not 125±" in result.message


@pytest.mark.parametrize("path", ["photodiode", "camera"])
def test_rejects_the_wrong_colour(path: str) -> None:
    events = _red_blinks([125, 125], colour="blue")
    obs, tol, period = _camera(events) if path == "camera" else _photodiode(events)
    result = verdict(obs, T.state("read_failed"), T, tol, period)
    assert not result.ok
    assert "blue" in result.saw and "blink 1 is blue, not red" in result.message


@pytest.mark.parametrize("path", ["photodiode", "camera"])
def test_rejects_a_missing_second_blink(path: str) -> None:
    events = _red_blinks([125])
    obs, tol, period = _camera(events) if path == "camera" else _photodiode(events)
    result = verdict(obs, T.state("read_failed"), T, tol, period)
    assert not result.ok
    assert result.message.startswith("expected 2 red blinks of 125±")
    assert "saw 1 red blink of" in result.message and "1 blink, not 2" in result.message


def test_rejects_the_wrong_repeat_count() -> None:
    obs, tol, period = _photodiode(_red_blinks([125, 125, 125]))
    failed = verdict(obs, T.state("read_failed"), T, tol, period)
    assert not failed.ok and "3 blinks, not 2" in failed.message
    assert verdict(obs, T.state("wifi_error"), T, tol, period).ok


def test_rejects_a_base_colour_held_too_short() -> None:
    events = _red_blinks([125, 125])  # base from 500 ms on
    events += [(600.0, *T.rgb("magenta", "high")), (700.0, *BASE)]  # the next pattern after 100 ms, not 500
    obs, tol, period = _photodiode(events)
    result = verdict(obs, T.state("read_failed"), T, tol, period)
    assert not result.ok and "base colour held 100 ms, not at least 500" in result.message


def test_steady_state_verdict_names_what_was_seen() -> None:
    obs, tol, period = _photodiode([(0.0, *T.rgb("red", "dim")), (1000.0, *T.rgb("red", "dim"))])
    obs = [o for o in obs if o.start_ms >= 600]
    assert verdict(obs, T.state("offline"), T, tol, period).ok
    result = verdict(obs, T.state("online"), T, tol, period)
    assert not result.ok and "steady dim red" in result.saw and "colour red, not green" in result.message


def test_nothing_seen() -> None:
    result = verdict([], T.state("read_ok"), T, T.tolerance("camera"), 33.3)
    assert not result.ok and "nothing" in result.message


def test_segments_absorb_edges_and_noise() -> None:
    events: list[Event] = [(0.0, *BASE), (100.0, 255, 0, 0), (225.0, 0, 0, 0), (350.0, *BASE)]
    levels = light(events, 0.0, PD_RATE, 1000, rise_ms=1.0, noise=0.01, seed=3)
    segs = segments(levels, PD_RATE, 0.0, min_segment_ms=8)
    assert [s.label() for s in segs] == ["dim green", "high red", "off", "dim green"]
    assert abs(segs[1].duration_ms - 125) < 3


def test_segments_from_events_match_the_drive() -> None:
    segs = segments_from_events([(0, 32, 0, 0), (50, 0, 32, 0), (80, 0, 32, 0), (90, 255, 0, 255)], end_ms=190)
    assert [(s.label(), s.start_ms, s.duration_ms) for s in segs] == [
        ("dim red", 0, 50), ("dim green", 50, 40), ("high magenta", 90, 100)]


@pytest.mark.parametrize("bad, why", [(np.zeros((5, 2)), "N x 3"), (np.array([0.1, np.nan]), "NaN")])
def test_bad_samples_raise(bad, why: str) -> None:
    with pytest.raises(DecodeError, match=why):
        segments(bad, 1000.0)
    with pytest.raises(DecodeError, match="rate"):
        segments(np.zeros(4), 0)

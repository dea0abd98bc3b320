"""The station's LED step judged from what the instruments give: colours counted per camera frame, the
read-OK flash timed from photodiode samples, the limits from the pattern table, the reasons to skip."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from rig.bench import load_bench
from rig.eol.led import colour_frames, flash_ms, judge, skip_reason
from rig.eol.sequence import LED_COLOURS, LED_MEASUREMENTS, parse_fault
from rig.led.session import make_watch

RGB = {"red": (1, 0, 0), "green": (0, 1, 0), "blue": (0, 0, 1), "magenta": (1, 0, 1), "white": (1, 1, 1),
       "cyan": (0, 1, 1), "off": (0, 0, 0)}


def frames(*runs: tuple[str, int]) -> np.ndarray:
    """Camera levels: ``(colour, frames)`` runs at full drive."""
    return np.array([RGB[c] for c, n in runs for _ in range(n)], dtype=float)


def test_colours_are_counted_per_frame_at_any_intensity() -> None:
    levels = frames(("off", 3), ("blue", 9), ("red", 4), ("white", 3), ("cyan", 1), ("off", 2))
    levels[3:5] *= 0.13  # dim (the base colour's intensity) still shows its colour
    watch = make_watch("camera", levels, 30.0, 0.0)
    counts = colour_frames(watch)
    assert {c: counts[c] for c in LED_COLOURS} == {"blue": 9, "red": 4, "green": 0, "white": 3, "cyan": 1,
                                                   "magenta": 0}
    judged = {m.name: m.outcome for m in judge(counts, None, 0.5)}
    assert judged == {"led.colour.blue": "pass", "led.colour.red": "pass", "led.colour.green": "fail",
                      "led.colour.white": "pass", "led.colour.cyan": "fail", "led.colour.magenta": "fail",
                      "led.read_ok_flash": "fail"}  # one frame is not enough; no flash is not a measurement
    assert [m.name for m in judge(counts, None, 0.5)] == list(LED_MEASUREMENTS)


def _flash(on_ms: float, colour: str = "magenta", rate: float = 2000.0) -> np.ndarray:
    n_on = int(on_ms * rate / 1000)
    dim = np.array(RGB["green"]) * 0.13
    return np.vstack([np.tile(dim, (300, 1)), np.tile(RGB[colour], (n_on, 1)), np.tile(dim, (600, 1))])


@pytest.mark.parametrize("on_ms, ok", [(100, True), (120, True), (80, True), (140, False), (60, False)])
def test_the_read_ok_flash_is_timed_against_the_table(on_ms: float, ok: bool) -> None:
    watch = make_watch("photodiode", _flash(on_ms), 2000.0, 0.0)
    measured = flash_ms(watch)
    assert measured == pytest.approx(on_ms, abs=1.0)
    flash = judge({}, measured, watch.period_ms)[-1]
    assert (flash.expected, flash.tolerance) == (100, 25.0)  # the table's read OK, the photodiode's tolerance
    assert (flash.outcome == "pass") is ok


def test_a_flash_of_another_colour_is_not_the_read_ok_flash() -> None:
    assert flash_ms(make_watch("photodiode", _flash(100, "red"), 2000.0, 0.0)) is None
    one_channel = _flash(100).max(axis=1)  # a photodiode without colour: any flash counts
    assert flash_ms(make_watch("photodiode", one_channel, 2000.0, 0.0)) == pytest.approx(100, abs=1.0)


def test_benches_without_instruments_are_skipped_with_the_reason() -> None:
    bench = load_bench("rig/benches/eol-sim.toml")
    assert skip_reason(bench) is None
    no_camera = dataclasses.replace(bench, features={**bench.features, "led_camera": False})
    assert skip_reason(no_camera) == "the bench has no LED camera ([features] led_camera)"


def test_led_faults() -> None:
    assert parse_fault("A=led-no-blue")[1].led.channels == (1.0, 1.0, 0.0)
    assert parse_fault("A=led-dead")[1].led.channels == (0.0, 0.0, 0.0)
    with pytest.raises(ValueError, match="no parameter"):
        parse_fault("A=led-dead:3")


def test_the_flash_is_found_after_an_earlier_pattern_still_playing() -> None:
    # the access-point blink's last 100 ms and its dark 100 ms, then the read-OK flash at once
    levels = np.vstack([np.tile(RGB["cyan"], (200, 1)), np.zeros((200, 3)), _flash(100)[300:]])
    assert flash_ms(make_watch("photodiode", levels, 2000.0, 0.0)) == pytest.approx(100, abs=1.0)
    assert flash_ms(make_watch("photodiode", levels.max(axis=1), 2000.0, 0.0)) == pytest.approx(100, abs=1.0)

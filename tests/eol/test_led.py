"""The station's LED step judged from what the instruments give: colours counted per camera frame, the
read-OK flash timed from photodiode samples, the limits from the pattern table, the reasons to skip; the
station's one camera shared by its slots, each seeing its own fixture's LED in its region of the view."""

from __future__ import annotations

import dataclasses
import threading
import time
from contextlib import ExitStack
from pathlib import Path

import numpy as np
import pytest

from rig.bench import load_bench
from rig.eol.led import SlotLed, StationCamera, colour_frames, flash_ms, judge, skip_reason
from rig.eol.sequence import LED_COLOURS, LED_MEASUREMENTS, LedDefect, parse_fault
from rig.led.session import LedPathError, Watch, make_watch

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


@dataclasses.dataclass
class _Unit:
    """What a fixture's simulated instruments watch of a software unit: its LED events file and its clock."""

    led_events_path: Path
    started: float

    def uptime_of(self, monotonic: float) -> float:
        return (monotonic - self.started) * 1000.0


def _unit(tmp_path: Path, name: str, *lines: str) -> _Unit:
    path = tmp_path / f"{name}.events"
    path.write_text("".join(line + "\n" for line in lines))
    return _Unit(path, time.monotonic())


def _watch_both(slots: list[SlotLed], starts: list[float], seconds: float) -> list[Watch]:
    """Each slot's camera window of ``seconds``, the second begun ``starts[1]`` s after the first (overlapping)."""
    got: list[Watch | None] = [None] * len(slots)

    def watch(i: int) -> None:
        time.sleep(starts[i])
        slots[i].camera.begin(seconds)
        got[i] = slots[i].camera.finish(seconds)

    threads = [threading.Thread(target=watch, args=(i,)) for i in range(len(slots))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert all(w is not None for w in got)
    return got  # type: ignore[return-value]


def test_slots_share_one_camera_each_seeing_its_own_led(tmp_path) -> None:
    bench = load_bench("rig/benches/eol-sim.toml")
    with ExitStack() as stack:
        camera = StationCamera(bench.led, 4, stack)
        slots = [SlotLed(bench.led, bench.eol["slot"][n - 1], tmp_path, stack, camera, n) for n in (1, 2, 3)]
        # slot 1's unit drives red, then green; slot 2's blue, then white; slot 3's white, its LED's blue dead
        slots[0].attach(_unit(tmp_path, "one", "0 255 0 0", "600 0 255 0"), tmp_path)
        slots[1].attach(_unit(tmp_path, "two", "0 0 0 255", "600 255 255 255"), tmp_path)
        slots[2].attach(_unit(tmp_path, "three", "0 255 255 255"), tmp_path, LedDefect((1.0, 1.0, 0.0)))
        one, two, three = _watch_both(slots, [0.0, 0.3, 0.1], 1.2)
    seen = [{c: n for c, n in colour_frames(w).items() if n} for w in (one, two, three)]
    assert set(seen[0]) == {"red", "green"} and min(seen[0].values()) >= 5, seen
    assert set(seen[1]) == {"blue", "white"} and min(seen[1].values()) >= 5, seen
    assert set(seen[2]) == {"yellow"}, seen  # white without its blue die: red and green only


def test_a_slot_region_outside_the_view_is_refused_saying_which(tmp_path) -> None:
    bench = load_bench("rig/benches/eol-sim.toml")
    with ExitStack() as stack:
        camera = StationCamera(bench.led, 4, stack)
        assert camera.shape == (240, 320, 3)
        with pytest.raises(LedPathError, match=r"slot 3: camera_roi \[300, 0, 40, 40\].*does not fit"):
            SlotLed(bench.led, {"channel": 3, "camera_roi": [300, 0, 40, 40]}, tmp_path, stack, camera, 3)
        with pytest.raises(LedPathError, match="slot 2 has no LED region"):
            SlotLed({**bench.led, "camera_roi": None}, {"channel": 2}, tmp_path, stack, camera, 2)

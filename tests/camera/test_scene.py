"""The LED in a frame: rendered, found by its changes, and its colour read back from the region."""

from __future__ import annotations

import numpy as np
import pytest

from rig.camera.scene import RoiError, Scene, check_roi, find_led, led_level


def _frames(scene: Scene, drives) -> list[np.ndarray]:
    board, rng = scene.board(), np.random.default_rng(4)
    return [scene.frame(d, board, rng) for d in drives]


def test_find_led_and_read_its_colour() -> None:
    scene = Scene(led_x=90, led_y=170)
    frames = _frames(scene, [(0, 32, 0), (255, 255, 255), (0, 0, 0), (255, 0, 255), (32, 0, 0)])
    x, y, w, h = find_led(frames)
    assert x < 90 < x + w and y < 170 < y + h and w <= 48
    levels = [led_level(f, (x, y, w, h)) for f in frames]
    assert np.allclose(levels[0], [0, 32 / 255, 0], atol=0.03)
    assert levels[1].min() > 0.75
    assert levels[2].max() < 0.03
    assert levels[3][0] > 0.75 and levels[3][2] > 0.75 and levels[3][1] < 0.03


def test_find_led_refuses_a_still_scene() -> None:
    scene = Scene()
    with pytest.raises(RoiError, match="no light changes"):
        find_led(_frames(scene, [(0, 32, 0)] * 4))
    with pytest.raises(RoiError, match="at least two frames"):
        find_led(_frames(scene, [(0, 32, 0)]))


def test_bad_regions() -> None:
    with pytest.raises(RoiError, match="too small"):
        check_roi((0, 0, 3, 30), (240, 320, 3))
    with pytest.raises(RoiError, match="does not fit"):
        check_roi((300, 0, 40, 40), (240, 320, 3))

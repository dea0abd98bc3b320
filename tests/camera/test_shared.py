"""One camera shared by many readers: the simulated station view served live as MJPEG on loopback, read once
through the camera driver into a ring buffer, each reader's window (overlapping in time) and region cropped
from it; the buffer's memory bounded however long it runs; a video file played as a live source."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from rig.camera.driver import CameraError, Footage
from rig.camera.scene import led_level
from rig.camera.shared import SharedCamera
from rig.camera.sim import SimCamera, StationView, grid
from rig.camera.stream import MjpegStream


def _steady(tmp_path, name: str, rgb: tuple[int, int, int]):
    """An LED events file driving ``rgb`` from uptime 0 on."""
    path = tmp_path / f"{name}.events"
    path.write_text(f"0 {rgb[0]} {rgb[1]} {rgb[2]}\n")
    return path


def _mean_levels(footage: Footage, roi) -> np.ndarray:
    return footage.levels(roi).mean(axis=0)


def test_grid_places_four_fixtures_in_two_rows() -> None:
    assert grid(4, 320, 240) == [(80, 60), (240, 60), (80, 180), (240, 180)]
    assert grid(3, 320, 240) == [(80, 60), (240, 60), (80, 180)]
    assert len(set(grid(9, 320, 240))) == 9
    with pytest.raises(ValueError, match="at least one fixture"):
        grid(0, 320, 240)


def test_overlapping_windows_each_see_their_own_led(tmp_path) -> None:
    view = StationView.for_fixtures(4, seed=3)
    view.attach(1, _steady(tmp_path, "one", (255, 0, 0)), lambda t: 1000.0)  # slot 1's unit drives red
    view.attach(2, _steady(tmp_path, "two", (0, 0, 255)), lambda t: 1000.0)  # slot 2's drives blue
    with MjpegStream(view.frame_at, fps=view.fps) as stream, SharedCamera(stream.url, depth_s=4.0) as camera:
        camera.latest()
        t0 = time.monotonic()
        got: dict[int, Footage] = {}

        def read(n: int, start: float) -> None:
            got[n] = camera.window(start, 1.0)

        readers = [threading.Thread(target=read, args=(1, t0)), threading.Thread(target=read, args=(2, t0 + 0.5))]
        for r in readers:
            r.start()
        for r in readers:
            r.join(15)
    one, two = got[1], got[2]
    assert len(one.frames) >= 15 and len(two.frames) >= 15
    assert t0 <= one.host_t0 and t0 + 0.5 <= two.host_t0  # each its own window, from one reader
    assert one.host_t0 + one.times_s[-1] <= t0 + 1.0 and two.host_t0 + two.times_s[-1] <= t0 + 1.5
    red, blue = _mean_levels(one, view.roi(1)), _mean_levels(two, view.roi(2))
    assert red[0] > 0.75 and red[1] < 0.05 and red[2] < 0.05, red
    assert blue[2] > 0.75 and blue[0] < 0.05 and blue[1] < 0.05, blue
    for footage in (one, two):  # the empty fixtures and the board between them show no light
        for roi in (view.roi(3), view.roi(4), (140, 20, 40, 40)):
            assert _mean_levels(footage, roi).max() < 0.05, roi


def test_a_unit_out_of_its_fixture_goes_dark_and_a_masked_led_keeps_its_mask(tmp_path) -> None:
    view = StationView.for_fixtures(2, seed=1)
    white = _steady(tmp_path, "white", (255, 255, 255))
    view.attach(1, white, lambda t: 1000.0, mask=(1.0, 1.0, 0.0))  # its blue die is dead
    view.attach(2, white, lambda t: 1000.0)
    lit = led_level(view.frame_at(time.monotonic()), view.roi(1))
    assert lit[0] > 0.75 and lit[1] > 0.75 and lit[2] < 0.05
    assert led_level(view.frame_at(time.monotonic()), view.roi(2)).min() > 0.75
    view.detach(2)
    assert led_level(view.frame_at(time.monotonic()), view.roi(2)).max() < 0.05
    with pytest.raises(ValueError, match="fixtures 1 to 2"):
        view.attach(3, white, lambda t: 1000.0)


def test_the_buffer_stays_bounded_over_a_long_run() -> None:
    small = np.full((48, 64, 3), 40, dtype=np.uint8)
    with MjpegStream(lambda t: small, fps=400) as stream, \
            SharedCamera(stream.url, depth_s=0.25, max_fps=100) as camera:
        first = camera.latest()
        t_first = time.monotonic()
        sizes = []
        while camera.frames_read < 300:
            sizes.append(camera.buffered)
            time.sleep(0.01)
        assert max(sizes) <= 25  # never more than depth_s x max_fps frames, however many were read
        assert camera.buffered * first.nbytes <= 25 * small.nbytes
        with pytest.raises(CameraError, match="has left the camera's buffer"):
            camera.window(t_first, 0.1)
        with pytest.raises(CameraError, match="longer than the camera's buffer"):
            camera.window(time.monotonic(), 1.0)
        recent = camera.window(time.monotonic(), 0.05)
        assert recent.frames and recent.frames[0].shape == (48, 64, 3)


def test_a_video_file_is_played_as_a_live_source(tmp_path) -> None:
    events = _steady(tmp_path, "led", (0, 255, 0))
    video = SimCamera(events, lambda t: 1000.0, fps=30, seed=1).record(0.0, 1.0, tmp_path / "led.avi")
    t0 = time.monotonic()
    with SharedCamera(str(video), depth_s=4.0) as camera:
        footage = camera.window(t0, 3.0)  # the file ends after a second: the window holds what it played
    assert 25 <= len(footage.frames) <= 30
    assert footage.fps < 40  # played at its frame rate, not read in a burst
    assert _mean_levels(footage, (180, 90, 40, 40))[1] > 0.75


def test_bad_sources_and_windows(tmp_path) -> None:
    with pytest.raises(CameraError, match="video file not found"):
        SharedCamera(str(tmp_path / "none.avi")).open()
    with pytest.raises(CameraError, match="must hold some time"):
        SharedCamera(0, depth_s=0)
    camera = SharedCamera(str(tmp_path / "none.avi"))
    with pytest.raises(CameraError, match="holds no frames"):
        camera.window(0.0, 0.0)

"""The camera driver reading what the simulated camera filmed (an MJPEG file through OpenCV), and clear
errors for sources that cannot be opened."""

from __future__ import annotations

import numpy as np
import pytest

from rig.camera.driver import Camera, CameraError, parse_source
from rig.camera.scene import Scene
from rig.camera.sim import SimCamera
from rig.led.decoder import recognise, verdict
from rig.led.patterns import load_patterns


def test_sim_camera_file_read_back_and_decoded(tmp_path) -> None:
    events = tmp_path / "led.events"
    events.write_text("0 0 32 0\n300 255 0 0\n425 0 0 0\n550 255 0 0\n675 0 0 0\n800 0 32 0\n")
    cam = SimCamera(events, lambda t: t * 1000.0, fps=30, seed=1)
    video = cam.record(0.0, 2.0, tmp_path / "led.avi")
    with Camera(str(video)) as camera:
        footage = camera.read()
    assert camera.is_file and footage.fps == 30 and len(footage.frames) == 60
    assert footage.frames[0].shape == (240, 320, 3)
    levels = footage.levels(Scene().roi)
    table = load_patterns()
    obs = recognise(levels, footage.fps, table, "camera")
    result = verdict(obs, table.state("read_failed"), table, table.tolerance("camera"), 1000 / 30)
    assert result.ok, result.message
    assert np.allclose(levels[0], [0, 32 / 255, 0], atol=0.04)  # survives JPEG and noise


def test_sources() -> None:
    assert parse_source("0") == 0 and parse_source(2) == 2
    assert parse_source("http://127.0.0.1:8080/led.mjpg") == "http://127.0.0.1:8080/led.mjpg"
    with pytest.raises(CameraError, match="empty"):
        parse_source(" ")
    with pytest.raises(CameraError, match="video file not found"):
        Camera("/nonexistent/led.avi").open()


def test_a_file_that_is_no_video(tmp_path) -> None:
    bogus = tmp_path / "notes.avi"
    bogus.write_text("not a video")
    with pytest.raises(CameraError, match="cannot open|no frames"):
        with Camera(str(bogus)) as camera:
            camera.read()

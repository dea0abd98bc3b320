"""The camera driver on a live stream URL: the simulated camera served as MJPEG over HTTP on loopback,
read through cv2.VideoCapture with host timestamps, and the LED's pattern recognised from it."""

from __future__ import annotations

import time

import requests

from rig.camera.driver import Camera
from rig.camera.scene import Scene
from rig.camera.sim import SimCamera
from rig.camera.stream import MjpegStream
from rig.led.decoder import recognise, verdict
from rig.led.patterns import load_patterns


def test_live_stream_is_read_and_decoded(tmp_path) -> None:
    events = tmp_path / "led.events"
    start = time.monotonic() + 0.8  # the pattern begins 0.8 s from now (uptime 0 = start)
    events.write_text("-5000 0 32 0\n0 0 255 255\n100 0 0 0\n200 0 255 255\n300 0 0 0\n400 0 32 0\n")
    cam = SimCamera(events, lambda t: (t - start) * 1000.0, seed=2)
    with MjpegStream(cam.frame_at) as stream:
        assert requests.get(stream.url.replace("led.mjpg", "nope"), timeout=5).status_code == 404
        with Camera(stream.url) as camera:
            assert not camera.is_file
            footage = camera.read(seconds=2.0)
    assert footage.host_t0 is not None and len(footage.frames) >= 20
    table = load_patterns()
    obs = recognise(footage.levels(Scene().roi), footage.fps, table, "camera")
    result = verdict(obs, table.state("ap_mode"), table, table.tolerance("camera"), 1000 / footage.fps)
    assert result.ok, result.message

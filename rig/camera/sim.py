"""A simulated camera: films the software DUT's LED (its events file) into an MJPEG video file that the
camera driver reads like any other source. Each frame shows the drive averaged over the exposure,
with sensor noise and JPEG compression."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from rig.camera.scene import Scene
from rig.led.render import EventsError, drive_at, latest_run, parse_events


class SimCamera:
    def __init__(self, events_path: str | Path, uptime_of: Callable[[float], float], *, fps: float = 30.0,
                 scene: Scene | None = None, exposure_ms: float = 4.0, noise: float = 2.0, quality: int = 60,
                 seed: int | None = None) -> None:
        self.events_path = Path(events_path)
        self.uptime_of = uptime_of
        self.fps = fps
        self.scene = scene or Scene()
        self.exposure_ms = exposure_ms
        self.noise = noise
        self.quality = quality
        self._rng = np.random.default_rng(seed)
        self._board = self.scene.board()

    def drives(self, host_t0: float, count: int) -> np.ndarray:
        """The LED drive (N x 3, 0-255) each of ``count`` frames from ``host_t0`` sees."""
        try:
            events = latest_run(parse_events(self.events_path.read_text()))
        except (OSError, EventsError):
            events = []
        try:
            t0 = self.uptime_of(host_t0)
        except Exception:  # the DUT has not started (printed nothing) yet: no light
            return np.zeros((count, 3))
        starts = t0 + np.arange(count) * 1000.0 / self.fps
        offsets = np.linspace(0, self.exposure_ms, 5)
        samples = drive_at(events, (starts[:, None] + offsets[None, :]).ravel())
        return samples.reshape(count, len(offsets), 3).mean(axis=1)

    def frame_at(self, host_t: float) -> np.ndarray:
        """One frame (BGR) of the LED as it is at host monotonic time ``host_t`` (a live camera)."""
        return self.scene.frame(self.drives(host_t, 1)[0], self._board, self._rng, self.noise)

    def record(self, host_t0: float, seconds: float, path: str | Path) -> Path:
        """Film ``seconds`` from ``host_t0`` into an MJPEG AVI at ``path``."""
        import cv2

        path = Path(path)
        count = max(1, int(round(seconds * self.fps)))
        size = (self.scene.width, self.scene.height)
        writer = cv2.VideoWriter(str(path), cv2.CAP_OPENCV_MJPEG, cv2.VideoWriter_fourcc(*"MJPG"), self.fps, size)
        if not writer.isOpened():
            raise OSError(f"cannot write the simulated camera's video {path}")
        writer.set(cv2.VIDEOWRITER_PROP_QUALITY, self.quality)
        try:
            for rgb in self.drives(host_t0, count):
                writer.write(self.scene.frame(rgb, self._board, self._rng, self.noise))
        finally:
            writer.release()
        return path

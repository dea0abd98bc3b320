"""A simulated camera: films the software DUT's LED (its events file) into an MJPEG video file that the
camera driver reads like any other source. Each frame shows the drive averaged over the exposure,
with sensor noise and JPEG compression.

:class:`StationView` is a station's one camera: every fixture's LED in its own place of the view (a grid),
each lit by the unit attached to that fixture; served live (rig/camera/stream.py) it is read like a real
camera."""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np

from rig.camera.scene import Scene
from rig.led.render import Event, EventsError, drive_at, latest_run, parse_events


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
        self._events: tuple[tuple[int, int], list[Event]] = ((-1, -1), [])

    def _latest_events(self) -> list[Event]:
        """The events of the DUT's latest start (parsed again only when the file changed)."""
        try:
            st = self.events_path.stat()
            key = (st.st_size, st.st_mtime_ns)
            if key != self._events[0]:
                self._events = (key, latest_run(parse_events(self.events_path.read_text())))
            return self._events[1]
        except (OSError, EventsError):
            return []

    def drives(self, host_t0: float, count: int) -> np.ndarray:
        """The LED drive (N x 3, 0-255) each of ``count`` frames from ``host_t0`` sees."""
        events = self._latest_events()
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


def grid(count: int, width: int, height: int) -> list[tuple[int, int]]:
    """Where ``count`` fixtures' LEDs show in a ``width`` x ``height`` view: the centres of a grid's cells
    (2 x 2 for four), row by row."""
    if count < 1:
        raise ValueError(f"a station view films at least one fixture, not {count}")
    cols = math.ceil(math.sqrt(count))
    rows = math.ceil(count / cols)
    return [(int((c + 0.5) * width / cols), int((r + 0.5) * height / rows)) for r in range(rows)
            for c in range(cols)][:count]


STATION_LABEL = (120, 112, 80, 16)  # the board's label between the fixtures, in no fixture's region


class StationView:
    """A station's one camera, simulated: fixture ``n``'s LED at ``leds[n - 1]`` in the view, lit by the unit
    :meth:`attach` puts in it (dark while empty); :meth:`frame_at` renders the view at a host time."""

    def __init__(self, leds: list[tuple[int, int]], *, scene: Scene | None = None, fps: float = 30.0,
                 noise: float = 2.0, seed: int | None = None) -> None:
        self.scene = scene or Scene(label=STATION_LABEL)
        self.leds = list(leds)
        self.fps = fps
        self.noise = noise
        self._shapes = [self.scene.light_shape(x, y).astype(np.float32) for x, y in self.leds]
        self._board = self.scene.board().astype(np.float32)
        self._rng = np.random.default_rng(seed)
        # sensor noise: a bank of fields drawn once, one picked per frame (drawing a field a frame costs more
        # than the rest of the frame)
        self._noise = [self._rng.normal(0, noise, self._board.shape).astype(np.float32) for _ in range(16)]
        self._units: dict[int, tuple[SimCamera, np.ndarray]] = {}
        self._lock = threading.Lock()

    @classmethod
    def for_fixtures(cls, count: int, **kwargs: object) -> StationView:
        """A view of ``count`` fixtures in a grid; one fixture's LED where :class:`Scene` puts the LED."""
        scene = Scene() if count == 1 else Scene(label=STATION_LABEL)
        leds = [(scene.led_x, scene.led_y)] if count == 1 else grid(count, scene.width, scene.height)
        return cls(leds, scene=scene, **kwargs)  # type: ignore[arg-type]

    def roi(self, n: int) -> tuple[int, int, int, int]:
        """The region around fixture ``n``'s LED (what a bench names as its slot's ``camera_roi``)."""
        x, y = self.leds[n - 1]
        m = 2 * self.scene.led_radius + 6
        return (x - m, y - m, 2 * m, 2 * m)

    def attach(self, n: int, events_path: str | Path, uptime_of: Callable[[float], float],
               mask: tuple[float, float, float] | np.ndarray = (1.0, 1.0, 1.0)) -> None:
        """The unit in fixture ``n`` (its LED events file and clock); ``mask``: its LED's channels that light."""
        if not 1 <= n <= len(self.leds):
            raise ValueError(f"fixture {n}: the view has fixtures 1 to {len(self.leds)}")
        feed = SimCamera(events_path, uptime_of, fps=self.fps, scene=self.scene)
        with self._lock:
            self._units[n] = (feed, np.asarray(mask, dtype=float))

    def detach(self, n: int) -> None:
        with self._lock:
            self._units.pop(n, None)

    def frame_at(self, host_t: float) -> np.ndarray:
        """The view (BGR) as it is at host monotonic time ``host_t``: every attached unit's LED lit."""
        with self._lock:
            units = list(self._units.items())
        out = self._board + self._noise[int(self._rng.integers(len(self._noise)))]
        for n, (feed, mask) in units:
            r, g, b = feed.drives(host_t, 1)[0] * mask
            if r or g or b:
                out += self._shapes[n - 1][:, :, None] * np.array([b, g, r], dtype=np.float32)
        return np.clip(out, 0, 255).astype(np.uint8)

"""The camera driver: frames from a camera index, a video file or a stream URL through
``cv2.VideoCapture``, and the LED's light in a region of each (:func:`rig.camera.scene.led_level`).

Frame times: a file's frames are ``index / fps`` from its start (its own clock, exact); a camera's or a
stream's are the host's monotonic time at which each frame was read.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rig.camera.scene import Roi, led_level


class CameraError(RuntimeError):
    """The source cannot be opened or gives no frames."""


@dataclass(frozen=True)
class Footage:
    """Frames read from a source: ``times_s`` (from the first frame), the frames, and the frame rate."""

    times_s: np.ndarray
    frames: list[np.ndarray]
    fps: float
    host_t0: float | None = None  # monotonic time of the first frame (live sources; None for a file)

    def levels(self, roi: Roi, gain: float = 1.0) -> np.ndarray:
        """The LED's light per frame (N x 3: red, green, blue; 1.0 = full drive)."""
        if not self.frames:
            return np.zeros((0, 3))
        return np.stack([led_level(f, roi) for f in self.frames]) * gain


def parse_source(source: str | int) -> int | str:
    """A camera index (``0``, ``"2"``), or a file path / stream URL as given."""
    if isinstance(source, int):
        return source
    text = str(source).strip()
    if not text:
        raise CameraError("empty camera source; give an index (0), a video file or a stream URL")
    return int(text) if text.isdigit() else text


class Camera:
    """One capture session; a context manager."""

    def __init__(self, source: str | int, *, fps: float | None = None) -> None:
        self.source = parse_source(source)
        self.fps_override = fps
        self._cap = None

    @property
    def is_file(self) -> bool:
        return isinstance(self.source, str) and "://" not in self.source

    def open(self) -> Camera:
        import cv2

        if self.is_file and not Path(str(self.source)).is_file():
            raise CameraError(f"video file not found: {self.source}")
        cap = cv2.VideoCapture(self.source)
        if not cap.isOpened():
            cap.release()
            raise CameraError(f"cannot open camera source {self.source!r} (OpenCV VideoCapture failed)")
        self._cap = cap
        return self

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None

    def __enter__(self) -> Camera:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def fps(self) -> float:
        import cv2

        if self.fps_override:
            return float(self.fps_override)
        value = float(self._cap.get(cv2.CAP_PROP_FPS)) if self._cap is not None else 0.0
        return value if value > 0 else 30.0

    def _drain(self, fps: float, limit: int = 300) -> None:
        """Skip the frames a live source buffered while nobody read (they come in a burst, stale): grab
        until a grab waits for its frame."""
        quick = 0.25 / fps
        for _ in range(limit):
            t = time.monotonic()
            if not self._cap.grab() or time.monotonic() - t > quick:
                return

    def read_frame(self) -> np.ndarray | None:
        """The next frame as the source gives it (None: the source has no more)."""
        if self._cap is None:
            raise CameraError(f"camera {self.source!r} is not open")
        ok, frame = self._cap.read()
        return frame if ok else None

    def read(self, seconds: float | None = None, max_frames: int = 100_000) -> Footage:
        """Frames for ``seconds`` (a live source) or to the end of a file (or ``seconds`` of it)."""
        if self._cap is None:
            raise CameraError(f"camera {self.source!r} is not open")
        fps = self.fps
        # a file: ``seconds`` of its frames; a live source: frames until ``seconds`` have passed
        limit = max_frames if seconds is None or not self.is_file else min(max_frames, int(round(seconds * fps)))
        frames: list[np.ndarray] = []
        stamps: list[float] = []
        if not self.is_file:
            self._drain(fps)
        deadline = None if seconds is None or self.is_file else time.monotonic() + seconds
        while len(frames) < limit:
            ok, frame = self._cap.read()
            if not ok:
                break
            stamps.append(time.monotonic())
            frames.append(frame)
            if deadline is not None and stamps[-1] >= deadline:
                break
        if not frames:
            raise CameraError(f"no frames from {self.source!r}")
        if self.is_file:
            return Footage(np.arange(len(frames)) / fps, frames, fps)
        times = np.array(stamps) - stamps[0]
        measured = float((len(times) - 1) / times[-1]) if len(times) > 1 and times[-1] > 0 else fps
        return Footage(times, frames, measured, host_t0=stamps[0])


def write_video(footage: Footage, path: str | Path, quality: int = 80) -> Path:
    """``footage`` as an MJPEG AVI at ``path`` (at its measured frame rate), readable by :class:`Camera`."""
    import cv2

    path = Path(path)
    if not footage.frames:
        raise CameraError(f"no frames to write to {path}")
    height, width = footage.frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.CAP_OPENCV_MJPEG, cv2.VideoWriter_fourcc(*"MJPG"),
                             max(1.0, float(footage.fps)), (width, height))
    if not writer.isOpened():
        raise CameraError(f"cannot write a video to {path}")
    writer.set(cv2.VIDEOWRITER_PROP_QUALITY, quality)
    try:
        for frame in footage.frames:
            writer.write(frame)
    finally:
        writer.release()
    return path

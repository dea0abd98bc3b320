"""One camera shared by every slot of a station: opened once, read by one thread into a ring buffer of frames
stamped with the host's monotonic time, from which each slot takes the footage of its own time window (and
crops its own region of the view, :meth:`Footage.levels`).

A live source (a camera index, a stream URL) is read as fast as it gives frames; a video file is played as
if live, one frame every ``1 / fps``, to its end. The buffer holds the last ``depth_s`` seconds (and never
more than ``depth_s x max_fps`` frames), so its memory is bounded however long the station runs.
"""

from __future__ import annotations

import threading
import time
from collections import deque

import numpy as np

from rig.camera.driver import Camera, CameraError, Footage


class SharedCamera:
    """A camera opened once, its recent frames kept for any number of readers; a context manager."""

    def __init__(self, source: str | int, *, depth_s: float = 6.0, fps: float | None = None,
                 max_fps: float = 120.0) -> None:
        if depth_s <= 0:
            raise CameraError(f"the camera's buffer must hold some time (depth_s {depth_s})")
        self.camera = Camera(source, fps=fps)
        self.depth_s = float(depth_s)
        self._frames: deque[tuple[float, np.ndarray]] = deque(maxlen=max(2, int(depth_s * max_fps)))
        self._cond = threading.Condition()
        self._stopping = threading.Event()
        self._ended: str | None = None  # why the source gives no more frames
        self._thread: threading.Thread | None = None
        self.frames_read = 0

    @property
    def source(self) -> str | int:
        return self.camera.source

    def open(self) -> SharedCamera:
        self.camera.open()
        self._thread = threading.Thread(target=self._run, name=f"camera {self.source}", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(5.0)
            self._thread = None
        self.camera.close()
        with self._cond:
            self._frames.clear()
            self._ended = self._ended or "the camera is closed"
            self._cond.notify_all()

    def __enter__(self) -> SharedCamera:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _run(self) -> None:
        period = 1.0 / self.camera.fps if self.camera.is_file else 0.0
        due = time.monotonic()
        why = "the source gave no more frames"
        try:
            while not self._stopping.is_set():
                frame = self.camera.read_frame()
                if frame is None:
                    break
                if period:  # a file plays at its frame rate, as a camera would show it
                    time.sleep(max(0.0, due - time.monotonic()))
                    due += period
                now = time.monotonic()
                with self._cond:
                    self._frames.append((now, frame))
                    while self._frames and self._frames[0][0] < now - self.depth_s:
                        self._frames.popleft()
                    self.frames_read += 1
                    self._cond.notify_all()
        except Exception as exc:  # the device gone: every reader is told why
            why = f"reading failed: {exc}"
        with self._cond:
            self._ended = self._ended or why
            self._cond.notify_all()

    def latest(self, timeout_s: float = 10.0) -> np.ndarray:
        """The newest frame, waiting up to ``timeout_s`` for the first; CameraError when none comes."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while not self._frames and self._ended is None and time.monotonic() < deadline:
                self._cond.wait(min(0.5, max(0.0, deadline - time.monotonic())))
            if not self._frames:
                raise CameraError(f"no frames from {self.source!r}" + (f" ({self._ended})" if self._ended else ""))
            return self._frames[-1][1]

    @property
    def buffered(self) -> int:
        """Frames in the buffer now."""
        with self._cond:
            return len(self._frames)

    def window(self, t0: float, seconds: float, timeout_s: float = 10.0) -> Footage:
        """The frames read in ``[t0, t0 + seconds]`` (host monotonic time), waiting until that window has
        passed; CameraError when it fell out of the buffer, or the source ended or stalled."""
        if seconds <= 0:
            raise CameraError(f"a window of {seconds} s holds no frames")
        if seconds > self.depth_s:
            raise CameraError(f"a window of {seconds} s is longer than the camera's buffer ({self.depth_s} s)")
        t1 = t0 + seconds
        deadline = max(time.monotonic(), t1) + timeout_s
        with self._cond:
            while not (self._frames and self._frames[-1][0] >= t1) and self._ended is None:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise CameraError(f"camera {self.source!r} gave no frame for {timeout_s:.0f} s")
                self._cond.wait(min(left, 0.5))
            dropped = self.frames_read > len(self._frames)
            if dropped and self._frames and self._frames[0][0] > t0 + 1.0 / self.camera.fps:
                raise CameraError(f"the window from {t0:.2f} s has left the camera's buffer "
                                  f"({self.depth_s} s deep); read it sooner")
            picked = [(t, f) for t, f in self._frames if t0 <= t <= t1]
            ended = self._ended
        if not picked:
            raise CameraError(f"no frames from {self.source!r} in the window"
                              + (f" ({ended})" if ended else ""))
        stamps = np.array([t for t, _ in picked])
        times = stamps - stamps[0]
        fps = float((len(times) - 1) / times[-1]) if len(times) > 1 and times[-1] > 0 else self.camera.fps
        return Footage(times, [f for _, f in picked], fps, host_t0=float(stamps[0]))

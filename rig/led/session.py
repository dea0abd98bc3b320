"""Watching the LED through a bench's instruments: a photodiode (pyvisa) and a camera (OpenCV).

Each path records a window (``begin()``, then ``finish(seconds)``) into a :class:`Watch`: the light
levels, their rate, the segments and the states recognised. ``open_paths`` makes the paths a bench
names in ``[led]``; ``"sim"`` starts the simulated instrument, fed by the software DUT's LED events
(``"sim-stream"``: the simulated camera as a live MJPEG stream over HTTP, read by its URL).
"""

from __future__ import annotations

import tempfile
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rig.camera.driver import Camera, CameraError, Footage
from rig.camera.scene import Roi
from rig.camera.shared import SharedCamera
from rig.camera.sim import SimCamera
from rig.camera.stream import MjpegStream
from rig.instruments.photodiode import Photodiode
from rig.instruments.sim_scope import EventsLight, ScopeState, SimScope
from rig.led.decoder import Observation, Segment, Verdict, observe, segments, verdict
from rig.led.patterns import PatternTable, load_patterns

PATHS = ("photodiode", "camera")


class LedPathError(RuntimeError):
    """A bench's LED instrument cannot be used as configured."""


@dataclass
class Watch:
    """What one path saw over a window."""

    instrument: str
    levels: np.ndarray
    rate_hz: float
    host_t0: float
    segments: list[Segment]
    observations: list[Observation]
    table: PatternTable = field(repr=False)

    @property
    def period_ms(self) -> float:
        return 1000.0 / self.rate_hz

    def verdict(self, state: str) -> Verdict:
        tol = self.table.tolerance(self.instrument)
        return verdict(self.observations, self.table.state(state), self.table, tol, self.period_ms)

    def as_dict(self) -> dict[str, Any]:
        return {"instrument": self.instrument, "rate_hz": self.rate_hz, "samples": int(len(self.levels)),
                "observations": [o.as_dict() for o in self.observations]}


def make_watch(instrument: str, levels: np.ndarray, rate_hz: float, host_t0: float,
               table: PatternTable | None = None) -> Watch:
    table = table or load_patterns()
    tol = table.tolerance(instrument)
    segs = segments(levels, rate_hz, 0.0, tol.min_segment_ms)
    return Watch(instrument, levels, rate_hz, host_t0, segs, observe(segs, table, tol, 1000.0 / rate_hz), table)


class PhotodiodePath:
    kind = "photodiode"

    def __init__(self, resource: str, rate_hz: float = 2000.0, full_scale_v: float = 1.0) -> None:
        self.resource = resource
        self.rate_hz = rate_hz
        self.device = Photodiode(resource, full_scale_v=full_scale_v)
        self._t0: float | None = None

    def open(self) -> PhotodiodePath:
        self.device.open()
        return self

    def close(self) -> None:
        self.device.close()

    def begin(self, seconds: float) -> float:
        """Arm a record of ``seconds``; returns the monotonic time it starts."""
        self.device.configure(self.rate_hz, seconds)
        self._t0 = self.device.arm()
        return self._t0

    def finish(self, seconds: float) -> Watch:
        if self._t0 is None:
            raise LedPathError("finish() before begin()")
        self.device.wait_done(seconds + 5.0)
        record = self.device.read(self._t0)
        self._t0 = None
        return make_watch(self.kind, record.levels, record.rate_hz, record.host_t0)


class CameraPath:
    """A camera source read live (a thread collects frames between ``begin`` and ``finish``), a region of a
    camera ``shared`` with other paths (its frames of the window taken from the shared buffer), or a
    simulated camera that films the window into a video file the same driver reads."""

    kind = "camera"

    def __init__(self, source: str | int, roi: Roi | None, gain: float = 1.0, sim: SimCamera | None = None,
                 workdir: Path | None = None, shared: SharedCamera | None = None) -> None:
        self.source = shared.source if shared is not None else source
        self.shared = shared
        self.roi = roi
        self.gain = gain
        self.sim = sim
        self.workdir = workdir or Path(tempfile.mkdtemp(prefix="rig-led-camera-"))
        self.last_video: Path | None = None
        self.last_footage: Footage | None = None
        self._t0: float | None = None
        self._camera: Camera | None = None
        self._thread: threading.Thread | None = None
        self._footage: list[Footage] = []
        self._count = 0

    def open(self) -> CameraPath:
        if self.sim is None and self.shared is None:
            self._camera = Camera(self.source).open()
        return self

    def close(self) -> None:
        if self._camera is not None:
            self._camera.close()

    def begin(self, seconds: float) -> float:
        self._t0 = time.monotonic()
        if self._camera is not None:
            camera = self._camera
            self._footage = []
            self._thread = threading.Thread(target=lambda: self._footage.append(camera.read(seconds)), daemon=True)
            self._thread.start()
        return self._t0

    def footage(self, seconds: float) -> Footage:
        if self._t0 is None:
            raise LedPathError("finish() before begin()")
        t0, self._t0 = self._t0, None
        if self.shared is not None:
            try:
                return self.shared.window(t0, seconds)
            except CameraError as exc:
                raise LedPathError(str(exc)) from exc
        if self.sim is not None:
            time.sleep(max(0.0, t0 + seconds - time.monotonic()))
            self._count += 1
            self.last_video = self.sim.record(t0, seconds, self.workdir / f"camera-{self._count:03d}.avi")
            with Camera(str(self.last_video)) as cam:
                footage = cam.read()
            return Footage(footage.times_s, footage.frames, footage.fps, host_t0=t0)
        assert self._thread is not None
        self._thread.join(seconds + 10.0)
        if not self._footage:
            raise LedPathError(f"camera {self.source!r} gave no frames")
        return self._footage[0]

    def finish(self, seconds: float) -> Watch:
        footage = self.footage(seconds)
        self.last_footage = footage
        if self.roi is None:
            raise LedPathError("the camera has no LED region: run `rig led calibrate` first")
        return make_watch(self.kind, footage.levels(self.roi, self.gain), footage.fps, footage.host_t0 or 0.0)


def open_paths(led: dict[str, Any], dut: Any | None, workdir: Path, stack: ExitStack,
               which: tuple[str, ...] = PATHS) -> dict[str, PhotodiodePath | CameraPath]:
    """The LED paths of a bench's ``[led]`` section, opened (closed by ``stack``); ``sim`` instruments
    need ``dut`` (a software DUT: its ``led_events_path`` and ``uptime_of``)."""
    paths: dict[str, PhotodiodePath | CameraPath] = {}
    if "photodiode" in which and led.get("photodiode"):
        resource = str(led["photodiode"])
        if resource == "sim":
            events, uptime_of = _sim_source(dut)
            scope = stack.enter_context(SimScope(ScopeState(EventsLight(events, uptime_of))))
            resource = scope.resource
        path = PhotodiodePath(resource, float(led.get("photodiode_rate_hz", 2000.0)),
                              float(led.get("photodiode_full_scale_v", 1.0)))
        stack.callback(path.close)
        paths["photodiode"] = path.open()
    if "camera" in which and led.get("camera") is not None:
        source = led["camera"]
        sim = None
        roi = tuple(led["camera_roi"]) if led.get("camera_roi") else None
        if source == "sim":
            events, uptime_of = _sim_source(dut)
            sim = SimCamera(events, uptime_of)
        elif source == "sim-stream":  # the simulated camera served live as MJPEG over HTTP, read by URL
            events, uptime_of = _sim_source(dut)
            source = stack.enter_context(MjpegStream(SimCamera(events, uptime_of).frame_at)).url
        camera = CameraPath(source, roi, float(led.get("camera_gain", 1.0)), sim=sim, workdir=workdir)  # type: ignore[arg-type]
        stack.callback(camera.close)
        paths["camera"] = camera.open()
    return paths


def _sim_source(dut: Any | None) -> tuple[Path, Callable[[float], float]]:
    if dut is None or not hasattr(dut, "uptime_of") or not hasattr(dut, "led_events_path"):
        raise LedPathError("a 'sim' LED instrument films the software DUT's LED; this DUT has none")
    return Path(dut.led_events_path), dut.uptime_of


def watch_all(paths: dict[str, PhotodiodePath | CameraPath], seconds: float,
              action: Callable[[], None] | None = None, lead_s: float = 0.3) -> dict[str, Watch]:
    """Record ``seconds`` on every path at once; ``action`` (provoking a state) runs ``lead_s`` in."""
    for path in paths.values():
        path.begin(seconds)
    if action is not None:
        time.sleep(lead_s)
        action()
    return {name: path.finish(seconds) for name, path in paths.items()}

"""The station's LED step: every colour of the pattern table seen by the camera in the slot's region, and
the read-OK flash timed by the photodiode.

Time compression: the step runs the unit at x1. A real reader has no compression, so on a real line
the step costs its real duration; the software unit's LED patterns scale with its clock, and at x60 a
100 ms read-OK flash lasts 1.7 ms, which no 30 fps camera sees and which would judge a timing the
product never shows. So the step power-cycles the unit into real time (its clock compression is the
simulation's, not a setting: only ``clock_scale`` in its stored configuration changes) and judges the
patterns at their real durations against the table's tolerances. It comes after the factory reset, so
the compressed steps stay compressed and the cycle costs one extra boot per unit. The step is kept
short: the LED is driven through a few modes and patterns of a few hundred ms each (about 2.3 s in all).

The software unit's modes come from its control channel (a real fixture presses the button and sends
the unit's test commands); the read-OK flash comes from a real meter frame on the slot's line.

Instruments per slot (:class:`SlotLed`, opened once per station run): the slot's ``photodiode`` (else
``[led] photodiode``) and its region ``camera_roi`` (else ``[led] camera_roi``) of the station's one
``[led] camera`` (:class:`StationCamera`: opened once, every slot's window taken from its frames, the
slots' steps overlapping in time). With ``sim``, each fixture has its own simulated photodiode, and the
camera is one simulated view of every fixture (each fixture's LED in its own place, lit by the unit in it)
served as a live stream. ``LedDefect`` simulates a unit whose LED is faulty: its light has channels
missing, whatever the firmware drives.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import numpy as np

from rig.camera.driver import CameraError, write_video
from rig.camera.scene import RoiError, check_roi
from rig.camera.shared import SharedCamera
from rig.camera.sim import StationView
from rig.camera.stream import MjpegStream
from rig.eol.sequence import LED_COLOURS as COLOURS
from rig.eol.sequence import LedDefect
from rig.instruments.sim_scope import EventsLight, ScopeState, SimScope
from rig.led.control import send_control
from rig.led.decoder import COLOUR_NAMES, classify
from rig.led.patterns import PatternTable, load_patterns
from rig.led.session import CameraPath, LedPathError, PhotodiodePath, Watch
from rig.record import Measurement

MIN_FRAMES = 2  # frames of the camera (30 fps) a colour must show in: each is shown for 100 ms or more
# (control lines, real seconds to let them show): steady blue (firmware update), the critical-error
# cycle (red, green, blue 125 ms each), the factory-reset blink (white; a press after a short hold resets
# nothing), the access-point blink (cyan, twice 100 ms). The base colour (dim green or red) shows between.
SCRIPT: tuple[tuple[tuple[str, ...], float], ...] = (
    (("update start",), 0.3), (("update end", "critical set"), 0.45), (("critical clear", "button hold"), 0.3),
    (("button press", "wifi ap"), 0.6),
)
FLASH_WINDOW_S = 0.6  # the photodiode's record around the read-OK flash; the frame goes FLASH_LEAD_S into it
FLASH_LEAD_S = 0.15
BOOT_TIMEOUT_S = 10.0
CAMERA_BUFFER_S = 6.0  # seconds of the station camera's frames kept for the slots' windows (each ~2.4 s)


def skip_reason(bench: Any) -> str | None:
    """Why the bench cannot run the LED step (None: it can)."""
    if not bench.is_software:
        return "the LED step drives the software unit's modes through its control channel; a board has none"
    missing = [f for f in ("led_camera", "led_photodiode") if not bench.has(f)]
    if missing:
        return f"the bench has no {' or '.join(m.replace('led_', 'LED ') for m in missing)} ([features] " \
               f"{', '.join(missing)})"
    return None


class StationCamera:
    """The station's one camera, opened once for its run (closed by ``stack``): ``[led] camera`` read by one
    thread into a buffer every slot takes its window from (:class:`SharedCamera`). ``sim``: the simulated view
    of the station's ``fixtures`` (:class:`StationView`, each fixture's LED lit by the unit in it), served live
    as MJPEG on loopback and read by its URL, as an IP camera is."""

    def __init__(self, led: dict[str, Any], fixtures: int, stack: ExitStack) -> None:
        source = led.get("camera")
        if source is None:
            raise LedPathError("the bench names no camera ([led] camera)")
        self.view: StationView | None = None
        if source in ("sim", "sim-stream"):
            self.view = StationView.for_fixtures(fixtures)
            source = stack.enter_context(MjpegStream(self.view.frame_at, fps=self.view.fps)).url
        self.shared = SharedCamera(source, depth_s=float(led.get("camera_buffer_s", CAMERA_BUFFER_S)))
        stack.callback(self.shared.close)
        try:
            self.shared.open()
            self.shape = self.shared.latest().shape
        except CameraError as exc:
            raise LedPathError(f"the station's camera: {exc}") from exc


class SlotLed:
    """A fixture's LED instruments, opened once for the station's run (closed by ``stack``): its photodiode
    (the slot's ``photodiode``, else ``[led] photodiode``) and its region of the station's one ``camera``
    (the slot's ``camera_roi``, else ``[led] camera_roi``). ``sim`` instruments watch the unit ``attach``
    names (in the simulated view, fixture ``number``'s LED)."""

    def __init__(self, led: dict[str, Any], slot_spec: dict[str, Any], workdir: Path, stack: ExitStack,
                 camera: StationCamera, number: int) -> None:
        resource = str(slot_spec.get("photodiode") or led.get("photodiode") or "")
        roi = slot_spec.get("camera_roi") or led.get("camera_roi")
        if not resource:
            raise LedPathError("the bench names no photodiode ([led] photodiode)")
        if roi is None:
            raise LedPathError(f"slot {number} has no LED region: set [[eol.slot]] camera_roi "
                               "(or [led] camera_roi)")
        try:
            roi = check_roi(tuple(roi), camera.shape)  # type: ignore[arg-type]
        except (RoiError, TypeError, ValueError) as exc:
            raise LedPathError(f"slot {number}: camera_roi {list(roi)}: {exc}") from exc
        self.number = number
        self.view = camera.view
        self.sim = resource == "sim" and self.view is not None  # both simulated: a faulty LED can be too
        self._light: EventsLight | None = None
        self._mask = np.ones(3)
        if resource == "sim":
            resource = stack.enter_context(SimScope(ScopeState(self._levels))).resource
        self.photodiode = PhotodiodePath(resource, float(led.get("photodiode_rate_hz", 2000.0)),
                                         float(led.get("photodiode_full_scale_v", 1.0)))
        stack.callback(self.photodiode.close)
        self.photodiode.open()
        self.camera = CameraPath(camera.shared.source, roi, float(led.get("camera_gain", 1.0)), workdir=workdir,
                                 shared=camera.shared)
        stack.callback(self.camera.close)
        self.camera.open()

    def _levels(self, host_t0: float, rate_hz: float, count: int) -> np.ndarray:
        if self._light is None:
            return np.zeros((count, 3))
        return self._light.levels(host_t0, rate_hz, count) * self._mask

    def attach(self, dut: Any, workdir: Path, defect: LedDefect | None = None) -> None:
        """The unit now in the fixture (what ``sim`` instruments see), its LED ``defect`` (simulated)."""
        if defect is not None and not self.sim:
            raise LedPathError("a faulty LED is simulated with 'sim' instruments only")
        self._mask = np.array(defect.channels if defect is not None else (1.0, 1.0, 1.0), dtype=float)
        self._light = EventsLight(Path(dut.led_events_path), dut.uptime_of)
        self.camera.workdir = workdir
        if self.view is not None:
            self.view.attach(self.number, Path(dut.led_events_path), dut.uptime_of, self._mask)

    def detach(self) -> None:
        self._light = None
        if self.view is not None:
            self.view.detach(self.number)


def colour_frames(watch: Watch) -> dict[str, int]:
    """Frames of the camera's record in which the LED showed each named colour (at any intensity)."""
    codes, _, _ = classify(watch.levels)
    names = {4 * r + 2 * g + b: name for (r, g, b), name in COLOUR_NAMES.items()}
    counts = {name: 0 for name in COLOUR_NAMES.values()}
    for code in codes[codes >= 0]:
        counts[names[int(code)]] += 1
    return counts


def flash_ms(watch: Watch, colour: str = "magenta") -> float | None:
    """The first ``colour`` flash the photodiode saw, in ms (a one-channel photodiode: the last flash of the
    record, which the frame provoked after any earlier pattern); None: none seen."""
    blinks = [b for obs in watch.observations if obs.kind == "blink" for b in obs.blinks]
    if blinks and all(b.colour is None for b in blinks):
        return round(blinks[-1].on_ms, 1)
    return next((round(b.on_ms, 1) for b in blinks if b.colour == colour), None)


def judge(colours: dict[str, int], flash: float | None, photodiode_period_ms: float,
          table: PatternTable | None = None) -> list[Measurement]:
    """The step's measurements, judged: frames per table colour (at least ``MIN_FRAMES``), the read-OK
    flash's length against the table's (within the photodiode's tolerance)."""
    table = table or load_patterns()
    read_ok = table.state("read_ok")
    tol = table.tolerance("photodiode").limit_ms(photodiode_period_ms)
    return [m.judge() for m in (
        *(Measurement(f"led.colour.{c}", colours.get(c, 0), "frames", low=MIN_FRAMES) for c in COLOURS),
        Measurement("led.read_ok_flash", flash, "ms", expected=read_ok.on_ms, tolerance=tol))]


def led_step(photodiode: PhotodiodePath, camera: CameraPath, control: Callable[..., None],
             send_frame: Callable[[], None], workdir: Path | None = None,
             notes: dict[str, Any] | None = None) -> list[Measurement]:
    """Drive the unit's LED through ``SCRIPT`` (``control`` sends control lines) while the camera records,
    then send a meter frame (``send_frame``) while the photodiode records; the step's measurements (what
    each instrument saw, and ``notes``, go to ``workdir/led.json``)."""
    seconds = sum(wait for _, wait in SCRIPT) + FLASH_WINDOW_S + 0.1
    camera.begin(seconds)
    time.sleep(0.05)
    for lines, wait in SCRIPT:
        control(*lines)
        time.sleep(wait)
    photodiode.begin(FLASH_WINDOW_S)
    time.sleep(FLASH_LEAD_S)
    send_frame()
    pd = photodiode.finish(FLASH_WINDOW_S)
    cam = camera.finish(seconds)
    if workdir is not None:
        _save(workdir, pd, cam, notes or {})
    return judge(colour_frames(cam), flash_ms(pd), pd.period_ms)


def _save(workdir: Path, pd: Watch, cam: Watch, notes: dict[str, Any]) -> None:
    import json

    (workdir / "led.json").write_text(json.dumps({**notes, "photodiode": pd.as_dict(), "camera": cam.as_dict(),
                                                  "camera_frames": colour_frames(cam)}, indent=1))


def run_led(dut: Any, psu: Any, ch: int, load: Any, slot_led: SlotLed, link: Any, frame: bytes, workdir: Path,
            defect: LedDefect | None = None) -> list[Measurement]:
    """The whole step on a software unit: power it off, back on at x1 (real time), its LED judged through the
    fixture's instruments (``slot_led``); the power-off step that follows turns it off."""
    psu.output(False, ch)
    set_clock_scale(dut, 1.0)
    psu.output(True, ch)
    boot_s = load.wait_ready(BOOT_TIMEOUT_S)
    slot_led.attach(dut, workdir, defect)
    try:
        measured = led_step(slot_led.photodiode, slot_led.camera,
                            lambda *lines: send_control(dut.led_events_path, *lines), lambda: link.write(frame),
                            workdir, {"boot_real_time_s": round(boot_s, 3)})
    finally:
        slot_led.detach()
    footage = slot_led.camera.last_footage
    if footage is not None and any(m.outcome == "fail" for m in measured):
        write_video(footage, workdir / "camera.avi")  # the camera's view of a failing LED, kept as evidence
    slot_led.camera.last_footage = None  # its frames go back to the shared buffer's bound
    return measured


def set_clock_scale(dut: Any, scale: float) -> None:
    """The software unit's time compression from its next start: the simulation's clock, kept in its
    stored configuration (the rest of that file, its flash, is left as the unit wrote it)."""
    import json

    saved = dut.saved_config()
    saved["clock_scale"] = scale
    Path(dut.config_path).write_text(json.dumps(saved, indent=2) + "\n")
    dut.config["clock_scale"] = scale

"""Frames of a scene with the LED in it, and the LED's colour read back from a region (no I/O).

A frame is BGR uint8 (OpenCV's order). The LED is a disc on a dim, textured board; light adds to the
scene, so the region's border (the board around the LED) is the ambient level taken off the disc's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

Roi = tuple[int, int, int, int]  # x, y, width, height


class RoiError(ValueError):
    """A region that does not fit the frame, or is too small to measure."""


@dataclass(frozen=True)
class Scene:
    width: int = 320
    height: int = 240
    led_x: int = 200
    led_y: int = 110
    led_radius: int = 7
    ambient: int = 14
    label: Roi = (30, 40, 90, 20)  # a bright label on the board (x, y, width, height): bright, but not an LED

    def board(self, seed: int = 0) -> np.ndarray:
        """The scene without light from the LED: a board with some fixed texture (BGR)."""
        rng = np.random.default_rng(seed)
        base = np.full((self.height, self.width, 3), self.ambient, dtype=float)
        base += rng.normal(0, 3, (self.height, self.width, 1))
        x, y, w, h = self.label
        base[y:y + h, x:x + w] += 25
        return base

    def light_shape(self, x: int, y: int) -> np.ndarray:
        """How an LED at ``(x, y)`` lights the view (H x W, 1.0 = its full drive): the disc and its glow."""
        yy, xx = np.ogrid[:self.height, :self.width]
        d2 = (xx - x) ** 2 + (yy - y) ** 2
        disc = np.clip((1.6 - np.sqrt(d2) / self.led_radius) * 2, 0, 1)
        glow = 0.15 * np.exp(-d2 / (2 * (3 * self.led_radius) ** 2))
        return np.minimum(disc + glow, 1.0)

    def frame(self, rgb: np.ndarray | tuple[float, float, float], board: np.ndarray,
              rng: np.random.Generator | None = None, noise: float = 2.0) -> np.ndarray:
        """One frame with the LED driven at ``rgb`` (0-255 per channel), sensor noise added."""
        return self.compose([(self.light_shape(self.led_x, self.led_y), rgb)], board, rng, noise)

    @staticmethod
    def compose(lights: list[tuple[np.ndarray, np.ndarray | tuple[float, float, float]]], board: np.ndarray,
                rng: np.random.Generator | None = None, noise: float = 2.0) -> np.ndarray:
        """One frame of ``board`` lit by LEDs (each its :meth:`light_shape` and drive ``rgb``, 0-255)."""
        out = board.copy()
        for shape, rgb in lights:
            r, g, b = (float(v) for v in rgb)
            if r or g or b:
                out += shape[:, :, None] * np.array([b, g, r])
        if rng is not None and noise > 0:
            out += rng.normal(0, noise, out.shape)
        return np.clip(out, 0, 255).astype(np.uint8)

    @property
    def roi(self) -> Roi:
        """The region a calibration should find: the LED with a margin."""
        m = 2 * self.led_radius
        return (self.led_x - m, self.led_y - m, 2 * m, 2 * m)


def check_roi(roi: Roi, shape: tuple[int, ...]) -> Roi:
    x, y, w, h = (int(v) for v in roi)
    if w < 6 or h < 6:
        raise RoiError(f"region {roi} is too small to measure (at least 6 x 6 pixels)")
    if x < 0 or y < 0 or x + w > shape[1] or y + h > shape[0]:
        raise RoiError(f"region {roi} does not fit a frame of {shape[1]} x {shape[0]}")
    return x, y, w, h


def led_level(frame: np.ndarray, roi: Roi) -> np.ndarray:
    """The LED's light in ``roi`` as (red, green, blue) levels, 1.0 = a channel at full drive: the mean of
    the region's centre minus the median of its border (the ambient light)."""
    x, y, w, h = check_roi(roi, frame.shape)
    patch = frame[y:y + h, x:x + w].astype(float)
    cy, cx, ry, rx = h // 2, w // 2, max(1, h // 8), max(1, w // 8)
    centre = patch[cy - ry:cy + ry + 1, cx - rx:cx + rx + 1].reshape(-1, 3).mean(axis=0)
    border = np.concatenate([patch[0], patch[-1], patch[:, 0], patch[:, -1]])
    ambient = np.median(border, axis=0)
    bgr = np.clip(centre - ambient, 0, None) / 255.0
    return bgr[::-1]


def find_led(frames: list[np.ndarray], margin: float = 2.0) -> Roi:
    """The region of the LED: where the light changes most across ``frames`` (the LED blinks, the board
    does not), a square of ``margin`` x the lit disc's radius around it; RoiError when nothing changes."""
    if len(frames) < 2:
        raise RoiError("need at least two frames to find the LED (it is found by its changes)")
    stack = np.stack([f.astype(float).sum(axis=2) for f in frames])
    spread = stack.max(axis=0) - stack.min(axis=0)
    peak = float(spread.max())
    if peak < 60:
        raise RoiError(f"no light changes in {len(frames)} frames (largest change {peak:.0f}); "
                       "is the LED in view and blinking?")
    lit = spread >= 0.5 * peak
    ys, xs = np.nonzero(lit)
    cy, cx = float(np.median(ys)), float(np.median(xs))
    radius = max(3.0, float(np.sqrt(lit.sum() / np.pi)))
    half = int(round(margin * radius))
    h, w = frames[0].shape[:2]
    x0, y0 = max(0, int(round(cx)) - half), max(0, int(round(cy)) - half)
    return check_roi((x0, y0, min(2 * half, w - x0), min(2 * half, h - y0)), frames[0].shape)

"""Latency plots of the regression page (rig.regress.plots)."""

from __future__ import annotations

import io

from matplotlib.image import imread

from rig.regress.plots import latency_png


def test_a_png_of_both_sides() -> None:
    png = latency_png("http", {"base": [2.0, 3.0, 2.5, 4.0], "head": [32.0, 33.5, 31.0]}, limit_ms=60.0)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    pixels = imread(io.BytesIO(png))
    assert pixels.shape[:2] == (300, 520)  # 5.2 x 3.0 inches at 100 dpi
    assert pixels[..., :3].std() > 0.05  # something is drawn


def test_a_side_without_values_and_a_far_limit() -> None:
    png = latency_png("mqtt", {"base": [], "head": [1.0]}, limit_ms=2100.0)
    assert png.startswith(b"\x89PNG")
    assert latency_png("modbus", {}).startswith(b"\x89PNG")

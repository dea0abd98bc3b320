"""The project stands alone: a copy of its files with nothing beside it collects and tests, and no file looks outside.

The copy is what a fresh clone holds plus uncommitted work: the files ``git ls-files -co --exclude-standard``
lists. It runs with ``PYTHONPATH`` set to itself, so it imports its own ``rig`` and ``tests``, not the
editable install of this working tree.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT_S = 600

# Built from parts so that this file does not match its own patterns.
_DIR = "shared"
OUTSIDE_PATTERNS = [
    re.compile(rb"\.\.[/\\]" + _DIR.encode()),  # the parent folder's directory, as a relative path
    re.compile(rb"parents?(\[\d+\])?\s*/\s*['\"]" + _DIR.encode() + rb"['\"/]"),  # built with pathlib from ROOT.parent
    re.compile(rb"['\"]\.\.['\"]\s*,\s*['\"]" + _DIR.encode() + rb"['\"]"),  # built with os.path.join
    re.compile(_DIR.encode() + rb"/(reference-frames|specs|seeds|DESIGN\.md|ROADMAP\.md)"),  # any path into it
]


def _project_files() -> list[str]:
    """Tracked and untracked, not ignored, files of the repository that exist in the working tree."""
    try:
        listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT,
                                capture_output=True, check=True, timeout=60).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        pytest.fail(f"cannot list the project's files with git in {ROOT}: {exc}")
    names = [name for name in listed.decode().split("\0") if name]
    return [name for name in names if (ROOT / name).is_file() or (ROOT / name).is_symlink()]


def _run(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"{' '.join(args)} did not finish in {TIMEOUT_S} s in {cwd}:\n{exc.stdout}\n{exc.stderr}")


def _report(proc: subprocess.CompletedProcess) -> str:
    return f"{' '.join(proc.args)} -> exit {proc.returncode}\n{proc.stdout[-8000:]}\n{proc.stderr[-8000:]}"


@pytest.fixture(scope="module")
def standalone(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """A copy of the project in an empty folder, and the environment that makes it import itself."""
    base = tmp_path_factory.mktemp("standalone")
    copy = base / ROOT.name
    for name in _project_files():
        target = copy / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, target, follow_symlinks=False)
    assert sorted(p.name for p in base.iterdir()) == [ROOT.name]  # no shared/ beside the copy
    env = dict(os.environ, PYTHONPATH=str(copy))
    return copy, env


@pytest.mark.slow
def test_copy_imports_its_own_code(standalone):
    copy, env = standalone
    # run from outside the copy: only PYTHONPATH can make the copy win over the editable install
    proc = _run([sys.executable, "-c", "import rig, tests.spec_frames as s; print(rig.__file__); print(s.__file__)"],
                copy.parent, env)
    assert proc.returncode == 0, _report(proc)
    assert [Path(line).is_relative_to(copy) for line in proc.stdout.split()] == [True, True], _report(proc)


@pytest.mark.slow
def test_copy_collects_every_test(standalone):
    copy, env = standalone
    proc = _run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider"], copy, env)
    assert proc.returncode == 0, _report(proc)
    assert "tests/test_standalone.py" in proc.stdout, _report(proc)


@pytest.mark.slow
def test_copy_checks_the_firmware_against_the_reference_frames(standalone):
    copy, env = standalone
    proc = _run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                 "tests/firmware/test_han_reference_frames.py"], copy, env)
    assert proc.returncode == 0, _report(proc)
    assert re.search(r"\b\d+ passed\b", proc.stdout), _report(proc)


def test_no_file_looks_outside_the_repository():
    found = []
    for name in _project_files():
        path = ROOT / name
        lines = [os.readlink(path).encode()] if path.is_symlink() else path.read_bytes().splitlines()
        for number, line in enumerate(lines, 1):
            if any(pattern.search(line) for pattern in OUTSIDE_PATTERNS):
                found.append(f"{name}:{number}: {line.decode(errors='replace').strip()[:160]}")
    assert found == [], "files that refer to a directory outside the repository:\n" + "\n".join(found)

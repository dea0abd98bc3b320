"""The walls of the design, pyproject.toml's ``[tool.importlinter]`` contracts, catch what they are meant to catch.

``make test`` runs ``lint-imports`` on the tree itself; here each wall is shown to break on a deliberate violation,
written into a copy of ``rig/`` and ``dut_firmware/`` under ``tmp_path`` (never into the working tree). The firmware
wall matters most: the firmware imports its own modules as top-level names (MicroPython runs it from its folder),
so the test proves that an import of the rig written that way is still seen.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")

pytestmark = pytest.mark.skipif(not LINT_IMPORTS.exists(), reason="import-linter is not installed (test extras)")


def _copy_tree(dest: Path) -> None:
    skip = shutil.ignore_patterns("__pycache__", "*.pyc")
    for package in ("rig", "dut_firmware"):
        shutil.copytree(ROOT / package, dest / package, ignore=skip)
    shutil.copy2(ROOT / "pyproject.toml", dest / "pyproject.toml")


def _lint(cwd: Path, *contracts: str) -> subprocess.CompletedProcess[str]:
    args = [str(LINT_IMPORTS), "--no-cache", "--no-logo"]
    for contract in contracts:
        args += ["--contract", contract]
    # PYTHONPATH: the copy's own packages, not the editable install of this working tree.
    env = {**os.environ, "PYTHONPATH": str(cwd)}
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


VIOLATIONS = [
    # (contract id, file to append to, the import, the module pair the report must name)
    ("firmware-not-rig", "dut_firmware/main.py", "import rig.reading", "dut_firmware.main -> rig.reading"),
    ("firmware-not-rig", "dut_firmware/han/p1.py", "from rig.emulators import crc",
     "dut_firmware.han.p1 -> rig.emulators.crc"),
    ("rig-not-firmware", "rig/dut/software.py", "import dut_firmware.config",
     "rig.dut.software -> dut_firmware.config"),
    ("emulators-no-io", "rig/emulators/hdlc.py", "from rig.links.base import Link",
     "rig.emulators.hdlc -> rig.links.base"),
    ("codecs-no-io", "rig/reading.py", "from rig.probes.base import ProbeError", "rig.reading -> rig.probes.base"),
    ("scenarios-no-drivers", "rig/scenarios/test_faults.py", "from rig.links import open_link",
     "rig.scenarios.test_faults -> rig.links"),
    ("scenarios-no-drivers", "rig/scenarios/test_faults.py", "from rig.dut.software import SoftwareDut",
     "rig.scenarios.test_faults -> rig.dut.software"),
    ("firmware-hal-behind-its-contract", "dut_firmware/services/modbus.py", "from ..hal import unix",
     "dut_firmware.services.modbus -> dut_firmware.hal.unix"),
    ("run-layers", "rig/probes/modbus.py", "from rig.checks import judge", "rig.probes.modbus -> rig.checks"),
    ("run-layers", "rig/checks.py", "from rig.engine import ERROR_COUNTERS", "rig.checks -> rig.engine"),
]


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dest = tmp_path_factory.mktemp("architecture")
    _copy_tree(dest)
    result = _lint(dest)
    assert result.returncode == 0, f"the untouched copy must keep every contract:\n{result.stdout}{result.stderr}"
    return dest


@pytest.mark.parametrize(("contract", "path", "statement", "expected"), VIOLATIONS,
                         ids=[f"{c}:{p}" for c, p, _, _ in VIOLATIONS])
def test_deliberate_violation_breaks_its_contract(tree: Path, contract: str, path: str, statement: str,
                                                  expected: str) -> None:
    target = tree / path
    original = target.read_text()
    try:
        target.write_text(f"{original}\n{statement}  # deliberate violation (tests/test_architecture.py)\n")
        result = _lint(tree, contract)
    finally:
        target.write_text(original)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "BROKEN" in output, output
    assert expected in output, output

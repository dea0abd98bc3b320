"""The session-wide key scan (tests/scan_secrets.py) finds a key in any form, and passes a clean folder."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from rig.emulators import get_profile

SCAN = Path(__file__).with_name("scan_secrets.py")
KEY = get_profile("kaifa-ma309-netznoe").security.key


def scan(*folders: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCAN), *map(str, folders)], capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("form", [KEY, KEY.hex().encode(), KEY.hex().upper().encode()], ids=["raw", "hex", "HEX"])
def test_a_key_in_any_file_fails_the_scan_naming_the_file(tmp_path: Path, form: bytes) -> None:
    (tmp_path / "deep" / "er").mkdir(parents=True)
    (tmp_path / "clean.log").write_text("nothing here\n")
    leaked = tmp_path / "deep" / "er" / "report.html"
    leaked.write_bytes(b"<p>" + form + b"</p>")
    done = scan(tmp_path)
    assert done.returncode == 1 and str(leaked) in done.stdout and "clean.log" not in done.stdout


def test_a_clean_folder_passes_and_a_missing_one_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "summary.txt").write_text("key ***\n")
    assert scan(tmp_path).returncode == 0
    assert scan(tmp_path / "nope").returncode == 2

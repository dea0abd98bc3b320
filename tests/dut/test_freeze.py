"""Freezing a firmware tree to MicroPython bytecode with the real mpy-cross, and running it."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from rig.dut.freeze import FreezeError, freeze
from rig.dut.locate import find_micropython


@pytest.fixture(autouse=True)
def own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HAN_RIG_CACHE", str(tmp_path / "cache"))


def tree(root: Path, greeting: str = "hello") -> Path:
    fw = root / "fw"
    (fw / "pkg").mkdir(parents=True)
    (fw / "main.py").write_text("import sys\nimport pkg.words as w\nprint(w.SAY, sys.argv[1:])\n")
    (fw / "pkg" / "__init__.py").write_text("")
    (fw / "pkg" / "words.py").write_text(f"SAY = {greeting!r}\n")
    (fw / "pkg" / "table.json").write_text("{}\n")
    (fw / "pkg" / "__pycache__").mkdir()
    (fw / "pkg" / "__pycache__" / "words.cpython-311.pyc").write_bytes(b"stale")
    return fw


def test_every_module_becomes_bytecode_data_is_copied_and_the_entry_runs_as_a_module(tmp_path: Path) -> None:
    frozen = freeze(tree(tmp_path))
    files = sorted(str(p.relative_to(frozen)) for p in frozen.rglob("*") if p.is_file())
    assert files == ["main.mpy", "pkg/__init__.mpy", "pkg/table.json", "pkg/words.mpy"]
    done = subprocess.run([find_micropython(), "-m", "main", "cfg.json"], cwd=frozen, capture_output=True, text=True,
                          timeout=30)
    assert done.stdout == "hello ['cfg.json']\n", done.stderr


def test_a_tree_is_frozen_once_and_a_changed_tree_again(tmp_path: Path) -> None:
    fw = tree(tmp_path)
    first = freeze(fw)
    stamp = (first / "pkg" / "words.mpy").stat().st_mtime_ns
    assert freeze(fw) == first and (first / "pkg" / "words.mpy").stat().st_mtime_ns == stamp
    (fw / "pkg" / "words.py").write_text("SAY = 'changed'\n")
    assert freeze(fw) != first


def test_a_module_that_does_not_compile_is_named(tmp_path: Path) -> None:
    fw = tree(tmp_path)
    (fw / "pkg" / "broken.py").write_text("def f(:\n")
    with pytest.raises(FreezeError, match=r"broken\.py does not compile with mpy-cross: .*line 1"):
        freeze(fw)
    assert not list((tmp_path / "cache" / "frozen").glob("*/main.mpy"))  # nothing half-made is kept


def test_a_packaged_firmware_is_frozen_into_its_package_folder_and_runs_as_a_package(tmp_path: Path) -> None:
    fw = tmp_path / "any_name"
    fw.mkdir()
    (fw / "__init__.py").write_text("")
    (fw / "app.py").write_text("import sys\nfrom . import words\n\ndef run():\n    print(words.SAY, sys.argv[1:])\n")
    (fw / "words.py").write_text("SAY = 'packaged'\n")
    (fw / "main.py").write_text("from .app import run\n\nrun()\n")
    frozen = freeze(fw)
    files = sorted(str(p.relative_to(frozen)) for p in frozen.rglob("*") if p.is_file())
    assert files == ["dut_firmware/__init__.mpy", "dut_firmware/app.mpy", "dut_firmware/main.mpy",
                     "dut_firmware/words.mpy"]
    done = subprocess.run([find_micropython(), "-m", "dut_firmware.main", "cfg.json"], cwd=frozen,
                          capture_output=True, text=True, timeout=30)
    assert done.stdout == "packaged ['cfg.json']\n", done.stderr

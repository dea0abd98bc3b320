"""The rig's pytest plugin as a project using an installed rig sees it: in a pytest session of its own."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SCENARIOS = '''
import pytest


@pytest.mark.needs("modbus")
def test_needs_modbus():
    pass


@pytest.mark.slow
def test_slow():
    pass
'''


def _pytest(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """pytest in ``cwd`` (no configuration file there: the plugin comes in by its entry point)."""
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize(("content", "message"), [
    ("[dut]\nkind = 'toaster'\n", "'toaster'"),
    ("[bench\n", "TOML"),
    (b"\xff\xfe\x00 not text", "can't decode"),
    (None, "not found"),
], ids=["invalid", "not-toml", "not-text", "missing"])
def test_a_bad_bench_is_a_usage_error_not_an_internal_error(tmp_path: Path, content, message: str) -> None:
    bench = tmp_path / "bench.toml"
    if isinstance(content, bytes):
        bench.write_bytes(content)
    elif content is not None:
        bench.write_text(content)
    (tmp_path / "test_s.py").write_text(SCENARIOS)

    run = _pytest(tmp_path, "--bench", str(bench))

    assert run.returncode == pytest.ExitCode.USAGE_ERROR, run.stdout + run.stderr
    assert "INTERNALERROR" not in run.stdout + run.stderr
    assert run.stderr.startswith("ERROR: ") and message in run.stderr and str(bench) in run.stderr, run.stderr


def test_markers_are_registered_once_by_the_plugin(tmp_path: Path) -> None:
    run = _pytest(tmp_path, "--markers")
    assert run.returncode == 0, run.stdout + run.stderr
    lines = run.stdout.splitlines()
    assert [line for line in lines if line.startswith("@pytest.mark.needs")] == [
        "@pytest.mark.needs(feature, ...): the scenario needs these bench features; skipped, with the reason, "
        "on a bench without one"]
    assert [line for line in lines if line.startswith("@pytest.mark.slow")] == [
        "@pytest.mark.slow: takes more than a few seconds"]


def test_strict_markers_accept_them_and_needs_skips_with_the_reason(tmp_path: Path) -> None:
    (tmp_path / "test_s.py").write_text(SCENARIOS)
    bench = tmp_path / "bench.toml"
    bench.write_text("[bench]\nname = 'no-modbus'\n[features]\nmodbus = false\n")

    run = _pytest(tmp_path, "--strict-markers", "-rs", "--bench", str(bench))

    assert run.returncode == 0, run.stdout + run.stderr
    assert "1 passed, 1 skipped" in run.stdout
    assert "bench no-modbus has no 'modbus' (see its [features])" in run.stdout

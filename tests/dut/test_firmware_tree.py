"""Firmware builds by folder or git revision (rig.dut.firmware_tree), against a real temporary git repository,
and `rig run --firmware` refusing what it cannot run."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from rig.cli import main
from rig.dut.firmware_tree import (
    FirmwareError,
    cache_dir,
    directory_build,
    resolve_firmware,
    revision_build,
    tree_hash,
)

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def git(repo: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.org", "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True,
                          env=env).stdout.strip()


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A git repository with two commits of a small firmware tree (v1 tagged), the cache in tmp_path."""
    monkeypatch.setenv("HAN_RIG_CACHE", str(tmp_path / "cache"))
    root = tmp_path / "repo"
    fw = root / "dut_firmware"
    (fw / "han").mkdir(parents=True)
    git(root, "init", "-q", "-b", "main")
    (fw / "main.py").write_text("VERSION = '1'\n")
    (fw / "han" / "decoder.py").write_text("def decode(b):\n    return b\n")
    (fw / "run.sh").write_text("#!/bin/sh\n")
    (fw / "run.sh").chmod(0o755)
    (root / "README").write_text("not firmware\n")
    git(root, "add", ".")
    git(root, "commit", "-q", "-m", "one")
    git(root, "tag", "v1")
    (fw / "main.py").write_text("VERSION = '2'\n")
    git(root, "commit", "-q", "-am", "two")
    return root


def test_a_revision_is_extracted_into_the_cache_by_its_commit(repo: Path, tmp_path: Path) -> None:
    head = revision_build("HEAD", repo)
    commit = git(repo, "rev-parse", "HEAD")
    assert head.commit == commit
    assert head.path == tmp_path / "cache" / "firmware" / commit / "dut_firmware"
    assert (head.path / "main.py").read_text() == "VERSION = '2'\n"
    assert (head.path / "han" / "decoder.py").is_file()
    assert not (head.path.parent / "README").exists()  # only the firmware's tree
    assert head.tree_hash == git(repo, "rev-parse", "HEAD:dut_firmware")
    assert head.describe() == {"spec": "HEAD", "commit": commit, "tree_hash": head.tree_hash}

    old = revision_build("v1", repo)
    assert old.commit == git(repo, "rev-parse", "v1^{commit}") != commit
    assert (old.path / "main.py").read_text() == "VERSION = '1'\n"
    assert revision_build("HEAD~1", repo).path == old.path  # one folder per commit, whatever names it


def test_a_cached_tree_is_reused_not_extracted_again(repo: Path) -> None:
    first = revision_build("main", repo)
    marker = first.path / "kept.txt"
    marker.write_text("from the first extraction")
    again = revision_build(git(repo, "rev-parse", "HEAD")[:10], repo)
    assert again.path == first.path and marker.read_text() == "from the first extraction"
    assert [p.name for p in first.path.parent.parent.iterdir()] == [first.commit]  # no staging folder left


def test_the_cache_follows_han_rig_cache_then_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HAN_RIG_CACHE", str(tmp_path / "a"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "x"))
    assert cache_dir() == tmp_path / "a" / "firmware"
    monkeypatch.delenv("HAN_RIG_CACHE")
    assert cache_dir() == tmp_path / "x" / "han-rig" / "firmware"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_dir() == tmp_path / "home" / ".cache" / "han-rig" / "firmware"


def test_a_folder_runs_in_place_and_hashes_as_git_does(repo: Path, tmp_path: Path) -> None:
    fw = repo / "dut_firmware"
    (fw / "__pycache__").mkdir()
    (fw / "__pycache__" / "main.cpython-311.pyc").write_bytes(b"\0compiled")
    (fw / "stale.pyc").write_bytes(b"\0")
    build = directory_build(fw, "dut_firmware")
    assert build.path == fw.resolve() and build.commit is None
    assert build.tree_hash == git(repo, "rev-parse", "HEAD:dut_firmware")  # caches and compiled files left out
    assert build.describe() == {"spec": "dut_firmware", "path": str(fw.resolve()), "tree_hash": build.tree_hash}
    (fw / "han" / "decoder.py").write_text("def decode(b):\n    return b[1:]\n")
    assert tree_hash(fw) != build.tree_hash  # any edit is another build


def test_resolve_prefers_an_existing_folder_then_a_revision(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(repo)
    assert resolve_firmware("dut_firmware", repo).commit is None
    assert resolve_firmware("v1", repo).commit == git(repo, "rev-parse", "v1^{commit}")


@pytest.mark.parametrize(("spec", "message"), [
    ("no-such-branch", "neither a firmware directory nor a revision of the git repository"),
    ("--output=x", "not a git revision"),
    ("README", "is a file"),
    (".", "has no main.py"),
    ("", "needs a firmware directory"),
])
def test_clear_errors_for_what_is_not_a_build(repo: Path, monkeypatch: pytest.MonkeyPatch, spec: str,
                                              message: str) -> None:
    monkeypatch.chdir(repo)
    with pytest.raises(FirmwareError, match=message):
        resolve_firmware(spec, repo)


def test_a_revision_without_the_firmware_tree(repo: Path) -> None:
    git(repo, "rm", "-rq", "dut_firmware")
    git(repo, "commit", "-q", "-m", "gone")
    with pytest.raises(FirmwareError, match="has no dut_firmware/ folder"):
        revision_build("HEAD", repo)


def test_no_git_repository(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    with pytest.raises(FirmwareError, match="no git repository at"):
        revision_build("HEAD", plain)


def test_rig_run_refuses_a_bad_firmware_and_a_board_bench(tmp_path: Path) -> None:
    runner = CliRunner()
    missing = runner.invoke(main, ["run", "--firmware", str(tmp_path), "--run-dir", str(tmp_path / "r")])
    assert missing.exit_code == 2 and "has no main.py" in missing.output
    bench = tmp_path / "board.toml"
    bench.write_text('[dut]\nkind = "board"\nhttp_url = "http://127.0.0.1:9"\n')
    fw = tmp_path / "fw"
    fw.mkdir()
    (fw / "main.py").write_text("")
    board = runner.invoke(main, ["run", "--bench", str(bench), "--firmware", str(fw), "--run-dir", str(tmp_path / "r")])
    assert board.exit_code == 2, board.output
    assert "runs the firmware flashed on it" in board.output
    assert not (tmp_path / "r").exists()  # refused before anything ran

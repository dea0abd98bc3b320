"""Which firmware build the software DUT runs: a firmware directory, or a git revision's ``dut_firmware/``.

``resolve_firmware(spec)`` turns ``--firmware PATH|REV`` into a :class:`FirmwareBuild`: the directory to
run (it holds ``main.py``) and a description for the run's record. A PATH is used in place. A REV is a
revision of the git repository the rig runs from; its ``dut_firmware/`` tree is extracted once
(``git archive``) into ``<cache>/firmware/<commit>/dut_firmware`` and reused by every later run of that
commit. The cache is ``$HAN_RIG_CACHE``, else ``$XDG_CACHE_HOME/han-rig``, else ``~/.cache/han-rig``.

``tree_hash`` is git's tree hash of the firmware files, computed the same way for a directory (its
``__pycache__`` and compiled files left out), so a directory and a commit holding the same files carry
the same hash.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FIRMWARE_TREE = "dut_firmware"  # the firmware's folder in the repository
ENTRY = "main.py"
_SKIP_DIRS = {"__pycache__", ".git", ".mypy_cache", ".pytest_cache", ".ruff_cache"}
_SKIP_SUFFIXES = (".pyc", ".pyo", ".mpy")


class FirmwareError(ValueError):
    """A firmware build that cannot be found or extracted; the message says why and what to give."""


@dataclass(frozen=True)
class FirmwareBuild:
    """A firmware build ready to run: ``path`` holds ``main.py``; ``commit`` is set for a git revision."""

    spec: str | None  # what was asked for (None: the firmware next to the rig)
    path: Path
    tree_hash: str
    commit: str | None = None

    def describe(self) -> dict[str, Any]:
        """What the run's record says of the build: spec, commit (a revision) or path (a folder), tree_hash."""
        where = {"commit": self.commit} if self.commit else {"path": str(self.path)}
        return {"spec": self.spec, **where, "tree_hash": self.tree_hash}


def cache_dir() -> Path:
    """Where extracted firmware trees are kept (``<cache>/firmware/<commit>``)."""
    root = os.environ.get("HAN_RIG_CACHE")
    if root:
        return Path(root).expanduser() / "firmware"
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "han-rig" / "firmware"


def rig_repository() -> Path:
    """The folder the rig's source lives in (a git work tree when the rig runs from a checkout)."""
    return Path(__file__).resolve().parents[2]


def resolve_firmware(spec: str, repo: Path | None = None) -> FirmwareBuild:
    """The build ``spec`` names: a firmware directory (it wins when such a folder exists), else a git
    revision of ``repo`` (default: the rig's own repository). ``FirmwareError`` says why it cannot be used."""
    if not spec or not spec.strip():
        raise FirmwareError("--firmware needs a firmware directory (holding main.py) or a git revision")
    if "\0" in spec or len(spec) > 4096:
        raise FirmwareError(f"not a firmware directory or a git revision: {spec[:60]!r}")
    try:
        path = Path(spec).expanduser()
        exists = path.exists()
    except (OSError, RuntimeError) as exc:  # a name too long for the file system; "~user" of no user
        raise FirmwareError(f"not a firmware directory or a git revision: {spec[:60]!r} "
                            f"({exc.__class__.__name__})") from None
    if exists:
        return directory_build(path, spec)
    return revision_build(spec, repo or rig_repository())


def directory_build(path: Path, spec: str | None = None) -> FirmwareBuild:
    """A firmware directory used in place; ``FirmwareError`` unless it is a folder holding ``main.py``."""
    if not path.is_dir():
        raise FirmwareError(f"firmware {path} is a file: give a firmware directory (holding {ENTRY}) or a git revision")
    if not (path / ENTRY).is_file():
        raise FirmwareError(f"firmware directory {path} has no {ENTRY}: give the folder that holds the firmware's "
                            f"{ENTRY} (like {FIRMWARE_TREE}/ of the repository)")
    return FirmwareBuild(spec, path.resolve(), tree_hash(path))


def _git(repo: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[bytes]:
    try:
        done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, timeout=60)
    except FileNotFoundError as exc:
        raise FirmwareError("git is not installed: give --firmware a firmware directory instead of a revision") from exc
    if check and done.returncode != 0:
        raise FirmwareError(f"git {' '.join(args)} in {repo}: {done.stderr.decode(errors='replace').strip()}")
    return done


def revision_build(rev: str, repo: Path) -> FirmwareBuild:
    """The ``dut_firmware/`` of git revision ``rev`` of ``repo``, extracted into the cache once per commit."""
    if rev.startswith("-"):
        raise FirmwareError(f"not a git revision: {rev!r}")
    inside = _git(repo, "rev-parse", "--is-inside-work-tree", check=False)
    if inside.returncode != 0:
        raise FirmwareError(f"no such firmware directory {rev!r}, and no git repository at {repo} to read it as a "
                            "revision from: give a firmware directory (holding main.py)")
    found = _git(repo, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{rev}^{{commit}}", check=False)
    if found.returncode != 0:
        raise FirmwareError(f"--firmware {rev}: neither a firmware directory nor a revision of the git repository "
                            f"at {repo} (try a commit, a branch, a tag or HEAD~1)")
    commit = found.stdout.decode().strip()
    tree = _git(repo, "rev-parse", "--verify", "--quiet", f"{commit}:{FIRMWARE_TREE}", check=False)
    if tree.returncode != 0:
        raise FirmwareError(f"revision {rev} ({commit[:12]}) has no {FIRMWARE_TREE}/ folder")
    target = cache_dir() / commit
    firmware = target / FIRMWARE_TREE
    if not (firmware / ENTRY).is_file():
        _extract(repo, commit, target)
    if not (firmware / ENTRY).is_file():
        raise FirmwareError(f"revision {rev} ({commit[:12]}) has no {FIRMWARE_TREE}/{ENTRY}")
    return FirmwareBuild(rev, firmware, tree.stdout.decode().strip(), commit=commit)


def _extract(repo: Path, commit: str, target: Path) -> None:
    """``git archive commit dut_firmware`` unpacked into ``target`` (built aside, then moved in place)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{commit[:12]}-", dir=target.parent))
    try:
        archive = _git(repo, "archive", "--format=tar", commit, FIRMWARE_TREE)
        with tempfile.TemporaryFile() as buffer:
            buffer.write(archive.stdout)
            buffer.seek(0)
            with tarfile.open(fileobj=buffer, mode="r:") as tar:
                tar.extractall(staging, filter="data")
        try:
            staging.rename(target)
        except OSError:
            if not (target / FIRMWARE_TREE / ENTRY).is_file():  # not another run's extraction of the same commit
                raise
    except OSError as exc:
        raise FirmwareError(f"cannot extract {FIRMWARE_TREE}/ of {commit[:12]} into {target}: {exc}") from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def tree_hash(path: Path) -> str:
    """Git's tree hash (SHA-1) of the files under ``path``, caches and compiled files left out."""
    entries = []
    for child in path.iterdir():
        if child.is_symlink():
            data = os.readlink(child).encode()
            entries.append((child.name, b"120000", _object(b"blob", data)))
        elif child.is_dir():
            if child.name in _SKIP_DIRS or not any(True for _ in _files(child)):
                continue
            entries.append((child.name + "/", b"40000", bytes.fromhex(tree_hash(child))))
        elif child.is_file() and not child.name.endswith(_SKIP_SUFFIXES):
            mode = b"100755" if os.access(child, os.X_OK) else b"100644"
            entries.append((child.name, mode, _object(b"blob", child.read_bytes())))
    body = b"".join(mode + b" " + name.rstrip("/").encode() + b"\0" + digest
                    for name, mode, digest in sorted(entries, key=lambda e: e[0].encode()))
    return _object(b"tree", body).hex()


def _files(path: Path) -> Iterator[Path]:
    for child in path.rglob("*"):
        skipped = child.name.endswith(_SKIP_SUFFIXES) or _SKIP_DIRS & set(child.relative_to(path).parts)
        if child.is_file() and not skipped:
            yield child


def _object(kind: bytes, data: bytes) -> bytes:
    return hashlib.sha1(kind + b" %d\0" % len(data) + data).digest()

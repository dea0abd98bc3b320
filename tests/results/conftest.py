"""A real PostgreSQL server for the results-store tests (one a session), and a fresh database per test.

PostgreSQL refuses to run as root: as root the server runs as the ``postgres`` system user (Debian's package
makes it) in a temporary folder it owns. It listens on a free loopback port, its socket in that folder.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from rig.netutil import free_port
from rig.results.store import close_stores


class PostgresServer:
    """A running PostgreSQL server (trust auth, user ``rig``) on 127.0.0.1:``port``."""

    def __init__(self, bin_dir: Path, root: Path, port: int, user: str | None) -> None:
        self.bin_dir, self.root, self.port, self.user = bin_dir, root, port, user
        self.data, self.log = root / "data", root / "server.log"

    def run(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(self.bin_dir / args[0]), *args[1:]], cwd=self.root, user=self.user,
                              capture_output=True, text=True, timeout=120)

    def start(self) -> None:
        steps = [("initdb", "-D", str(self.data), "-U", "rig", "--auth=trust", "-E", "UTF8", "--no-sync"),
                 ("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", "-o",
                  f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off", "start")]
        for step in steps:
            done = self.run(*step)
            if done.returncode != 0:
                log = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
                raise RuntimeError(f"{step[0]} failed ({done.returncode}): {done.stdout}{done.stderr}{log}")

    def stop(self) -> None:
        self.run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://rig@127.0.0.1:{self.port}/{database}"

    def create_database(self) -> str:
        """A new empty database; its SQLAlchemy URL."""
        name = f"results_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(host="127.0.0.1", port=self.port, user="rig", dbname="postgres", autocommit=True) as c:
            c.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


def _bin_dir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[4]))
    return Path(found[-1]).parent if found else None


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """The session's PostgreSQL server; skips when there are no server binaries to start one with."""
    bin_dir = _bin_dir()
    if bin_dir is None:
        pytest.skip("PostgreSQL server binaries not found (/usr/lib/postgresql/*/bin/initdb): "
                    "install Debian's postgresql package (make test-tools does)")
    user = None
    if os.geteuid() == 0:
        try:
            entry = pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root, and there is no 'postgres' system user to run the PostgreSQL server as")
        user = "postgres"
    root = Path(tempfile.mkdtemp(prefix="han-rig-pg-"))
    if user:
        os.chown(root, entry.pw_uid, entry.pw_gid)
    server = PostgresServer(bin_dir, root, free_port(), user)
    try:
        server.start()
        yield server
    finally:
        close_stores()
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def pg_url(postgres_server: PostgresServer) -> str:
    """The URL of a new empty database on the session's PostgreSQL server."""
    return postgres_server.create_database()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """The URL of a SQLite file not made yet (its folder neither: the store makes both)."""
    return f"sqlite:///{tmp_path / 'reports' / 'results.sqlite'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest) -> str:
    """Each test using it runs twice: on a SQLite file and on a PostgreSQL database."""
    return request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url")

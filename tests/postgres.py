"""A throwaway PostgreSQL cluster on loopback, for the tests and benchmarks that need one.

`with cluster() as server:` runs initdb in a temporary directory, starts the
server on a free port of 127.0.0.1 (trust authentication, its socket in that
directory), creates the database `shop`, and stops the server and removes the
directory at the end. As root (CI), the server runs as the user `postgres`,
which Debian's `postgresql` package creates (tests/run installs it if
missing); otherwise as the current user. Binaries are Debian's
(/usr/lib/postgresql/<newest>/bin), else those on PATH.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tests.processes import free_port

DATABASE = "shop"


@dataclass(frozen=True)
class Server:
    host: str
    port: int
    database: str

    def dsn(self, **extra: str) -> str:
        """A libpq DSN for the test database, user postgres, with `extra` keywords."""
        words = {"host": self.host, "port": str(self.port), "dbname": self.database}
        words.update({"user": "postgres", **extra})
        return " ".join(f"{key}={value}" for key, value in words.items())


def binary(name: str) -> str | None:
    """PostgreSQL's `name` program: Debian's newest, else the one on PATH."""
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=_major)
    return found[-1] if found else shutil.which(name)


def _major(path: str) -> int:
    version = Path(path).parent.parent.name
    return int(version) if version.isdigit() else 0


@contextlib.contextmanager
def cluster():
    initdb, pg_ctl = binary("initdb"), binary("pg_ctl")
    if initdb is None or pg_ctl is None:
        raise RuntimeError("PostgreSQL is not installed (Debian: apt-get install postgresql)")
    as_user: list[str] = []
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        as_user = ["runuser", "-u", "postgres", "--"]
    directory = Path(tempfile.mkdtemp(prefix="riemann-auto-pg-"))
    data, log = directory / "data", directory / "server.log"
    if as_user:
        shutil.chown(directory, "postgres", "postgres")

    def run(*command: str) -> None:
        subprocess.run([*as_user, *command], check=True, capture_output=True, timeout=120)

    try:
        run(initdb, "-D", str(data), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync")
        port = free_port()  # after initdb's seconds: taken as soon as it is found
        options = f"-p {port} -k {directory} -c listen_addresses=127.0.0.1 -c fsync=off"
        run(pg_ctl, "-D", str(data), "-l", str(log), "-o", options, "-w", "-t", "60", "start")
        try:
            server = Server("127.0.0.1", port, DATABASE)
            psql = binary("psql") or "psql"
            sql = f"CREATE DATABASE {DATABASE}"
            run(psql, "-X", "-q", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "-c", sql)
            yield server
        finally:
            run(pg_ctl, "-D", str(data), "-m", "immediate", "-w", "stop")
    except subprocess.CalledProcessError as exc:
        said = (exc.stderr or b"").decode(errors="replace")
        server_log = log.read_text(errors="replace") if log.exists() else ""
        raise RuntimeError(f"{exc}: {said}\n{server_log}") from None
    finally:
        shutil.rmtree(directory, ignore_errors=True)

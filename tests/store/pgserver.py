"""A throwaway PostgreSQL server for the store tests: initdb in a temp dir, 127.0.0.1 only.

Debian's ``postgresql`` package puts the binaries under ``/usr/lib/postgresql/<ver>/bin``.
PostgreSQL refuses to run as root, so as root the server runs as the ``postgres`` user (the
package creates it) and the temp dir belongs to that user. ``BASEGUARD_TEST_POSTGRES`` (an
admin URL such as ``postgresql://postgres@127.0.0.1:5432/postgres``) uses a running server
instead.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

ENV_URL = "BASEGUARD_TEST_POSTGRES"
SUPERUSER = "baseguard"


def find_bindir() -> Path | None:
    """The newest PostgreSQL server binaries on this machine, or None."""
    override = os.environ.get("BASEGUARD_PG_BINDIR")
    if override:
        return Path(override) if (Path(override) / "initdb").is_file() else None
    candidates = glob.glob("/usr/lib/postgresql/*/bin/initdb")
    if candidates:
        newest = max(candidates, key=lambda p: int(Path(p).parent.parent.name or 0))
        return Path(newest).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class PostgresServer:
    """Where the server listens; makes and drops one database per test."""

    admin_url: str

    def create_database(self) -> str:
        name = "bg_" + uuid.uuid4().hex[:12]
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return make_url(self.admin_url).set(database=name).render_as_string(hide_password=False)

    def drop_database(self, url: str) -> None:
        name = make_url(url).database
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class Unavailable(Exception):
    """No PostgreSQL can be had here; the message says why (used as the skip reason)."""


@contextlib.contextmanager
def postgres_server() -> Iterator[PostgresServer]:
    """A running server (its own, or the one ``$BASEGUARD_TEST_POSTGRES`` names)."""
    external = os.environ.get(ENV_URL)
    if external:
        yield PostgresServer(
            make_url(external).set(drivername="postgresql").render_as_string(False)
        )
        return
    bindir = find_bindir()
    if bindir is None:
        raise Unavailable(
            "PostgreSQL server binaries not found (apt-get install postgresql; .ci/run does)"
        )
    run_as: list[str] = []
    owner: pwd.struct_passwd | None = None
    if os.geteuid() == 0:
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            raise Unavailable(
                "running as root and there is no 'postgres' user to run the server"
            ) from None
        run_as = ["runuser", "-u", "postgres", "--"]
    base = Path(tempfile.mkdtemp(prefix="baseguard-pg-"))
    data, log = base / "data", base / "server.log"
    if owner is not None:
        os.chown(base, owner.pw_uid, owner.pw_gid)

    def run(*args: str) -> None:
        done = subprocess.run(
            [*run_as, *args], capture_output=True, text=True, timeout=120, check=False
        )
        if done.returncode != 0:
            detail = (done.stderr or done.stdout).strip()[-2000:]
            server_log = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise RuntimeError(f"{args[0]} failed: {detail}\n{server_log}")

    started = False
    try:
        run(
            str(bindir / "initdb"),
            "-D",
            str(data),
            "-U",
            SUPERUSER,
            "--auth=trust",
            "--no-sync",
            "-E",
            "UTF8",
            "--no-locale",
        )
        for attempt in range(5):
            port = free_port()
            options = (
                f"-h 127.0.0.1 -p {port} -k {base} -c fsync=off -c full_page_writes=off "
                "-c max_connections=60"
            )
            try:
                run(
                    str(bindir / "pg_ctl"),
                    "-D",
                    str(data),
                    "-l",
                    str(log),
                    "-w",
                    "-t",
                    "60",
                    "-o",
                    options,
                    "start",
                )
            except RuntimeError:
                if attempt == 4:
                    raise
                continue
            started = True
            break
        yield PostgresServer(f"postgresql://{SUPERUSER}@127.0.0.1:{port}/postgres")
    finally:
        if started:
            with contextlib.suppress(Exception):
                run(str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(base, ignore_errors=True)

"""Store fixtures: every store test runs on SQLite (a temp file) and on a real PostgreSQL.

The PostgreSQL server is started once per session (see pgserver.py) and each test gets a
fresh database in it. Where the server binaries are missing the PostgreSQL half is skipped
with the reason, except under CI (``CI`` set), where that is a failure: .ci/run installs
Debian's ``postgresql`` so that it never skips.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine

from baseguard.store import Store, open_store, resolve_url
from tests.store.builders import StepClock
from tests.store.pgserver import PostgresServer, Unavailable, postgres_server

PROJECT = Path(__file__).resolve().parents[2]
BACKENDS = ("sqlite", "postgresql")


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    with contextlib.ExitStack() as stack:
        try:
            server = stack.enter_context(postgres_server())
        except Unavailable as exc:
            if os.environ.get("CI"):
                pytest.fail(f"PostgreSQL is required under CI: {exc}")
            pytest.skip(str(exc))
        yield server


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL to an empty database of each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.sqlite'}"
        return
    server: PostgresServer = request.getfixturevalue("pg_server")
    url = server.create_database()
    try:
        yield url
    finally:
        server.drop_database(url)


@pytest.fixture
def clock() -> StepClock:
    return StepClock()


@pytest.fixture
def store(store_url: str, clock: StepClock) -> Iterator[Store]:
    with open_store(store_url, clock=clock) as opened:
        yield opened


@pytest.fixture
def raw(store_url: str) -> Iterator[Engine]:
    """A plain engine on the same database, for tampering behind the store's back."""
    engine = create_engine(resolve_url(store_url))
    try:
        yield engine
    finally:
        engine.dispose()


def start_worker(*args: str) -> subprocess.Popen[str]:
    """``python -m tests.store.worker ARGS`` with pipes; it prints ``ready`` when set up."""
    env = dict(os.environ, PYTHONPATH=str(PROJECT))
    return subprocess.Popen(
        [sys.executable, "-m", "tests.store.worker", *args],
        cwd=PROJECT,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def expect_line(proc: subprocess.Popen[str], wanted: str) -> None:
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    if line != wanted:
        _, err = proc.communicate(timeout=60)
        raise AssertionError(f"worker said {line!r}, not {wanted!r}; stderr:\n{err}")

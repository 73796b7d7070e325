"""Monitoring fixtures: a real Redis per session, stores, the registry fixtures re-exported.

``redis_url`` starts ``redis-server`` (Debian's ``redis-server``) on 127.0.0.1 on a free
port in a temp directory, without persistence, and stops it at the end of the session.
Without the binary the queue tests are skipped with the reason, except under CI (``CI``
set), where that is a failure: .ci/run installs it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from baseguard.store import Store, open_store
from tests.image.conftest import alpine_layout, plain_registry  # noqa: F401 - re-exported
from tests.monitor.builders import Clock

READY_TIMEOUT = 15.0


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    binary = shutil.which("redis-server")
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail("redis-server is required under CI (apt-get install redis-server)")
        pytest.skip("needs Debian's redis-server (apt-get install redis-server)")
    import redis

    work = tmp_path_factory.mktemp("redis")
    port = _free_port()
    log = work / "redis.log"
    with log.open("wb") as fh:
        process = subprocess.Popen(
            [
                binary,
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(work),
                "--save",
                "",
                "--appendonly",
                "no",
                "--protected-mode",
                "yes",
            ],
            stdout=fh,
            stderr=subprocess.STDOUT,
        )
    url = f"redis://127.0.0.1:{port}/0"
    deadline = time.monotonic() + READY_TIMEOUT
    client = redis.Redis.from_url(url)
    try:
        while True:
            if process.poll() is not None:
                pytest.fail(f"redis-server exited: {log.read_text(errors='replace')[-2000:]}")
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    process.kill()
                    pytest.fail("redis-server did not answer in time")
                time.sleep(0.02)
        yield url
    finally:
        client.close()
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    return tmp_path / "store.sqlite"


@pytest.fixture
def store(store_path: Path, clock: Clock) -> Iterator[Store]:
    with open_store(f"sqlite:///{store_path}", clock=clock) as opened:
        yield opened

"""A real uvicorn server on 127.0.0.1 in a thread, started and stopped by each test."""

from __future__ import annotations

import socket
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import trustme
import uvicorn

from baseguard.server.app import ServerState, Settings, create_app
from baseguard.store import Store, open_store
from tests.gate.helpers import TODAY, write_catalog

#: Longest wait for a server to start or stop.
DEADLINE = 15.0


@dataclass
class Running:
    url: str
    state: ServerState
    client: httpx.Client

    def review(self, doc: Any) -> httpx.Response:
        return self.client.post("/validate", json=doc)

    def flush_audit(self) -> None:
        assert self.state.audit is not None
        assert self.state.audit.flush(DEADLINE)


def ssl_context(ca: trustme.CA) -> ssl.SSLContext:
    """A client context trusting only ``ca``."""
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context


@contextmanager
def serving(
    settings: Settings,
    store: Store | None = None,
    *,
    cert: trustme.LeafCert | None = None,
    ca: trustme.CA | None = None,
    tmp: Path | None = None,
) -> Iterator[Running]:
    """Run ``create_app(settings)`` under uvicorn on a free loopback port until the block ends."""
    app = create_app(settings, store=store)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    tls: dict[str, Any] = {}
    verify: Any = True
    if cert is not None:
        assert tmp is not None and ca is not None
        cert.private_key_and_cert_chain_pem.write_to_path(str(tmp / "server.pem"))
        tls = {"ssl_certfile": str(tmp / "server.pem"), "ssl_keyfile": str(tmp / "server.pem")}
        verify = ssl_context(ca)
    config = uvicorn.Config(app, log_level="warning", lifespan="on", **tls)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + DEADLINE
    while not server.started:  # bounded readiness polling
        if not thread.is_alive():
            raise RuntimeError("uvicorn stopped while starting")
        if time.monotonic() > deadline:
            raise TimeoutError("uvicorn did not start")
        time.sleep(0.01)
    scheme = "https" if cert is not None else "http"
    url = f"{scheme}://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=url, verify=verify, timeout=10) as client:
            yield Running(url, app.state.baseguard, client)
    finally:
        server.should_exit = True
        thread.join(DEADLINE)
        sock.close()
        assert not thread.is_alive(), "uvicorn did not stop"


@pytest.fixture
def catalog_file(tmp_path: Path) -> Path:
    return write_catalog(tmp_path / "catalog.yaml")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with open_store(str(tmp_path / "store.sqlite")) as opened:
        yield opened


@pytest.fixture
def settings(catalog_file: Path) -> Settings:
    """Tags, not digests, in most reviews: the catalog verdicts are what these tests are about
    (the digest requirement, on by default, is tested on its own and by the case table)."""
    return Settings(
        catalog=catalog_file,
        namespace="baseguard-system",
        require_digest=False,
        today=lambda: TODAY,
    )

"""A real ``docker-registry`` for the attestation tests, a pusher, and a referrers-API front.

distribution 2.8 stores OCI 1.1 artifacts (``subject``, ``artifactType``) but does not serve
``GET /v2/<name>/referrers/<digest>``: against it the referrers *tag schema* fallback is
exercised. :func:`referrers_front` puts a small in-process server in front of it that answers
the referrers API from what the tests pushed and forwards everything else, so the API path
is exercised too, over real HTTP.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from baseguard.image.registry import RegistryClient
from tests.attest.push import OCI_INDEX, Pusher
from tests.image.conftest import (
    LocalServer,
    Recorded,
    RegistryServer,
    Reply,
    forward,
    start_registry,
    stop_registry,
)

_REFERRERS = re.compile(r"^/v2/(?P<name>.+)/referrers/(?P<digest>sha256:[0-9a-f]{64})$")


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    """docker-registry (distribution 2.8) over plain HTTP on 127.0.0.1, empty."""
    server = start_registry(tmp_path_factory.mktemp("attest-registry"))
    try:
        yield server
    finally:
        stop_registry(server)


@pytest.fixture(scope="session")
def pusher(registry: RegistryServer) -> Iterator[Pusher]:
    p = Pusher(registry.url)
    try:
        yield p
    finally:
        p.close()


@pytest.fixture
def client() -> Iterator[RegistryClient]:
    with RegistryClient(retries=0) as c:
        yield c


@pytest.fixture
def referrers_front(
    registry: RegistryServer, pusher: Pusher
) -> Iterator[Callable[[], LocalServer]]:
    """A factory of servers that implement the referrers API and forward the rest."""
    servers: list[LocalServer] = []

    def handler(req: Recorded) -> Reply:
        match = _REFERRERS.match(req.route)
        if req.method == "GET" and match:
            entries = pusher.referrers.get((match.group("name"), match.group("digest")), [])
            body = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries})
            return Reply(200, {"Content-Type": OCI_INDEX}, body.encode())
        return forward(registry.url, req)

    def make() -> LocalServer:
        server = LocalServer(handler)
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.close()


@pytest.fixture
def key_file(tmp_path: Path) -> Callable[[bytes], Path]:
    def write(pem: bytes, name: str = "cosign.pub") -> Path:
        path = tmp_path / name
        path.write_bytes(pem)
        return path

    return write

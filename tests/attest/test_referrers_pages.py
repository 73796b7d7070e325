"""The referrers API's pagination, against an in-process server that pages as asked."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import pytest

from baseguard.attest.discover import MAX_REFERRER_PAGES, referrers_api
from baseguard.errors import RegistryError
from baseguard.image.registry import RegistryClient
from baseguard.refs import parse_reference
from tests.image.conftest import LocalServer, Recorded, Reply

DIGEST = "sha256:" + "ab" * 32
ROUTE = f"/v2/team/app/referrers/{DIGEST}"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"

MakeServer = Callable[[Callable[[Recorded], Reply]], LocalServer]


def descriptor(n: int) -> dict[str, object]:
    return {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": f"d{n}"}


def page(n: int, link: str | None) -> Reply:
    headers = {"Content-Type": OCI_INDEX}
    if link is not None:
        headers["Link"] = f'<{link}>; rel="next"'
    body = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [descriptor(n)]}
    return Reply(200, headers, json.dumps(body).encode())


def serve(make: MakeServer, pages: Callable[[int], Reply]) -> LocalServer:
    """A registry whose referrers page ``?page=N`` is ``pages(N)`` (page 0 has no query)."""

    def handler(req: Recorded) -> Reply:
        if req.route == "/v2/":
            return Reply(200, {}, b"{}")
        if req.route != ROUTE:
            return Reply(404, {}, b"")
        return pages(int(req.query.get("page", ["0"])[0]))

    return make(handler)


@pytest.fixture
def local_server() -> Iterator[MakeServer]:
    servers: list[LocalServer] = []

    def make(handler: Callable[[Recorded], Reply]) -> LocalServer:
        servers.append(LocalServer(handler))
        return servers[-1]

    yield make
    for server in servers:
        server.close()


@pytest.fixture
def client() -> Iterator[RegistryClient]:
    c = RegistryClient(retries=0, timeout=10.0)
    yield c
    c.close()


def referrers(client: RegistryClient, server: LocalServer) -> list[dict[str, object]] | None:
    return referrers_api(client, parse_reference(f"{server.host}/team/app@{DIGEST}"), DIGEST)


def pages_read(server: LocalServer) -> list[str]:
    return [r.path for r in server.requests if r.route == ROUTE]


def test_pages_are_followed_with_the_index_accept_header(
    client: RegistryClient, local_server: MakeServer
) -> None:
    server = serve(local_server, lambda n: page(n, f"{ROUTE}?page={n + 1}" if n < 2 else None))
    got = referrers(client, server)
    assert got == [descriptor(0), descriptor(1), descriptor(2)]
    assert len(pages_read(server)) == 3
    assert all(r.headers.get("accept") == OCI_INDEX for r in server.requests if r.route == ROUTE)


def test_a_link_back_to_a_page_already_read_ends_the_list(
    client: RegistryClient, local_server: MakeServer
) -> None:
    server = serve(local_server, lambda n: page(n, f"{ROUTE}?page={1 if n == 2 else n + 1}"))
    assert referrers(client, server) == [descriptor(0), descriptor(1), descriptor(2)]
    assert len(pages_read(server)) == 3


def test_at_most_max_referrer_pages_are_read(
    client: RegistryClient, local_server: MakeServer
) -> None:
    server = serve(local_server, lambda n: page(n, f"{ROUTE}?page={n + 1}"))
    got = referrers(client, server)
    assert got == [descriptor(n) for n in range(MAX_REFERRER_PAGES)]
    assert len(pages_read(server)) == MAX_REFERRER_PAGES


def test_a_next_link_to_another_host_is_refused(
    client: RegistryClient, local_server: MakeServer
) -> None:
    server = serve(local_server, lambda n: page(n, f"http://elsewhere.test{ROUTE}?page=1"))
    with pytest.raises(RegistryError, match="next-page link points to another host"):
        referrers(client, server)
    assert len(pages_read(server)) == 1


@pytest.mark.parametrize("status", [400, 404, 405])
def test_a_registry_without_the_api_answers_none(
    client: RegistryClient, local_server: MakeServer, status: int
) -> None:
    server = serve(local_server, lambda n: Reply(status, {}, b""))
    assert referrers(client, server) is None


def test_an_empty_first_page_is_an_answer(client: RegistryClient, local_server: MakeServer) -> None:
    body = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": []}).encode()
    server = serve(local_server, lambda n: Reply(200, {"Content-Type": OCI_INDEX}, body))
    assert referrers(client, server) == []

"""Live-cluster inventory against a local HTTPS server replaying Kubernetes API list pages."""

from __future__ import annotations

import base64
import json
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

from baseguard.inventory.cluster import (
    ClusterError,
    digest_of,
    inventory_cluster,
    load_kubeconfig,
)

DATA = Path(__file__).resolve().parent.parent / "data" / "k8s"
TOKEN = "test-token-123"


class FakeApiServer:
    """An HTTPS server answering GET /api/v1/pods with recorded pages, checking the token."""

    def __init__(self, ca: Any) -> None:
        pages = [json.loads((DATA / f"pods-page{i}.json").read_text()) for i in (1, 2)]
        self.requests: list[tuple[str, str | None]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                url = urlparse(self.path)
                outer.requests.append((self.path, self.headers.get("Authorization")))
                if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                    self._send(401, {"kind": "Status", "code": 401, "reason": "Unauthorized"})
                    return
                if url.path != "/api/v1/pods":
                    self._send(404, {"kind": "Status", "code": 404})
                    return
                cont = parse_qs(url.query).get("continue")
                self._send(200, pages[1] if cont else pages[0])

            def _send(self, code: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert("127.0.0.1").configure_cert(ctx)
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.url = f"https://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def api() -> Iterator[tuple[FakeApiServer, Any]]:
    trustme = pytest.importorskip("trustme")
    ca = trustme.CA()
    server = FakeApiServer(ca)
    yield server, ca
    server.close()


def kubeconfig(tmp_path: Path, server: str, ca_pem: bytes, token: str = TOKEN) -> Path:
    path = tmp_path / "config"
    path.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "current-context": "test",
                "clusters": [
                    {
                        "name": "c",
                        "cluster": {
                            "server": server,
                            "certificate-authority-data": base64.b64encode(ca_pem).decode(),
                        },
                    }
                ],
                "users": [{"name": "u", "user": {"token": token}}],
                "contexts": [
                    {"name": "test", "context": {"cluster": "c", "user": "u"}},
                    {"name": "other", "context": {"cluster": "missing", "user": "u"}},
                ],
            }
        )
    )
    return path


def test_all_pages_are_read_with_images_roles_and_digests(
    api: tuple[FakeApiServer, Any], tmp_path: Path
) -> None:
    server, ca = api
    access = load_kubeconfig(kubeconfig(tmp_path, server.url, ca.cert_pem.bytes()))
    uses, issues, pods = inventory_cluster(access)
    assert pods == 2 and issues == []
    found = {(u.reference, u.role, str(u.location), u.digest) for u in uses}
    assert (
        "registry.example.com/payments/api:1.8.2",
        "init",
        "cluster:test payments/Pod/api-7d9c-abcde[migrate]",
        "sha256:" + "1" * 64,
    ) in found
    assert (
        "docker.io/library/nginx:1.27-alpine",
        "runtime",
        "cluster:test payments/Pod/api-7d9c-abcde[proxy]",
        "sha256:" + "2" * 64,
    ) in found
    assert (
        "registry.k8s.io/coredns/coredns:v1.10.1",
        "runtime",
        "cluster:test kube-system/Pod/coredns-5d78c9869d-xk2lp[coredns]",
        "sha256:" + "3" * 64,
    ) in found
    assert len(uses) == 4
    # The second request carried the continue token from the first page.
    assert "continue=" in server.requests[1][0]
    assert all(auth == f"Bearer {TOKEN}" for _, auth in server.requests)


def test_wrong_token_is_a_clear_error(api: tuple[FakeApiServer, Any], tmp_path: Path) -> None:
    server, ca = api
    access = load_kubeconfig(kubeconfig(tmp_path, server.url, ca.cert_pem.bytes(), "nope"))
    with pytest.raises(ClusterError) as info:
        inventory_cluster(access)
    assert "refused (401)" in info.value.message


def test_untrusted_server_certificate_is_refused(
    api: tuple[FakeApiServer, Any], tmp_path: Path
) -> None:
    server, _ = api
    other = pytest.importorskip("trustme").CA()
    access = load_kubeconfig(kubeconfig(tmp_path, server.url, other.cert_pem.bytes()))
    with pytest.raises(ClusterError) as info:
        inventory_cluster(access)
    assert "cannot reach" in info.value.message


def test_unknown_context_lists_the_known_ones(tmp_path: Path) -> None:
    path = kubeconfig(tmp_path, "https://127.0.0.1:1", b"x")
    with pytest.raises(ClusterError) as info:
        load_kubeconfig(path, "prod")
    assert "other" in (info.value.hint or "") and "test" in (info.value.hint or "")


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("apiVersion: v1\nkind: Config\n", "the kubeconfig has no contexts"),
        ("a: 1\n", "the kubeconfig has no contexts"),
        (
            "contexts:\n- name: dev\n  context: {cluster: c}\n",
            "the kubeconfig has no current-context",
        ),
    ],
)
def test_a_kubeconfig_without_contexts_says_so_naming_the_file(
    tmp_path: Path, text: str, said: str
) -> None:
    path = tmp_path / "kube.yaml"
    path.write_text(text)
    with pytest.raises(ClusterError) as info:
        load_kubeconfig(path)
    assert info.value.message == f"{path}: {said}"
    assert "None" not in info.value.message


def test_no_current_context_hints_at_the_context_option(tmp_path: Path) -> None:
    path = tmp_path / "kube.yaml"
    path.write_text("contexts:\n- name: dev\n  context: {cluster: c}\n")
    with pytest.raises(ClusterError) as info:
        load_kubeconfig(path)
    assert info.value.hint == "pass --context NAME (contexts: dev)"


CONTEXT_DEV = "current-context: dev\ncontexts:\n- name: dev\n  context: {cluster: c}\n"


@pytest.mark.parametrize("contexts", ["contexts: oops\n", "contexts: [3]\n"])
def test_a_kubeconfig_of_the_wrong_shape_is_a_cluster_error(tmp_path: Path, contexts: str) -> None:
    path = tmp_path / "kube.yaml"
    path.write_text(contexts)
    with pytest.raises(ClusterError) as info:
        load_kubeconfig(path)
    assert "contexts must be a list" in info.value.message


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("contexts:\n- name: [dev]\n  context: {cluster: c}\n", "contexts entry"),
        ("clusters:\n- name: {a: 1}\n  cluster: {server: x}\n" + CONTEXT_DEV, "clusters entry"),
        ("current-context: [dev]\ncontexts:\n- name: dev\n  context: {cluster: c}\n", "current"),
        ("current-context: dev\ncontexts:\n- name: dev\n  context: {cluster: [c]}\n", "cluster"),
    ],
)
def test_a_name_that_is_not_a_string_is_a_cluster_error(
    tmp_path: Path, text: str, said: str
) -> None:
    path = tmp_path / "kube.yaml"
    path.write_text(text)
    with pytest.raises(ClusterError) as info:  # was a TypeError (unhashable type)
        load_kubeconfig(path)
    assert str(path) in info.value.message and said in info.value.message
    assert "not a string" in info.value.message


def test_exec_plugins_are_not_run(tmp_path: Path) -> None:
    path = tmp_path / "config"
    path.write_text(
        json.dumps(
            {
                "current-context": "x",
                "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:1"}}],
                "users": [
                    {"name": "u", "user": {"exec": {"command": "touch", "args": ["/tmp/pwned"]}}}
                ],
                "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
            }
        )
    )
    with pytest.raises(ClusterError) as info:
        load_kubeconfig(path)
    assert "plugin" in info.value.message


@pytest.mark.parametrize(
    ("image_id", "expected"),
    [
        ("docker.io/library/nginx@sha256:" + "a" * 64, "sha256:" + "a" * 64),
        ("docker-pullable://nginx@sha256:" + "b" * 64, "sha256:" + "b" * 64),
        ("sha256:" + "c" * 64, "sha256:" + "c" * 64),
        ("", None),
    ],
)
def test_image_id_forms(image_id: str, expected: str | None) -> None:
    assert digest_of(image_id) == expected

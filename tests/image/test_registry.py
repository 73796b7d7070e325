"""The registry client against real registries (Debian's docker-registry) and hostile servers.

Tests marked ``registry`` talk to ``docker-registry`` processes started by the session
fixtures in conftest.py (skipped when the binaries or ../shared/realdata are missing). The
others use small in-process HTTP servers for what a well-behaved registry never does:
throttling, tampered content, oversized manifests, redirect loops and cross-host redirects.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from baseguard.errors import (
    AuthError,
    DigestMismatchError,
    ImageNotFoundError,
    PlatformError,
    RegistryError,
)
from baseguard.image.cache import BlobCache
from baseguard.image.credentials import Credentials, load_credentials
from baseguard.image.model import DOCKER_MANIFEST, OCI_INDEX, OCI_MANIFEST, Image, Platform
from baseguard.image.registry import (
    MAX_MANIFEST_BYTES,
    Challenge,
    RegistryClient,
    parse_www_authenticate,
)
from baseguard.refs import parse_reference
from tests.image.conftest import (
    PASSWORD,
    TOKEN_SERVICE,
    USERNAME,
    AlpineLayout,
    Handler,
    LocalServer,
    Recorded,
    RegistryServer,
    Reply,
    basic_auth_entry,
    forward,
)

# The multi-platform OCI layout in realdata (stereoscope's testdata): its inner index and the
# linux/amd64 and linux/arm64 manifests it lists.
MULTI_INDEX = "sha256:a1a8d08faa5fe3d2ccc0ba54874e39dede9a17120f883c5cb56f2fd9309067c8"
MULTI_AMD64 = "sha256:e7c26a4b4d156fd9947ee82295b7b78acf7aa54b93b8f3e4b9f608179ffb20e8"
MULTI_ARM64 = "sha256:5ed07065bcbc6c52e3ad28526557d7b6833613fc79257b1a786de85e37c03b05"

MakeServer = Callable[[Handler], LocalServer]
MakeClient = Callable[..., RegistryClient]


@pytest.fixture
def cache(tmp_path: Path) -> BlobCache:
    return BlobCache(tmp_path / "cache")


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def make_client(cache: BlobCache, sleeps: list[float]) -> Iterator[MakeClient]:
    """Clients with a per-test cache, quick backoff and recorded (not slept) waits."""
    clients: list[RegistryClient] = []

    def make(**kwargs: object) -> RegistryClient:
        options: dict[str, object] = {
            "cache": cache,
            "retries": 3,
            "backoff": 0.01,
            "sleep": sleeps.append,
            "timeout": 20.0,
        }
        options.update(kwargs)
        client = RegistryClient(**options)  # type: ignore[arg-type]
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


def _read_blob(image: Image, digest: str) -> bytes:
    assert image.blobs is not None
    with image.blobs.open_blob(digest) as fh:
        return fh.read()


def _sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _layer_member(layer: bytes, name: str) -> bytes:
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(layer))) as tar:
        for info in tar:
            if info.name.removeprefix("./") == name:
                member = tar.extractfile(info)
                assert member is not None
                return member.read()
    raise AssertionError(f"{name} not in layer")


def _blob_requests(server: LocalServer) -> list[Recorded]:
    return [r for r in server.requests if "/blobs/" in r.route]


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


# -- anonymous pulls over plain HTTP -----------------------------------------------------------


@pytest.mark.registry
def test_anonymous_pull_over_http_selects_linux_amd64_from_an_index(
    plain_registry: RegistryServer, make_client: MakeClient
) -> None:
    ref = parse_reference(f"{plain_registry.host}/multi:latest")
    with make_client().open_image(ref) as image:
        assert image.source == "registry"
        assert image.reference == str(ref)
        assert image.name == f"{plain_registry.host}/multi"
        assert str(image.platform) == "linux/amd64"
        assert image.index_digest == MULTI_INDEX
        assert image.manifest_digest == MULTI_AMD64
        layer = image.layers[0]
        data = _read_blob(image, layer.digest)
        assert _sha256(data) == layer.digest
        assert len(data) == layer.descriptor.size


@pytest.mark.registry
def test_platform_linux_arm64_is_selected_from_the_multiplatform_index(
    plain_registry: RegistryServer, make_client: MakeClient
) -> None:
    ref = parse_reference(f"{plain_registry.host}/multi:latest")
    with make_client().open_image(ref, Platform.parse("linux/arm64")) as image:
        assert image.manifest_digest == MULTI_ARM64
        assert image.config.architecture == "arm64"


@pytest.mark.registry
def test_alpine_minirootfs_image_pulls_per_platform_with_exact_digests(
    plain_registry: RegistryServer, alpine_layout: AlpineLayout, make_client: MakeClient
) -> None:
    client = make_client()
    ref = parse_reference(f"{plain_registry.host}/alpine:{alpine_layout.tag}")
    for platform, arch in (
        (Platform("linux", "amd64"), "amd64"),
        (Platform.parse("linux/arm64"), "arm64"),
    ):
        want = alpine_layout.platforms[arch]
        with client.open_image(ref, platform) as image:
            assert image.index_digest == alpine_layout.index_digest
            assert image.manifest_digest == want.manifest_digest
            assert image.config_digest == want.config_digest
            assert image.config.diff_ids == [want.diff_id]
            assert [layer.digest for layer in image.layers] == [want.layer_digest]
            layer = _read_blob(image, want.layer_digest)
            assert _layer_member(layer, "etc/alpine-release").strip() == b"3.20.3"


@pytest.mark.registry
def test_unavailable_platform_lists_the_platforms_there_are(
    plain_registry: RegistryServer, alpine_layout: AlpineLayout, make_client: MakeClient
) -> None:
    ref = parse_reference(f"{plain_registry.host}/alpine:{alpine_layout.tag}")
    with pytest.raises(PlatformError) as info:
        make_client().open_image(ref, Platform.parse("linux/s390x"))
    assert "linux/s390x" in info.value.message
    assert "linux/amd64" in (info.value.hint or "")
    assert "linux/arm64/v8" in (info.value.hint or "")


@pytest.mark.registry
def test_docker_archive_pushed_image_reads_as_docker_schema2(
    plain_registry: RegistryServer, make_client: MakeClient
) -> None:
    client = make_client()
    ref = parse_reference(f"{plain_registry.host}/alpine:3.10")
    body, media_type, digest = client.get_manifest(ref)
    assert media_type == DOCKER_MANIFEST
    assert digest == _sha256(body)
    with client.open_image(ref) as image:
        assert image.manifest_digest == digest
        assert image.index_digest is None
        assert str(image.platform) == "linux/amd64"
        layer = _read_blob(image, image.layers[0].digest)
        assert _layer_member(layer, "etc/alpine-release").startswith(b"3.10")


@pytest.mark.registry
def test_manifest_by_digest_is_verified_and_typed(
    plain_registry: RegistryServer, make_client: MakeClient
) -> None:
    client = make_client()
    ref = parse_reference(f"{plain_registry.host}/multi:latest")
    body, media_type, digest = client.get_manifest(ref)
    assert (media_type, digest) == (OCI_INDEX, MULTI_INDEX)
    body, media_type, digest = client.get_manifest(ref.with_digest(MULTI_AMD64))
    assert (media_type, digest) == (OCI_MANIFEST, MULTI_AMD64)
    assert _sha256(body) == MULTI_AMD64


@pytest.mark.registry
def test_unknown_tag_is_image_not_found_naming_the_reference(
    plain_registry: RegistryServer, make_client: MakeClient
) -> None:
    ref = parse_reference(f"{plain_registry.host}/alpine:no-such-tag")
    with pytest.raises(ImageNotFoundError) as info:
        make_client().open_image(ref)
    assert str(ref) in info.value.message
    assert "MANIFEST_UNKNOWN" in info.value.message


@pytest.mark.registry
def test_unknown_repository_is_image_not_found(
    plain_registry: RegistryServer, make_client: MakeClient
) -> None:
    ref = parse_reference(f"{plain_registry.host}/nothing/here:1")
    with pytest.raises(ImageNotFoundError, match="nothing/here"):
        make_client().get_manifest(ref)


@pytest.mark.registry
def test_unknown_blob_is_image_not_found(
    plain_registry: RegistryServer, make_client: MakeClient
) -> None:
    ref = parse_reference(f"{plain_registry.host}/alpine:3.10")
    with pytest.raises(ImageNotFoundError, match="BLOB_UNKNOWN"):
        make_client().fetch_blob(ref, _sha256(b"not there"))


@pytest.mark.registry
def test_tags_and_catalog_follow_link_pagination(
    plain_registry: RegistryServer, alpine_layout: AlpineLayout, make_client: MakeClient
) -> None:
    client = make_client()
    ref = parse_reference(f"{plain_registry.host}/alpine")
    assert sorted(client.list_tags(ref, page_size=1)) == sorted(["3.10", alpine_layout.tag])
    assert client.list_tags(f"{plain_registry.host}/multi") == ["latest"]
    assert client.catalog(plain_registry.host, page_size=1) == ["alpine", "multi"]


@pytest.mark.registry
def test_second_pull_is_served_from_the_blob_cache(
    plain_registry: RegistryServer,
    alpine_layout: AlpineLayout,
    make_client: MakeClient,
    local_server: MakeServer,
    cache: BlobCache,
) -> None:
    proxy = local_server(lambda req: forward(plain_registry.url, req))
    ref = parse_reference(f"{proxy.host}/alpine:{alpine_layout.tag}")
    want = alpine_layout.platforms["amd64"]
    with make_client().open_image(ref) as image:
        first = _read_blob(image, want.layer_digest)
    assert sorted(r.route.rsplit("/", 1)[1] for r in _blob_requests(proxy)) == sorted(
        [want.config_digest, want.layer_digest]
    )
    assert cache.path_for(want.layer_digest).read_bytes() == first

    proxy.requests.clear()
    with make_client().open_image(ref) as image:
        second = _read_blob(image, want.layer_digest)
        assert image.blobs is not None
        assert image.blobs.blob_size(want.layer_digest) == want.layer_size
    assert second == first
    assert _blob_requests(proxy) == []
    assert any("/manifests/" in r.route for r in proxy.requests)  # tags can move: re-asked


@pytest.mark.registry
def test_progress_callback_reports_bytes_done_and_total(
    plain_registry: RegistryServer, alpine_layout: AlpineLayout, make_client: MakeClient
) -> None:
    calls: list[tuple[str, int, int | None]] = []
    want = alpine_layout.platforms["amd64"]
    ref = parse_reference(f"{plain_registry.host}/alpine:{alpine_layout.tag}")
    with make_client(progress=lambda *args: calls.append(args)).open_image(ref) as image:
        _read_blob(image, want.layer_digest)
    layer_calls = [c for c in calls if c[0] == want.layer_digest]
    assert len(layer_calls) > 1
    assert [c[1] for c in layer_calls] == sorted(c[1] for c in layer_calls)
    assert layer_calls[-1] == (want.layer_digest, want.layer_size, want.layer_size)


# -- TLS and basic auth ------------------------------------------------------------------------


@pytest.mark.registry
def test_basic_auth_over_tls_with_credentials_from_docker_config(
    tls_registry: RegistryServer,
    alpine_layout: AlpineLayout,
    make_client: MakeClient,
    docker_config: Callable[[dict[str, object]], Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path = docker_config(
        {"auths": {f"https://{tls_registry.host}": basic_auth_entry(USERNAME, PASSWORD)}}
    )
    monkeypatch.setenv("DOCKER_CONFIG", str(path.parent))
    monkeypatch.delenv("REGISTRY_AUTH_FILE", raising=False)
    client = make_client(credentials=load_credentials(), ca_file=tls_registry.ca_file)
    ref = parse_reference(f"{tls_registry.host}/alpine:{alpine_layout.tag}")
    want = alpine_layout.platforms["amd64"]
    with client.open_image(ref) as image:
        assert image.manifest_digest == want.manifest_digest
        assert _sha256(_read_blob(image, want.layer_digest)) == want.layer_digest


@pytest.mark.registry
def test_wrong_password_is_an_auth_error_naming_host_and_repository(
    tls_registry: RegistryServer, make_client: MakeClient
) -> None:
    client = make_client(
        credentials=lambda host: Credentials(USERNAME, "wrong"), ca_file=tls_registry.ca_file
    )
    with pytest.raises(AuthError) as info:
        client.get_manifest(parse_reference(f"{tls_registry.host}/alpine:3.10"))
    assert tls_registry.host in info.value.message
    assert "alpine" in info.value.message
    assert "wrong" not in info.value.message
    assert "docker login" in (info.value.hint or "")
    assert "config.json" in (info.value.hint or "")


@pytest.mark.registry
def test_missing_credentials_is_an_auth_error(
    tls_registry: RegistryServer, make_client: MakeClient
) -> None:
    client = make_client(credentials=None, ca_file=tls_registry.ca_file)
    with pytest.raises(AuthError, match="no credentials are configured"):
        client.get_manifest(parse_reference(f"{tls_registry.host}/alpine:3.10"))


@pytest.mark.registry
def test_untrusted_certificate_is_refused_without_falling_back_to_http(
    tls_registry: RegistryServer, make_client: MakeClient
) -> None:
    with pytest.raises(RegistryError, match="TLS certificate is not trusted"):
        make_client(retries=0).get_manifest(parse_reference(f"{tls_registry.host}/alpine:3.10"))


@pytest.mark.registry
def test_insecure_accepts_an_unverified_certificate(
    tls_registry: RegistryServer, make_client: MakeClient
) -> None:
    client = make_client(insecure=True, credentials=lambda host: Credentials(USERNAME, PASSWORD))
    _, media_type, _ = client.get_manifest(parse_reference(f"{tls_registry.host}/alpine:3.10"))
    assert media_type == DOCKER_MANIFEST


# -- bearer tokens (distribution's token auth, verified by the real registry) -------------------


@pytest.mark.registry
def test_bearer_token_flow_anonymous_pull(
    token_registry: RegistryServer, alpine_layout: AlpineLayout, make_client: MakeClient
) -> None:
    assert token_registry.token_server is not None
    tokens = token_registry.token_server.requests
    tokens.clear()
    client = make_client()
    ref = parse_reference(f"{token_registry.host}/alpine:{alpine_layout.tag}")
    with client.open_image(ref) as image:
        want = alpine_layout.platforms["amd64"]
        assert _sha256(_read_blob(image, want.layer_digest)) == want.layer_digest
    assert len(tokens) == 1  # one token per (host, scope), reused for every request
    assert tokens[0].query["scope"] == ["repository:alpine:pull"]
    assert tokens[0].query["service"] == [TOKEN_SERVICE]
    assert "authorization" not in tokens[0].headers


@pytest.mark.registry
def test_bearer_token_flow_with_credentials_sends_them_only_to_the_token_server(
    token_registry: RegistryServer,
    alpine_layout: AlpineLayout,
    make_client: MakeClient,
    local_server: MakeServer,
) -> None:
    assert token_registry.token_server is not None
    tokens = token_registry.token_server.requests
    tokens.clear()
    front = local_server(lambda req: forward(token_registry.url, req))
    seen: list[str] = []

    def lookup(host: str) -> Credentials | None:
        seen.append(host)
        return Credentials(USERNAME, PASSWORD) if host == front.host else None

    ref = parse_reference(f"{front.host}/private/alpine:{alpine_layout.tag}")
    with make_client(credentials=lookup).open_image(ref) as image:
        assert image.manifest_digest == alpine_layout.platforms["amd64"].manifest_digest
    assert set(seen) == {front.host}
    assert tokens and all(t.headers["authorization"].startswith("Basic ") for t in tokens)
    registry_auth = [r.headers.get("authorization", "") for r in front.requests]
    assert any(a.startswith("Bearer ") for a in registry_auth)
    assert not any(a.startswith("Basic ") for a in registry_auth)


@pytest.mark.registry
def test_bearer_token_without_credentials_for_private_repository_is_auth_error(
    token_registry: RegistryServer, alpine_layout: AlpineLayout, make_client: MakeClient
) -> None:
    ref = parse_reference(f"{token_registry.host}/private/alpine:{alpine_layout.tag}")
    with pytest.raises(AuthError) as info:
        make_client().get_manifest(ref)
    assert "private/alpine" in info.value.message
    assert "docker login" in (info.value.hint or "")


@pytest.mark.registry
def test_token_server_rejecting_credentials_is_auth_error(
    token_registry: RegistryServer, make_client: MakeClient
) -> None:
    client = make_client(credentials=lambda host: Credentials(USERNAME, "nope"))
    with pytest.raises(AuthError, match="rejected the credentials"):
        client.get_manifest(parse_reference(f"{token_registry.host}/alpine:3.10"))


@pytest.mark.registry
def test_bearer_token_catalog_scope(
    token_registry: RegistryServer, make_client: MakeClient
) -> None:
    client = make_client(credentials=lambda host: Credentials(USERNAME, PASSWORD))
    assert client.catalog(token_registry.host) == [
        "alpine",
        "multi",
        "private/alpine",
        "private/multi",
    ]
    assert token_registry.token_server is not None
    assert token_registry.token_server.requests[-1].query["scope"] == ["registry:catalog:*"]


# -- redirects ---------------------------------------------------------------------------------


def _basic_header(user: str, password: str) -> str:
    import base64

    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.mark.registry
def test_blob_redirect_to_another_host_carries_no_authorization(
    plain_registry: RegistryServer,
    alpine_layout: AlpineLayout,
    make_client: MakeClient,
    local_server: MakeServer,
) -> None:
    want = alpine_layout.platforms["amd64"]

    def storage(req: Recorded) -> Reply:
        digest = req.route.rsplit("/", 1)[1]
        fetched = Recorded("GET", f"/v2/alpine/blobs/{digest}", {})
        return forward(plain_registry.url, fetched)

    store = local_server(storage)

    def registry(req: Recorded) -> Reply:
        if req.headers.get("authorization") != _basic_header(USERNAME, PASSWORD):
            return Reply(401, {"WWW-Authenticate": 'Basic realm="test"'})
        if req.route.endswith(f"/blobs/{want.layer_digest}"):
            location = f"http://{store.localhost}/storage/{want.layer_digest}?sig=secret"
            return Reply(307, {"Location": location})
        return forward(plain_registry.url, req)

    front = local_server(registry)
    # Credentials for every host: only the redirect rule can keep them from the storage host.
    client = make_client(credentials=lambda host: Credentials(USERNAME, PASSWORD))
    ref = parse_reference(f"{front.host}/alpine:{alpine_layout.tag}")
    with client.open_image(ref) as image:
        assert _sha256(_read_blob(image, want.layer_digest)) == want.layer_digest
    assert len(store.requests) == 1
    assert "authorization" not in store.requests[0].headers
    assert any("authorization" in r.headers for r in front.requests)


def test_redirect_loop_stops_after_five_hops(
    make_client: MakeClient, local_server: MakeServer
) -> None:
    def loop(req: Recorded) -> Reply:
        if req.route == "/v2/":
            return Reply(200, {}, b"{}")
        return Reply(307, {"Location": f"{req.route}x"})

    server = local_server(loop)
    with pytest.raises(RegistryError, match="more than 5 redirects"):
        make_client().get_manifest(parse_reference(f"{server.host}/app:1"))
    assert len([r for r in server.requests if r.route != "/v2/"]) == 6


# -- retries -----------------------------------------------------------------------------------


@pytest.mark.registry
def test_429_then_success_retries_with_backoff(
    plain_registry: RegistryServer,
    make_client: MakeClient,
    local_server: MakeServer,
    sleeps: list[float],
) -> None:
    throttled: list[str] = []

    def throttle(req: Recorded) -> Reply:
        if "/manifests/" in req.route and len(throttled) < 2:
            throttled.append(req.route)
            return Reply(429, {"Content-Type": "application/json"}, b'{"errors":[]}')
        return forward(plain_registry.url, req)

    proxy = local_server(throttle)
    _, media_type, _ = make_client().get_manifest(parse_reference(f"{proxy.host}/alpine:3.10"))
    assert media_type == DOCKER_MANIFEST
    assert len(throttled) == 2
    assert sleeps == [0.01, 0.02]


def test_retry_after_is_honoured_and_capped(
    make_client: MakeClient, local_server: MakeServer, sleeps: list[float]
) -> None:
    answers = iter(
        [Reply(503, {"Retry-After": "1"}), Reply(429, {"Retry-After": "3600"}), Reply(404)]
    )

    def handler(req: Recorded) -> Reply:
        return Reply(200, {}, b"{}") if req.route == "/v2/" else next(answers)

    server = local_server(handler)
    with pytest.raises(ImageNotFoundError):
        make_client(max_retry_after=2.5).get_manifest(parse_reference(f"{server.host}/app:1"))
    assert sleeps == [1.0, 2.5]


def test_persistent_throttling_gives_up_with_registry_error(
    make_client: MakeClient, local_server: MakeServer, sleeps: list[float]
) -> None:
    def handler(req: Recorded) -> Reply:
        if req.route == "/v2/":
            return Reply(200, {}, b"{}")
        return Reply(
            429,
            {"Content-Type": "application/json"},
            b'{"errors":[{"code":"TOOMANYREQUESTS","message":"slow down"}]}',
        )

    server = local_server(handler)
    with pytest.raises(RegistryError) as info:
        make_client(retries=2).get_manifest(parse_reference(f"{server.host}/app:1"))
    assert "HTTP 429" in info.value.message and "slow down" in info.value.message
    assert len(sleeps) == 2


def test_download_dropped_mid_stream_is_retried_and_leaves_no_partial_file(
    make_client: MakeClient, local_server: MakeServer, cache: BlobCache, sleeps: list[float]
) -> None:
    files, _, config_digest, layer_digest = _tampered_image()
    good = files[f"/v2/evil/blobs/{layer_digest}"]
    served: list[bool] = []

    def handler(req: Recorded) -> Reply:
        if req.route == f"/v2/evil/blobs/{layer_digest}" and not served:
            served.append(True)
            return Reply(200, {}, good.body, truncate=True)
        return _static_registry(files)(req)

    server = local_server(handler)
    image = make_client().open_image(parse_reference(f"{server.host}/evil:1"))
    with image:
        assert _sha256(_read_blob(image, layer_digest)) == layer_digest
    assert served == [True]
    assert len(sleeps) == 1
    assert _files(cache.root) == sorted(
        [cache.path_for(config_digest), cache.path_for(layer_digest)]
    )


def test_unreachable_registry_is_retried_then_reported(
    make_client: MakeClient, sleeps: list[float]
) -> None:
    import socket

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(RegistryError, match=f"cannot reach registry 127.0.0.1:{port}"):
        make_client(retries=2).get_manifest(parse_reference(f"127.0.0.1:{port}/app:1"))
    assert len(sleeps) == 2


def test_registry_error_json_message_is_included(
    make_client: MakeClient, local_server: MakeServer
) -> None:
    body = b'{"errors":[{"code":"UNSUPPORTED","message":"the operation is unsupported"}]}'

    def handler(req: Recorded) -> Reply:
        if req.route == "/v2/":
            return Reply(200, {}, b"{}")
        return Reply(400, {"Content-Type": "application/json"}, body)

    server = local_server(handler)
    with pytest.raises(RegistryError) as info:
        make_client().get_manifest(parse_reference(f"{server.host}/app:1"))
    assert not isinstance(info.value, ImageNotFoundError | AuthError)
    assert "HTTP 400" in info.value.message
    assert "UNSUPPORTED: the operation is unsupported" in info.value.message


# -- a hostile registry ------------------------------------------------------------------------


def _static_registry(files: dict[str, Reply]) -> Handler:
    def handler(req: Recorded) -> Reply:
        if req.route == "/v2/":
            return Reply(200, {}, b"{}")
        if req.route in files:
            return files[req.route]
        return Reply(404, {}, b'{"errors":[{"code":"BLOB_UNKNOWN","message":"unknown"}]}')

    return handler


def _tampered_image(
    *, config_served: bytes | None = None, layer_served: bytes | None = None
) -> tuple[dict[str, Reply], str, str, str]:
    layer = gzip.compress(b"not really a tar")
    config = json.dumps(
        {"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}}
    ).encode()
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": _sha256(config),
                "size": len(config),
            },
            "layers": [
                {
                    "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": _sha256(layer),
                    "size": len(layer),
                }
            ],
        }
    ).encode()
    files = {
        "/v2/evil/manifests/1": Reply(200, {"Content-Type": OCI_MANIFEST}, manifest),
        f"/v2/evil/blobs/{_sha256(config)}": Reply(200, {}, config_served or config),
        f"/v2/evil/blobs/{_sha256(layer)}": Reply(200, {}, layer_served or layer),
    }
    return files, _sha256(manifest), _sha256(config), _sha256(layer)


def test_config_blob_not_matching_its_digest_is_refused_and_not_cached(
    make_client: MakeClient, local_server: MakeServer, cache: BlobCache
) -> None:
    files, _, config_digest, _ = _tampered_image(config_served=b'{"os":"linux","evil":true}')
    server = local_server(_static_registry(files))
    with pytest.raises(DigestMismatchError, match=config_digest):
        make_client().open_image(parse_reference(f"{server.host}/evil:1"))
    assert not cache.has(config_digest)
    assert _files(cache.root) == []


def test_layer_blob_not_matching_its_digest_is_refused_and_not_cached(
    make_client: MakeClient, local_server: MakeServer, cache: BlobCache
) -> None:
    files, _, config_digest, layer_digest = _tampered_image(
        layer_served=gzip.compress(b"evil tar!!")
    )
    server = local_server(_static_registry(files))
    image = make_client().open_image(parse_reference(f"{server.host}/evil:1"))
    with image, pytest.raises(DigestMismatchError):
        _read_blob(image, layer_digest)
    assert _files(cache.root) == [cache.path_for(config_digest)]


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_oversized_manifest_is_refused(
    make_client: MakeClient, local_server: MakeServer, chunked: bool
) -> None:
    body = b'{"schemaVersion":2,"padding":"' + b"x" * MAX_MANIFEST_BYTES + b'"}'
    reply = Reply(200, {"Content-Type": OCI_MANIFEST}, body, chunked=chunked)
    server = local_server(_static_registry({"/v2/big/manifests/1": reply}))
    with pytest.raises(RegistryError, match="more than the 4194304"):
        make_client().get_manifest(parse_reference(f"{server.host}/big:1"))


def test_manifest_not_matching_the_pinned_digest_is_refused(
    make_client: MakeClient, local_server: MakeServer
) -> None:
    files, _, _, _ = _tampered_image()
    wanted = _sha256(b"the manifest we asked for")
    files[f"/v2/evil/manifests/{wanted}"] = files["/v2/evil/manifests/1"]
    server = local_server(_static_registry(files))
    ref = parse_reference(f"{server.host}/evil@{wanted}")
    with pytest.raises(DigestMismatchError, match=wanted):
        make_client().get_manifest(ref)


def test_manifest_not_matching_docker_content_digest_is_refused(
    make_client: MakeClient, local_server: MakeServer
) -> None:
    files, _, _, _ = _tampered_image()
    reply = files["/v2/evil/manifests/1"]
    reply.headers["Docker-Content-Digest"] = _sha256(b"something else")
    server = local_server(_static_registry(files))
    with pytest.raises(DigestMismatchError, match="Docker-Content-Digest"):
        make_client().get_manifest(parse_reference(f"{server.host}/evil:1"))


def test_credentials_are_not_sent_to_a_plain_http_token_server_elsewhere(
    make_client: MakeClient, local_server: MakeServer
) -> None:
    challenge = 'Bearer realm="http://token.example.invalid/token",service="evil"'

    def handler(req: Recorded) -> Reply:
        return Reply(401, {"WWW-Authenticate": challenge})

    server = local_server(handler)
    client = make_client(credentials=lambda host: Credentials(USERNAME, PASSWORD))
    with pytest.raises(AuthError, match="refusing to send the credentials"):
        client.get_manifest(parse_reference(f"{server.host}/app:1"))


def test_identity_token_is_exchanged_for_an_access_token_with_post(
    make_client: MakeClient, local_server: MakeServer
) -> None:
    def token(req: Recorded) -> Reply:
        form = urllib.parse.parse_qs(req.body.decode())
        if req.method != "POST" or form.get("refresh_token") != ["refresh-123"]:
            return Reply(401)
        assert form["grant_type"] == ["refresh_token"]
        assert form["scope"] == ["repository:app:pull"]
        return Reply(200, {"Content-Type": "application/json"}, b'{"access_token":"acc-1"}')

    token_server = local_server(token)
    files, _, _, _ = _tampered_image()
    manifest = files["/v2/evil/manifests/1"]

    def registry(req: Recorded) -> Reply:
        if req.headers.get("authorization") != "Bearer acc-1":
            realm = f"http://{token_server.localhost}/token"
            return Reply(401, {"WWW-Authenticate": f'Bearer realm="{realm}",service="svc"'})
        return manifest

    server = local_server(registry)
    creds = Credentials("<token>", "", identity_token="refresh-123")
    body, _, _ = make_client(credentials=lambda host: creds).get_manifest(
        parse_reference(f"{server.host}/app:1")
    )
    assert body == manifest.body
    assert [r.method for r in token_server.requests] == ["POST"]
    assert "authorization" not in token_server.requests[0].headers


def test_basic_challenge_without_credentials_sends_nothing(
    make_client: MakeClient, local_server: MakeServer
) -> None:
    server = local_server(lambda req: Reply(401, {"WWW-Authenticate": 'Basic realm="r"'}))
    with pytest.raises(AuthError, match=f"registry {server.host} requires authentication"):
        make_client().get_manifest(parse_reference(f"{server.host}/app:1"))
    assert all("authorization" not in r.headers for r in server.requests)


# -- header parsing ----------------------------------------------------------------------------


def test_parse_bearer_challenge_with_quoted_commas_and_escapes() -> None:
    header = (
        'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",'
        'scope="repository:library/alpine:pull,push",error="insufficient_scope"'
    )
    assert parse_www_authenticate([header]) == [
        Challenge(
            "bearer",
            {
                "realm": "https://auth.docker.io/token",
                "service": "registry.docker.io",
                "scope": "repository:library/alpine:pull,push",
                "error": "insufficient_scope",
            },
        )
    ]


def test_parse_several_challenges_in_one_header() -> None:
    got = parse_www_authenticate(['Basic realm="a b", Bearer realm="https://t/x", service=s'])
    assert got == [
        Challenge("basic", {"realm": "a b"}),
        Challenge("bearer", {"realm": "https://t/x", "service": "s"}),
    ]


def test_parse_escaped_quote() -> None:
    got = parse_www_authenticate(['Basic realm="say \\"hi\\""'])
    assert got == [Challenge("basic", {"realm": 'say "hi"'})]

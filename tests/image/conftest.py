"""Real registries for the registry client's tests, and small in-process HTTP servers.

Session fixtures start Debian's ``docker-registry`` (distribution 2.8) on 127.0.0.1 with
storage in a temporary directory and push real images into it with ``skopeo``:

- ``plain_registry``: plain HTTP, anonymous;
- ``tls_registry``: TLS with a certificate from a test CA (``trustme``) and htpasswd (bcrypt)
  basic auth;
- ``token_registry``: plain HTTP with distribution's *token* auth; the token server is a real
  HTTP server in this process that issues ES256 JWTs signed by a test certificate the registry
  trusts (``rootcertbundle``), so the registry itself verifies every token.

Images pushed (from ../shared/realdata/images):

- ``multi:latest``: the multi-platform OCI layout (index of linux/amd64 and linux/arm64);
- ``alpine:3.10``: the ``docker save`` archive of alpine 3.10 (Docker schema 2);
- ``alpine:3.20.3``: an OCI layout built here from the official Alpine 3.20.3 minirootfs
  tarballs (x86_64 and aarch64; the tar.gz is the layer blob unchanged).

In-process servers (:class:`LocalServer`) front or imitate registries for the cases a real
registry cannot produce: throttling, redirects to another host, tampered content.
"""

from __future__ import annotations

import base64
import datetime
import gzip
import hashlib
import json
import os
import shutil
import socket
import ssl
import subprocess
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import realdata_path

DOCKER_REGISTRY = shutil.which("docker-registry")
SKOPEO = shutil.which("skopeo")
HTPASSWD = shutil.which("htpasswd")

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"

USERNAME = "user"
PASSWORD = "pass"
TOKEN_SERVICE = "baseguard-test-registry"
TOKEN_ISSUER = "baseguard-test-issuer"
READY_TIMEOUT = 30.0


# -- in-process HTTP servers ------------------------------------------------------------------


@dataclass
class Recorded:
    """One request a :class:`LocalServer` received."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes = b""

    @property
    def query(self) -> dict[str, list[str]]:
        return urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)

    @property
    def route(self) -> str:
        return urllib.parse.urlsplit(self.path).path


@dataclass
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    #: Send the body with chunked transfer encoding (no Content-Length).
    chunked: bool = False
    #: Declare the full length, send half the body, then drop the connection.
    truncate: bool = False


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that stop reading (a refused oversized body, say) reset the connection.
        pass


Handler = Callable[[Recorded], Reply]


class LocalServer:
    """A real HTTP/1.1 server on 127.0.0.1 in a thread, answering with ``handler``."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.requests: list[Recorded] = []
        outer = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                rec = Recorded(
                    self.command,
                    self.path,
                    {k.lower(): v for k, v in self.headers.items()},
                    body,
                )
                outer.requests.append(rec)
                try:
                    reply = outer.handler(rec)
                except Exception as exc:  # a broken test handler must not hang the client
                    reply = Reply(599, {}, f"test handler failed: {exc!r}".encode())
                self.send_response(reply.status)
                headers = {k.lower(): v for k, v in reply.headers.items()}
                for key, value in reply.headers.items():
                    if key.lower() not in ("content-length", "transfer-encoding", "connection"):
                        self.send_header(key, value)
                if reply.chunked:
                    self.send_header("Transfer-Encoding", "chunked")
                else:
                    declared = headers.get("content-length", str(len(reply.body)))
                    self.send_header("Content-Length", declared)
                self.end_headers()
                if self.command == "HEAD":
                    return
                if reply.truncate:
                    self.wfile.write(reply.body[: len(reply.body) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                if not reply.chunked:
                    self.wfile.write(reply.body)
                    return
                for i in range(0, len(reply.body), 1 << 16):
                    piece = reply.body[i : i + (1 << 16)]
                    self.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
                self.wfile.write(b"0\r\n\r\n")

            do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = _QuietServer(("127.0.0.1", 0), _Handler)
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def host(self) -> str:
        """``127.0.0.1:PORT``."""
        return f"127.0.0.1:{self.port}"

    @property
    def localhost(self) -> str:
        """``localhost:PORT``: the same server under a different host name."""
        return f"localhost:{self.port}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


_HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
    "proxy-authorization",
    "proxy-authenticate",
    "host",
    "content-length",
    "accept-encoding",
}


def forward(upstream: str, req: Recorded, *, verify: Any = True) -> Reply:
    """Send ``req`` on to ``upstream`` (``http://host:port``) and return its answer as is."""
    headers = {k: v for k, v in req.headers.items() if k not in _HOP_BY_HOP}
    with httpx.Client(verify=verify, follow_redirects=False, timeout=30) as client:
        resp = client.request(req.method, upstream + req.path, headers=headers, content=req.body)
    out = {k: v for k, v in resp.headers.items() if k.lower() not in _HOP_BY_HOP}
    out.pop("content-encoding", None)
    if req.method == "HEAD" and "content-length" in resp.headers:
        out["Content-Length"] = resp.headers["content-length"]
    return Reply(resp.status_code, out, resp.content if req.method != "HEAD" else b"")


@pytest.fixture
def local_server() -> Iterator[Callable[[Handler], LocalServer]]:
    """A factory of in-process HTTP servers, all shut down after the test."""
    servers: list[LocalServer] = []

    def make(handler: Handler) -> LocalServer:
        server = LocalServer(handler)
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.close()


# -- the real registry ------------------------------------------------------------------------


@dataclass
class RegistryServer:
    """A running ``docker-registry`` and what was pushed into it."""

    host: str
    scheme: str
    process: subprocess.Popen[bytes]
    log: Path
    ca_file: Path | None = None
    username: str | None = None
    password: str | None = None
    token_server: TokenServer | None = None

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}"

    def log_tail(self, n: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_ready(server: RegistryServer, verify: Any) -> None:
    """Poll ``/v2/`` until any HTTP answer arrives, with a bounded deadline."""
    deadline = time.monotonic() + READY_TIMEOUT
    last: Exception | None = None
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            pytest.fail(
                f"docker-registry exited with {server.process.returncode}:\n{server.log_tail()}"
            )
        try:
            httpx.get(f"{server.url}/v2/", verify=verify, timeout=1.0)
            return
        except httpx.TransportError as exc:
            last = exc
            time.sleep(0.05)
    server.process.kill()
    pytest.fail(f"docker-registry not ready after {READY_TIMEOUT}s ({last}):\n{server.log_tail()}")


def start_registry(
    workdir: Path,
    *,
    tls: tuple[Path, Path, Path] | None = None,
    htpasswd: Path | None = None,
    token: TokenServer | None = None,
) -> RegistryServer:
    """Start ``docker-registry serve`` on 127.0.0.1 (``tls`` = cert, key, CA file)."""
    if DOCKER_REGISTRY is None:
        pytest.skip("needs Debian's docker-registry (apt-get install docker-registry)")
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    lines = [
        "version: 0.1",
        "log:",
        "  level: info",
        "storage:",
        "  filesystem:",
        f"    rootdirectory: {workdir / 'storage'}",
        "  delete:",
        "    enabled: true",
        "  maintenance:",
        "    uploadpurging:",
        "      enabled: false",
        "http:",
        f"  addr: 127.0.0.1:{port}",
        "  secret: baseguard-test-secret",
    ]
    if tls:
        lines += ["  tls:", f"    certificate: {tls[0]}", f"    key: {tls[1]}"]
    if htpasswd:
        lines += ["auth:", "  htpasswd:", "    realm: baseguard-test", f"    path: {htpasswd}"]
    if token:
        lines += [
            "auth:",
            "  token:",
            f"    realm: http://{token.server.localhost}/token",
            f"    service: {TOKEN_SERVICE}",
            f"    issuer: {TOKEN_ISSUER}",
            f"    rootcertbundle: {token.root_cert}",
        ]
    config = workdir / "config.yml"
    config.write_text("\n".join(lines) + "\n")
    log = workdir / "registry.log"
    # distribution reads REGISTRY_* variables as config overrides: start it without them.
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
    with log.open("wb") as log_fh:
        process = subprocess.Popen(
            [DOCKER_REGISTRY, "serve", str(config)],
            stdout=log_fh,
            stderr=subprocess.STDOUT,
            env=env,
        )
    server = RegistryServer(
        host=f"127.0.0.1:{port}",
        scheme="https" if tls else "http",
        process=process,
        log=log,
        ca_file=tls[2] if tls else None,
        token_server=token,
    )
    _wait_ready(server, verify=ssl.create_default_context(cafile=str(tls[2])) if tls else True)
    return server


def stop_registry(server: RegistryServer) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait(timeout=10)


def skopeo_copy(
    source: str, dest: str, *, creds: str | None = None, all_images: bool = False
) -> None:
    """Push with skopeo (TLS not verified: the test registries use test certificates)."""
    if SKOPEO is None:
        pytest.skip("needs skopeo (apt-get install skopeo)")
    cmd = [SKOPEO, "--insecure-policy", "copy", "--dest-tls-verify=false"]
    if creds:
        cmd += ["--dest-creds", creds]
    if all_images:
        cmd.append("--all")
    cmd += [source, dest]
    env = {k: v for k, v in os.environ.items() if k != "REGISTRY_AUTH_FILE"}
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=240, env=env)
    if result.returncode != 0:
        pytest.fail(f"{' '.join(cmd)} failed:\n{result.stderr[-2000:]}")


# -- images -----------------------------------------------------------------------------------


@dataclass
class PlatformImage:
    manifest_digest: str
    config_digest: str
    layer_digest: str
    layer_size: int
    diff_id: str


@dataclass
class AlpineLayout:
    """An OCI layout of Alpine 3.20.3 (amd64 + arm64) built from the minirootfs tarballs."""

    path: Path
    tag: str
    index_digest: str
    platforms: dict[str, PlatformImage]


def _sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _write_blob(layout: Path, data: bytes) -> tuple[str, int]:
    digest = _sha256(data)
    (layout / "blobs" / "sha256" / digest.split(":", 1)[1]).write_bytes(data)
    return digest, len(data)


def build_alpine_layout(dest: Path) -> AlpineLayout:
    """Write an OCI layout whose layers are the official minirootfs tarballs, unchanged."""
    base = realdata_path("images", "alpine-minirootfs")
    version = "3.20.3"
    (dest / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
    (dest / "oci-layout").write_text(json.dumps({"imageLayoutVersion": "1.0.0"}))
    platforms: dict[str, PlatformImage] = {}
    entries = []
    for arch, variant, machine in (("amd64", None, "x86_64"), ("arm64", "v8", "aarch64")):
        layer = (base / f"alpine-minirootfs-{version}-{machine}.tar.gz").read_bytes()
        layer_digest, layer_size = _write_blob(dest, layer)
        diff_id = _sha256(gzip.decompress(layer))
        config: dict[str, Any] = {
            "created": "2024-09-06T12:00:00Z",
            "architecture": arch,
            "os": "linux",
            "config": {
                "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
                "Cmd": ["/bin/sh"],
            },
            "rootfs": {"type": "layers", "diff_ids": [diff_id]},
            "history": [
                {
                    "created": "2024-09-06T12:00:00Z",
                    "created_by": f"ADD alpine-minirootfs-{version}-{machine}.tar.gz /",
                }
            ],
        }
        if variant:
            config["variant"] = variant
        config_digest, config_size = _write_blob(dest, json.dumps(config).encode())
        manifest = {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_CONFIG, "digest": config_digest, "size": config_size},
            "layers": [{"mediaType": OCI_LAYER_GZIP, "digest": layer_digest, "size": layer_size}],
        }
        manifest_digest, manifest_size = _write_blob(dest, json.dumps(manifest).encode())
        platform: dict[str, str] = {"architecture": arch, "os": "linux"}
        if variant:
            platform["variant"] = variant
        entries.append(
            {
                "mediaType": OCI_MANIFEST,
                "digest": manifest_digest,
                "size": manifest_size,
                "platform": platform,
            }
        )
        platforms[arch] = PlatformImage(
            manifest_digest, config_digest, layer_digest, layer_size, diff_id
        )
    index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}
    index_digest, index_size = _write_blob(dest, json.dumps(index).encode())
    top = {
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [
            {
                "mediaType": OCI_INDEX,
                "digest": index_digest,
                "size": index_size,
                "annotations": {"org.opencontainers.image.ref.name": version},
            }
        ],
    }
    (dest / "index.json").write_text(json.dumps(top))
    return AlpineLayout(dest, version, index_digest, platforms)


@pytest.fixture(scope="session")
def alpine_layout(tmp_path_factory: pytest.TempPathFactory) -> AlpineLayout:
    return build_alpine_layout(tmp_path_factory.mktemp("alpine-layout"))


@dataclass
class Pushed:
    """What the session pushed, with the digests tests compare against."""

    alpine: AlpineLayout
    multi_layout: Path


def push_images(
    server: RegistryServer, alpine: AlpineLayout, scratch: Path, prefix: str = ""
) -> Pushed:
    creds = f"{server.username}:{server.password}" if server.username else None
    multi = realdata_path("images", "oci", "multiplatform_oci_dir")
    archive_gz = realdata_path("images", "docker-archive", "alpine-310.tar.gz")
    archive = scratch / "alpine-310.tar"
    if not archive.exists():
        with gzip.open(archive_gz, "rb") as src, archive.open("wb") as dst:
            shutil.copyfileobj(src, dst)
    dest = f"docker://{server.host}/{prefix}"
    skopeo_copy(f"oci:{multi}:latest", f"{dest}multi:latest", creds=creds, all_images=True)
    skopeo_copy(f"docker-archive:{archive}", f"{dest}alpine:3.10", creds=creds)
    skopeo_copy(
        f"oci:{alpine.path}:{alpine.tag}",
        f"{dest}alpine:{alpine.tag}",
        creds=creds,
        all_images=True,
    )
    return Pushed(alpine, multi)


def _need_tools() -> None:
    if DOCKER_REGISTRY is None:
        pytest.skip("needs Debian's docker-registry (apt-get install docker-registry)")
    if SKOPEO is None:
        pytest.skip("needs skopeo (apt-get install skopeo)")


@pytest.fixture(scope="session")
def plain_registry(
    tmp_path_factory: pytest.TempPathFactory, alpine_layout: AlpineLayout
) -> Iterator[RegistryServer]:
    """docker-registry over plain HTTP on 127.0.0.1, anonymous, with the test images."""
    _need_tools()
    work = tmp_path_factory.mktemp("plain-registry")
    server = start_registry(work)
    try:
        push_images(server, alpine_layout, work)
        yield server
    finally:
        stop_registry(server)


@pytest.fixture(scope="session")
def tls_registry(
    tmp_path_factory: pytest.TempPathFactory, alpine_layout: AlpineLayout
) -> Iterator[RegistryServer]:
    """docker-registry over TLS (test CA) with htpasswd basic auth (user/pass)."""
    _need_tools()
    if HTPASSWD is None:
        pytest.skip("needs htpasswd (apt-get install apache2-utils)")
    trustme = pytest.importorskip("trustme")
    work = tmp_path_factory.mktemp("tls-registry")
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    cert_file, key_file, ca_file = work / "cert.pem", work / "key.pem", work / "ca.pem"
    cert.private_key_and_cert_chain_pem.write_to_path(str(key_file))
    cert.cert_chain_pems[0].write_to_path(str(cert_file))
    for extra in cert.cert_chain_pems[1:]:
        extra.write_to_path(str(cert_file), append=True)
    ca.cert_pem.write_to_path(str(ca_file))
    htpasswd = work / "htpasswd"
    result = subprocess.run(
        [HTPASSWD, "-Bbn", USERNAME, PASSWORD], capture_output=True, text=True, check=True
    )
    htpasswd.write_text(result.stdout)
    server = start_registry(work, tls=(cert_file, key_file, ca_file), htpasswd=htpasswd)
    server.username, server.password = USERNAME, PASSWORD
    try:
        push_images(server, alpine_layout, work)
        yield server
    finally:
        stop_registry(server)


# -- token auth -------------------------------------------------------------------------------


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class TokenServer:
    """A token server for distribution's token auth: ES256 JWTs with an ``x5c`` chain.

    Policy: ``user``/``pass`` gets every action asked for; anonymous clients get ``pull`` on
    repositories outside ``private/``; wrong credentials get 401.
    """

    def __init__(self, workdir: Path) -> None:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID

        self._key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "baseguard test token issuer")])
        now = datetime.datetime.now(datetime.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self._key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(self._key, hashes.SHA256())
        )
        self.root_cert = workdir / "token-root.pem"
        self.root_cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        self._x5c = base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()
        self.server = LocalServer(self._handle)

    @property
    def requests(self) -> list[Recorded]:
        return self.server.requests

    def _jwt(self, claims: dict[str, Any]) -> str:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

        header = {"typ": "JWT", "alg": "ES256", "x5c": [self._x5c]}
        signing = f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(claims).encode())}"
        r, s = decode_dss_signature(self._key.sign(signing.encode(), ec.ECDSA(hashes.SHA256())))
        return f"{signing}.{_b64url(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"

    def _handle(self, req: Recorded) -> Reply:
        if req.route != "/token":
            return Reply(404)
        user = None
        auth = req.headers.get("authorization", "")
        if auth.lower().startswith("basic "):
            name, _, password = base64.b64decode(auth[6:]).decode().partition(":")
            if (name, password) != (USERNAME, PASSWORD):
                return Reply(401, {"Content-Type": "application/json"}, b'{"details":"bad creds"}')
            user = name
        access = []
        for scope in req.query.get("scope", []):
            for one in scope.split():
                kind, _, rest = one.partition(":")
                repo, _, actions = rest.rpartition(":")
                granted = actions.split(",")
                if user is None:
                    granted = [] if repo.startswith("private/") else ["pull"]
                    granted = [a for a in granted if a in actions.split(",")]
                access.append({"type": kind, "name": repo, "actions": granted})
        now = int(time.time())
        claims = {
            "iss": TOKEN_ISSUER,
            "sub": user or "",
            "aud": (req.query.get("service") or [""])[0],
            "exp": now + 300,
            "nbf": now - 10,
            "iat": now,
            "jti": os.urandom(8).hex(),
            "access": access,
        }
        body = json.dumps({"token": self._jwt(claims), "expires_in": 300}).encode()
        return Reply(200, {"Content-Type": "application/json"}, body)

    def close(self) -> None:
        self.server.close()


@pytest.fixture(scope="session")
def token_registry(
    tmp_path_factory: pytest.TempPathFactory, alpine_layout: AlpineLayout
) -> Iterator[RegistryServer]:
    """docker-registry over HTTP with token auth; realm ``http://localhost:PORT/token``."""
    _need_tools()
    pytest.importorskip("cryptography")
    work = tmp_path_factory.mktemp("token-registry")
    token = TokenServer(work)
    server = start_registry(work, token=token)
    server.username, server.password = USERNAME, PASSWORD
    try:
        push_images(server, alpine_layout, work)
        push_images(server, alpine_layout, work, prefix="private/")
        yield server
    finally:
        stop_registry(server)
        token.close()


@pytest.fixture
def docker_config(tmp_path: Path) -> Callable[[dict[str, Any]], Path]:
    """Write a docker config.json into a fresh DOCKER_CONFIG directory; returns its path."""

    def write(data: dict[str, Any]) -> Path:
        directory = tmp_path / "docker-config"
        directory.mkdir(exist_ok=True)
        path = directory / "config.json"
        path.write_text(json.dumps(data))
        return path

    return write


def basic_auth_entry(username: str, password: str) -> dict[str, str]:
    return {"auth": base64.b64encode(f"{username}:{password}".encode()).decode()}

"""A client for the OCI distribution API: manifests, blobs, tags and catalog, on one httpx client.

Rules it keeps (see DESIGN.md, "Untrusted input"):

- HTTPS by default; plain HTTP only for loopback registries (HTTPS tried first) or when
  ``insecure=True`` (which also accepts unverified TLS).
- Credentials and tokens go only to the registry host that asked for them (and registry
  credentials to the token realm it names). Redirects are followed by hand, at most
  :data:`MAX_REDIRECTS`, and the ``Authorization`` header is dropped when one leaves the
  registry's origin (blob storage on a CDN, say).
- Every manifest and blob is verified against its digest; manifests larger than
  :data:`MAX_MANIFEST_BYTES` are refused; blobs stream into the :class:`BlobCache` and are
  renamed into place only when verified.
- 429, 5xx and connection errors are retried with exponential backoff (``Retry-After``
  honoured, capped); other failures become :class:`~baseguard.errors.BaseguardError`
  subclasses that name the host, repository and reference.
"""

from __future__ import annotations

import base64
import email.utils
import hashlib
import json
import re
import ssl
import tempfile
import threading
import time
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

import httpx

from baseguard import __version__
from baseguard.errors import (
    AuthError,
    ImageError,
    ImageNotFoundError,
    RegistryError,
)
from baseguard.image.cache import BlobCache
from baseguard.image.credentials import CredentialLookup, Credentials
from baseguard.image.manifest import image_from_manifest, media_type_of, resolve_to_manifest
from baseguard.image.model import (
    DEFAULT_PLATFORM,
    DOCKER_LIST,
    DOCKER_MANIFEST,
    INDEX_TYPES,
    MANIFEST_TYPES,
    OCI_INDEX,
    OCI_MANIFEST,
    Descriptor,
    Image,
    Platform,
    load_json,
    validate_digest,
    verify_bytes,
)
from baseguard.refs import (
    DOCKER_HUB,
    DOCKER_HUB_ALIASES,
    DOCKER_HUB_API,
    Reference,
    is_loopback_host,
    parse_reference,
)

MANIFEST_ACCEPT = ", ".join([OCI_INDEX, OCI_MANIFEST, DOCKER_LIST, DOCKER_MANIFEST])
MAX_MANIFEST_BYTES = 4 << 20
MAX_CONFIG_BYTES = 16 << 20
MAX_LIST_BYTES = 16 << 20
MAX_ERROR_BODY = 64 << 10
MAX_TOKEN_BODY = 1 << 20
MAX_REDIRECTS = 5
MAX_PAGES = 10_000
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
NOT_FOUND_CODES = frozenset({"MANIFEST_UNKNOWN", "NAME_UNKNOWN", "BLOB_UNKNOWN"})
AUTH_CODES = frozenset({"UNAUTHORIZED", "DENIED"})
CHUNK_SIZE = 1 << 16

#: Called while a blob downloads: (digest, bytes done, total bytes or None).
ProgressFn = Callable[[str, int, int | None], None]


# -- WWW-Authenticate ----------------------------------------------------------------------


@dataclass(frozen=True)
class Challenge:
    """One ``WWW-Authenticate`` challenge: scheme (lowercase) and its parameters."""

    scheme: str
    params: dict[str, str] = field(default_factory=dict)


_TOKEN = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
_PARAM_RE = re.compile(rf'\s*({_TOKEN})\s*=\s*("(?:[^"\\]|\\.)*"|[^,\s]*)\s*,?')
_SCHEME_RE = re.compile(rf"\s*({_TOKEN})(?=\s|$|,)\s*,?")


def parse_www_authenticate(values: list[str]) -> list[Challenge]:
    """Parse ``WWW-Authenticate`` header values (several challenges allowed)."""
    out: list[Challenge] = []
    for value in values:
        pos = 0
        current: Challenge | None = None
        while pos < len(value):
            if value[pos] in " ,\t":
                pos += 1
                continue
            param = _PARAM_RE.match(value, pos)
            if param and current is not None:
                raw = param.group(2)
                if raw.startswith('"'):
                    raw = re.sub(r"\\(.)", r"\1", raw[1:-1])
                current.params[param.group(1).lower()] = raw
                pos = param.end()
                continue
            scheme = _SCHEME_RE.match(value, pos)
            if not scheme:
                break
            current = Challenge(scheme.group(1).lower(), {})
            out.append(current)
            pos = scheme.end()
    return out


# -- helpers -------------------------------------------------------------------------------


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    default = {"http": 80, "https": 443}.get(url.scheme)
    return (url.scheme, url.host.lower(), url.port or default)


def _safe_url(url: httpx.URL | str) -> str:
    """A URL without query or credentials, fit for error messages."""
    u = httpx.URL(url)
    port = f":{u.port}" if u.port else ""
    return f"{u.scheme}://{u.host}{port}{u.path}"


def _clean_text(text: str, limit: int = 400) -> str:
    text = "".join(c if c.isprintable() else " " for c in text).strip()
    return text if len(text) <= limit else text[:limit] + "…"


def _read_capped(resp: httpx.Response, limit: int, what: str) -> bytes:
    """The response body, refusing (with :class:`RegistryError`) more than ``limit`` bytes."""
    declared = resp.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise RegistryError(
            f"{what}: the registry sent {declared} bytes, more than the {limit} allowed",
            hint="the registry is misbehaving or hostile; baseguard refuses oversized documents",
        )
    buf = bytearray()
    for chunk in resp.iter_bytes():
        buf += chunk
        if len(buf) > limit:
            raise RegistryError(
                f"{what}: the registry sent more than the {limit} bytes allowed",
                hint="the registry is misbehaving or hostile; baseguard refuses oversized "
                "documents",
            )
    return bytes(buf)


def _error_details(resp: httpx.Response) -> tuple[set[str], str]:
    """Error codes and a readable message from a registry error response body."""
    try:
        body = _read_capped(resp, MAX_ERROR_BODY, "error response")
    except (RegistryError, httpx.HTTPError):
        body = b""
    codes: set[str] = set()
    parts: list[str] = []
    try:
        data = json.loads(body) if body else None
    except (ValueError, UnicodeDecodeError):
        data = None
    errors = data.get("errors") if isinstance(data, dict) else None
    if isinstance(errors, list):
        for err in errors:
            if not isinstance(err, dict):
                continue
            code = str(err.get("code") or "")
            message = str(err.get("message") or "")
            if code:
                codes.add(code.upper())
            parts.append(": ".join(p for p in (code, message) if p))
    elif isinstance(data, dict) and isinstance(data.get("details") or data.get("message"), str):
        parts.append(str(data.get("details") or data.get("message")))
    elif body and not body.lstrip().startswith(b"<"):
        parts.append(body.decode("utf-8", errors="replace"))
    return codes, _clean_text("; ".join(p for p in parts if p))


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


_LINK_RE = re.compile(r'<([^>]*)>\s*;[^,]*\brel="?next"?', re.IGNORECASE)


def _next_link(value: str | None) -> str | None:
    if not value:
        return None
    match = _LINK_RE.search(value)
    return match.group(1) if match else None


def _basic(creds: Credentials) -> str:
    raw = f"{creds.username}:{creds.password}".encode()
    return "Basic " + base64.b64encode(raw).decode("ascii")


def _pull_scope(repository: str) -> str:
    return f"repository:{repository}:pull"


def _api_host(registry: str) -> str:
    registry = registry.lower()
    return DOCKER_HUB_API if registry in DOCKER_HUB_ALIASES else registry


def _login_hint(registry: str) -> str:
    return (
        f"run `docker login {registry}`, or add credentials for {registry} to "
        "~/.docker/config.json (DOCKER_CONFIG and REGISTRY_AUTH_FILE are honoured)"
    )


def ca_context(ca_file: str | Path) -> ssl.SSLContext:
    """An SSL context that trusts the CA certificates in the PEM bundle ``ca_file``.

    A file that is missing, a directory, unreadable or holds no PEM certificate is a
    :class:`RegistryError` naming the file and what is wrong with it, raised here rather
    than as an ``OSError`` or ``ssl.SSLError`` at the first TLS handshake.
    """
    path = Path(ca_file)
    hint = "give a PEM file of CA certificates (-----BEGIN CERTIFICATE----- blocks)"
    if path.is_dir():
        raise RegistryError(f"CA file {path} is a directory, not a PEM file", hint=hint)
    try:
        return ssl.create_default_context(cafile=str(path))
    except FileNotFoundError:
        raise RegistryError(f"CA file {path} does not exist", hint=hint) from None
    except ssl.SSLError as exc:
        reason = (exc.reason or "").replace("_", " ").lower() or str(exc)
        raise RegistryError(
            f"CA file {path} holds no usable PEM CA certificate ({reason})", hint=hint
        ) from None
    except OSError as exc:
        raise RegistryError(
            f"CA file {path} cannot be read ({exc.strerror or exc})", hint=hint
        ) from None


# -- the client ----------------------------------------------------------------------------


class RegistryClient:
    """Talks to OCI/Docker registries. One instance holds one ``httpx.Client``; close it.

    ``credentials`` looks up :class:`Credentials` for a registry name (``docker.io`` or
    ``host[:port]``); a :class:`~baseguard.image.credentials.DockerConfig` fits.
    ``cache`` keeps downloaded blobs; without one, each opened image gets a scratch
    directory that is removed when the image is closed.
    """

    def __init__(
        self,
        insecure: bool = False,
        credentials: CredentialLookup | None = None,
        cache: BlobCache | None = None,
        retries: int = 4,
        backoff: float = 0.5,
        progress: ProgressFn | None = None,
        *,
        verify: bool | str | Path | ssl.SSLContext = True,
        ca_file: str | Path | None = None,
        timeout: float = 30.0,
        max_retry_after: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.insecure = insecure
        self.credentials = credentials
        self.cache = cache
        self.retries = max(0, retries)
        self.backoff = max(0.0, backoff)
        self.progress = progress
        self.max_retry_after = max_retry_after
        self._sleep = sleep
        tls: bool | ssl.SSLContext
        if insecure:
            tls = False
        elif ca_file is not None:
            tls = ca_context(ca_file)
        elif isinstance(verify, str | Path):
            tls = ca_context(verify)
        else:
            tls = verify
        self._client = httpx.Client(
            verify=tls,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 15.0)),
            follow_redirects=False,
            headers={"User-Agent": f"baseguard/{__version__}", "Accept-Encoding": "identity"},
        )
        self._schemes: dict[str, str] = {}
        self._challenges: dict[str, Challenge | None] = {}
        self._tokens: dict[tuple[str, str], tuple[str, float]] = {}
        self._scratch: tempfile.TemporaryDirectory[str] | None = None
        # Layers are fetched from several threads at once (see layers.build_fs): they must
        # share one scratch directory, not race to make (and collect) their own.
        self._scratch_lock = threading.Lock()

    # -- lifecycle --------------------------------------------------------------------------

    def close(self) -> None:
        self._client.close()
        if self._scratch is not None:
            self._scratch.cleanup()
            self._scratch = None

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- public API -------------------------------------------------------------------------

    def get_manifest(self, ref: Reference) -> tuple[bytes, str, str]:
        """Fetch the manifest or index ``ref`` names: ``(bytes, media type, digest)``.

        The bytes are verified against the reference's digest when it has one, and against
        the registry's ``Docker-Content-Digest`` header when it sends one.
        """
        what = f"{ref}: manifest"
        resp = self._pull_request(
            "GET", ref, f"manifests/{ref.identifier}", headers={"Accept": MANIFEST_ACCEPT}
        )
        with closing(resp):
            if resp.status_code != 200:
                raise self._error(resp, what, ref=ref)
            body = _read_capped(resp, MAX_MANIFEST_BYTES, what)
            content_type = resp.headers.get("content-type", "").split(";")[0].strip().lower()
            header_digest = resp.headers.get("docker-content-digest", "").strip()
        if ref.digest:
            verify_bytes(body, ref.digest, what)
        computed = "sha256:" + hashlib.sha256(body).hexdigest()
        digest = ref.digest or computed
        if header_digest:
            try:
                validate_digest(header_digest)
            except ImageError:
                header_digest = ""
        if header_digest:
            verify_bytes(body, header_digest, f"{what} (Docker-Content-Digest header)")
        doc = load_json(body, what)
        if not isinstance(doc, dict):
            raise ImageError(f"{what}: expected a JSON object")
        known = content_type if content_type in INDEX_TYPES | MANIFEST_TYPES else ""
        return body, media_type_of(doc, known), digest

    def fetch_blob(
        self,
        ref: Reference,
        digest: str,
        size: int | None = None,
        *,
        cache: BlobCache | None = None,
    ) -> Path:
        """Download blob ``digest`` from ``ref``'s repository into the cache; return its path.

        A cached blob of the right size is not downloaded again. The download is streamed,
        hashed and renamed into place only when it matches (:class:`DigestMismatchError`
        otherwise, with nothing left behind).
        """
        validate_digest(digest)
        store = cache or self.cache or self._scratch_cache()
        if store.has(digest, size):
            if self.progress is not None:
                done = store.size_of(digest) or 0
                self.progress(digest, done, done)
            return store.path_for(digest)
        what = f"{ref.name}: blob {digest}"
        attempt = 0
        while True:
            resp = self._pull_request("GET", ref, f"blobs/{digest}")
            with closing(resp):
                if resp.status_code != 200:
                    raise self._error(resp, what, ref=ref, blob=digest)
                total = size if size is not None and size >= 0 else None
                if total is None:
                    declared = resp.headers.get("content-length", "")
                    total = int(declared) if declared.isdigit() else None
                try:
                    return store.store_stream(
                        digest, self._chunks(resp, digest, total), size=size, what=what
                    )
                except httpx.TransportError as exc:
                    if attempt >= self.retries:
                        raise RegistryError(
                            f"{what}: download failed from {ref.api_host}: {exc}",
                            hint="check the network and try again",
                        ) from exc
            self._sleep(self._delay(attempt, None))
            attempt += 1

    def blob_size(self, ref: Reference, digest: str) -> int:
        """The size of a blob, asked of the registry with HEAD."""
        what = f"{ref.name}: blob {digest}"
        resp = self._pull_request("HEAD", ref, f"blobs/{digest}")
        with closing(resp):
            if resp.status_code != 200:
                raise self._error(resp, what, ref=ref, blob=digest)
            declared = resp.headers.get("content-length", "")
        if not declared.isdigit():
            raise RegistryError(f"{what}: the registry did not say how large it is")
        return int(declared)

    def open_image(self, ref: Reference, platform: Platform = DEFAULT_PLATFORM) -> Image:
        """Open ``ref`` for ``platform``: manifest and config now, layers on demand.

        The returned image's ``blobs`` downloads layers into the cache when they are opened,
        so keep this client open while the image is in use.
        """
        body, media_type, digest = self.get_manifest(ref)

        def fetch_manifest(desc: Descriptor) -> bytes:
            data, _, _ = self.get_manifest(ref.with_digest(desc.digest))
            return data

        manifest_bytes, manifest_digest, index_digest, annotations = resolve_to_manifest(
            body,
            digest,
            media_type,
            platform=platform,
            fetch=fetch_manifest,
            what=str(ref),
        )
        scratch: tempfile.TemporaryDirectory[str] | None = None
        cache = self.cache
        if cache is None:
            scratch = tempfile.TemporaryDirectory(prefix="baseguard-blobs-")
            cache = BlobCache(scratch.name)
        store = RegistryBlobStore(self, ref, cache)

        def fetch_config(desc: Descriptor) -> bytes:
            if desc.size > MAX_CONFIG_BYTES:
                raise ImageError(
                    f"{ref}: config blob {desc.digest} declares {desc.size} bytes, more than "
                    f"the {MAX_CONFIG_BYTES} allowed"
                )
            store.sizes[desc.digest] = desc.size
            with store.open_blob(desc.digest) as fh:
                return fh.read(MAX_CONFIG_BYTES + 1)

        try:
            image = image_from_manifest(
                reference=str(ref),
                source="registry",
                manifest_bytes=manifest_bytes,
                manifest_digest=manifest_digest,
                fetch=fetch_config,
                blobs=store,
                name=ref.name,
                index_digest=index_digest,
                annotations=annotations,
            )
        except BaseException:
            if scratch is not None:
                scratch.cleanup()
            raise
        for layer in image.layers:
            store.sizes[layer.digest] = layer.descriptor.size
        if scratch is not None:
            image.adopt(scratch)
        return image

    def list_tags(self, repo: Reference | str, *, page_size: int | None = None) -> list[str]:
        """Every tag of a repository, following ``Link`` pagination."""
        ref = parse_reference(repo) if isinstance(repo, str) else repo
        query = f"?n={page_size}" if page_size else ""
        return self._list_strings(
            ref.api_host,
            f"/v2/{ref.repository}/tags/list{query}",
            key="tags",
            scope=_pull_scope(ref.repository),
            repository=ref.repository,
            what=f"{ref.name}: tags",
            ref=ref,
        )

    def catalog(self, registry: str, *, page_size: int | None = None) -> list[str]:
        """Every repository a registry lists in ``/v2/_catalog``, following pagination."""
        host = _api_host(registry)
        query = f"?n={page_size}" if page_size else ""
        return self._list_strings(
            host,
            f"/v2/_catalog{query}",
            key="repositories",
            scope="registry:catalog:*",
            repository=None,
            what=f"{registry}: catalog",
            ref=None,
        )

    # -- transport: scheme, retries, redirects ----------------------------------------------

    def _scratch_cache(self) -> BlobCache:
        with self._scratch_lock:
            if self._scratch is None:
                self._scratch = tempfile.TemporaryDirectory(prefix="baseguard-blobs-")
            return BlobCache(self._scratch.name)

    def _delay(self, attempt: int, retry_after: str | None) -> float:
        hinted = _retry_after(retry_after)
        if hinted is not None:
            return min(hinted, self.max_retry_after)
        return float(min(self.backoff * (2**attempt), self.max_retry_after))

    def _chunks(self, resp: httpx.Response, digest: str, total: int | None) -> Iterator[bytes]:
        done = 0
        for chunk in resp.iter_bytes(CHUNK_SIZE):
            done += len(chunk)
            if self.progress is not None:
                self.progress(digest, done, total)
            yield chunk

    def _send(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        data: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """Send with retries (429/5xx/connection errors) and safe redirects; streaming."""
        attempt = 0
        while True:
            try:
                resp = self._follow(method, url, headers, data)
            except httpx.TransportError as exc:
                if attempt >= self.retries:
                    raise RegistryError(
                        f"{method} {_safe_url(url)} failed after {attempt + 1} attempt(s): "
                        f"{exc or type(exc).__name__}",
                        hint="check the network, the registry address and its TLS setup",
                    ) from exc
                self._sleep(self._delay(attempt, None))
                attempt += 1
                continue
            if resp.status_code in RETRY_STATUSES and attempt < self.retries:
                retry_after = resp.headers.get("retry-after")
                resp.close()
                self._sleep(self._delay(attempt, retry_after))
                attempt += 1
                continue
            return resp

    def _follow(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        data: Mapping[str, str] | None,
    ) -> httpx.Response:
        """One attempt, following redirects by hand; ``Authorization`` never leaves the origin."""
        current = httpx.URL(url)
        start = _origin(current)
        hdrs = dict(headers)
        for _ in range(MAX_REDIRECTS + 1):
            request = self._client.build_request(method, current, headers=hdrs, data=data)
            resp = self._client.send(request, stream=True)
            if resp.status_code not in REDIRECT_STATUSES:
                return resp
            location = resp.headers.get("location")
            resp.close()
            if not location:
                raise RegistryError(
                    f"{method} {_safe_url(current)}: redirect ({resp.status_code}) "
                    "without a Location"
                )
            target = current.join(location)
            if target.scheme not in ("http", "https"):
                raise RegistryError(
                    f"{method} {_safe_url(current)}: refusing redirect to a "
                    f"{target.scheme or 'relative'} URL"
                )
            if _origin(target) != start:
                hdrs = {k: v for k, v in hdrs.items() if k.lower() != "authorization"}
            if resp.status_code == 303 or (resp.status_code in (301, 302) and method == "POST"):
                method, data = "GET", None
            current = target
        raise RegistryError(
            f"{method} {_safe_url(url)}: more than {MAX_REDIRECTS} redirects",
            hint="the registry or its storage is redirecting in a loop",
        )

    def _base_url(self, host: str) -> str:
        scheme = self._schemes.get(host)
        if scheme is None:
            self._ping(host)
            scheme = self._schemes[host]
        return f"{scheme}://{host}"

    def _ping(self, host: str) -> None:
        """Find the scheme a registry speaks (``/v2/``) and remember its auth challenge."""
        fallback = self.insecure or is_loopback_host(host)
        schemes = ["https", "http"] if fallback else ["https"]
        errors: dict[str, Exception] = {}
        attempt = 0
        while True:
            for scheme in schemes:
                try:
                    resp = self._follow("GET", f"{scheme}://{host}/v2/", {}, None)
                except httpx.TransportError as exc:
                    errors[scheme] = exc
                    if scheme == "https" and "CERTIFICATE_VERIFY_FAILED" in str(exc):
                        raise RegistryError(
                            f"registry {host}: its TLS certificate is not trusted ({exc})",
                            hint="pass the CA that signed it (--ca-file), or --insecure if you "
                            "accept an unverified connection",
                        ) from exc
                    continue
                with closing(resp):
                    challenges = (
                        parse_www_authenticate(resp.headers.get_list("www-authenticate"))
                        if resp.status_code == 401
                        else []
                    )
                self._schemes[host] = scheme
                self._challenges[host] = _pick_challenge(challenges)
                return
            if attempt >= self.retries:
                detail = "; ".join(f"{s}: {e or type(e).__name__}" for s, e in errors.items())
                raise RegistryError(
                    f"cannot reach registry {host} ({detail})",
                    hint="check the registry address and the network"
                    + ("" if fallback else "; plain HTTP is used only with --insecure"),
                )
            self._sleep(self._delay(attempt, None))
            attempt += 1

    # -- auth -------------------------------------------------------------------------------

    def _creds(self, host: str) -> Credentials | None:
        if self.credentials is None:
            return None
        return self.credentials(DOCKER_HUB if host == DOCKER_HUB_API else host)

    def _auth_header(self, host: str, scope: str | None, *, fresh: bool = False) -> dict[str, str]:
        challenge = self._challenges.get(host)
        if challenge is None:
            return {}
        if challenge.scheme == "basic":
            creds = self._creds(host)
            return {"Authorization": _basic(creds)} if creds else {}
        key = (host, scope or challenge.params.get("scope", ""))
        cached = self._tokens.get(key)
        if cached and not fresh and cached[1] > time.monotonic():
            return {"Authorization": f"Bearer {cached[0]}"}
        token = self._fetch_token(host, challenge, scope)
        return {"Authorization": f"Bearer {token}"}

    def _fetch_token(self, host: str, challenge: Challenge, scope: str | None) -> str:
        """Get a bearer token from the realm the registry named (with its credentials)."""
        registry = DOCKER_HUB if host == DOCKER_HUB_API else host
        realm = challenge.params.get("realm", "")
        try:
            realm_url = httpx.URL(realm)
        except httpx.InvalidURL:
            realm_url = httpx.URL("")
        if realm_url.scheme not in ("http", "https") or not realm_url.host:
            raise AuthError(
                f"registry {host} asked for a bearer token but named no usable token server "
                f"(realm {_clean_text(realm, 200)!r})",
                hint="the registry is misconfigured",
            )
        wanted = scope or challenge.params.get("scope", "")
        params: list[tuple[str, str]] = []
        if challenge.params.get("service"):
            params.append(("service", challenge.params["service"]))
        params.extend(("scope", s) for s in wanted.split() if s)
        creds = self._creds(host)
        if (
            creds is not None
            and realm_url.scheme == "http"
            and not (self.insecure or is_loopback_host(realm_url.netloc.decode("ascii")))
        ):
            raise AuthError(
                f"registry {host} sends clients to token server {_safe_url(realm_url)} over "
                "plain HTTP; refusing to send the credentials for it there",
                hint="use --insecure only if you trust the network path",
            )
        headers: dict[str, str] = {}
        data: dict[str, str] | None = None
        method = "GET"
        if creds is not None and creds.identity_token:
            method = "POST"
            data = {
                "grant_type": "refresh_token",
                "refresh_token": creds.identity_token,
                "client_id": "baseguard",
            }
            data.update({k: v for k, v in params if k == "service"})
            if wanted:
                data["scope"] = wanted
            url = str(realm_url)
        else:
            if creds is not None:
                headers["Authorization"] = _basic(creds)
            query: list[tuple[str, str | int | float | bool | None]] = list(params)
            url = str(realm_url.copy_merge_params(httpx.QueryParams(query)))
        resp = self._send(method, url, headers, data)
        with closing(resp):
            if resp.status_code in (401, 403):
                _, detail = _error_details(resp)
                if creds is not None:
                    raise AuthError(
                        f"token server {_safe_url(realm_url)} rejected the credentials for "
                        f"{registry} (user {creds.username!r}): HTTP {resp.status_code}"
                        + (f": {detail}" if detail else ""),
                        hint=_login_hint(registry),
                    )
                raise AuthError(
                    f"token server {_safe_url(realm_url)} refused an anonymous token for "
                    f"{registry} ({wanted or 'no scope'}): HTTP {resp.status_code}",
                    hint=_login_hint(registry),
                )
            if resp.status_code != 200:
                _, detail = _error_details(resp)
                raise RegistryError(
                    f"token server {_safe_url(realm_url)} for {registry} answered HTTP "
                    f"{resp.status_code}" + (f": {detail}" if detail else "")
                )
            body = _read_capped(resp, MAX_TOKEN_BODY, f"token from {_safe_url(realm_url)}")
        try:
            payload = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise RegistryError(
                f"token server {_safe_url(realm_url)} sent a response that is not JSON"
            ) from exc
        token = (
            (payload.get("token") or payload.get("access_token"))
            if isinstance(payload, dict)
            else None
        )
        if (
            not isinstance(token, str)
            or not token
            or not token.isascii()
            or (any(c.isspace() or not c.isprintable() for c in token))
        ):
            raise RegistryError(f"token server {_safe_url(realm_url)} sent no usable token")
        expires = payload.get("expires_in", 60)
        lifetime = float(expires) if isinstance(expires, int | float) and expires > 0 else 60.0
        key = (host, scope or challenge.params.get("scope", ""))
        self._tokens[key] = (token, time.monotonic() + max(lifetime - 5.0, 1.0))
        return token

    def _pull_request(
        self, method: str, ref: Reference, path: str, headers: Mapping[str, str] | None = None
    ) -> httpx.Response:
        """``method`` on ``/v2/<ref's repository>/<path>`` with pull scope (as
        :meth:`_registry_request`)."""
        return self._registry_request(
            method,
            ref.api_host,
            f"/v2/{ref.repository}/{path}",
            scope=_pull_scope(ref.repository),
            repository=ref.repository,
            headers=headers,
        )

    def _registry_request(
        self,
        method: str,
        host: str,
        path: str,
        *,
        scope: str | None,
        repository: str | None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """A request to the registry API with auth handled; raises :class:`AuthError`.

        Any other status is returned (streaming) for the caller to interpret.
        """
        url = self._base_url(host) + path
        extra = dict(headers or {})
        resp = self._send(method, url, {**extra, **self._auth_header(host, scope)})
        if resp.status_code == 401:
            challenge = _pick_challenge(
                parse_www_authenticate(resp.headers.get_list("www-authenticate"))
            )
            resp.close()
            if challenge is None:
                raise self._auth_error(host, repository, "without a usable challenge", 401)
            self._challenges[host] = challenge
            if challenge.scheme == "basic" and self._creds(host) is None:
                raise self._auth_error(host, repository, "and no credentials are configured", 401)
            auth = self._auth_header(host, scope, fresh=True)
            resp = self._send(method, url, {**extra, **auth})
            if resp.status_code == 401:
                _, detail = _error_details(resp)
                resp.close()
                raise self._auth_error(host, repository, detail, 401)
        if resp.status_code == 403:
            _, detail = _error_details(resp)
            resp.close()
            raise self._auth_error(host, repository, detail, 403)
        return resp

    def _auth_error(self, host: str, repository: str | None, detail: str, status: int) -> AuthError:
        registry = DOCKER_HUB if host == DOCKER_HUB_API else host
        what = f"repository {repository}" if repository else "the catalog"
        creds = self._creds(host)
        if status == 403:
            message = f"registry {registry} denied access to {what} (HTTP 403)"
        elif creds is not None:
            challenge = self._challenges.get(host)
            if challenge is not None and challenge.scheme == "bearer":
                message = (
                    f"registry {registry} did not grant user {creds.username!r} access to "
                    f"{what} (HTTP 401)"
                )
            else:
                message = (
                    f"registry {registry} refused the credentials for {registry} "
                    f"(user {creds.username!r}) on {what} (HTTP 401)"
                )
        else:
            message = f"registry {registry} requires authentication for {what} (HTTP 401)"
        if detail:
            message += f" {detail}" if detail.startswith("and ") else f": {detail}"
        hint = _login_hint(registry)
        if repository and creds is None:
            hint += "; the repository may also not exist"
        return AuthError(message, hint=hint)

    # -- errors and pagination --------------------------------------------------------------

    def _error(
        self,
        resp: httpx.Response,
        what: str,
        *,
        ref: Reference | None,
        blob: str | None = None,
    ) -> Exception:
        codes, detail = _error_details(resp)
        status = resp.status_code
        host = resp.request.url.netloc.decode("ascii")
        suffix = f": {detail}" if detail else ""
        if status == 404 or codes & NOT_FOUND_CODES:
            if blob is not None:
                thing = f"blob {blob} of {ref.name if ref else host}"
            else:
                thing = f"image {ref}" if ref else what
            return ImageNotFoundError(
                f"{thing} not found on registry {host} (HTTP {status}){suffix}",
                hint="check the repository name and the tag or digest (and that you are "
                "pointing at the right registry)",
            )
        if codes & AUTH_CODES:
            return self._auth_error(
                ref.api_host if ref else host, ref.repository if ref else None, detail, status
            )
        return RegistryError(
            f"{what}: registry {host} answered HTTP {status}{suffix}",
            hint="the registry may be unavailable or misbehaving; try again later"
            if status >= 500
            else None,
        )

    def paginate(
        self,
        host: str,
        path: str,
        *,
        scope: str,
        repository: str | None,
        what: str,
        ref: Reference | None,
        headers: Mapping[str, str] | None = None,
        absent: Collection[int] = (),
        max_pages: int = MAX_PAGES,
        partial_ok: bool = False,
    ) -> Iterator[object]:
        """The JSON document of each page of a registry list, following ``Link: rel="next"``.

        Each page is at most :data:`MAX_LIST_BYTES`; a next-page link to another origin is a
        :class:`RegistryError` (credentials stay with the registry). More than ``max_pages``
        pages, or a link back to a page already read, is a :class:`RegistryError`, or with
        ``partial_ok`` the end of the pages (for callers that take a bounded part of a list).
        A status in ``absent`` on the first page ends the pages before any: the registry
        does not serve this list. Any other status but 200 raises the registry's error.
        """
        seen: set[str] = set()
        current = path
        for _ in range(max_pages):
            seen.add(current)
            resp = self._registry_request(
                "GET", host, current, scope=scope, repository=repository, headers=headers
            )
            with closing(resp):
                if resp.status_code in absent and len(seen) == 1:
                    return
                if resp.status_code != 200:
                    raise self._error(resp, what, ref=ref)
                body = _read_capped(resp, MAX_LIST_BYTES, what)
                link = resp.headers.get("link")
                base = resp.request.url
            yield load_json(body, what)
            nxt = _next_link(link)
            if not nxt:
                return
            target = base.join(nxt)
            if _origin(target) != _origin(base):
                raise RegistryError(
                    f"{what}: the next-page link points to another host ({_safe_url(target)})",
                    hint="baseguard does not send registry credentials to other hosts",
                )
            current = target.raw_path.decode("ascii")
            if current in seen:
                if partial_ok:
                    return
                raise RegistryError(f"{what}: pagination links loop back to {current}")
        if not partial_ok:
            raise RegistryError(f"{what}: more than {max_pages} pages")

    def _list_strings(
        self,
        host: str,
        path: str,
        *,
        key: str,
        scope: str,
        repository: str | None,
        what: str,
        ref: Reference | None,
    ) -> list[str]:
        """Every string of the ``key`` lists of the pages :meth:`paginate` reads."""
        out: list[str] = []
        for data in self.paginate(
            host, path, scope=scope, repository=repository, what=what, ref=ref
        ):
            items = data.get(key) if isinstance(data, dict) else None
            if items is None:
                items = []
            if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
                raise RegistryError(f"{what}: {key!r} is not a list of strings")
            out.extend(items)
        return out


def _pick_challenge(challenges: list[Challenge]) -> Challenge | None:
    for scheme in ("bearer", "basic"):
        for challenge in challenges:
            if challenge.scheme == scheme:
                return challenge
    return None


class RegistryBlobStore:
    """The :class:`~baseguard.image.model.BlobStore` of a registry image: download, then open.

    Blobs are fetched on first use into the cache (verified) and opened from there.
    """

    def __init__(
        self,
        client: RegistryClient,
        ref: Reference,
        cache: BlobCache,
        sizes: Mapping[str, int] | None = None,
    ) -> None:
        self.client = client
        self.ref = ref
        self.cache = cache
        self.sizes: dict[str, int] = dict(sizes or {})

    def open_blob(self, digest: str) -> IO[bytes]:
        """The verified blob as a seekable local file (downloaded on first use)."""
        path = self.client.fetch_blob(self.ref, digest, self.sizes.get(digest), cache=self.cache)
        return path.open("rb")

    def blob_size(self, digest: str) -> int:
        """The blob's size: from its descriptor, the cache, or the registry."""
        known = self.sizes.get(digest)
        if known is not None and known >= 0:
            return known
        cached = self.cache.size_of(digest)
        if cached is not None:
            return cached
        size = self.client.blob_size(self.ref, digest)
        self.sizes[digest] = size
        return size

"""Live cluster inventory through the Kubernetes API: running pods' images and image IDs.

Credentials come from a kubeconfig (``--kubeconfig``, ``$KUBECONFIG`` or ``~/.kube/config``,
with ``--context``) or, inside a pod, from the service account. Supported: bearer tokens,
client certificates, basic auth, the cluster CA or ``insecure-skip-tls-verify``. ``exec`` and
``auth-provider`` plugins are not run (say so, and use a token).
"""

from __future__ import annotations

import base64
import os
import re
import ssl
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

from baseguard.errors import BaseguardError
from baseguard.inventory.model import ImageUse, InventoryIssue, Location
from baseguard.inventory.sources.base import normalise

SA_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")
PAGE_SIZE = 500
MAX_PAGES = 10_000
MAX_KUBECONFIG_BYTES = 1 << 20
STATUS_LISTS = (
    ("containers", "containerStatuses", "runtime"),
    ("initContainers", "initContainerStatuses", "init"),
    ("ephemeralContainers", "ephemeralContainerStatuses", "ephemeral"),
)
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")


class ClusterError(BaseguardError):
    """The cluster could not be reached or refused us."""


@dataclass
class ClusterAccess:
    """How to talk to one API server."""

    server: str
    context: str
    headers: dict[str, str] = field(default_factory=dict)
    verify: ssl.SSLContext | bool = True
    cert: tuple[str, str] | None = None
    _tmp: list[str] = field(default_factory=list)

    def cleanup(self) -> None:
        for path in self._tmp:
            Path(path).unlink(missing_ok=True)


def _data_file(access: ClusterAccess, data_b64: str, what: str) -> str:
    try:
        data = base64.b64decode(data_b64, validate=False)
    except ValueError as exc:
        raise ClusterError(f"kubeconfig: {what} is not valid base64") from exc
    fd, path = tempfile.mkstemp(prefix="baseguard-kube-")
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    access._tmp.append(path)
    return path


def _resolve(base: Path, value: str) -> str:
    path = Path(value).expanduser()
    return str(path if path.is_absolute() else base.parent / path)


def load_kubeconfig(path: Path | None = None, context: str | None = None) -> ClusterAccess:
    """Access details for ``context`` (or the current context) of a kubeconfig file."""
    if path is None:
        env = os.environ.get("KUBECONFIG", "")
        path = Path(env.split(os.pathsep)[0]) if env else Path.home() / ".kube" / "config"
    if not path.is_file():
        raise ClusterError(
            f"no kubeconfig at {path}",
            hint="pass --kubeconfig FILE, set KUBECONFIG, or run inside the cluster",
        )
    raw = path.read_bytes()
    if len(raw) > MAX_KUBECONFIG_BYTES:
        raise ClusterError(f"{path}: kubeconfig larger than {MAX_KUBECONFIG_BYTES} bytes")
    try:
        doc = yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        raise ClusterError(f"{path}: not valid YAML ({exc})") from exc
    if not isinstance(doc, dict):
        raise ClusterError(f"{path}: not a kubeconfig")
    contexts = _named(path, doc, "contexts", "context")
    if not contexts:
        raise ClusterError(
            f"{path}: the kubeconfig has no contexts",
            hint="pass a kubeconfig that defines a context (kubectl config get-contexts), "
            "or run inside the cluster",
        )
    listed = ", ".join(sorted(str(c) for c in contexts))
    name = context or doc.get("current-context")
    if not name:
        raise ClusterError(
            f"{path}: the kubeconfig has no current-context",
            hint=f"pass --context NAME (contexts: {listed})",
        )
    if not isinstance(name, str):
        raise ClusterError(f"{path}: current-context is not a string", hint=f"contexts: {listed}")
    if name not in contexts:
        raise ClusterError(f"{path}: no context {name!r}", hint=f"contexts: {listed}")
    ctx = contexts[name]
    for member in ("cluster", "user"):
        if ctx.get(member) is not None and not isinstance(ctx[member], str):
            raise ClusterError(f"{path}: context {name!r}: {member} is not a string")
    clusters = _named(path, doc, "clusters", "cluster")
    users = _named(path, doc, "users", "user")
    cluster = clusters.get(ctx.get("cluster"))
    if not cluster or not cluster.get("server"):
        raise ClusterError(f"{path}: context {name!r} names no cluster with a server")
    user = users.get(ctx.get("user")) or {}
    access = ClusterAccess(server=str(cluster["server"]).rstrip("/"), context=str(name))
    if cluster.get("insecure-skip-tls-verify"):
        access.verify = False
    elif cluster.get("certificate-authority-data"):
        ca = _data_file(access, cluster["certificate-authority-data"], "certificate-authority")
        access.verify = ssl.create_default_context(cafile=ca)
    elif cluster.get("certificate-authority"):
        access.verify = ssl.create_default_context(
            cafile=_resolve(path, cluster["certificate-authority"])
        )
    if user.get("exec") or user.get("auth-provider"):
        raise ClusterError(
            f"{path}: user of context {name!r} uses an exec/auth-provider plugin",
            hint="baseguard does not run credential plugins; use a service-account token",
        )
    if user.get("token"):
        access.headers["Authorization"] = f"Bearer {user['token']}"
    elif user.get("tokenFile"):
        token = Path(_resolve(path, user["tokenFile"])).read_text().strip()
        access.headers["Authorization"] = f"Bearer {token}"
    elif user.get("username") and user.get("password"):
        pair = base64.b64encode(f"{user['username']}:{user['password']}".encode()).decode()
        access.headers["Authorization"] = f"Basic {pair}"
    cert = user.get("client-certificate-data") or user.get("client-certificate")
    key = user.get("client-key-data") or user.get("client-key")
    if cert and key:
        if user.get("client-certificate-data"):
            access.cert = (
                _data_file(access, cert, "client-certificate"),
                _data_file(access, key, "client-key"),
            )
        else:
            access.cert = (_resolve(path, cert), _resolve(path, key))
    return access


def _named(path: Path, doc: dict[str, Any], key: str, inner: str) -> dict[Any, dict[str, Any]]:
    """A kubeconfig list (contexts, clusters, users) as name → its ``inner`` mapping."""
    items = doc.get(key) or []
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise ClusterError(f"{path}: {key} must be a list of mappings with a name")
    out: dict[Any, dict[str, Any]] = {}
    for number, item in enumerate(items):
        if item.get("name") is not None and not isinstance(item["name"], str):
            raise ClusterError(f"{path}: {key} entry {number}: name is not a string")
        value = item.get(inner) or {}
        if not isinstance(value, dict):
            raise ClusterError(
                f"{path}: {key} entry {item.get('name')!r}: {inner} is not a mapping"
            )
        out[item.get("name")] = value
    return out


def in_cluster_access() -> ClusterAccess | None:
    host, port = (
        os.environ.get("KUBERNETES_SERVICE_HOST"),
        os.environ.get("KUBERNETES_SERVICE_PORT", "443"),
    )
    token = SA_DIR / "token"
    if not host or not token.is_file():
        return None
    access = ClusterAccess(server=f"https://{host}:{port}", context="in-cluster")
    access.headers["Authorization"] = f"Bearer {token.read_text().strip()}"
    if (SA_DIR / "ca.crt").is_file():
        access.verify = ssl.create_default_context(cafile=str(SA_DIR / "ca.crt"))
    return access


def _client(access: ClusterAccess) -> httpx.Client:
    verify: ssl.SSLContext | bool = access.verify
    if access.cert is not None:
        ctx = verify if isinstance(verify, ssl.SSLContext) else ssl.create_default_context()
        if verify is False:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        ctx.load_cert_chain(*access.cert)
        verify = ctx
    return httpx.Client(
        base_url=access.server,
        headers=access.headers,
        verify=verify,
        timeout=30.0,
        follow_redirects=False,
    )


def list_pods(access: ClusterAccess, namespace: str | None = None) -> Iterator[dict[str, Any]]:
    """Every pod, page by page (``limit``/``continue``)."""
    path = f"/api/v1/namespaces/{namespace}/pods" if namespace else "/api/v1/pods"
    token: str | None = None
    with _client(access) as client:
        for _ in range(MAX_PAGES):
            params: dict[str, str | int] = {"limit": PAGE_SIZE}
            if token:
                params["continue"] = token
            try:
                resp = client.get(path, params=params)
            except httpx.HTTPError as exc:
                raise ClusterError(
                    f"{access.server}: cannot reach the API server ({exc})",
                    hint="check the kubeconfig's server and network",
                ) from exc
            if resp.status_code in (401, 403):
                raise ClusterError(
                    f"{access.server}: listing pods was refused ({resp.status_code})",
                    hint="the credentials need get/list on pods (cluster-wide or in the namespace)",
                )
            if resp.status_code != 200:
                raise ClusterError(f"{access.server}{path}: HTTP {resp.status_code}")
            try:
                doc = resp.json()
            except ValueError as exc:
                raise ClusterError(f"{access.server}{path}: response is not JSON") from exc
            yield from doc.get("items") or []
            token = (doc.get("metadata") or {}).get("continue")
            if not token:
                return
        raise ClusterError(f"{access.server}: more than {MAX_PAGES} pages of pods")


def digest_of(image_id: str) -> str | None:
    """The digest in a container status imageID (``repo@sha256:…``, ``docker-pullable://…``)."""
    match = _DIGEST.search(image_id or "")
    return match.group(0) if match else None


def pod_uses(pod: dict[str, Any], context: str) -> tuple[list[ImageUse], list[InventoryIssue]]:
    uses: list[ImageUse] = []
    issues: list[InventoryIssue] = []
    meta = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    status = pod.get("status") or {}
    for spec_key, status_key, role in STATUS_LISTS:
        ids = {s.get("name"): s for s in status.get(status_key) or [] if isinstance(s, dict)}
        for container in spec.get(spec_key) or []:
            raw = container.get("image")
            if not raw:
                continue
            ref = normalise(raw)
            loc = Location(
                file=f"cluster:{context}",
                namespace=meta.get("namespace"),
                kind="Pod",
                name=meta.get("name"),
                container=container.get("name"),
            )
            if ref is None:
                issues.append(InventoryIssue(str(loc), f"invalid image reference {raw!r}"))
                continue
            state = ids.get(container.get("name")) or {}
            uses.append(
                ImageUse(
                    ref,
                    raw,
                    role,
                    "cluster",
                    loc,
                    digest=digest_of(str(state.get("imageID") or "")),
                )
            )
    return uses, issues


def inventory_cluster(
    access: ClusterAccess, namespace: str | None = None
) -> tuple[list[ImageUse], list[InventoryIssue], int]:
    """All running pods' images: (uses, issues, pod count)."""
    uses: list[ImageUse] = []
    issues: list[InventoryIssue] = []
    count = 0
    try:
        for pod in list_pods(access, namespace):
            count += 1
            u, i = pod_uses(pod, access.context)
            uses.extend(u)
            issues.extend(i)
    finally:
        access.cleanup()
    return uses, issues, count

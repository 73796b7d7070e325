"""Find what is attached to an image digest: OCI 1.1 referrers and cosign's tags.

Three places are looked at, in this order:

1. the referrers API, ``GET /v2/<name>/referrers/<digest>`` (OCI distribution 1.1): an index
   of the manifests whose ``subject`` is the digest;
2. when the registry does not implement it (404, 400 or 405), the *referrers tag schema*
   fallback: an index tagged ``sha256-<hex>`` that clients maintain;
3. cosign's tag scheme: ``sha256-<hex>.sig`` (signatures), ``.att`` (attestations) and
   ``.sbom`` (an attached, unsigned SBOM).

Every manifest is fetched by digest and verified against it by the registry client; a
referrer whose ``subject`` is another digest is skipped with a note (a stale or hostile
fallback index must not smuggle in someone else's attestations).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx

from baseguard.errors import ImageNotFoundError, RegistryError
from baseguard.image.model import INDEX_TYPES, OCI_INDEX, load_json, validate_digest
from baseguard.image.registry import RegistryClient, _pull_scope
from baseguard.refs import Reference

VIA_REFERRERS_API = "referrers-api"
VIA_REFERRERS_TAG = "referrers-tag"
VIA_COSIGN_TAG = "cosign-tag"
COSIGN_SUFFIXES = (".sig", ".att", ".sbom")
#: At most this many referrers are looked at (a registry could list millions).
MAX_REFERRERS = 500
MAX_REFERRER_PAGES = 20
_UNSUPPORTED = frozenset({400, 404, 405})


@dataclass(frozen=True)
class Attachment:
    """One manifest attached to the image, and how it was found."""

    via: str
    location: str
    digest: str
    artifact_type: str
    manifest: dict[str, Any]

    @property
    def layers(self) -> list[dict[str, Any]]:
        layers = self.manifest.get("layers")
        return [x for x in layers if isinstance(x, dict)] if isinstance(layers, list) else []

    @property
    def annotations(self) -> dict[str, str]:
        ann = self.manifest.get("annotations")
        return {str(k): str(v) for k, v in ann.items()} if isinstance(ann, dict) else {}


@dataclass
class Discovery:
    """What :func:`discover` found for ``digest``."""

    digest: str
    attachments: list[Attachment] = field(default_factory=list)
    #: True: the registry answered the referrers API; False: it does not implement it.
    referrers_api: bool = False
    notes: list[str] = field(default_factory=list)


def cosign_tag(digest: str, suffix: str) -> str:
    """``sha256:abc…`` + ``.sig`` → ``sha256-abc….sig`` (cosign's tag for the attachment)."""
    validate_digest(digest)
    return digest.replace(":", "-", 1) + suffix


def referrers_tag(digest: str) -> str:
    """The referrers tag schema's tag for ``digest``: ``sha256-<hex>``."""
    return cosign_tag(digest, "")


def referrers_api(
    client: RegistryClient, ref: Reference, digest: str
) -> list[dict[str, Any]] | None:
    """The descriptors the referrers API lists for ``digest``; ``None`` if unsupported.

    At most :data:`MAX_REFERRER_PAGES` pages are read; a link back to a page already read
    ends the list.
    """
    validate_digest(digest)
    what = f"{ref.name}: referrers of {digest}"
    pages = client.paginate(
        ref.api_host,
        f"/v2/{ref.repository}/referrers/{digest}",
        scope=_pull_scope(ref.repository),
        repository=ref.repository,
        what=what,
        ref=ref,
        headers={"Accept": OCI_INDEX},
        absent=_UNSUPPORTED,
        max_pages=MAX_REFERRER_PAGES,
        partial_ok=True,
    )
    answered = False
    out: list[dict[str, Any]] = []
    for doc in pages:
        answered = True
        manifests = doc.get("manifests") if isinstance(doc, dict) else None
        if manifests is None:
            manifests = []
        if not isinstance(manifests, list):
            raise RegistryError(f"{what}: 'manifests' is not a list")
        out.extend(m for m in manifests if isinstance(m, dict))
    return out[:MAX_REFERRERS] if answered else None


def _get_index(client: RegistryClient, ref: Reference) -> dict[str, Any] | None:
    try:
        body, media_type, _ = client.get_manifest(ref)
    except ImageNotFoundError:
        return None
    doc = load_json(body, str(ref))
    if media_type not in INDEX_TYPES or not isinstance(doc, dict):
        return None
    return doc


def _get_manifest(client: RegistryClient, ref: Reference) -> tuple[dict[str, Any], str] | None:
    try:
        body, _, digest = client.get_manifest(ref)
    except ImageNotFoundError:
        return None
    doc = load_json(body, str(ref))
    return (doc, digest) if isinstance(doc, dict) else None


def _subject_digest(manifest: dict[str, Any]) -> str | None:
    subject = manifest.get("subject")
    digest = subject.get("digest") if isinstance(subject, dict) else None
    return digest if isinstance(digest, str) else None


def discover(client: RegistryClient, ref: Reference, digest: str) -> Discovery:
    """Find the referrers and cosign attachments of ``digest`` in ``ref``'s repository."""
    found = Discovery(digest=digest)
    descriptors = None
    try:
        descriptors = referrers_api(client, ref, digest)
    except httpx.HTTPError as exc:  # pragma: no cover - the client wraps transport errors
        found.notes.append(f"referrers API failed: {exc}")
    via = VIA_REFERRERS_API
    if descriptors is None:
        via = VIA_REFERRERS_TAG
        tag = referrers_tag(digest)
        index = _get_index(client, ref.with_tag(tag))
        raw = index.get("manifests") if index else None
        descriptors = [d for d in raw if isinstance(d, dict)] if isinstance(raw, list) else []
        found.notes.append(
            f"the registry does not implement the referrers API; read the {tag} index"
            + ("" if index else " (there is none)")
        )
    else:
        found.referrers_api = True
    for desc in descriptors[:MAX_REFERRERS]:
        d = desc.get("digest")
        if not isinstance(d, str):
            continue
        got = _get_manifest(client, ref.with_digest(d))
        if got is None:
            found.notes.append(f"referrer {d} is listed but not in the repository")
            continue
        manifest, mdigest = got
        subject = _subject_digest(manifest)
        if subject != digest:
            found.notes.append(
                f"referrer {d} is about {subject or 'no subject'}, not {digest}: skipped"
            )
            continue
        artifact_type = manifest.get("artifactType") or desc.get("artifactType") or ""
        if not artifact_type:
            config = manifest.get("config")
            artifact_type = config.get("mediaType", "") if isinstance(config, dict) else ""
        found.attachments.append(Attachment(via, mdigest, mdigest, str(artifact_type), manifest))
    for suffix in COSIGN_SUFFIXES:
        tag = cosign_tag(digest, suffix)
        got = _get_manifest(client, ref.with_tag(tag))
        if got is None:
            continue
        manifest, mdigest = got
        found.attachments.append(Attachment(VIA_COSIGN_TAG, tag, mdigest, suffix[1:], manifest))
    return found

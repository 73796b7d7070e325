"""Push images, cosign signatures/attestations and OCI 1.1 referrers with the registry HTTP API.

No cosign, oras or skopeo: blobs go up with ``POST`` + ``PUT ?digest=``, manifests with
``PUT``, exactly as the distribution spec describes, so the tests control every byte.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import tarfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_EMPTY = "application/vnd.oci.empty.v1+json"
LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
SIMPLE_SIGNING = "application/vnd.dev.cosign.simplesigning.v1+json"
DSSE = "application/vnd.dsse.envelope.v1+json"
BUNDLE = "application/vnd.dev.sigstore.bundle.v0.3+json"
SIG_ANNOTATION = "dev.cosignproject.cosign/signature"


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def tag_of(digest: str, suffix: str = "") -> str:
    return digest.replace(":", "-", 1) + suffix


@dataclass
class Layer:
    media_type: str
    data: bytes
    annotations: dict[str, str] = field(default_factory=dict)


@dataclass
class Pushed:
    repo: str
    tag: str
    digest: str
    size: int


class Pusher:
    """Writes into a registry at ``base_url`` (``http://127.0.0.1:PORT``)."""

    def __init__(self, base_url: str) -> None:
        self.base = base_url
        self.http = httpx.Client(timeout=30)
        #: referrers pushed per (repository, subject digest), for the fallback index and the
        #: test referrers-API server
        self.referrers: dict[tuple[str, str], list[dict[str, Any]]] = {}

    def close(self) -> None:
        self.http.close()

    def blob(self, repo: str, data: bytes) -> tuple[str, int]:
        digest = sha256(data)
        resp = self.http.post(f"{self.base}/v2/{repo}/blobs/uploads/")
        assert resp.status_code == 202, resp.text
        location = httpx.URL(self.base).join(resp.headers["location"])
        put = self.http.put(
            location.copy_merge_params({"digest": digest}),
            content=data,
            headers={"Content-Type": "application/octet-stream"},
        )
        assert put.status_code == 201, put.text
        return digest, len(data)

    def manifest(self, repo: str, reference: str, doc: dict[str, Any], media_type: str) -> Pushed:
        body = json.dumps(doc, separators=(",", ":")).encode()
        resp = self.http.put(
            f"{self.base}/v2/{repo}/manifests/{reference}",
            content=body,
            headers={"Content-Type": media_type},
        )
        assert resp.status_code == 201, resp.text
        return Pushed(repo, reference, sha256(body), len(body))

    def descriptor(self, repo: str, layer: Layer) -> dict[str, Any]:
        digest, size = self.blob(repo, layer.data)
        out: dict[str, Any] = {"mediaType": layer.media_type, "digest": digest, "size": size}
        if layer.annotations:
            out["annotations"] = layer.annotations
        return out

    def image(self, repo: str, tag: str, files: dict[str, bytes] | None = None) -> Pushed:
        """A one-layer linux/amd64 image holding ``files``."""
        files = files or {"etc/hello": f"{repo}:{tag}\n".encode()}
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tar:
            for name, data in sorted(files.items()):
                info = tarfile.TarInfo(name)
                info.size = len(data)
                info.mode = 0o644
                tar.addfile(info, io.BytesIO(data))
        raw = buf.getvalue()
        layer = gzip.compress(raw, mtime=0)
        config = {
            "architecture": "amd64",
            "os": "linux",
            "config": {},
            "rootfs": {"type": "layers", "diff_ids": [sha256(raw)]},
        }
        cfg = self.descriptor(repo, Layer(OCI_CONFIG, json.dumps(config).encode()))
        lay = self.descriptor(repo, Layer(LAYER_GZIP, layer))
        doc = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": cfg, "layers": [lay]}
        return self.manifest(repo, tag, doc, OCI_MANIFEST)

    def _artifact(
        self,
        repo: str,
        reference: str,
        layers: Sequence[Layer],
        *,
        artifact_type: str | None = None,
        subject: Pushed | None = None,
        config_type: str = OCI_EMPTY,
    ) -> Pushed:
        cfg = self.descriptor(repo, Layer(config_type, b"{}"))
        doc: dict[str, Any] = {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": cfg,
            "layers": [self.descriptor(repo, layer) for layer in layers],
        }
        if artifact_type:
            doc["artifactType"] = artifact_type
        if subject is not None:
            doc["subject"] = {
                "mediaType": OCI_MANIFEST,
                "digest": subject.digest,
                "size": subject.size,
            }
        return self.manifest(repo, reference, doc, OCI_MANIFEST)

    # -- cosign's tag scheme --

    def cosign_signature(self, image: Pushed, payload: bytes, signature: bytes) -> Pushed:
        layer = Layer(
            SIMPLE_SIGNING, payload, {SIG_ANNOTATION: base64.b64encode(signature).decode()}
        )
        return self._artifact(
            image.repo,
            tag_of(image.digest, ".sig"),
            [layer],
            config_type="application/vnd.oci.image.config.v1+json",
        )

    def cosign_attestations(self, image: Pushed, envelopes: Sequence[tuple[bytes, str]]) -> Pushed:
        layers = [Layer(DSSE, env, {"predicateType": ptype}) for env, ptype in envelopes]
        return self._artifact(
            image.repo,
            tag_of(image.digest, ".att"),
            layers,
            config_type="application/vnd.oci.image.config.v1+json",
        )

    def cosign_sbom(self, image: Pushed, sbom: bytes) -> Pushed:
        return self._artifact(
            image.repo,
            tag_of(image.digest, ".sbom"),
            [Layer("text/spdx+json", sbom)],
            config_type="application/vnd.oci.image.config.v1+json",
        )

    # -- OCI 1.1 referrers --

    def referrer(
        self,
        image: Pushed,
        artifact_type: str,
        layers: Sequence[Layer],
        *,
        update_fallback_tag: bool = True,
    ) -> Pushed:
        """Push an artifact whose ``subject`` is ``image``, then (as oras does on registries
        without the referrers API) rewrite the ``sha256-<hex>`` referrers tag index."""
        cfg = self.descriptor(image.repo, Layer(OCI_EMPTY, b"{}"))
        doc: dict[str, Any] = {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "artifactType": artifact_type,
            "config": cfg,
            "layers": [self.descriptor(image.repo, layer) for layer in layers],
            "subject": {"mediaType": OCI_MANIFEST, "digest": image.digest, "size": image.size},
        }
        body = json.dumps(doc, separators=(",", ":")).encode()
        digest = sha256(body)
        pushed = self.manifest(image.repo, digest, doc, OCI_MANIFEST)
        entry = {
            "mediaType": OCI_MANIFEST,
            "digest": digest,
            "size": len(body),
            "artifactType": artifact_type,
        }
        self.referrers.setdefault((image.repo, image.digest), []).append(entry)
        if update_fallback_tag:
            self.fallback_index(image)
        return pushed

    def fallback_index(self, image: Pushed, entries: list[dict[str, Any]] | None = None) -> Pushed:
        index = {
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": entries
            if entries is not None
            else self.referrers.get((image.repo, image.digest), []),
        }
        return self.manifest(image.repo, tag_of(image.digest), index, OCI_INDEX)

"""Keys, signatures, DSSE envelopes and in-toto statements made in the tests, as cosign does."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

from baseguard.attest.dsse import INTOTO_PAYLOAD_TYPE, pae

PrivateKey = ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey


@dataclass
class KeyPair:
    kind: str
    private: PrivateKey

    @classmethod
    def generate(cls, kind: str = "ecdsa") -> KeyPair:
        if kind == "ecdsa":
            return cls(kind, ec.generate_private_key(ec.SECP256R1()))
        if kind == "ed25519":
            return cls(kind, ed25519.Ed25519PrivateKey.generate())
        if kind == "rsa":
            return cls(kind, rsa.generate_private_key(public_exponent=65537, key_size=2048))
        raise ValueError(kind)

    @property
    def public_pem(self) -> bytes:
        return self.private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def sign(self, data: bytes) -> bytes:
        key = self.private
        if isinstance(key, ec.EllipticCurvePrivateKey):
            return key.sign(data, ec.ECDSA(hashes.SHA256()))
        if isinstance(key, ed25519.Ed25519PrivateKey):
            return key.sign(data)
        return key.sign(data, padding.PKCS1v15(), hashes.SHA256())


def statement(digest: str, predicate_type: str, predicate: Any, name: str = "image") -> bytes:
    algo, _, hexpart = digest.partition(":")
    doc = {
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": name, "digest": {algo: hexpart}}],
        "predicateType": predicate_type,
        "predicate": predicate,
    }
    return json.dumps(doc).encode()


def envelope(key: KeyPair, payload: bytes, payload_type: str = INTOTO_PAYLOAD_TYPE) -> bytes:
    """A DSSE envelope over ``payload`` (cosign leaves keyid empty)."""
    sig = key.sign(pae(payload_type, payload))
    return json.dumps(
        {
            "payloadType": payload_type,
            "payload": base64.b64encode(payload).decode(),
            "signatures": [{"keyid": "", "sig": base64.b64encode(sig).decode()}],
        }
    ).encode()


GENERATOR = (
    "https://github.com/slsa-framework/slsa-github-generator/.github/workflows/"
    "generator_container_slsa3.yml@refs/tags/v2.0.0"
)
SOURCE = "https://github.com/example/app"


def provenance_v1(
    builder: str = GENERATOR, repo: str = SOURCE, ref: str = "refs/tags/v1.0.0"
) -> Any:
    return {
        "buildDefinition": {
            "buildType": "https://slsa-framework.github.io/github-actions-buildtypes/workflow/v1",
            "externalParameters": {
                "workflow": {
                    "ref": ref,
                    "repository": repo,
                    "path": ".github/workflows/release.yml",
                }
            },
            "resolvedDependencies": [
                {"uri": f"git+{repo}@{ref}", "digest": {"gitCommit": "a" * 40}}
            ],
        },
        "runDetails": {"builder": {"id": builder}, "metadata": {"invocationId": "1"}},
    }


def openvex(vuln: str = "CVE-2024-0001", product: str = "pkg:apk/alpine/zlib") -> Any:
    return {
        "@context": "https://openvex.dev/ns/v0.2.0",
        "@id": "https://example.com/vex/image",
        "author": "Example Hardened Images",
        "timestamp": "2024-06-01T00:00:00Z",
        "version": 1,
        "statements": [
            {
                "vulnerability": {"name": vuln},
                "products": [{"@id": product}],
                "status": "not_affected",
                "justification": "vulnerable_code_not_in_execute_path",
            }
        ],
    }


def cyclonedx() -> Any:
    return {
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "version": 1,
        "components": [{"type": "library", "name": "zlib", "version": "1.3.1-r1"}],
    }


PROVENANCE_V1 = "https://slsa.dev/provenance/v1"
OPENVEX = "https://openvex.dev/ns/v0.2.0"
CYCLONEDX = "https://cyclonedx.org/bom"

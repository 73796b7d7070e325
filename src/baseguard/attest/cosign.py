"""Key-based verification the way cosign does it: PEM public keys, simple-signing payloads.

cosign signs an image by signing a small JSON document (*simple signing*) that names the
image's manifest digest; the signature travels base64 in the layer annotation
``dev.cosignproject.cosign/signature`` of a manifest tagged ``sha256-<hex>.sig``.
Attestations are DSSE envelopes signed over PAE. Supported keys: ECDSA P-256/P-384/P-521
(SHA-256/384/512 as cosign pairs them), Ed25519 and RSA (PKCS#1 v1.5 or PSS, SHA-256).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

from baseguard.attest.dsse import Envelope
from baseguard.attest.errors import (
    BAD_SIGNATURE,
    DIGEST_MISMATCH,
    MALFORMED,
    AttestError,
    VerificationFailure,
)

SIMPLE_SIGNING_MEDIA_TYPE = "application/vnd.dev.cosign.simplesigning.v1+json"
SIGNATURE_ANNOTATION = "dev.cosignproject.cosign/signature"
CERTIFICATE_ANNOTATION = "dev.sigstore.cosign/certificate"
SIMPLE_SIGNING_TYPE = "cosign container image signature"
MAX_KEY_BYTES = 64 << 10

PublicKey = ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey | rsa.RSAPublicKey

_EC_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "secp256r1": hashes.SHA256,
    "secp384r1": hashes.SHA384,
    "secp521r1": hashes.SHA512,
}


@dataclass(frozen=True)
class TrustedKey:
    """A public key that signatures must verify with, and a short name for reports."""

    key: PublicKey
    source: str

    @property
    def fingerprint(self) -> str:
        """``sha256:`` of the DER SubjectPublicKeyInfo (what cosign and sigstore print)."""
        der = self.key.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return "sha256:" + hashlib.sha256(der).hexdigest()

    @property
    def algorithm(self) -> str:
        if isinstance(self.key, ec.EllipticCurvePublicKey):
            return f"ecdsa-{self.key.curve.name}"
        if isinstance(self.key, ed25519.Ed25519PublicKey):
            return "ed25519"
        return f"rsa-{self.key.key_size}"

    def verify(self, signature: bytes, data: bytes, what: str) -> None:
        """Raise ``bad-signature`` unless ``signature`` is this key's over ``data``."""
        try:
            if isinstance(self.key, ec.EllipticCurvePublicKey):
                algo = _EC_HASHES[self.key.curve.name]()
                self.key.verify(signature, data, ec.ECDSA(algo))
            elif isinstance(self.key, ed25519.Ed25519PublicKey):
                self.key.verify(signature, data)
            else:
                _verify_rsa(self.key, signature, data)
        except InvalidSignature:
            raise VerificationFailure(
                BAD_SIGNATURE,
                f"{what}: the signature does not verify with key {self.source} "
                f"({self.algorithm} {self.fingerprint[:19]}…): the signed content was altered "
                "or it was signed with another key",
            ) from None

    def verify_envelope(self, envelope: Envelope, what: str) -> None:
        """Accept a DSSE envelope when at least one of its signatures is this key's over PAE."""
        message = envelope.pae()
        last: VerificationFailure | None = None
        for sig in envelope.signatures:
            try:
                self.verify(sig.sig, message, what)
                return
            except VerificationFailure as exc:
                last = exc
        assert last is not None  # parse_envelope refuses envelopes without signatures
        raise last


def _verify_rsa(key: rsa.RSAPublicKey, signature: bytes, data: bytes) -> None:
    try:
        key.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        key.verify(
            signature,
            data,
            padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.AUTO),
            hashes.SHA256(),
        )


def load_public_key(data: bytes, source: str) -> TrustedKey:
    """Read a PEM public key (``-----BEGIN PUBLIC KEY-----``); refuse private keys and others."""
    if b"PRIVATE KEY" in data:
        raise AttestError(
            f"{source} holds a private key; give the public key",
            hint="cosign public-key --key cosign.key > cosign.pub",
        )
    try:
        key: Any = serialization.load_pem_public_key(data)
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise AttestError(
            f"{source} is not a PEM public key ({exc})",
            hint="pass the cosign.pub file (PEM, 'BEGIN PUBLIC KEY')",
        ) from exc
    if isinstance(key, ec.EllipticCurvePublicKey):
        if key.curve.name not in _EC_HASHES:
            raise AttestError(f"{source}: ECDSA curve {key.curve.name} is not supported")
    elif isinstance(key, rsa.RSAPublicKey):
        if key.key_size < 2048:
            raise AttestError(f"{source}: RSA keys shorter than 2048 bits are refused")
    elif not isinstance(key, ed25519.Ed25519PublicKey):
        raise AttestError(
            f"{source}: {type(key).__name__} keys are not supported",
            hint="use an ECDSA (P-256), Ed25519 or RSA key",
        )
    return TrustedKey(key=key, source=source)


def load_public_key_file(path: str | Path) -> TrustedKey:
    p = Path(path)
    try:
        if p.stat().st_size > MAX_KEY_BYTES:
            raise AttestError(f"{p} is too large to be a public key")
        data = p.read_bytes()
    except OSError as exc:
        raise AttestError(f"cannot read key file {p}: {exc.strerror or exc}") from exc
    return load_public_key(data, str(p))


@dataclass(frozen=True)
class SimpleSigning:
    """What a cosign signature payload claims: the signed digest and reference."""

    digest: str
    reference: str
    optional: dict[str, Any]


def parse_simple_signing(payload: bytes, source: str) -> SimpleSigning:
    """Parse cosign's simple-signing JSON (``critical.image.docker-manifest-digest``)."""
    try:
        doc = json.loads(payload)
    except (ValueError, UnicodeDecodeError) as exc:
        raise VerificationFailure(
            MALFORMED, f"{source}: the signature payload is not JSON ({exc})"
        ) from exc
    critical = doc.get("critical") if isinstance(doc, dict) else None
    image = critical.get("image") if isinstance(critical, dict) else None
    digest = image.get("docker-manifest-digest") if isinstance(image, dict) else None
    if not isinstance(digest, str) or ":" not in digest:
        raise VerificationFailure(
            MALFORMED,
            f"{source}: the signature payload has no critical.image.docker-manifest-digest",
        )
    assert isinstance(critical, dict)
    ctype = critical.get("type")
    if ctype != SIMPLE_SIGNING_TYPE:
        raise VerificationFailure(
            MALFORMED, f"{source}: the signature payload type is {ctype!r}, not a cosign one"
        )
    identity = critical.get("identity")
    reference = identity.get("docker-reference") if isinstance(identity, dict) else None
    optional = doc.get("optional")
    return SimpleSigning(
        digest=digest,
        reference=reference if isinstance(reference, str) else "",
        optional=optional if isinstance(optional, dict) else {},
    )


def simple_signing_payload(digest: str, reference: str, **optional: Any) -> bytes:
    """The simple-signing payload cosign writes for ``digest`` (used to sign in tests)."""
    doc: dict[str, Any] = {
        "critical": {
            "identity": {"docker-reference": reference},
            "image": {"docker-manifest-digest": digest},
            "type": SIMPLE_SIGNING_TYPE,
        },
        "optional": optional or None,
    }
    return json.dumps(doc, separators=(",", ":")).encode()


def verify_simple_signing(
    key: TrustedKey, payload: bytes, signature: bytes, digest: str, source: str
) -> SimpleSigning:
    """Verify a cosign image signature with ``key`` and that it is for ``digest``.

    The signature is checked first (an unverified payload is never interpreted), then the
    payload's digest against the image's: a valid signature of another image is
    ``digest-mismatch``.
    """
    key.verify(signature, payload, source)
    claim = parse_simple_signing(payload, source)
    if claim.digest.lower() != digest.lower():
        raise VerificationFailure(
            DIGEST_MISMATCH,
            f"{source}: the signature is for {claim.digest}"
            + (f" ({claim.reference})" if claim.reference else "")
            + f", not for {digest}",
        )
    return claim

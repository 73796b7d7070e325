"""Keyless (Sigstore) verification through sigstore-python, offline against a trusted root file.

A Sigstore bundle carries a short-lived Fulcio certificate (the signer's OIDC identity and
issuer), a transparency-log entry with its inclusion proof, and optionally RFC 3161
timestamps. ``sigstore`` checks the chain to the trusted root's CAs at the signing time, the
SCT, the log entry (proof, checkpoint, promise), the timestamps and the signature; here the
certificate identity and issuer are checked first, so a wrong signer fails with a reason of
its own (``identity-mismatch`` / ``issuer-mismatch``) rather than a generic one.

The trusted root is read from a file (``trusted_root.json``, or a client trust config that
holds one); no TUF repository is contacted, so this works air-gapped.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.x509 import (
    Certificate,
    ExtensionNotFound,
    ObjectIdentifier,
    OtherName,
    RFC822Name,
    SubjectAlternativeName,
    UniformResourceIdentifier,
)

from baseguard.attest.dsse import Envelope
from baseguard.attest.errors import (
    BAD_SIGNATURE,
    IDENTITY_MISMATCH,
    ISSUER_MISMATCH,
    MALFORMED,
    UNTRUSTED,
    AttestError,
    VerificationFailure,
)

BUNDLE_MEDIA_TYPES = (
    "application/vnd.dev.sigstore.bundle.v0.3+json",
    "application/vnd.dev.sigstore.bundle+json;version=0.3",
    "application/vnd.dev.sigstore.bundle+json;version=0.2",
    "application/vnd.dev.sigstore.bundle+json;version=0.1",
)
MAX_BUNDLE_BYTES = 16 << 20
MAX_ROOT_BYTES = 4 << 20

_ISSUER_V1 = ObjectIdentifier("1.3.6.1.4.1.57264.1.1")
_ISSUER_V2 = ObjectIdentifier("1.3.6.1.4.1.57264.1.8")
_SAN_OTHERNAME = ObjectIdentifier("1.3.6.1.4.1.57264.1.7")


def _sigstore() -> Any:
    """Import sigstore lazily: it is large, and only keyless verification needs it."""
    try:
        import sigstore.models
        import sigstore.verify
    except ImportError as exc:  # pragma: no cover - a dependency of baseguard
        raise AttestError(
            "keyless verification needs the 'sigstore' package",
            hint="pip install sigstore",
        ) from exc
    return sigstore


def _der_utf8(raw: bytes) -> str:
    """The text of a DER UTF8String (the v2 issuer extension's encoding)."""
    if len(raw) < 2 or raw[0] != 0x0C:
        return raw.decode("utf-8", "replace")
    length, pos = raw[1], 2
    if length & 0x80:
        n = length & 0x7F
        length, pos = int.from_bytes(raw[2 : 2 + n], "big"), 2 + n
    return raw[pos : pos + length].decode("utf-8", "replace")


@dataclass(frozen=True)
class CertIdentity:
    """Who a Fulcio certificate was issued to: SAN values and the OIDC issuer."""

    identities: tuple[str, ...]
    issuer: str | None

    @classmethod
    def of(cls, cert: Certificate) -> CertIdentity:
        ids: list[str] = []
        try:
            san = cert.extensions.get_extension_for_class(SubjectAlternativeName).value
        except ExtensionNotFound:
            san = None
        if san is not None:
            ids += [str(v) for v in san.get_values_for_type(UniformResourceIdentifier)]
            ids += [str(v) for v in san.get_values_for_type(RFC822Name)]
            for other in san.get_values_for_type(OtherName):
                if other.type_id == _SAN_OTHERNAME:
                    ids.append(_der_utf8(other.value))
        issuer: str | None = None
        for oid, decode in ((_ISSUER_V2, _der_utf8), (_ISSUER_V1, _raw_text)):
            try:
                value = cert.extensions.get_extension_for_oid(oid).value
            except ExtensionNotFound:
                continue
            issuer = decode(getattr(value, "value", b""))
            break
        return cls(tuple(ids), issuer)


def _raw_text(raw: bytes) -> str:
    return raw.decode("utf-8", "replace")


def load_trusted_root(path: str | Path) -> Any:
    """Read a Sigstore trusted root file (``trusted_root.json`` or a client trust config).

    Raises :class:`AttestError` naming the file and what is wrong with it.
    """
    sig = _sigstore()
    p = Path(path)
    try:
        if p.stat().st_size > MAX_ROOT_BYTES:
            raise AttestError(f"trusted root {p} is larger than {MAX_ROOT_BYTES} bytes")
        raw = p.read_bytes()
    except OSError as exc:
        raise AttestError(f"cannot read trusted root {p}: {exc.strerror or exc}") from exc
    try:
        doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise AttestError(f"trusted root {p} is not JSON ({exc})") from exc
    media = doc.get("mediaType", "") if isinstance(doc, dict) else ""
    try:
        if isinstance(media, str) and "clienttrustconfig" in media:
            return sig.models.ClientTrustConfig.from_json(raw.decode()).trusted_root
        root = sig.models.TrustedRoot.from_file(str(p))
    except Exception as exc:  # sigstore raises its Error, pydantic and ValueError here
        raise AttestError(
            f"trusted root {p} is not a usable Sigstore trusted root: {_reason(exc)}",
            hint="use the trusted_root.json of your Sigstore instance (for the public good "
            "instance: `sigstore trust-root` output or the TUF repository's target)",
        ) from exc
    if not root._inner.tlogs or not root._inner.certificate_authorities:
        raise AttestError(
            f"trusted root {p} names no transparency log or no certificate authority",
            hint="a trusted root for keyless verification needs both",
        )
    return root


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:300]


def load_bundle(data: bytes, source: str) -> Any:
    """Parse a Sigstore bundle; a malformed one is ``malformed`` with sigstore's reason."""
    sig = _sigstore()
    if len(data) > MAX_BUNDLE_BYTES:
        raise VerificationFailure(MALFORMED, f"{source}: bundle larger than {MAX_BUNDLE_BYTES}")
    try:
        return sig.models.Bundle.from_json(data)
    except Exception as exc:  # InvalidBundle, pydantic ValidationError, ValueError
        raise VerificationFailure(
            MALFORMED, f"{source}: not a valid Sigstore bundle: {_reason(exc)}"
        ) from exc


def _reason(exc: BaseException) -> str:
    text = str(exc).strip()
    # pydantic puts the field and problem on the following lines: keep them, compactly.
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if len(lines) > 1 and "validation error" in lines[0]:
        return "; ".join(lines[:3])[:400]
    return (lines[0] if lines else type(exc).__name__)[:400]


@dataclass(frozen=True)
class KeylessTrust:
    """Keyless trust: a trusted root (from a file) and the signer that must have signed."""

    trusted_root: Any
    identity: str
    issuer: str
    source: str = "trusted root"

    @classmethod
    def from_file(cls, path: str | Path, identity: str, issuer: str) -> KeylessTrust:
        if not identity or not issuer:
            raise AttestError(
                "keyless verification needs both a certificate identity and an OIDC issuer",
                hint="--identity https://github.com/ORG/REPO/.github/workflows/X.yml@refs/... "
                "--issuer https://token.actions.githubusercontent.com",
            )
        return cls(load_trusted_root(path), identity, issuer, str(path))

    def check_identity(self, bundle: Any, what: str) -> CertIdentity:
        """Raise ``identity-mismatch``/``issuer-mismatch`` unless the signer is the expected one."""
        who = CertIdentity.of(bundle.signing_certificate)
        if self.identity not in who.identities:
            raise VerificationFailure(
                IDENTITY_MISMATCH,
                f"{what}: signed by {', '.join(who.identities) or 'an unnamed identity'}, "
                f"not {self.identity}",
            )
        if who.issuer != self.issuer:
            raise VerificationFailure(
                ISSUER_MISMATCH,
                f"{what}: the identity {self.identity} was issued by {who.issuer or 'no issuer'}, "
                f"not {self.issuer}",
            )
        return who

    def _verifier_and_policy(self) -> tuple[Any, Any]:
        sig = _sigstore()
        verifier = sig.verify.Verifier(trusted_root=self.trusted_root)
        policy = sig.verify.policy.Identity(identity=self.identity, issuer=self.issuer)
        return verifier, policy

    def verify_artifact(self, bundle: Any, artifact: Any, what: str) -> CertIdentity:
        """Verify a message-signature bundle over ``artifact`` (bytes or a sigstore ``Hashed``)."""
        who = self.check_identity(bundle, what)
        verifier, policy = self._verifier_and_policy()
        try:
            verifier.verify_artifact(artifact, bundle, policy)
        except Exception as exc:
            raise _classify(exc, what) from exc
        return who

    def verify_dsse(self, bundle: Any, what: str) -> tuple[Envelope, CertIdentity]:
        """Verify a DSSE bundle; return its envelope (payload type and payload)."""
        who = self.check_identity(bundle, what)
        if bundle._dsse_envelope is None:
            raise VerificationFailure(
                MALFORMED, f"{what}: the bundle holds a message signature, not a DSSE envelope"
            )
        verifier, policy = self._verifier_and_policy()
        try:
            payload_type, payload = verifier.verify_dsse(bundle, policy)
        except Exception as exc:
            raise _classify(exc, what) from exc
        return Envelope(payload_type=payload_type, payload=payload), who


def _classify(exc: BaseException, what: str) -> VerificationFailure:
    text = _first_line(exc)
    lowered = text.lower()
    if (
        "invalid signature" in lowered
        or "signature is invalid" in lowered
        or ("digest mismatch" in lowered)
    ):
        return VerificationFailure(BAD_SIGNATURE, f"{what}: {text}")
    if "sans do not match" in lowered:
        return VerificationFailure(IDENTITY_MISMATCH, f"{what}: {text}")
    return VerificationFailure(
        UNTRUSTED, f"{what}: does not verify against the trusted root: {text}"
    )

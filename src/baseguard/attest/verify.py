"""The library entry: verify an image's signatures and attestations against requirements.

``verify_image(ref, requirements, trust=…)`` resolves the reference to a digest, discovers
what is attached to it (:mod:`.discover`), checks every attachment with the trusted key or
keyless identity (:mod:`.cosign`, :mod:`.keyless`), and evaluates the requirements as a
policy (:mod:`.policy`). It returns a :class:`VerificationResult`; a requirement that fails
is a result, not an exception. Exceptions (:class:`~baseguard.errors.BaseguardError`) mean
the inputs were unusable: an unknown image, an unreadable key or trusted root.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from baseguard.attest.cosign import (
    CERTIFICATE_ANNOTATION,
    SIGNATURE_ANNOTATION,
    SIMPLE_SIGNING_MEDIA_TYPE,
    TrustedKey,
    verify_simple_signing,
)
from baseguard.attest.discover import Attachment, Discovery, discover
from baseguard.attest.dsse import DSSE_MEDIA_TYPE, Envelope, b64decode_any, parse_envelope
from baseguard.attest.errors import (
    DIGEST_MISMATCH,
    MALFORMED,
    UNSUPPORTED,
    AttestError,
    VerificationFailure,
)
from baseguard.attest.intoto import (
    Statement,
    predicate_kind,
    statement_from_envelope,
)
from baseguard.attest.keyless import BUNDLE_MEDIA_TYPES, KeylessTrust, load_bundle
from baseguard.attest.policy import (
    AllOf,
    Attestation,
    AttestationPolicy,
    Evidence,
    Policy,
    PolicyResult,
    ProvenancePolicy,
    Rejection,
    SignaturePolicy,
    UnsignedDocument,
    VerifiedSignature,
)
from baseguard.attest.slsa import parse_provenance
from baseguard.errors import ImageError
from baseguard.image.registry import RegistryClient
from baseguard.refs import Reference, parse_reference

#: Attached blobs larger than this are not read.
MAX_ATTACHMENT_BYTES = 32 << 20
REQUIREMENT_NAMES = ("signature", "provenance", "sbom", "vex")

_SBOM_MEDIA = ("spdx", "cyclonedx", "syft")
_VEX_MEDIA = ("openvex", "vex")


# -- trust and requirements -----------------------------------------------------------------


@dataclass(frozen=True)
class Trust:
    """Who must have signed: a public key, or a keyless identity under a trusted root."""

    key: TrustedKey | None = None
    keyless: KeylessTrust | None = None

    def __post_init__(self) -> None:
        if (self.key is None) == (self.keyless is None):
            raise AttestError(
                "give exactly one of a public key or a keyless identity to verify with",
                hint="--key cosign.pub, or --identity ID --issuer URL --trusted-root FILE",
            )

    def describe(self) -> str:
        if self.key is not None:
            return f"key {self.key.source} ({self.key.algorithm} {self.key.fingerprint})"
        assert self.keyless is not None
        return f"{self.keyless.identity} (issuer {self.keyless.issuer})"


@dataclass(frozen=True)
class Requirements:
    """What must hold: ``signature``, ``provenance[:slslaN]``, ``sbom``, ``vex``."""

    signature: bool = False
    provenance: bool = False
    slsa_level: int | None = None
    sbom: bool = False
    vex: bool = False
    allowed_builders: tuple[str, ...] = ()
    source_repo: str | None = None

    @classmethod
    def parse(
        cls,
        items: str | Sequence[str],
        *,
        allowed_builders: Sequence[str] = (),
        source_repo: str | None = None,
    ) -> Requirements:
        """Parse ``signature,provenance:slsa3,sbom,vex`` (comma-separated, repeatable).

        Builder or source constraints imply a provenance requirement.
        """
        texts = [items] if isinstance(items, str) else list(items)
        names = [t.strip().lower() for text in texts for t in text.split(",") if t.strip()]
        values: dict[str, Any] = {}
        for name in names:
            base, _, arg = name.partition(":")
            if base not in REQUIREMENT_NAMES:
                raise AttestError(
                    f"unknown requirement {name!r}",
                    hint="choose from signature, provenance, provenance:slsaN, sbom, vex",
                )
            if arg and base != "provenance":
                raise AttestError(f"requirement {base!r} takes no argument (got {name!r})")
            if arg:
                level = arg.removeprefix("slsa").removeprefix("-").removeprefix("l")
                if not level.isdigit() or not 1 <= int(level) <= 4:
                    raise AttestError(
                        f"bad provenance level in {name!r}",
                        hint="write provenance:slsa1 … provenance:slsa4",
                    )
                values["slsa_level"] = max(int(level), values.get("slsa_level") or 0)
            values[base] = True
        if allowed_builders or source_repo:
            values["provenance"] = True
        if not any(values.get(n) for n in REQUIREMENT_NAMES):
            raise AttestError("no requirement given", hint="for example --require signature")
        return cls(allowed_builders=tuple(allowed_builders), source_repo=source_repo, **values)

    def names(self) -> list[str]:
        out = ["signature"] if self.signature else []
        if self.provenance:
            out.append(f"provenance:slsa{self.slsa_level}" if self.slsa_level else "provenance")
        out += [n for n in ("sbom", "vex") if getattr(self, n)]
        return out

    def policy(self) -> Policy:
        """The requirements as one :class:`AllOf` policy."""
        children: list[Policy] = []
        if self.signature:
            children.append(SignaturePolicy())
        if self.provenance:
            children.append(
                ProvenancePolicy(
                    min_level=self.slsa_level,
                    allowed_builders=self.allowed_builders,
                    source_repo=self.source_repo,
                )
            )
        if self.sbom:
            children.append(AttestationPolicy("sbom"))
        if self.vex:
            children.append(AttestationPolicy("vex"))
        return AllOf(children, name="requirements")

    def to_dict(self) -> dict[str, Any]:
        return {
            "require": self.names(),
            "allowed_builders": list(self.allowed_builders),
            "source_repo": self.source_repo,
        }


# -- the result -----------------------------------------------------------------------------


@dataclass
class VerificationResult:
    """The outcome for one image: per-requirement results and the evidence behind them."""

    reference: str
    digest: str
    requirements: Requirements
    result: PolicyResult
    evidence: Evidence
    trust: str
    referrers_api: bool
    verified_at: datetime
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.result.passed

    @property
    def checks(self) -> tuple[PolicyResult, ...]:
        return self.result.children

    def check(self, name: str) -> PolicyResult:
        """The result of one requirement by name (``signature``, ``provenance:slsa3``, …)."""
        for c in self.checks:
            if c.name == name or c.name.split(":")[0] == name:
                return c
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (sorted, stable) for output and for the store."""
        ev = self.evidence
        return {
            "reference": self.reference,
            "digest": self.digest,
            "passed": self.passed,
            "verified_at": self.verified_at.isoformat().replace("+00:00", "Z"),
            "trust": self.trust,
            "requirements": self.requirements.to_dict(),
            "checks": [c.to_dict() for c in self.checks],
            "evidence": {
                "referrers_api": self.referrers_api,
                "signatures": sorted(
                    (s.to_dict() for s in ev.signatures), key=lambda d: (d["via"], d["location"])
                ),
                "attestations": sorted(
                    (a.to_dict() for a in ev.attestations),
                    key=lambda d: (d["kind"], d["via"], d["location"], d["predicate_type"]),
                ),
                "rejections": sorted(
                    (r.to_dict() for r in ev.rejections),
                    key=lambda d: (d["kind"], d["via"], d["location"], d["code"]),
                ),
                "unsigned": sorted(
                    (u.to_dict() for u in ev.unsigned), key=lambda d: (d["via"], d["location"])
                ),
            },
            "notes": sorted(self.notes),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)


# -- checking attachments -------------------------------------------------------------------


def _read_layer(client: RegistryClient, ref: Reference, layer: dict[str, Any], what: str) -> bytes:
    digest = layer.get("digest")
    size = layer.get("size")
    if not isinstance(digest, str):
        raise VerificationFailure(MALFORMED, f"{what}: a layer has no digest")
    if not isinstance(size, int) or size < 0 or size > MAX_ATTACHMENT_BYTES:
        raise VerificationFailure(
            MALFORMED, f"{what}: layer {digest} declares an unusable size ({size!r})"
        )
    path = client.fetch_blob(ref, digest, size)
    return path.read_bytes()


def _claimed_kind(payload_or_statement: bytes | Statement | None, fallback: str) -> str:
    """What an unverified envelope *says* it is, for filing its rejection under a requirement."""
    if isinstance(payload_or_statement, Statement):
        return payload_or_statement.kind
    if payload_or_statement is not None:
        try:
            doc = json.loads(payload_or_statement)
            ptype = doc.get("predicateType") if isinstance(doc, dict) else None
            if isinstance(ptype, str):
                return predicate_kind(ptype)
        except (ValueError, UnicodeDecodeError):
            pass
    return predicate_kind(fallback) if fallback.startswith("http") else fallback


def _kind_of_document(media_type: str, artifact_type: str) -> str:
    text = f"{media_type} {artifact_type}".lower()
    if any(m in text for m in _VEX_MEDIA):
        return "vex"
    if any(m in text for m in _SBOM_MEDIA):
        return "sbom"
    return "other"


class _Collector:
    """Turns attachments into evidence, checking each with ``trust`` (or none: unverified)."""

    def __init__(
        self, client: RegistryClient, ref: Reference, digest: str, trust: Trust | None
    ) -> None:
        self.client = client
        self.ref = ref
        self.digest = digest
        self.trust = trust
        self.evidence = Evidence(reference=str(ref), digest=digest)

    def reject(self, kind: str, att: Attachment, exc: VerificationFailure) -> None:
        self.evidence.rejections.append(
            Rejection(kind, att.via, att.location, exc.code, exc.reason)
        )

    def collect(self, attachments: Sequence[Attachment]) -> Evidence:
        for att in attachments:
            for i, layer in enumerate(att.layers):
                media = str(layer.get("mediaType") or "")
                where = f"{att.via} {att.location}" + (f" layer {i}" if len(att.layers) > 1 else "")
                kind = "signature" if media == SIMPLE_SIGNING_MEDIA_TYPE else "other"
                try:
                    if media == SIMPLE_SIGNING_MEDIA_TYPE:
                        self.signature(att, layer, where)
                    elif media == DSSE_MEDIA_TYPE:
                        self.dsse(att, layer, where)
                    elif media in BUNDLE_MEDIA_TYPES or att.artifact_type in BUNDLE_MEDIA_TYPES:
                        self.bundle(att, layer, where)
                    else:
                        self.unsigned(att, layer, media)
                except VerificationFailure as exc:
                    self.reject(kind, att, exc)
                except ImageError as exc:  # a missing or corrupt blob: fail closed, say why
                    self.reject(
                        kind,
                        att,
                        VerificationFailure(MALFORMED, f"{where}: cannot read it: {exc.message}"),
                    )
        return self.evidence

    # -- cosign simple signing --

    def signature(self, att: Attachment, layer: dict[str, Any], where: str) -> None:
        annotations = layer.get("annotations")
        if not isinstance(annotations, dict):
            annotations = {}
        sig_text = annotations.get(SIGNATURE_ANNOTATION)
        if not isinstance(sig_text, str) or not sig_text:
            raise VerificationFailure(
                MALFORMED, f"{where}: the signature layer has no {SIGNATURE_ANNOTATION} annotation"
            )
        if self.trust is None:
            return
        if self.trust.key is None:
            if CERTIFICATE_ANNOTATION in annotations:
                raise VerificationFailure(
                    UNSUPPORTED,
                    f"{where}: a keyless cosign signature in the legacy format (certificate and "
                    "Rekor SET annotations, no inclusion proof) cannot be verified offline with "
                    "sigstore-python; publish a Sigstore bundle (cosign --new-bundle-format)",
                )
            raise VerificationFailure(
                UNSUPPORTED, f"{where}: signed with a key, but no --key was given to verify it"
            )
        signature = b64decode_any(sig_text, f"{where}: signature annotation")
        payload = _read_layer(self.client, self.ref, layer, where)
        claim = verify_simple_signing(self.trust.key, payload, signature, self.digest, where)
        self.evidence.signatures.append(
            VerifiedSignature(att.via, att.location, self.trust.describe(), claim.reference)
        )

    # -- DSSE envelopes (cosign .att, in-toto referrers) --

    def dsse(self, att: Attachment, layer: dict[str, Any], where: str) -> None:
        raw = _read_layer(self.client, self.ref, layer, where)
        annotations = layer.get("annotations")
        claimed = annotations.get("predicateType", "") if isinstance(annotations, dict) else ""
        envelope: Envelope | None = None
        try:
            envelope = parse_envelope(raw, where)
            if self.trust is not None:
                if self.trust.key is None:
                    raise VerificationFailure(
                        UNSUPPORTED,
                        f"{where}: a key-signed DSSE envelope (no Sigstore bundle), but no --key "
                        "was given to verify it",
                    )
                self.trust.key.verify_envelope(envelope, where)
            statement = statement_from_envelope(envelope, where)
            statement.require_subject(self.digest, where)
        except VerificationFailure as exc:
            payload = envelope.payload if envelope is not None else None
            self.reject(_claimed_kind(payload, str(claimed)), att, exc)
            return
        self.add_statement(att, statement, where, self.trust.describe() if self.trust else None)

    # -- Sigstore bundles --

    def bundle(self, att: Attachment, layer: dict[str, Any], where: str) -> None:
        raw = _read_layer(self.client, self.ref, layer, where)
        bundle = load_bundle(raw, where)
        envelope = bundle._dsse_envelope
        payload = envelope._inner.payload if envelope is not None else None
        try:
            if self.trust is None:
                if envelope is None:
                    return
                env = Envelope(envelope._inner.payload_type, envelope._inner.payload)
                signer = None
            elif self.trust.keyless is not None:
                if envelope is None:
                    self.message_bundle(att, bundle, where)
                    return
                env, _ = self.trust.keyless.verify_dsse(bundle, where)
                signer = self.trust.describe()
            else:
                assert self.trust.key is not None
                if envelope is None:
                    raise VerificationFailure(
                        UNSUPPORTED,
                        f"{where}: a message-signature bundle needs keyless verification "
                        "(--identity/--issuer/--trusted-root)",
                    )
                env = parse_envelope(envelope._inner.to_json(), where)
                self.trust.key.verify_envelope(env, where)
                signer = self.trust.describe()
            statement = statement_from_envelope(env, where)
            statement.require_subject(self.digest, where)
        except VerificationFailure as exc:
            self.reject(_claimed_kind(payload, ""), att, exc)
            return
        self.add_statement(att, statement, where, signer)

    def message_bundle(self, att: Attachment, bundle: Any, where: str) -> None:
        """A bundle whose message signature is over the image manifest itself."""
        assert self.trust is not None and self.trust.keyless is not None
        from sigstore.hashes import Hashed
        from sigstore_models.common.v1 import HashAlgorithm

        signed = bundle._inner.message_signature
        algo, _, hexpart = self.digest.partition(":")
        message_digest = signed.message_digest.digest.hex() if signed.message_digest else None
        if algo != "sha256" or (message_digest and message_digest != hexpart):
            self.reject(
                "signature",
                att,
                VerificationFailure(
                    DIGEST_MISMATCH,
                    f"{where}: the bundle signs sha256:{message_digest}, not {self.digest}",
                ),
            )
            return
        hashed = Hashed(algorithm=HashAlgorithm.SHA2_256, digest=bytes.fromhex(hexpart))
        try:
            self.trust.keyless.verify_artifact(bundle, hashed, where)
        except VerificationFailure as exc:
            self.reject("signature", att, exc)
            return
        self.evidence.signatures.append(
            VerifiedSignature(att.via, att.location, self.trust.describe())
        )

    def add_statement(
        self, att: Attachment, statement: Statement, where: str, signer: str | None
    ) -> None:
        provenance = None
        if statement.kind == "provenance":
            try:
                provenance = parse_provenance(statement, where)
            except VerificationFailure as exc:
                self.reject("provenance", att, exc)
                return
        self.evidence.attestations.append(
            Attestation(
                via=att.via,
                location=att.location,
                predicate_type=statement.predicate_type,
                kind=statement.kind,
                statement=statement,
                verified=signer is not None,
                signer=signer,
                provenance=provenance,
            )
        )

    # -- anything else --

    def unsigned(self, att: Attachment, layer: dict[str, Any], media: str) -> None:
        kind = (
            "sbom" if att.artifact_type == "sbom" else _kind_of_document(media, att.artifact_type)
        )
        if kind == "other":
            return
        size = layer.get("size")
        digest = str(layer.get("digest") or "")
        self.evidence.unsigned.append(
            UnsignedDocument(
                kind, att.via, att.location, media, digest, size if isinstance(size, int) else -1
            )
        )


# -- entry points ---------------------------------------------------------------------------


@contextmanager
def _client(
    client: RegistryClient | None, insecure: bool, ca_file: str | Path | None
) -> Iterator[RegistryClient]:
    if client is not None:
        yield client
        return
    from baseguard.image.cache import BlobCache
    from baseguard.image.credentials import load_credentials

    own = RegistryClient(
        insecure=insecure, credentials=load_credentials(), cache=BlobCache(), ca_file=ca_file
    )
    try:
        yield own
    finally:
        own.close()


def _resolve(client: RegistryClient, ref: str | Reference) -> tuple[Reference, str]:
    parsed = parse_reference(ref) if isinstance(ref, str) else ref
    _, _, digest = client.get_manifest(parsed)
    return parsed, digest


def collect_evidence(
    client: RegistryClient,
    ref: Reference,
    digest: str,
    trust: Trust | None,
) -> tuple[Evidence, Discovery]:
    """Discover and check everything attached to ``digest`` (no trust: nothing is verified)."""
    pinned = ref.with_digest(digest)
    found = discover(client, pinned, digest)
    collector = _Collector(client, pinned, digest, trust)
    evidence = collector.collect(found.attachments)
    evidence.notes.extend(found.notes)
    return evidence, found


def verify_image(
    ref: str | Reference,
    requirements: Requirements,
    *,
    trust: Trust,
    client: RegistryClient | None = None,
    insecure: bool = False,
    ca_file: str | Path | None = None,
    now: datetime | None = None,
) -> VerificationResult:
    """Verify that ``ref`` meets ``requirements`` with signatures by ``trust``.

    Signatures and attestations are discovered through the referrers API (or the referrers
    tag schema) and cosign's tags. Returns the result; raises only on unusable input.
    """
    with _client(client, insecure, ca_file) as c:
        parsed, digest = _resolve(c, ref)
        evidence, found = collect_evidence(c, parsed, digest, trust)
    result = requirements.policy().evaluate(evidence)
    return VerificationResult(
        reference=str(parsed),
        digest=digest,
        requirements=requirements,
        result=result,
        evidence=evidence,
        trust=trust.describe(),
        referrers_api=found.referrers_api,
        verified_at=now or datetime.now(UTC),
        notes=list(evidence.notes),
    )


@dataclass
class ImageVex:
    """OpenVEX documents attached to an image, and what was said about them."""

    digest: str
    documents: list[Any] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def fetch_image_vex(
    ref: str | Reference,
    *,
    trust: Trust | None = None,
    client: RegistryClient | None = None,
    insecure: bool = False,
    ca_file: str | Path | None = None,
) -> ImageVex:
    """The OpenVEX attestations of an image, as :class:`~baseguard.matching.vex.VexDocument`.

    With ``trust``, only attestations whose signature verifies are returned (the others are
    warnings). Without, every OpenVEX statement about the image digest is returned, with a
    warning that none was verified.
    """
    from baseguard.matching.vex import VexError, parse_vex

    with _client(client, insecure, ca_file) as c:
        parsed, digest = _resolve(c, ref)
        evidence, _ = collect_evidence(c, parsed, digest, trust)
        out = ImageVex(digest=digest)
        unverified_docs = [u for u in evidence.unsigned if u.kind == "vex"]
        raw_docs: list[tuple[str, Any]] = []
        if trust is None:
            pinned = parsed.with_digest(digest)
            for doc in unverified_docs:
                where = f"{doc.via} {doc.location}"
                try:
                    data = _read_layer(c, pinned, {"digest": doc.digest, "size": doc.size}, where)
                    raw_docs.append((where, json.loads(data)))
                except (VerificationFailure, ValueError, UnicodeDecodeError) as exc:
                    out.warnings.append(f"{where}: VEX document unreadable: {exc}")
    for att in evidence.attestations:
        if att.kind == "vex":
            raw_docs.append((f"{att.via} {att.location}", att.statement.predicate))
    for rej in evidence.rejections:
        if rej.kind == "vex":
            out.warnings.append(f"VEX attestation not applied: [{rej.code}] {rej.reason}")
    if trust is not None and unverified_docs:
        out.warnings.append(
            f"{len(unverified_docs)} unsigned VEX document(s) attached to the image were not "
            "applied (a key or identity was given, so only signed ones count)"
        )
    for where, data in raw_docs:
        try:
            out.documents.append(parse_vex(data, f"{parsed}@{digest} ({where})"))
        except VexError as exc:
            out.warnings.append(f"VEX attestation not applied: {exc.message}")
    if trust is None and out.documents:
        out.warnings.append(
            f"applied {len(out.documents)} VEX document(s) from the image without verifying "
            "a signature; give a key or identity to verify them"
        )
    return out


__all__ = [
    "ImageVex",
    "Requirements",
    "Trust",
    "VerificationResult",
    "collect_evidence",
    "fetch_image_vex",
    "verify_image",
]

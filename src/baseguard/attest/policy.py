"""Verification policies over the evidence found for one image, composable like sigstore's.

Evidence is what discovery and signature checking produced: verified signatures, verified
attestations (in-toto statements whose subject is the image), and rejections (each with a
reason code and a sentence). A :class:`Policy` turns evidence into a :class:`PolicyResult`
that says pass or fail *and why*; :class:`AllOf` and :class:`AnyOf` combine policies and
keep their children's results, so a report can show every reason.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from baseguard.attest.errors import MISSING, VerificationFailure
from baseguard.attest.intoto import Statement
from baseguard.attest.slsa import Provenance, check_provenance

#: The predicate type cosign (bundle format) uses for an image signature.
COSIGN_SIGN_PREDICATE = "https://sigstore.dev/cosign/sign/v1"


@dataclass(frozen=True)
class VerifiedSignature:
    """An image signature that verified and names the image's digest."""

    via: str
    location: str
    signer: str
    reference: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "via": self.via,
            "location": self.location,
            "signer": self.signer,
            "reference": self.reference,
        }


@dataclass(frozen=True)
class Attestation:
    """An in-toto statement about the image; ``verified`` when its signature checked out."""

    via: str
    location: str
    predicate_type: str
    kind: str
    statement: Statement
    verified: bool
    signer: str | None = None
    provenance: Provenance | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "via": self.via,
            "location": self.location,
            "predicate_type": self.predicate_type,
            "kind": self.kind,
            "verified": self.verified,
            "signer": self.signer,
        }
        if self.provenance is not None:
            out["provenance"] = self.provenance.to_dict()
        return out


@dataclass(frozen=True)
class Rejection:
    """An attachment that did not verify. ``kind`` is what it claimed to be."""

    kind: str
    via: str
    location: str
    code: str
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "via": self.via,
            "location": self.location,
            "code": self.code,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class UnsignedDocument:
    """An attached document with no signature (a cosign ``.sbom``, a bare OpenVEX referrer)."""

    kind: str
    via: str
    location: str
    media_type: str
    digest: str
    size: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "via": self.via,
            "location": self.location,
            "media_type": self.media_type,
            "digest": self.digest,
            "size": self.size,
        }


@dataclass
class Evidence:
    """Everything found for one image digest."""

    reference: str
    digest: str
    signatures: list[VerifiedSignature] = field(default_factory=list)
    attestations: list[Attestation] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    unsigned: list[UnsignedDocument] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def verified(self, kind: str) -> list[Attestation]:
        return [a for a in self.attestations if a.verified and a.kind == kind]

    def rejected(self, kind: str) -> list[Rejection]:
        """Rejections filed under ``kind``, and those whose kind could not be told."""
        return [r for r in self.rejections if r.kind in (kind, "other")]


@dataclass(frozen=True)
class PolicyResult:
    """Pass or fail, with the reason and (when failing) the reason codes."""

    name: str
    passed: bool
    reason: str
    codes: tuple[str, ...] = ()
    children: tuple[PolicyResult, ...] = ()

    def __bool__(self) -> bool:
        return self.passed

    @property
    def code(self) -> str:
        """The first failure code ('' when passed)."""
        return self.codes[0] if self.codes else ""

    def failures(self) -> list[PolicyResult]:
        """The failing leaves (a failing result without children is its own leaf)."""
        if self.passed:
            return []
        if not self.children:
            return [self]
        return [leaf for child in self.children for leaf in child.failures()]

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "passed": self.passed,
            "reason": self.reason,
            "codes": list(self.codes),
        }
        if self.children:
            out["children"] = [c.to_dict() for c in self.children]
        return out


class Policy(ABC):
    """Something evidence must satisfy."""

    name: str = "policy"

    @abstractmethod
    def evaluate(self, evidence: Evidence) -> PolicyResult: ...


class AllOf(Policy):
    """Passes when every child passes (and there is at least one child)."""

    def __init__(self, children: Sequence[Policy], name: str = "all-of") -> None:
        self.children = list(children)
        self.name = name

    def evaluate(self, evidence: Evidence) -> PolicyResult:
        if not self.children:
            return PolicyResult(self.name, False, "no requirement to check", ("empty-policy",))
        results = tuple(c.evaluate(evidence) for c in self.children)
        failed = [r for r in results if not r.passed]
        if not failed:
            return PolicyResult(
                self.name, True, f"all {len(results)} requirement(s) met", (), results
            )
        codes = tuple(dict.fromkeys(code for r in failed for code in r.codes))
        reason = "; ".join(f"{r.name}: {r.reason}" for r in failed)
        return PolicyResult(self.name, False, reason, codes, results)


class AnyOf(Policy):
    """Passes when at least one child passes."""

    def __init__(self, children: Sequence[Policy], name: str = "any-of") -> None:
        self.children = list(children)
        self.name = name

    def evaluate(self, evidence: Evidence) -> PolicyResult:
        results = tuple(c.evaluate(evidence) for c in self.children)
        passing = [r for r in results if r.passed]
        if passing:
            return PolicyResult(self.name, True, passing[0].reason, (), results)
        codes = tuple(dict.fromkeys(code for r in results for code in r.codes)) or (MISSING,)
        reason = " / ".join(f"{r.name}: {r.reason}" for r in results) or "no alternative given"
        return PolicyResult(self.name, False, reason, codes, results)


def _rejected(
    name: str, what: str, evidence: Evidence, rejections: list[Rejection], extra: str = ""
) -> PolicyResult:
    if not rejections:
        return PolicyResult(
            name, False, f"no {what} is attached to {evidence.digest}{extra}", (MISSING,)
        )
    codes = tuple(dict.fromkeys(r.code for r in rejections))
    reasons = "; ".join(f"[{r.code}] {r.reason}" for r in rejections)
    return PolicyResult(name, False, f"no valid {what} for {evidence.digest}: {reasons}", codes)


class SignaturePolicy(Policy):
    """At least one signature by the trusted signer over the image digest."""

    name = "signature"

    def evaluate(self, evidence: Evidence) -> PolicyResult:
        if evidence.signatures:
            s = evidence.signatures[0]
            return PolicyResult(self.name, True, f"signed by {s.signer} ({s.via} {s.location})")
        signed = [
            a for a in evidence.verified("other") if a.predicate_type == COSIGN_SIGN_PREDICATE
        ]
        if signed:
            a = signed[0]
            return PolicyResult(self.name, True, f"signed by {a.signer} ({a.via} {a.location})")
        return _rejected(self.name, "signature", evidence, evidence.rejected("signature"))


class AttestationPolicy(Policy):
    """At least one verified attestation of ``kind`` (``sbom`` or ``vex``) about the image."""

    _WORDS = {"sbom": "SBOM attestation", "vex": "VEX attestation"}

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.name = kind

    def evaluate(self, evidence: Evidence) -> PolicyResult:
        what = self._WORDS.get(self.kind, f"{self.kind} attestation")
        found = evidence.verified(self.kind)
        if found:
            a = found[0]
            return PolicyResult(
                self.name, True, f"{a.predicate_type} signed by {a.signer} ({a.via} {a.location})"
            )
        unsigned = [u for u in evidence.unsigned if u.kind == self.kind]
        extra = ""
        if unsigned:
            extra = (
                f" (an unsigned {self.kind} document is attached at {unsigned[0].location}; "
                "only a signed attestation counts)"
            )
        return _rejected(self.name, what, evidence, evidence.rejected(self.kind), extra)


class ProvenancePolicy(Policy):
    """A verified SLSA provenance that satisfies builder, source and level constraints."""

    def __init__(
        self,
        *,
        min_level: int | None = None,
        allowed_builders: Sequence[str] = (),
        source_repo: str | None = None,
    ) -> None:
        self.min_level = min_level
        self.allowed_builders = tuple(allowed_builders)
        self.source_repo = source_repo
        self.name = f"provenance:slsa{min_level}" if min_level else "provenance"

    def evaluate(self, evidence: Evidence) -> PolicyResult:
        found = [a for a in evidence.verified("provenance") if a.provenance is not None]
        failures: list[Rejection] = list(evidence.rejected("provenance"))
        for att in found:
            assert att.provenance is not None
            try:
                check_provenance(
                    att.provenance,
                    allowed_builders=self.allowed_builders,
                    source_repo=self.source_repo,
                    min_level=self.min_level,
                    source=f"{att.via} {att.location}",
                )
            except VerificationFailure as exc:
                failures.append(
                    Rejection("provenance", att.via, att.location, exc.code, exc.reason)
                )
                continue
            p = att.provenance
            return PolicyResult(
                self.name,
                True,
                f"SLSA {p.version} provenance from {p.builder_id} (claims level "
                f"{p.claimed_level}), source {p.source_repo or '?'}"
                + (f"@{p.source_ref}" if p.source_ref else "")
                + f", signed by {att.signer}",
            )
        return _rejected(self.name, "SLSA provenance", evidence, failures)

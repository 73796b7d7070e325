"""in-toto statements (v0.1 and v1): subjects with digests, a predicate type and a predicate.

A statement is evidence about the artifacts its subjects name, so an attestation applies to
an image only when one subject carries the image's digest.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from baseguard.attest.dsse import INTOTO_PAYLOAD_TYPE, Envelope
from baseguard.attest.errors import MALFORMED, SUBJECT_MISMATCH, VerificationFailure

STATEMENT_TYPES = frozenset(
    {"https://in-toto.io/Statement/v0.1", "https://in-toto.io/Statement/v1"}
)

SLSA_PROVENANCE_PREFIX = "https://slsa.dev/provenance/"
SBOM_PREDICATES = (
    "https://cyclonedx.org/bom",
    "https://spdx.dev/Document",
    "https://spdx.github.io/spdx-spec",
)
VEX_PREDICATES = ("https://openvex.dev/ns",)


@dataclass(frozen=True)
class Subject:
    name: str
    digest: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Statement:
    """A parsed in-toto statement."""

    type: str
    predicate_type: str
    subjects: tuple[Subject, ...]
    predicate: Any

    def names_digest(self, digest: str) -> bool:
        """True when a subject carries ``digest`` (``algorithm:hex``, hex compared lowercase)."""
        algo, _, hexpart = digest.partition(":")
        return any(s.digest.get(algo, "").lower() == hexpart.lower() for s in self.subjects)

    def require_subject(self, digest: str, source: str) -> None:
        """Raise ``subject-mismatch`` unless a subject is ``digest``."""
        if not self.names_digest(digest):
            named = ", ".join(
                f"{s.name or '?'}@{a}:{h}"
                for s in self.subjects
                for a, h in sorted(s.digest.items())
            )
            raise VerificationFailure(
                SUBJECT_MISMATCH,
                f"{source}: the statement is about {named or 'no subject'}, not {digest}",
            )

    @property
    def kind(self) -> str:
        """``provenance``, ``sbom``, ``vex`` or ``other``, by predicate type."""
        return predicate_kind(self.predicate_type)


def predicate_kind(predicate_type: str) -> str:
    if predicate_type.startswith(SLSA_PROVENANCE_PREFIX):
        return "provenance"
    if predicate_type.startswith(SBOM_PREDICATES):
        return "sbom"
    if predicate_type.startswith(VEX_PREDICATES):
        return "vex"
    return "other"


def parse_statement(payload: bytes | dict[str, Any], source: str) -> Statement:
    """Parse an in-toto statement (JSON bytes or object); ``malformed`` failures name the field."""
    doc: Any = payload
    if isinstance(payload, bytes):
        try:
            doc = json.loads(payload)
        except (ValueError, UnicodeDecodeError) as exc:
            raise VerificationFailure(
                MALFORMED, f"{source}: the in-toto statement is not JSON ({exc})"
            ) from exc
    if not isinstance(doc, dict):
        raise VerificationFailure(MALFORMED, f"{source}: the in-toto statement is not an object")
    stype = doc.get("_type")
    if stype not in STATEMENT_TYPES:
        raise VerificationFailure(MALFORMED, f"{source}: unknown in-toto statement type {stype!r}")
    ptype = doc.get("predicateType")
    if not isinstance(ptype, str) or not ptype:
        raise VerificationFailure(MALFORMED, f"{source}: the statement has no predicateType")
    raw_subjects = doc.get("subject")
    if not isinstance(raw_subjects, list) or not raw_subjects:
        raise VerificationFailure(MALFORMED, f"{source}: the statement has no subject")
    subjects: list[Subject] = []
    for i, item in enumerate(raw_subjects):
        digest = item.get("digest") if isinstance(item, dict) else None
        if not isinstance(digest, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in digest.items()
        ):
            raise VerificationFailure(
                MALFORMED, f"{source}: subject {i} has no digest map of strings"
            )
        name = item.get("name")
        subjects.append(Subject(name=name if isinstance(name, str) else "", digest=dict(digest)))
    # v0.1 statements from some builders (Google Cloud Build) put the predicate elsewhere.
    predicate = doc.get("predicate", doc.get("slsaProvenance"))
    return Statement(
        type=str(stype), predicate_type=ptype, subjects=tuple(subjects), predicate=predicate
    )


def statement_from_envelope(envelope: Envelope, source: str) -> Statement:
    """The statement a DSSE envelope carries (its payload type must be in-toto's)."""
    if envelope.payload_type != INTOTO_PAYLOAD_TYPE:
        raise VerificationFailure(
            MALFORMED,
            f"{source}: DSSE payload type is {envelope.payload_type!r}, "
            f"not {INTOTO_PAYLOAD_TYPE!r}",
        )
    return parse_statement(envelope.payload, source)

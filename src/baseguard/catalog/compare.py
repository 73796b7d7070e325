"""Measure images, and set two of them side by side with measured values only.

A :class:`Measurement` is what baseguard learned by opening one image: its analysis (distro,
packages, shell, package managers, user, sizes) and, with a vulnerability database, its scan
(VEX applied). When the image cannot be opened (offline and not in the image store, a digest
other than the one pinned, a registry error) the measurement says *why* and carries no
values: nothing is ever estimated. :class:`Measurer` opens images the way ``assess`` does
(the local image store first, then the registry unless offline) and reuses analyses cached
by digest. ``recommend`` and ``fix`` build on it.

:func:`compare` measures two images and looks up, for registry images, which signatures and
attestations (SBOM, SLSA provenance, VEX) are attached, through :mod:`baseguard.attest`.
"Attached" is not "verified": ``baseguard verify`` checks them against a trusted key.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from baseguard import __version__
from baseguard.analysis.analyze import Analysis
from baseguard.analysis.hardening import Facts
from baseguard.catalog.assess import AnalysisCache
from baseguard.catalog.imagestore import ImageStore
from baseguard.errors import BaseguardError
from baseguard.humanize import format_size
from baseguard.image.source import OpenOptions, open_image, split_transport
from baseguard.matching.findings import SEVERITIES, ScanResult
from baseguard.matching.matcher import AdvisorySource, match
from baseguard.matching.vex import VexDocument
from baseguard.refs import parse_reference

#: What can be attached to an image, in the order the comparison lists them.
ATTACHMENT_KINDS = ("signature", "provenance", "sbom", "vex")
#: Transports that name a local file or directory (never looked up in a store or registry).
LOCAL_TRANSPORTS = frozenset({"oci", "oci-archive", "docker-archive", "dir"})


@dataclass
class Measurement:
    """One image as measured, or why it could not be.

    ``reason`` is set (and ``analysis`` is None) when the image could not be opened;
    ``scan_reason`` is set when it was analysed but not scanned (no database given).
    """

    reference: str
    source: str | None = None
    analysis: Analysis | None = None
    scan: ScanResult | None = None
    reason: str | None = None
    scan_reason: str | None = None
    cached: bool = False
    #: True when the image was read from a registry (attachments can be looked up there).
    from_registry: bool = False

    @property
    def measured(self) -> bool:
        return self.analysis is not None

    @property
    def facts(self) -> Facts | None:
        return self.analysis.facts if self.analysis else None

    @property
    def digest(self) -> str | None:
        """The digest to pin: the index's for a multi-platform image, else the manifest's."""
        if self.analysis is None:
            return None
        return self.analysis.image.index_digest or self.analysis.image.manifest_digest

    def severity_counts(self) -> dict[str, int] | None:
        """Findings per severity (VEX applied), or None when not scanned."""
        return self.scan.counts() if self.scan is not None else None

    @property
    def total(self) -> int | None:
        return len(self.scan.findings) if self.scan is not None else None

    @property
    def package_managers(self) -> list[str] | None:
        facts = self.facts
        return sorted({p["name"] for p in facts.package_managers}) if facts else None

    @property
    def shells(self) -> list[str] | None:
        facts = self.facts
        return sorted({s["name"] for s in facts.shells}) if facts else None

    def to_dict(self) -> dict[str, Any]:
        facts = self.facts
        counts = self.severity_counts()
        out: dict[str, Any] = {
            "reference": self.reference,
            "measured": self.measured,
            "reason": self.reason,
            "source": self.source,
            "cached": self.cached,
            "digest": self.digest,
        }
        if self.analysis is None or facts is None:
            return out
        out.update(
            {
                "distro": self.analysis.distro.display,
                "packages": len(self.analysis.packages),
                "hasShell": facts.has_shell,
                "shells": self.shells,
                "packageManagers": self.package_managers,
                "user": facts.user,
                "uid": facts.uid,
                "runsAsRoot": facts.runs_as_root,
                "compressedSize": facts.compressed_size,
                "uncompressedSize": facts.uncompressed_size,
                "vulnerabilities": (
                    {
                        "measured": True,
                        "total": self.total,
                        "bySeverity": {k.lower(): v for k, v in counts.items()},
                        "fixable": sum(1 for f in self.scan.findings if f.fixed_versions),
                        "suppressedByVex": len(self.scan.suppressed),
                    }
                    if self.scan is not None and counts is not None
                    else {"measured": False, "reason": self.scan_reason}
                ),
            }
        )
        return out


def user_label(facts: Facts) -> str:
    """``root``, ``65532 (non-root)``, ``app (uid 1000, non-root)``."""
    if facts.runs_as_root:
        return f"{facts.user} (root)" if facts.user and facts.user not in ("0", "root") else "root"
    name = facts.user or "?"
    if facts.uid is not None and str(facts.uid) != name:
        return f"{name} (uid {facts.uid}, non-root)"
    return f"{name} (non-root)"


class Measurer:
    """Opens, analyses (cached by digest) and scans images; remembers what it measured."""

    def __init__(
        self,
        db: AdvisorySource | None,
        *,
        vex: Sequence[VexDocument] = (),
        store: ImageStore | None = None,
        offline: bool = False,
        options: OpenOptions | None = None,
        cache: AnalysisCache | None = None,
        now: datetime | None = None,
    ) -> None:
        self.db = db
        self.vex = list(vex)
        self.store = store
        self.offline = offline
        self.options = options
        self.cache = cache or AnalysisCache(None)
        self.now = now or datetime.now(UTC)
        self._seen: dict[tuple[str, tuple[str, ...]], Measurement] = {}

    def locate(self, reference: str) -> tuple[str | None, bool, str | None]:
        """Where to read ``reference`` from: (source, from a registry?, why it cannot be read).

        A local path or ``oci:``/``dir:``… source is read as it is. A registry reference is
        read from the image store when the store holds it, else from its registry unless
        offline.
        """
        transport, rest = split_transport(reference)
        if transport in LOCAL_TRANSPORTS or (transport == "" and Path(reference).exists()):
            return reference, False, None
        name = rest if transport in ("docker", "registry") else reference
        try:
            ref = parse_reference(name)
        except BaseguardError as exc:
            return None, False, exc.message
        if self.store is not None:
            found = self.store.source_for(str(ref))
            if found is None and ref.digest and ref.tag:
                found = self.store.source_for(f"{ref.name}:{ref.tag}")
            if found is not None:
                return found, False, None
        if self.offline:
            where = f"the image store {self.store.path}" if self.store else "an image store"
            return None, False, f"offline, and {ref} is not in {where}"
        return str(ref), True, None

    def measure(self, reference: str, *, pinned: Sequence[str] = ()) -> Measurement:
        """Measure ``reference``; with ``pinned``, only an image with one of those digests.

        A reference carrying a digest is pinned to it too (a store entry found by tag must
        be that very image).
        """
        key = (reference, tuple(pinned))
        if key in self._seen:
            return self._seen[key]
        result = self._measure(reference, tuple(pinned))
        self._seen[key] = result
        return result

    def _measure(self, reference: str, pinned: tuple[str, ...]) -> Measurement:
        out = Measurement(reference)
        source, from_registry, reason = self.locate(reference)
        if source is None:
            out.reason = reason
            return out
        out.source, out.from_registry = source, from_registry
        wanted = set(pinned)
        transport, rest = split_transport(reference)
        if transport not in LOCAL_TRANSPORTS and not Path(reference).exists():
            try:
                own = parse_reference(rest if transport in ("docker", "registry") else reference)
            except BaseguardError:
                own = None
            if own is not None and own.digest:
                wanted = wanted & {own.digest} if wanted else {own.digest}
                if not wanted:
                    out.reason = f"{reference} is pinned to a digest the catalog does not pin"
                    return out
        try:
            with open_image(source, self.options) as image:
                digests = {d for d in (image.index_digest, image.manifest_digest) if d}
                if wanted and not digests & wanted:
                    got = image.index_digest or image.manifest_digest or "no digest"
                    out.reason = (
                        f"{source} is {got}, not the pinned "
                        f"{' or '.join(sorted(wanted))}: a different image than the one named"
                    )
                    return out
                out.analysis, out.cached = self.cache.analyse(image, self.now)
            if self.db is None:
                out.scan_reason = "no vulnerability database was given"
            else:
                out.scan = match(out.analysis, self.db, vex=self.vex, now=self.now)
        except BaseguardError as exc:
            out.analysis, out.scan = None, None
            out.reason = exc.message
        return out


# --------------------------------------------------------------------------- attachments


@dataclass(frozen=True)
class Availability:
    """Whether one kind of attachment exists: ``yes``, ``no``, ``rejected`` or ``unknown``."""

    status: str
    detail: str = ""

    @property
    def label(self) -> str:
        if self.status == "yes":
            return f"yes ({self.detail})" if self.detail else "yes"
        if self.status == "no":
            return "no"
        return f"{self.status}: {self.detail}" if self.detail else self.status

    def to_dict(self) -> dict[str, str]:
        return {"status": self.status, "detail": self.detail}


def _all(status: str, detail: str) -> dict[str, Availability]:
    return {k: Availability(status, detail) for k in ATTACHMENT_KINDS}


def attachments(
    measurement: Measurement, *, offline: bool, options: OpenOptions | None = None
) -> dict[str, Availability]:
    """Which signatures and attestations are attached to a measured registry image.

    Looked up through :mod:`baseguard.attest` (OCI referrers API, its tag fallback and
    cosign's ``.sig``/``.att``/``.sbom`` tags). Nothing is verified here: an attachment is
    "yes" when it is present and well-formed. Images read from a file, a directory or the
    local image store, and any image when offline, are "unknown": the registry was not asked.
    """
    if not measurement.measured or measurement.digest is None:
        return _all("unknown", "the image was not measured")
    if not measurement.from_registry:
        return _all("unknown", "not read from a registry (attachments live in registries)")
    if offline:
        return _all("unknown", "offline: the registry was not asked")
    try:
        from baseguard.attest.cosign import SIMPLE_SIGNING_MEDIA_TYPE
        from baseguard.attest.keyless import BUNDLE_MEDIA_TYPES
        from baseguard.attest.verify import collect_evidence
        from baseguard.image.cache import BlobCache
        from baseguard.image.credentials import load_credentials
        from baseguard.image.registry import RegistryClient
    except ImportError as exc:  # pragma: no cover - a partial installation
        return _all("unknown", f"attestation support is not available ({exc})")
    opts = options or OpenOptions()
    try:
        ref = parse_reference(str(measurement.source))
        with RegistryClient(
            insecure=opts.insecure,
            credentials=load_credentials(),
            cache=BlobCache(),
            ca_file=opts.ca_file,
        ) as client:
            evidence, found = collect_evidence(client, ref, measurement.digest, None)
    except BaseguardError as exc:
        return _all("unknown", f"the registry could not be asked: {exc.message}")
    out: dict[str, Availability] = {}
    attested_at = {a.location for a in evidence.attestations}
    signed = [
        att.location
        for att in found.attachments
        if any(str(layer.get("mediaType")) == SIMPLE_SIGNING_MEDIA_TYPE for layer in att.layers)
        or (
            (
                att.artifact_type in BUNDLE_MEDIA_TYPES
                or any(str(layer.get("mediaType")) in BUNDLE_MEDIA_TYPES for layer in att.layers)
            )
            and att.location not in attested_at
        )
    ]
    for kind in ATTACHMENT_KINDS:
        rejected = [r for r in evidence.rejections if r.kind == kind]
        if kind == "signature":
            present = sorted(set(signed))
            detail = f"{len(present)} attached, not verified" if present else ""
        else:
            att = [a for a in evidence.attestations if a.kind == kind]
            docs = [u for u in evidence.unsigned if u.kind == kind]
            present = sorted({a.location for a in att} | {u.location for u in docs})
            parts = []
            if att:
                parts.append(f"{len(att)} in-toto attestation{'s' if len(att) != 1 else ''}")
            if docs:
                parts.append(f"{len(docs)} unsigned document{'s' if len(docs) != 1 else ''}")
            detail = ", ".join(parts) + ", not verified" if parts else ""
        if present:
            out[kind] = Availability("yes", detail)
        elif rejected:
            out[kind] = Availability("rejected", rejected[0].reason)
        else:
            out[kind] = Availability("no")
    return out


# --------------------------------------------------------------------------- comparison


@dataclass
class Comparison:
    """Two measured images, and what is attached to each."""

    left: Measurement
    right: Measurement
    left_attachments: dict[str, Availability]
    right_attachments: dict[str, Availability]
    generated_at: datetime
    db_built: datetime | None = None
    warnings: list[str] = field(default_factory=list)

    def rows(self) -> list[tuple[str, str, str]]:
        """(what, left, right) rows of the side-by-side table; every value measured."""
        rows: list[tuple[str, str, str]] = [("Image", self.left.reference, self.right.reference)]
        left, right = measurement_cells(self.left), measurement_cells(self.right)
        rows += [(label, left[i], right[i]) for i, label in enumerate(MEASUREMENT_ROWS)]
        for kind in ATTACHMENT_KINDS:
            rows.append(
                (
                    f"{ATTACHMENT_LABELS[kind]} attached",
                    self.left_attachments[kind].label,
                    self.right_attachments[kind].label,
                )
            )
        return rows

    def to_dict(self) -> dict[str, Any]:
        def side(m: Measurement, att: dict[str, Availability]) -> dict[str, Any]:
            return {**m.to_dict(), "attachments": {k: v.to_dict() for k, v in att.items()}}

        return {
            "schemaVersion": "1",
            "tool": {"name": "baseguard", "version": __version__},
            "generatedAt": self.generated_at.isoformat(),
            "database": {"builtAt": self.db_built.isoformat() if self.db_built else None},
            "left": side(self.left, self.left_attachments),
            "right": side(self.right, self.right_attachments),
            "warnings": list(self.warnings),
        }


ATTACHMENT_LABELS = {
    "signature": "Signature",
    "provenance": "Provenance",
    "sbom": "SBOM",
    "vex": "VEX",
}
#: The rows :func:`measurement_cells` fills, in order.
MEASUREMENT_ROWS = (
    "Digest",
    "Distro",
    "Packages",
    "Shell",
    "Package managers",
    "User",
    "Size (compressed)",
    "Size (uncompressed)",
    "Vulnerabilities",
    *(f"  {s.lower()}" for s in SEVERITIES),
    "Suppressed by VEX",
)


def measurement_cells(m: Measurement) -> list[str]:
    """One column of measured values (see :data:`MEASUREMENT_ROWS`); an image that was not
    measured says why in its first cell and has no values."""
    if m.analysis is None or m.facts is None:
        return [f"not measured: {m.reason}"] + ["-"] * (len(MEASUREMENT_ROWS) - 1)
    facts = m.facts
    counts = m.severity_counts()
    scanned = "not scanned" if m.scan_reason is None else f"not scanned: {m.scan_reason}"
    return [
        m.digest or "-",
        m.analysis.distro.display,
        str(len(m.analysis.packages)),
        _yes_list(m.shells),
        _yes_list(m.package_managers),
        user_label(facts),
        format_size(facts.compressed_size),
        format_size(facts.uncompressed_size),
        str(sum(counts.values())) if counts is not None else scanned,
        *(str(counts[s]) if counts is not None else "-" for s in SEVERITIES),
        str(len(m.scan.suppressed)) if m.scan is not None else "-",
    ]


def _yes_list(names: list[str] | None) -> str:
    if names is None:
        return "-"
    return f"yes: {', '.join(names)}" if names else "no"


def side_warnings(sides: list[Measurement]) -> list[str]:
    """The warnings of both sides' scans: one both have (a stale database) once, as it is;
    one side's own (what reading that image left out) prefixed with its reference."""
    own = [set(m.scan.warnings) if m.scan else set() for m in sides]
    shared = set.intersection(*own) if own else set()
    return sorted(shared) + [
        f"{m.reference}: {w}" for m, ws in zip(sides, own, strict=True) for w in sorted(ws - shared)
    ]


def compare(
    left: str,
    right: str,
    measurer: Measurer,
    *,
    look_up_attachments: bool = True,
) -> Comparison:
    """Measure both images and what is attached to them.

    Raises :class:`BaseguardError` naming the image (and why) if either cannot be measured:
    a comparison with one side missing would be half invented.
    """
    sides = [measurer.measure(left), measurer.measure(right)]
    for m in sides:
        if not m.measured:
            raise BaseguardError(
                f"cannot compare: {m.reference} was not measured: {m.reason}",
                hint="give --images STORE with the image, or drop --offline to pull it",
            )
    found = [
        attachments(m, offline=measurer.offline, options=measurer.options)
        if look_up_attachments
        else _all("unknown", "attachments were not looked up")
        for m in sides
    ]
    warnings = side_warnings(sides)
    built = next((m.scan.db_built for m in sides if m.scan and m.scan.db_built), None)
    return Comparison(
        sides[0], sides[1], found[0], found[1], measurer.now, db_built=built, warnings=warnings
    )

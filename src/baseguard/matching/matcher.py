"""Analysis x vulnerability database x VEX -> findings, each with the reason it matched.

One batched :meth:`VulnDB.advisories_for` per ecosystem. Records of the same vulnerability
from several sources (Alpine secdb and OSV, PYSEC and GHSA) become one finding that lists
every source. A distro's own "not affected" statement for its release (secdb's fixed version
"0", Debian's not-affected) outranks any other source's claim about that package: those
claims are moved to ``suppressed`` with the distro's word as the reason. A version that
cannot be compared is a warning for that package, never a crash.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from baseguard.matching.ecosystems import Target, plan
from baseguard.matching.findings import (
    Finding,
    MatchSource,
    PackageRef,
    ScanResult,
    VexDecision,
    sort_findings,
)
from baseguard.vulndb.model import Advisory, Affected, Range, label_for_word, severity_rank

if TYPE_CHECKING:
    from datetime import timedelta

    from baseguard.analysis.analyze import Analysis
    from baseguard.analysis.packages import Package
    from baseguard.matching.vex import VexDocument

MAX_REFERENCES = 5


class AdvisorySource(Protocol):
    """What the matcher needs from :class:`baseguard.vulndb.store.VulnDB`."""

    def advisories_for(
        self, ecosystem: str, names: Iterable[str]
    ) -> dict[str, list[tuple[Advisory, Affected]]]: ...

    def ecosystems(self) -> set[str]: ...

    def kev(self, ids: Iterable[str]) -> dict[str, dict[str, Any]]: ...

    def epss(self, ids: Iterable[str]) -> dict[str, tuple[float, float]]: ...

    def age(self, now: datetime | None = None) -> timedelta: ...


@dataclass(slots=True)
class _Hit:
    """One advisory entry that contains the installed version."""

    advisory: Advisory
    affected: Affected
    ecosystem: str
    range_text: str
    fixed: list[str]
    identity: frozenset[str]


@dataclass
class _PackageHits:
    target: Target
    hits: list[_Hit] = field(default_factory=list)
    #: ids a distro said this package is not affected by -> (source, ecosystem)
    not_affected: dict[str, tuple[str, str]] = field(default_factory=dict)


def identity_of(advisory: Advisory) -> frozenset[str]:
    """The ids that name the same vulnerability as ``advisory``: its CVE when it has exactly
    one; its id and aliases when it has none; its id alone when it covers several CVEs."""
    cves = advisory.cve_ids
    if len(cves) == 1:
        return frozenset(cves)
    if not cves:
        return frozenset(i.upper() for i in (advisory.id, *advisory.aliases))
    return frozenset({advisory.id.upper()})


def describe_range(rng: Range) -> str:
    """``introduced 0, fixed 1.36.1-r30``."""
    return ", ".join(f"{kind.replace('_', ' ')} {value}" for kind, value in rng.events)


def match(
    analysis: Analysis,
    db: AdvisorySource,
    *,
    vex: Sequence[VexDocument] = (),
    now: datetime | None = None,
) -> ScanResult:
    """Match every package of ``analysis`` against ``db`` and apply the VEX documents."""
    from baseguard.vulndb import versions

    moment = now or datetime.now(UTC)
    result = ScanResult(
        scanned_at=moment,
        packages_scanned=len(analysis.packages),
        target=analysis.image.to_dict(),
        distro=analysis.distro.to_dict(),
    )
    try:
        result.db_age = db.age(moment)
        result.db_built = moment - result.db_age
    except Exception:  # an age the DB cannot tell is not worth failing a scan over
        result.db_age = None
    # What reading the image or SBOM left out (ignored fields, unreadable entries) makes
    # the scan less complete: the reader of the scan must see it too.
    result.warnings.extend(analysis.warnings)
    if analysis.issues:
        result.warnings.append(
            f"{len(analysis.issues)} package file(s) could not be read; their packages were "
            "not matched (see the analysis issues)"
        )

    placed = plan(analysis.distro, analysis.packages, db.ecosystems())
    result.warnings.extend(placed.warnings)
    per_package: dict[int, _PackageHits] = {}
    errors: dict[int, tuple[str, int]] = {}

    for ecosystem in sorted(placed.targets):
        targets = placed.targets[ecosystem]
        result.ecosystems[ecosystem] = len(targets)
        try:
            scheme = versions.scheme_for_ecosystem(ecosystem)
        except versions.VersionError as exc:
            result.warnings.append(f"{ecosystem}: {exc}; {len(targets)} packages not matched")
            continue
        found = db.advisories_for(ecosystem, placed.names(ecosystem))
        identities: dict[int, frozenset[str]] = {}
        for target in targets:
            slot = per_package.setdefault(id(target.package), _PackageHits(target))
            seen: set[tuple[int, int]] = set()
            for name in target.names:
                for advisory, affected in found.get(name, ()):
                    key = (id(advisory), id(affected))
                    if key in seen or advisory.withdrawn:
                        continue
                    seen.add(key)
                    identity = identities.get(key[0])
                    if identity is None:
                        identity = identities[key[0]] = identity_of(advisory)
                    if affected.not_affected:
                        if target.distro:
                            for ident in identity | set(advisory.cve_ids):
                                slot.not_affected.setdefault(
                                    ident, (advisory.source or advisory.id, ecosystem)
                                )
                        continue
                    try:
                        hit = _check(
                            versions, scheme, target, advisory, affected, ecosystem, identity
                        )
                    except versions.VersionError as exc:
                        first, count = errors.get(id(target.package), (str(exc), 0))
                        errors[id(target.package)] = (first, count + 1)
                        continue
                    if hit is not None:
                        slot.hits.append(hit)

    for pkg_id, (message, count) in errors.items():
        pkg = per_package[pkg_id].target.package
        others = f" (and {count - 1} more advisories)" if count > 1 else ""
        result.warnings.append(
            f"{pkg.type} package {pkg.name} {pkg.version}: a version could not be compared "
            f"({message}){others}; those advisories were not applied"
        )

    findings: list[Finding] = []
    suppressed: list[Finding] = []
    for slot in per_package.values():
        for group in _group(slot.hits):
            finding = _finding(slot.target, group)
            na = None
            if slot.not_affected:
                na = next(
                    (slot.not_affected[i] for i in sorted(finding.ids) if i in slot.not_affected),
                    None,
                )
            if na is not None:
                source, ecosystem = na
                finding.vex = VexDecision(
                    status="not_affected",
                    justification="vulnerable_code_not_present",
                    impact_statement=(
                        f"{source} says {ecosystem} package {slot.target.names[0]} is not "
                        "affected (the distribution's own statement for this release)"
                    ),
                    document=f"distro:{source}",
                )
                suppressed.append(finding)
            else:
                findings.append(finding)

    _enrich(db, [*findings, *suppressed])
    if vex:
        findings, by_vex = _apply_vex(analysis, vex, findings, result.warnings)
        suppressed.extend(by_vex)
    result.findings = sort_findings(findings)
    result.suppressed = sort_findings(suppressed)
    return result


def _check(
    versions: Any,
    scheme: str,
    target: Target,
    advisory: Advisory,
    affected: Affected,
    ecosystem: str,
    identity: frozenset[str],
) -> _Hit | None:
    # OSV: affected = listed in ``versions`` or inside a range. Ranges are evaluated first,
    # one by one (cheap: a few events, and we learn which range matched); the ``versions``
    # list, whose every entry must be parsed, only when no range holds the version.
    ranges = affected.ranges
    texts: list[str] = []
    if len(ranges) == 1 and not affected.versions:
        if not versions.is_affected(scheme, target.version, affected):
            return None
        texts.append(describe_range(ranges[0]))
    else:
        error: Exception | None = None
        for rng in ranges:
            single = Affected(affected.ecosystem, affected.package, ranges=[rng])
            try:
                if versions.is_affected(scheme, target.version, single):
                    texts.append(describe_range(rng))
            except versions.VersionError as exc:
                error = error or exc
        if not texts:
            listed = Affected(affected.ecosystem, affected.package, versions=affected.versions)
            if affected.versions and versions.is_affected(scheme, target.version, listed):
                texts.append(f"listed affected version {target.version}")
            elif error is not None:
                raise error
            else:
                return None
    fixed: list[str] = []
    for candidate in versions.fixed_versions(affected):
        try:
            if versions.compare(scheme, candidate, target.version) > 0:
                fixed.append(candidate)
        except versions.VersionError:
            fixed.append(candidate)
    return _Hit(
        advisory=advisory,
        affected=affected,
        ecosystem=ecosystem,
        range_text="; ".join(texts),
        fixed=fixed,
        identity=identity,
    )


def _group(hits: list[_Hit]) -> list[list[_Hit]]:
    """Hits about the same vulnerability (shared identity) in one package, together."""
    groups: list[tuple[set[str], list[_Hit]]] = []
    for hit in hits:
        joined = [g for g in groups if g[0] & hit.identity]
        ids, members = set(hit.identity), [hit]
        for g in joined:
            ids |= g[0]
            members.extend(g[1])
            groups.remove(g)
        groups.append((ids, members))
    return [members for _, members in groups]


def _finding(target: Target, group: list[_Hit]) -> Finding:
    pkg: Package = target.package
    group.sort(key=lambda h: (h.advisory.source, h.advisory.id))
    all_ids: dict[str, str] = {}  # upper-cased -> as the source spells it
    for hit in group:
        for ident in (hit.advisory.id, *hit.advisory.aliases):
            all_ids.setdefault(ident.upper(), ident)
    cves = sorted({i for h in group for i in h.identity if i.startswith("CVE-")})
    if not cves or len(group) > 1:
        cves = sorted({i for h in group for i in h.advisory.cve_ids})
    vuln_id = cves[0] if len(cves) == 1 else group[0].advisory.id
    label, score, distro_label = "UNKNOWN", None, None
    for hit in group:
        if severity_rank(hit.advisory.severity_label) > severity_rank(label):
            label = hit.advisory.severity_label.upper()
        if hit.advisory.cvss_score is not None and (
            score is None or hit.advisory.cvss_score > score
        ):
            score = hit.advisory.cvss_score
        if distro_label is None and hit.affected.severity:
            distro_label = hit.affected.severity
    if label == "UNKNOWN" and distro_label:
        label = label_for_word(distro_label) or "UNKNOWN"
    fixed: list[str] = []
    for hit in group:
        fixed.extend(v for v in hit.fixed if v not in fixed)
    references: list[str] = []
    for hit in group:
        references.extend(r for r in hit.advisory.references if r not in references)
    summary = next((h.advisory.summary for h in group if h.advisory.summary), "")
    sources = sorted(
        {
            (h.advisory.source, h.advisory.id, h.ecosystem, h.affected.package, h.range_text)
            for h in group
        }
    )
    return Finding(
        id=vuln_id,
        aliases=sorted(v for k, v in all_ids.items() if k != vuln_id.upper()),
        package=PackageRef(
            name=pkg.name,
            version=pkg.version,
            type=pkg.type,
            purl=pkg.purl,
            source_name=pkg.source_name,
            source_version=pkg.source_version,
            layer=pkg.layer,
            locations=list(pkg.locations),
        ),
        installed_version=pkg.version,
        fixed_versions=fixed,
        severity=label,
        cvss_score=score,
        distro_severity=distro_label,
        summary=summary,
        references=references[:MAX_REFERENCES],
        sources=[MatchSource(*s) for s in sources],
    )


def _enrich(db: AdvisorySource, findings: list[Finding]) -> None:
    """KEV flags and EPSS scores for every CVE the findings name: two batched lookups."""
    cves = sorted({i for f in findings for i in f.ids if i.startswith("CVE-")})
    if not cves:
        return
    kev = db.kev(cves)
    epss = db.epss(cves)
    for finding in findings:
        ids = sorted(i for i in finding.ids if i.startswith("CVE-"))
        finding.kev = next((dict(kev[i], cve=i) for i in ids if i in kev), None)
        scores = [epss[i] for i in ids if i in epss]
        finding.epss = max(scores) if scores else None


def _image_context(analysis: Analysis) -> Any:
    from baseguard.matching.vex import ImageContext

    image = analysis.image
    digests = {d.lower() for d in (image.manifest_digest, image.index_digest) if d}
    repository = None
    if image.name:
        name = image.name.split("@", 1)[0]
        head, slash, tail = name.rpartition("/")
        if ":" in tail:
            tail = tail.split(":", 1)[0]
        repository = f"{head}{slash}{tail}"
    return ImageContext(digests=digests, repository=repository)


def _apply_vex(
    analysis: Analysis,
    documents: Sequence[VexDocument],
    findings: list[Finding],
    warnings: list[str],
) -> tuple[list[Finding], list[Finding]]:
    from baseguard.matching.vex import VexIndex

    for doc in documents:
        warnings.extend(doc.warnings)
    index = VexIndex(documents, _image_context(analysis), (p.purl for p in analysis.packages))
    kept: list[Finding] = []
    suppressed: list[Finding] = []
    for finding in findings:
        statement = index.decide(finding.ids, finding.package.purl)
        if statement is None:
            kept.append(finding)
            continue
        finding.vex = statement.decision()
        (suppressed if finding.vex.suppresses else kept).append(finding)
    return kept, suppressed

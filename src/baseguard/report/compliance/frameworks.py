"""The articles the compliance report covers: what each asks, what baseguard does about it,
and which measured evidence shows it.

Each requirement is a one-line summary in our own words, not the legal text; read the act
for its exact wording. ``primary`` evidence must be met for the article to be met; a gap in
any primary item makes the article a gap (see :func:`article_status` and docs/report.md).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

#: Statuses, best first. ``met``: measured and within the rules; ``partial``: measured, with
#: shortfalls; ``gap``: the evidence is missing or shows the control not working.
MET, PARTIAL, GAP = "met", "partial", "gap"
STATUSES = (MET, PARTIAL, GAP)

#: ``--framework`` choices.
FRAMEWORKS = ("dora", "nis2", "all")

DORA = "Regulation (EU) 2022/2554 (DORA)"
DORA_RTS = "Commission Delegated Regulation (EU) 2024/1774 (DORA RTS on ICT risk management)"
NIS2 = "Directive (EU) 2022/2555 (NIS2)"
NIS2_CIR = "Commission Implementing Regulation (EU) 2024/2690 (NIS2 implementing act)"


@dataclass(frozen=True)
class Article:
    """One article (or point) of an act, and how baseguard answers it."""

    id: str
    framework: str  # "dora" | "nis2": which --framework includes it
    act: str
    ref: str  # "Art. 9", "Art. 21(2)(e)", "Annex 6.6"
    title: str
    requirement: str  # one line, our own words
    control: str  # what baseguard implements
    primary: tuple[str, ...]  # evidence ids that must be met
    supporting: tuple[str, ...] = ()  # evidence ids that also count towards "met"

    @property
    def evidence(self) -> tuple[str, ...]:
        return (*self.primary, *self.supporting)

    def role(self, item: str) -> str:
        """``primary`` or ``supporting``: what evidence ``item`` is to this article."""
        return "primary" if item in self.primary else "supporting"

    def to_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "framework": self.framework,
            "act": self.act,
            "ref": self.ref,
            "title": self.title,
            "requirement": self.requirement,
            "control": self.control,
            "primaryEvidence": list(self.primary),
            "supportingEvidence": list(self.supporting),
        }


ARTICLES: tuple[Article, ...] = (
    Article(
        id="dora-art-6",
        framework="dora",
        act=DORA,
        ref="Art. 6",
        title="ICT risk management framework",
        requirement=(
            "Run a sound, documented ICT risk management framework (strategies, policies, "
            "procedures, protocols, tools) that protects every ICT asset, reviewed at least "
            "once a year."
        ),
        control=(
            "A governed catalog of base images (provider, owner, lifecycle, EOL, patch SLA, "
            "required attestations) whose every change is written to a hash-chained audit log."
        ),
        primary=("catalog", "audit"),
        supporting=("exceptions", "catalog-coverage"),
    ),
    Article(
        id="dora-art-8",
        framework="dora",
        act=DORA,
        ref="Art. 8",
        title="Identification",
        requirement=(
            "Identify, classify and document ICT assets and their dependencies, keep the "
            "inventory up to date, and continuously assess the vulnerabilities that affect them."
        ),
        control=(
            "Inventory of every image reference in Dockerfiles, compose files, Kubernetes "
            "manifests, registries and clusters, each use judged against the catalog."
        ),
        primary=("inventory", "catalog-coverage"),
        supporting=("catalog", "scan-recency"),
    ),
    Article(
        id="dora-art-9",
        framework="dora",
        act=DORA,
        ref="Art. 9",
        title="Protection and prevention",
        requirement=(
            "Continuously monitor and control the security of ICT systems and keep ICT risk "
            "low with appropriate security tools, policies and procedures, patches and updates "
            "included."
        ),
        control=(
            "Workloads run on approved hardened images only (catalog verdicts), their "
            "vulnerabilities are measured, fixes are tracked against each entry's patch SLA and "
            "deviations need a time-limited, approved exception."
        ),
        primary=("catalog-coverage", "exposure", "patch-sla"),
        supporting=("exceptions", "attestations"),
    ),
    Article(
        id="dora-art-10",
        framework="dora",
        act=DORA,
        ref="Art. 10",
        title="Detection",
        requirement=(
            "Have mechanisms that promptly detect anomalous activity and ICT incidents, with "
            "layered controls and alert thresholds, and test them regularly."
        ),
        control=(
            "The audit log's SHA-256 chain reveals edited, inserted, deleted or reordered "
            "records; stored images are re-scanned so newly published and actively exploited "
            "(KEV) vulnerabilities show up."
        ),
        primary=("audit", "scan-recency"),
        supporting=("exposure",),
    ),
    Article(
        id="dora-art-28",
        framework="dora",
        act=DORA,
        ref="Art. 28",
        title="ICT third-party risk: general principles",
        requirement=(
            "Manage ICT third-party risk as part of the ICT risk framework, stay fully "
            "responsible for what third parties provide, and keep a register of those "
            "arrangements."
        ),
        control=(
            "Third-party base images are admitted only through catalog entries naming provider "
            "and owner, with required signatures, SLSA provenance, SBOM and VEX verified."
        ),
        primary=("catalog", "attestations"),
        supporting=("catalog-coverage", "exceptions"),
    ),
    Article(
        id="dora-rts-art-10",
        framework="dora",
        act=DORA_RTS,
        ref="Art. 10",
        title="Vulnerability and patch management",
        requirement=(
            "Document and run vulnerability management (automated scans at a frequency fitting "
            "each asset, track open-source libraries, prioritise and verify fixes) and patch "
            "management with installation deadlines and escalation."
        ),
        control=(
            "Every stored image is scanned from its SBOM against distro and ecosystem advisories "
            "with KEV flags; each catalog entry's patch SLA is measured from fix availability "
            "to an approved digest carrying the fix."
        ),
        primary=("exposure", "patch-sla", "scan-recency"),
        supporting=("inventory", "exceptions"),
    ),
    Article(
        id="nis2-art-21-2-a",
        framework="nis2",
        act=NIS2,
        ref="Art. 21(2)(a)",
        title="Risk analysis and information system security policies",
        requirement="Have policies on risk analysis and on the security of information systems.",
        control=(
            "The catalog is the base-image policy (approved images, lifecycle, SLA), applied "
            "to every inventoried use, with its changes audited."
        ),
        primary=("catalog", "catalog-coverage"),
        supporting=("inventory", "audit"),
    ),
    Article(
        id="nis2-art-21-2-d",
        framework="nis2",
        act=NIS2,
        ref="Art. 21(2)(d)",
        title="Supply chain security",
        requirement=(
            "Secure the supply chain, including the security of relationships with direct "
            "suppliers and service providers."
        ),
        control=(
            "Each catalog entry names the image's provider and owner and the attestations it "
            "must carry (signature, provenance, SBOM, VEX), which are verified."
        ),
        primary=("attestations", "catalog"),
        supporting=("catalog-coverage", "exceptions"),
    ),
    Article(
        id="nis2-art-21-2-e",
        framework="nis2",
        act=NIS2,
        ref="Art. 21(2)(e)",
        title="Security in acquisition, development and maintenance",
        requirement=(
            "Keep systems secure when acquiring, developing and maintaining them, including "
            "vulnerability handling and disclosure."
        ),
        control=(
            "Images are scanned on a schedule, vulnerabilities counted by severity and KEV, and "
            "fixes delivered within each entry's patch SLA; VEX statements record why a "
            "finding does not apply."
        ),
        primary=("exposure", "patch-sla", "scan-recency"),
        supporting=("exceptions",),
    ),
    Article(
        id="nis2-art-21-2-h",
        framework="nis2",
        act=NIS2,
        ref="Art. 21(2)(h)",
        title="Cryptography",
        requirement=(
            "Have policies and procedures on using cryptography and, where appropriate, encryption."
        ),
        control=(
            "Image signatures and attestations are verified cryptographically (cosign keys or "
            "Sigstore keyless), and the audit log is a SHA-256 hash chain."
        ),
        primary=("attestations", "audit"),
    ),
    Article(
        id="nis2-cir-6-6",
        framework="nis2",
        act=NIS2_CIR,
        ref="Annex 6.6",
        title="Security patch management",
        requirement=(
            "Apply security patches within a reasonable time of release, test them first, take "
            "them from trusted sources with integrity checks, and document accepted risk where "
            "a patch is not applied."
        ),
        control=(
            "Patch SLA per catalog entry, measured; approved digests verified for signature "
            "and provenance; unpatched images allowed only by an exception with justification, "
            "approver and expiry."
        ),
        primary=("patch-sla", "exceptions"),
        supporting=("attestations",),
    ),
    Article(
        id="nis2-cir-6-10",
        framework="nis2",
        act=NIS2_CIR,
        ref="Annex 6.10",
        title="Vulnerability handling and disclosure",
        requirement=(
            "Monitor vulnerability information, scan at planned intervals and keep the results, "
            "fix critical vulnerabilities without undue delay, and record why others need no fix."
        ),
        control=(
            "Scans are stored with their findings and VEX decisions; scan age, severity and "
            "KEV exposure are measured per image."
        ),
        primary=("scan-recency", "exposure"),
        supporting=("patch-sla", "audit"),
    ),
)


def articles_for(framework: str) -> list[Article]:
    """The articles ``--framework`` includes (``all``: every one), in table order."""
    if framework not in FRAMEWORKS:
        raise ValueError(f"unknown framework {framework!r}; choose {', '.join(FRAMEWORKS)}")
    return [a for a in ARTICLES if framework == "all" or a.framework == framework]


def worst(statuses: Iterable[str]) -> str:
    """The worst of ``statuses`` (``met`` for none)."""
    return max(statuses, key=STATUSES.index, default=MET)


def article_status(article: Article, evidence: Mapping[str, str]) -> tuple[str, list[str]]:
    """The article's status from its evidence statuses, and the reasons for it.

    - ``gap`` when any primary evidence item is a gap;
    - ``met`` when every primary and supporting item is met;
    - ``partial`` otherwise (a primary item partial, or a supporting item partial or gap).
    """
    reasons: list[str] = []
    primary_gaps = [e for e in article.primary if evidence[e] == GAP]
    for item in article.evidence:
        status = evidence[item]
        if status != MET:
            reasons.append(f"{article.role(item)} evidence {item} is {status}")
    if primary_gaps:
        return GAP, reasons
    if not reasons:
        return MET, []
    return PARTIAL, reasons

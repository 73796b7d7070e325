"""A small estate written into a real store at injected times, for the compliance tests.

Timeline (UTC, January 2026; the report is judged at :data:`NOW`, 15 Jan 12:00):

- 1 Jan 10:00  catalog: ``python`` (approved, pins D1; SLA critical 2d, high 7d, medium 30d;
  requires signature, SLSA 3, SBOM), ``node`` (approved, tags ``22*``, no pins; SLA critical
  24h; requires signature; EOL 2026-03-01), ``legacy`` (proposed, no owner, no SLA);
  exceptions ``legacy-debian`` (expired 2025-12-31) and ``old-redis`` (live until 2026-06-30).
- 2 Jan 12:00  D1 (python:3.12) scanned: CVE-2026-1000 HIGH fixable, CVE-2026-1001 CRITICAL
  fixable and in KEV.
- 3 Jan 12:00  D3 (node:22) scanned: CVE-2026-3000 CRITICAL fixable, CVE-2026-3001 LOW not
  fixable, one finding suppressed by VEX.
- 5 Jan 10:00  python re-pinned to D2; 12:00 D2 scanned: only CVE-2026-2000 MEDIUM fixable.
- 14 Jan 12:00 D1, D2, D3 re-scanned (same findings); verify.result for D2 and D3 (both pass);
  13:00 an assessment with catalog verdicts: 4 uses, 2 approved, 1 excepted, 1 not allowed.

So the patch SLA has: CVE-2026-1000 delivered in D2 on 5 Jan 12:00 (within 7d),
CVE-2026-1001 delivered 5 Jan 12:00 against a 4 Jan 12:00 deadline (late by 1.0 day),
CVE-2026-2000 open within its 30d SLA, CVE-2026-3000 never delivered, due 4 Jan 12:00
(overdue by 11.0 days on 15 Jan 12:00).
"""

from __future__ import annotations

from datetime import UTC, datetime

from baseguard.analysis.analyze import Analysis
from baseguard.analysis.distro import Distro
from baseguard.analysis.packages import make_purl
from baseguard.attest.intoto import Statement, Subject
from baseguard.attest.policy import (
    Attestation,
    Evidence,
    PolicyResult,
    VerifiedSignature,
)
from baseguard.attest.slsa import Provenance
from baseguard.attest.verify import Requirements, VerificationResult
from baseguard.catalog.assess import Assessment, ImageAssessment
from baseguard.catalog.model import Catalog
from baseguard.catalog.verdicts import judge_uses
from baseguard.inventory.model import ImageUse, Inventory, Location
from baseguard.matching.findings import Finding, PackageRef, ScanResult, VexDecision
from baseguard.store import Store
from tests.store.builders import StepClock, image_identity

NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
D1 = "sha256:" + "1" * 64
D2 = "sha256:" + "2" * 64
D3 = "sha256:" + "3" * 64
PY = "cgr.dev/chainguard/python"
NODE = "cgr.dev/chainguard/node"


def at(day: int, hour: int = 12) -> datetime:
    return datetime(2026, 1, day, hour, 0, tzinfo=UTC)


def python_entry(digest: str) -> dict[str, object]:
    return {
        "id": "python",
        "provider": "chainguard",
        "repository": PY,
        "tags": ["3.12"],
        "digests": [digest],
        "variants": [],
        "runtime": {"name": "python", "version": "3.12", "libc": "glibc"},
        "owner": {"team": "platform", "contact": "platform@example.com"},
        "lifecycle": {
            "state": "approved",
            "history": [{"state": "approved", "date": "2025-12-01", "actor": "alice"}],
        },
        "eol": "2028-10-31",
        "patch_sla": {"critical": "2d", "high": "7d", "medium": "30d"},
        "attestations": {
            "signature": {"key": "keys/chainguard.pub"},
            "slsa_level": 3,
            "sbom": True,
            "vex": False,
        },
        "dev_in_production": False,
        "replaced_by": None,
        "notes": None,
    }


NODE_ENTRY: dict[str, object] = {
    "id": "node",
    "provider": "chainguard",
    "repository": NODE,
    "tags": ["22*"],
    "digests": [],
    "variants": [],
    "runtime": None,
    "owner": {"team": "web", "contact": "web@example.com"},
    "lifecycle": {"state": "approved", "history": []},
    "eol": "2026-03-01",
    "patch_sla": {"critical": "24h"},
    "attestations": {
        "signature": {"key": "keys/chainguard.pub"},
        "slsa_level": None,
        "sbom": False,
        "vex": False,
    },
    "dev_in_production": False,
    "replaced_by": None,
    "notes": None,
}
LEGACY_ENTRY: dict[str, object] = {
    "id": "legacy",
    "provider": "upstream",
    "repository": "docker.io/library/ubuntu",
    "tags": ["22.04"],
    "lifecycle": {"state": "proposed", "history": []},
}
EXPIRED = {
    "id": "legacy-debian",
    "pattern": "docker.io/library/debian:*",
    "justification": "vendor appliance needs glibc 2.36",
    "approver": "alice",
    "created": "2025-06-01",
    "expires": "2025-12-31",
}
LIVE = {
    "id": "old-redis",
    "pattern": "docker.io/library/redis:7",
    "justification": "migration to the hardened redis planned for Q2",
    "approver": "bob",
    "created": "2026-01-01",
    "expires": "2026-06-30",
}


def analysis(digest: str, reference: str) -> Analysis:
    return Analysis(
        image=image_identity(digest, reference, layer="a" * 64),
        distro=Distro(id="wolfi", version_id="20230201", source="etc/os-release"),
        facts=None,
        packages=[],
        analyzed_at=at(1),
    )


def finding(
    vuln: str,
    package: str,
    severity: str,
    *,
    fixed: bool = True,
    kev: bool = False,
    vex: str | None = None,
) -> Finding:
    version = "1.0-r0"
    return Finding(
        id=vuln,
        package=PackageRef(
            name=package,
            version=version,
            type="apk",
            purl=make_purl("apk", package, version, namespace="wolfi"),
            locations=["/lib/apk/db/installed"],
        ),
        installed_version=version,
        fixed_versions=["1.0-r1"] if fixed else [],
        severity=severity,
        kev={"dateAdded": "2026-01-02"} if kev else None,
        vex=VexDecision(status=vex, justification="vulnerable_code_not_in_execute_path")
        if vex
        else None,
    )


def scan(
    reference: str, when: datetime, findings: list[Finding], suppressed: tuple[Finding, ...] = ()
) -> ScanResult:
    return ScanResult(
        findings=findings,
        suppressed=list(suppressed),
        packages_scanned=10,
        scanned_at=when,
        target={"reference": reference},
        distro={"id": "wolfi"},
        ecosystems={"Wolfi": 10},
    )


D1_FINDINGS = [
    finding("CVE-2026-1001", "openssl", "CRITICAL", kev=True),
    finding("CVE-2026-1000", "libexpat", "HIGH"),
]
D2_FINDINGS = [finding("CVE-2026-2000", "zlib", "MEDIUM")]
D3_FINDINGS = [
    finding("CVE-2026-3000", "nodejs", "CRITICAL"),
    finding("CVE-2026-3001", "busybox", "LOW", fixed=False),
]
D3_SUPPRESSED = (finding("CVE-2026-3002", "ncurses", "HIGH", vex="not_affected"),)


def verification(reference: str, digest: str, *, slsa: int | None, sbom: bool) -> dict[str, object]:
    subject = (Subject(reference, {"sha256": digest.split(":")[1]}),)
    attestations = []
    if slsa is not None:
        attestations.append(
            Attestation(
                via="referrers",
                location="sha256:" + "9" * 64,
                predicate_type="https://slsa.dev/provenance/v1",
                kind="provenance",
                statement=Statement(
                    "https://in-toto.io/Statement/v1", "https://slsa.dev/provenance/v1", subject, {}
                ),
                verified=True,
                signer="https://github.com/chainguard-images",
                provenance=Provenance(
                    "v1", "https://github.com/actions/runner", "gha", None, None, {}, slsa
                ),
            )
        )
    if sbom:
        attestations.append(
            Attestation(
                via="referrers",
                location="sha256:" + "8" * 64,
                predicate_type="https://spdx.dev/Document",
                kind="sbom",
                statement=Statement(
                    "https://in-toto.io/Statement/v1", "https://spdx.dev/Document", subject, {}
                ),
                verified=True,
                signer="https://github.com/chainguard-images",
            )
        )
    names = ["signature"] + (["provenance:slsa3"] if slsa else []) + (["sbom"] if sbom else [])
    checks = tuple(PolicyResult(n, True, "ok") for n in names)
    result = VerificationResult(
        reference=reference,
        digest=digest,
        requirements=Requirements.parse(names),
        result=PolicyResult("requirements", True, "all passed", children=checks),
        evidence=Evidence(
            reference,
            digest,
            signatures=[VerifiedSignature("cosign-tag", "sha256-x.sig", "keys/chainguard.pub")],
            attestations=attestations,
        ),
        trust="key keys/chainguard.pub",
        referrers_api=True,
        verified_at=at(14, 11),
    )
    return result.to_dict()


def assessment(catalog: Catalog) -> dict[str, object]:
    uses = [
        ImageUse(f"{PY}@{D2}", f"{PY}@{D2}", "base", "dockerfile", Location("app/Dockerfile", 1)),
        ImageUse(
            "docker.io/library/redis:7",
            "redis:7",
            "runtime",
            "compose",
            Location("compose.yaml", 4, kind="service", name="cache"),
        ),
        ImageUse(
            f"{NODE}:22",
            f"{NODE}:22",
            "runtime",
            "kubernetes",
            Location(
                "k8s/web.yaml", 20, namespace="web", kind="Deployment", name="web", container="web"
            ),
        ),
        ImageUse(
            "docker.io/library/debian:12",
            "debian:12",
            "runtime",
            "kubernetes",
            Location(
                "k8s/appliance.yaml",
                18,
                namespace="ops",
                kind="Deployment",
                name="appliance",
                container="main",
            ),
        ),
    ]
    inventory = Inventory(
        uses=uses, files_scanned=5, sources=["dockerfile", "compose", "kubernetes"]
    ).finish()
    judged = judge_uses(catalog, inventory.uses, at(14).date(), "catalog.yaml")
    by_use = {id(v.use): v for v in judged.uses}
    images = []
    for use in inventory.uses:
        item = ImageAssessment(use.reference, [use], scan=ScanResult(scanned_at=at(14, 13)))
        item.verdicts = [by_use[id(use)]]
        images.append(item)
    return Assessment(
        images=images,
        build_only=[],
        inventory=inventory,
        generated_at=at(14, 13),
        catalog=judged,
    ).to_dict()


def populate(store: Store, clock: StepClock) -> None:
    """Write the estate above into ``store``; ``clock`` is the store's clock."""
    clock.now = at(1, 10)
    store.upsert_catalog_entry(python_entry(D1), "alice")
    store.upsert_catalog_entry(NODE_ENTRY, "alice")
    store.upsert_catalog_entry(LEGACY_ENTRY, "alice")
    store.upsert_exception(EXPIRED, "alice")
    store.upsert_exception(LIVE, "bob")

    clock.now = at(2)
    store.save_analysis(analysis(D1, f"{PY}:3.12"), "ci")
    store.save_scan(D1, scan(f"{PY}:3.12", at(2), D1_FINDINGS), "ci")
    clock.now = at(3)
    store.save_analysis(analysis(D3, f"{NODE}:22"), "ci")
    store.save_scan(D3, scan(f"{NODE}:22", at(3), D3_FINDINGS, D3_SUPPRESSED), "ci")

    clock.now = at(5, 10)
    store.upsert_catalog_entry(python_entry(D2), "alice")
    clock.now = at(5)
    store.save_analysis(analysis(D2, f"{PY}@{D2}"), "ci")
    store.save_scan(D2, scan(f"{PY}@{D2}", at(5), D2_FINDINGS), "ci")

    clock.now = at(14)
    store.save_scan(D1, scan(f"{PY}:3.12", at(14), D1_FINDINGS), "ci")
    store.save_scan(D2, scan(f"{PY}@{D2}", at(14), D2_FINDINGS), "ci")
    store.save_scan(D3, scan(f"{NODE}:22", at(14), D3_FINDINGS, D3_SUPPRESSED), "ci")
    clock.now = at(14, 11)
    store.record_event("verify.result", D2, verification(f"{PY}@{D2}", D2, slsa=3, sbom=True), "ci")
    store.record_event(
        "verify.result", D3, verification(f"{NODE}:22", D3, slsa=None, sbom=False), "ci"
    )
    clock.now = at(14, 13)
    catalog = Catalog.from_dict(
        {
            "version": 1,
            "entries": [python_entry(D2), NODE_ENTRY, LEGACY_ENTRY],
            "exceptions": [EXPIRED, LIVE],
        }
    )
    store.save_assessment(assessment(catalog), "ci")

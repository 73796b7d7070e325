"""The estate assessment: inventory → analyse and scan each distinct image → ranked report.

Each distinct image an estate runs on (base images of Dockerfiles, images that compose
services and Kubernetes containers run) is opened once, analysed once per digest (analyses
are cached on disk by manifest digest), matched against the vulnerability database with the
VEX documents applied, and ranked so that the images carrying the most serious, most
numerous CVEs come first: that is where hardening pays most.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from baseguard import __version__
from baseguard.analysis.analyze import Analysis, analyze_image
from baseguard.catalog.imagestore import ImageStore
from baseguard.errors import BaseguardError
from baseguard.image.source import OpenOptions, open_image
from baseguard.inventory.model import RUNNING_ROLES, ImageUse, Inventory
from baseguard.matching.findings import SEVERITIES, ScanResult
from baseguard.matching.matcher import AdvisorySource, match
from baseguard.matching.vex import VexDocument

if TYPE_CHECKING:
    from baseguard.catalog.model import Catalog
    from baseguard.catalog.verdicts import CatalogVerdicts, UseVerdict
    from baseguard.image.model import Image


@dataclass
class ImageAssessment:
    """One distinct image of the estate: where it is used and what it carries."""

    reference: str
    uses: list[ImageUse]
    source: str | None = None
    analysis: Analysis | None = None
    scan: ScanResult | None = None
    error: str | None = None
    cached: bool = False
    #: One catalog verdict per use (same order as ``uses``), when judged against a catalog.
    verdicts: list[UseVerdict] = field(default_factory=list)

    @property
    def verdict(self) -> UseVerdict | None:
        """The worst verdict of this image's uses, or None without a catalog."""
        from baseguard.catalog.verdicts import worst

        return worst(self.verdicts)

    @property
    def roles(self) -> list[str]:
        return sorted({u.role for u in self.uses})

    @property
    def assessed(self) -> bool:
        return self.scan is not None

    def severity_counts(self) -> dict[str, int]:
        return self.scan.counts() if self.scan else dict.fromkeys(SEVERITIES, 0)

    @property
    def total(self) -> int:
        return len(self.scan.findings) if self.scan else 0

    @property
    def fixable(self) -> int:
        return sum(1 for f in self.scan.findings if f.fixed_versions) if self.scan else 0

    @property
    def kev(self) -> int:
        return sum(1 for f in self.scan.findings if f.in_kev) if self.scan else 0

    def rank_key(self) -> tuple[int, ...]:
        counts = self.severity_counts()
        return (
            0 if self.assessed else 1,
            -self.kev,
            *(-counts[s] for s in SEVERITIES),
            -len(self.uses),
        )

    def to_dict(self) -> dict[str, Any]:
        facts = self.analysis.facts if self.analysis else None
        locations = [u.to_dict() for u in self.uses]
        for loc, judged in zip(locations, self.verdicts, strict=False):
            loc["verdict"] = judged.judgement.to_dict()
        worst = self.verdict
        return {
            "reference": self.reference,
            "uses": len(self.uses),
            "roles": self.roles,
            **({"verdict": worst.judgement.to_dict()} if worst else {}),
            "locations": locations,
            "source": self.source,
            "assessed": self.assessed,
            "error": self.error,
            "cached": self.cached,
            "digest": self.analysis.image.manifest_digest if self.analysis else None,
            "distro": self.analysis.distro.display if self.analysis else None,
            "packages": len(self.analysis.packages) if self.analysis else None,
            "hasShell": facts.has_shell if facts else None,
            "packageManagers": [p["name"] for p in facts.package_managers] if facts else None,
            "runsAsRoot": facts.runs_as_root if facts else None,
            "compressedSize": facts.compressed_size if facts else None,
            "uncompressedSize": facts.uncompressed_size if facts else None,
            "vulnerabilities": {
                "total": self.total,
                "fixable": self.fixable,
                "kev": self.kev,
                "bySeverity": {k.lower(): v for k, v in self.severity_counts().items()},
                "suppressedByVex": len(self.scan.suppressed) if self.scan else 0,
            },
            "warnings": list(self.scan.warnings) if self.scan else [],
        }


@dataclass
class Assessment:
    images: list[ImageAssessment]
    build_only: list[str]
    inventory: Inventory
    generated_at: datetime
    db_built: datetime | None = None
    warnings: list[str] = field(default_factory=list)
    #: Every use (build stages too) judged against a catalog, with ``assess(catalog=…)``.
    catalog: CatalogVerdicts | None = None

    @property
    def assessed(self) -> list[ImageAssessment]:
        return [i for i in self.images if i.assessed]

    def totals(self) -> dict[str, int]:
        out = dict.fromkeys(SEVERITIES, 0)
        for image in self.assessed:
            for k, v in image.severity_counts().items():
                out[k] += v
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "schemaVersion": "1",
            "tool": {"name": "baseguard", "version": __version__},
            "generatedAt": self.generated_at.isoformat(),
            "database": {"builtAt": self.db_built.isoformat() if self.db_built else None},
            "summary": {
                "images": len(self.images),
                "assessed": len(self.assessed),
                "notAssessed": len(self.images) - len(self.assessed),
                "uses": sum(len(i.uses) for i in self.images),
                "buildOnlyImages": len(self.build_only),
                "files": self.inventory.files_scanned,
                "vulnerabilities": {k.lower(): v for k, v in self.totals().items()},
                "withShell": sum(
                    1
                    for i in self.assessed
                    if i.analysis and i.analysis.facts and i.analysis.facts.has_shell
                ),
                "runningAsRoot": sum(
                    1
                    for i in self.assessed
                    if i.analysis and i.analysis.facts and i.analysis.facts.runs_as_root
                ),
            },
            "images": [i.to_dict() for i in self.images],
            "buildOnly": self.build_only,
            "inventoryIssues": [i.to_dict() for i in self.inventory.issues],
            "warnings": list(self.warnings),
            **({"catalog": self.catalog.to_dict(self.build_only)} if self.catalog else {}),
        }


class AnalysisCache:
    """Analyses on disk, keyed by manifest (or config) digest and tool version."""

    def __init__(self, root: Path | None) -> None:
        self.root = root

    def _path(self, digest: str) -> Path | None:
        if self.root is None:
            return None
        algo, _, hexpart = digest.partition(":")
        return self.root / __version__ / f"{algo}-{hexpart}.json"

    def get(self, digest: str | None) -> Analysis | None:
        path = self._path(digest) if digest else None
        if path is None or not path.is_file():
            return None
        try:
            return Analysis.from_dict(json.loads(path.read_bytes()))
        except (ValueError, KeyError, TypeError):
            path.unlink(missing_ok=True)  # a damaged entry is re-made, never trusted
            return None

    def analyse(self, image: Image, now: datetime) -> tuple[Analysis, bool]:
        """The analysis of an open ``image``, read from the cache (then True) or made and kept."""
        digest = image.manifest_digest or image.config_digest
        cached = self.get(digest)
        if cached is not None:
            return cached, True
        analysis = analyze_image(image, now=now)
        self.put(digest, analysis)
        return analysis, False

    def put(self, digest: str | None, analysis: Analysis) -> None:
        path = self._path(digest) if digest else None
        if path is None:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        with os.fdopen(fd, "w") as fh:
            json.dump(analysis.to_dict(), fh)
        os.replace(tmp, path)


def default_cache_dir() -> Path:
    from baseguard.image.cache import default_cache_dir as blobs_root

    return blobs_root() / "analyses"


Progress = Callable[[str, str], None]


def assess(
    inventory: Inventory,
    db: AdvisorySource,
    *,
    vex: Sequence[VexDocument] = (),
    store: ImageStore | None = None,
    offline: bool = False,
    options: OpenOptions | None = None,
    cache: AnalysisCache | None = None,
    workers: int = 2,
    now: datetime | None = None,
    progress: Progress | None = None,
    catalog: Catalog | None = None,
    catalog_source: str | None = None,
    today: date | None = None,
) -> Assessment:
    """Assess every distinct running image of ``inventory``; rank the results.

    With ``catalog``, every use (build stages included) also gets a catalog verdict, judged
    on ``today`` (default: the date of ``now``); the ranking does not change.
    """
    moment = now or datetime.now(UTC)
    by_ref: dict[str, list[ImageUse]] = {}
    build_only: set[str] = set()
    for use in inventory.uses:
        if use.role in RUNNING_ROLES:
            by_ref.setdefault(use.reference, []).append(use)
        else:
            build_only.add(use.reference)
    images = [ImageAssessment(ref, uses) for ref, uses in sorted(by_ref.items())]
    cache = cache or AnalysisCache(None)

    def one(item: ImageAssessment) -> ImageAssessment:
        item.source = store.source_for(item.reference) if store else None
        if item.source is None and offline:
            item.error = "not in the offline image store"
        else:
            try:
                with open_image(item.source or item.reference, options) as image:
                    item.analysis, item.cached = cache.analyse(image, moment)
                item.scan = match(item.analysis, db, vex=vex, now=moment)
            except BaseguardError as exc:
                item.error = exc.message
        if progress:
            progress(item.reference, "done" if item.assessed else "failed")
        return item

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        done = list(pool.map(one, images))
    done.sort(key=lambda i: (i.rank_key(), i.reference))
    db_built = None
    for item in done:
        if item.scan and item.scan.db_built:
            db_built = item.scan.db_built
            break
    warnings = sorted(
        {w for i in done if i.scan for w in i.scan.warnings if "database" in w.lower()}
    )
    judged = None
    if catalog is not None:
        from baseguard.catalog.verdicts import judge_uses

        judged = judge_uses(catalog, inventory.uses, today or moment.date(), catalog_source)
        by_use = {id(v.use): v for v in judged.uses}
        for item in done:
            item.verdicts = [by_use[id(u)] for u in item.uses]
    return Assessment(
        images=done,
        build_only=sorted(build_only - set(by_ref)),
        inventory=inventory,
        generated_at=moment,
        db_built=db_built,
        warnings=warnings,
        catalog=judged,
    )

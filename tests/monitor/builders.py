"""Builders for monitoring tests: OSV mirrors turned into real databases, and analyses."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from baseguard.analysis.analyze import Analysis
from baseguard.analysis.distro import Distro
from baseguard.analysis.packages import Package, make_purl
from baseguard.vulndb.update import update_db
from tests.store.builders import image_identity

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

CRITICAL_VECTOR = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"


class Clock:
    """A settable clock for the store (times written to audit rows and scans)."""

    def __init__(self, start: datetime = T0) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> datetime:
        self.now += timedelta(**kwargs)
        return self.now


def osv_record(
    vuln_id: str,
    package: str,
    *,
    fixed: str | None = None,
    introduced: str = "0",
    severity: str = "CRITICAL",
    aliases: Sequence[str] = (),
    ecosystem: str = "PyPI",
) -> dict[str, Any]:
    events: list[dict[str, str]] = [{"introduced": introduced}]
    if fixed:
        events.append({"fixed": fixed})
    return {
        "id": vuln_id,
        "modified": "2026-01-01T00:00:00Z",
        "published": "2026-01-01T00:00:00Z",
        "aliases": list(aliases),
        "summary": f"{vuln_id} in {package}",
        "affected": [
            {
                "package": {"ecosystem": ecosystem, "name": package},
                "ranges": [{"type": "ECOSYSTEM", "events": events}],
            }
        ],
        "database_specific": {"severity": severity},
    }


def write_mirror(root: Path, records: Iterable[dict[str, Any]], *, kev: Sequence[str] = ()) -> Path:
    """A mirror directory holding loose OSV records (osv/PyPI/<id>.json) and a KEV list."""
    folder = root / "osv" / "PyPI"
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.json"):
        old.unlink()
    for record in records:
        (folder / f"{record['id']}.json").write_text(json.dumps(record))
    (root / "kev.json").write_text(
        json.dumps(
            {
                "title": "test KEV",
                "catalogVersion": "2026.01.01",
                "dateReleased": "2026-01-01T00:00:00.0000Z",
                "count": len(kev),
                "vulnerabilities": [
                    {
                        "cveID": cve,
                        "vendorProject": "x",
                        "product": "y",
                        "vulnerabilityName": cve,
                        "dateAdded": "2026-01-01",
                        "shortDescription": "",
                        "requiredAction": "patch",
                        "dueDate": "2026-02-01",
                        "knownRansomwareCampaignUse": "Unknown",
                        "notes": "",
                    }
                    for cve in kev
                ],
            }
        )
    )
    return root


def build_db(mirror: Path, db_path: Path, built: datetime) -> Path:
    """Build (or rebuild, swapping it in) the vulnerability database from a mirror dir."""
    update_db(db_path=db_path, from_dir=mirror, now=built)
    return db_path


def pypi_analysis(
    digest: str,
    packages: Sequence[tuple[str, str]],
    *,
    reference: str = "registry.example/app:1",
) -> Analysis:
    return Analysis(
        image=image_identity(digest, reference),
        distro=Distro(id="debian", version_id="12", source="etc/os-release"),
        facts=None,
        packages=[
            Package(
                name=name,
                version=version,
                type="pypi",
                purl=make_purl("pypi", name, version),
                locations=[f"/usr/lib/python3/dist-packages/{name}.dist-info/METADATA"],
            )
            for name, version in packages
        ],
        analyzed_at=T0,
    )

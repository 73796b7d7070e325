"""Evidence from the latest stored assessments: catalog coverage of the image uses, and how
complete the inventory behind them was.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

from baseguard.report.compliance.frameworks import MET, PARTIAL
from baseguard.report.compliance.model import (
    Evidence,
    Table,
    Thresholds,
    as_dict,
    days,
    iso,
    new,
    parse_time,
    pct,
)
from baseguard.report.compliance.storedata import StoreData


def coverage_evidence(data: StoreData, now: datetime, thresholds: Thresholds) -> Evidence:
    ev = new("catalog-coverage")
    if data.latest_catalog_assessment is None:
        ev.summary = "no assessment stored"
        ev.notes.append(
            "no assessment with catalog verdicts is stored: coverage cannot be measured "
            "(store one made with `baseguard assess --catalog`)"
        )
        return ev
    assessment_id, assessment = data.latest_catalog_assessment
    judged = assessment["catalog"]
    generated = parse_time(assessment.get("generatedAt"))
    ev.as_of = iso(generated)
    by_verdict = as_dict(judged.get("byVerdict"))
    counts = {str(k): int(v.get("uses", 0)) for k, v in by_verdict.items() if isinstance(v, dict)}
    uses = int(judged.get("uses") or sum(counts.values()))
    approved = counts.get("approved", 0)
    allowed = int(judged.get("allowedUses") or 0)
    not_allowed = uses - allowed
    ev.facts = {
        "assessment": assessment_id,
        "generatedAt": ev.as_of,
        "judgedOn": judged.get("date"),
        "uses": uses,
        "approvedUses": approved,
        "approvedPercent": pct(approved, uses),
        "allowedUses": allowed,
        "allowedPercent": pct(allowed, uses),
        "notAllowedUses": not_allowed,
        "byVerdict": dict(sorted(counts.items())),
    }
    ev.tables.append(
        Table(
            "Uses by verdict",
            ["verdict", "uses", "files"],
            [
                {
                    "verdict": k,
                    "uses": counts.get(k, 0),
                    "files": ", ".join(by_verdict[k].get("files") or []),
                }
                for k in sorted(counts)
                if counts.get(k)
            ],
        )
    )
    if uses == 0:
        ev.summary = f"assessment {assessment_id} judged no image use"
        ev.notes.append(f"assessment {assessment_id} has no image uses: nothing was inventoried")
        return ev
    if not_allowed:
        ev.notes.append(
            f"{not_allowed} of {uses} uses are not allowed by the catalog "
            "(not in catalog, retired, past EOL, proposed or dev variant in production)"
        )
    if generated is not None and now - generated > timedelta(days=thresholds.max_assessment_age):
        ev.notes.append(
            f"the assessment is {days(now - generated)} days old "
            f"(more than {thresholds.max_assessment_age})"
        )
    if generated is None:
        ev.notes.append(f"assessment {assessment_id} carries no generation time")
    ev.status = PARTIAL if ev.notes else MET
    ev.summary = (
        f"{pct(approved, uses)}% of {uses} image uses on approved entries, "
        f"{pct(allowed, uses)}% allowed (assessment {assessment_id}, {ev.as_of})"
    )
    return ev


def inventory_evidence(data: StoreData, now: datetime, thresholds: Thresholds) -> Evidence:
    ev = new("inventory")
    if data.latest_assessment is None:
        ev.summary = "no assessment stored"
        ev.notes.append("no assessment is stored: which sources were inventoried is unknown")
        return ev
    assessment_id, assessment = data.latest_assessment
    generated = parse_time(assessment.get("generatedAt"))
    ev.as_of = iso(generated)
    summary = as_dict(assessment.get("summary"))
    sources: dict[str, int] = defaultdict(int)
    files: set[str] = set()
    locations = [
        loc
        for image in assessment.get("images") or []
        if isinstance(image, dict)
        for loc in image.get("locations") or []
    ]
    catalog = as_dict(assessment.get("catalog"))
    for build in catalog.get("buildOnly") or []:
        if isinstance(build, dict):
            locations.extend(build.get("locations") or [])
    for loc in locations:
        if isinstance(loc, dict):
            sources[str(loc.get("source") or "unknown")] += 1
            where = loc.get("location")
            if isinstance(where, dict) and where.get("file"):
                files.add(str(where["file"]))
    images = [i for i in assessment.get("images") or [] if isinstance(i, dict)]
    failed = [i for i in images if not i.get("assessed")]
    issues = [i for i in assessment.get("inventoryIssues") or [] if isinstance(i, dict)]
    ev.facts = {
        "assessment": assessment_id,
        "generatedAt": ev.as_of,
        "sources": dict(sorted(sources.items())),
        "filesScanned": summary.get("files"),
        "filesWithImageUses": len(files),
        "images": len(images),
        "imagesAssessed": len(images) - len(failed),
        "imagesNotAssessed": len(failed),
        "buildOnlyImages": len(assessment.get("buildOnly") or []),
        "inventoryIssues": len(issues),
    }
    ev.tables.append(
        Table(
            "Uses by source",
            ["source", "uses"],
            [{"source": k, "uses": v} for k, v in sorted(sources.items())],
        )
    )
    if failed:
        ev.tables.append(
            Table(
                "Images not assessed",
                ["reference", "error"],
                [{"reference": i.get("reference"), "error": i.get("error")} for i in failed],
            )
        )
        ev.notes.append(f"{len(failed)} of {len(images)} images could not be assessed")
    if issues:
        ev.tables.append(
            Table(
                "Inventory issues",
                ["path", "line", "message"],
                [
                    {"path": i.get("path"), "line": i.get("line"), "message": i.get("message")}
                    for i in issues
                ],
            )
        )
        ev.notes.append(f"{len(issues)} files or objects could not be read completely")
    if not locations:
        ev.notes.append(f"assessment {assessment_id} found no image use in any source")
        ev.summary = f"assessment {assessment_id} inventoried nothing"
        return ev
    if generated is not None and now - generated > timedelta(days=thresholds.max_assessment_age):
        ev.notes.append(
            f"the inventory is {days(now - generated)} days old "
            f"(more than {thresholds.max_assessment_age})"
        )
    ev.status = PARTIAL if ev.notes else MET
    ev.summary = (
        f"{sum(sources.values())} uses from {', '.join(sorted(sources))} in "
        f"{summary.get('files')} files on {ev.as_of}; {len(failed)} images not assessed, "
        f"{len(issues)} inventory issues"
    )
    return ev

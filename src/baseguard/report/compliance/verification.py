"""Evidence from verification: attestation coverage from the stored verification results, and
the audit log's hash-chain verification.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from baseguard.report.compliance.frameworks import MET, PARTIAL
from baseguard.report.compliance.governance import required
from baseguard.report.compliance.model import Evidence, Table, as_dict, iso, new, pct
from baseguard.report.compliance.storedata import VERIFY_RESULT, StoreData, entry_images


def _verified(result: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    evidence = as_dict(result.get("evidence"))
    return [
        a
        for a in evidence.get("attestations") or []
        if isinstance(a, dict) and a.get("verified") and a.get("kind") == kind
    ]


def attestation_evidence(data: StoreData) -> Evidence:
    ev = new("attestations")
    results = data.verifications
    if not results:
        ev.summary = "no verification results stored"
        ev.notes.append(
            f"no `{VERIFY_RESULT}` audit event is stored: signature, provenance, SBOM and VEX "
            "coverage cannot be shown"
        )
        return ev
    rows: list[dict[str, Any]] = []
    signed = sbom = vex = passed = 0
    levels: dict[str, int] = defaultdict(int)
    for digest, (when, result) in sorted(results.items()):
        evidence = as_dict(result.get("evidence"))
        has_sig = bool(evidence.get("signatures"))
        level = max(
            (
                int((a.get("provenance") or {}).get("claimed_level") or 0)
                for a in _verified(result, "provenance")
            ),
            default=None,
        )
        has_sbom = bool(_verified(result, "sbom"))
        has_vex = bool(_verified(result, "vex"))
        ok = bool(result.get("passed"))
        signed += has_sig
        sbom += has_sbom
        vex += has_vex
        passed += ok
        levels["none" if level is None else f"slsa{level}"] += 1
        rows.append(
            {
                "image": result.get("reference") or data.analyses.get(digest) or digest,
                "digest": digest,
                "verified": iso(when),
                "signed": has_sig,
                "slsa": level,
                "sbom": has_sbom,
                "vex": has_vex,
                "passed": ok,
                "failed": ", ".join(
                    c.get("name", "?")
                    for c in result.get("checks") or []
                    if isinstance(c, dict) and not c.get("passed")
                )
                or None,
            }
        )
    n = len(results)
    required_missing = []
    for entry in data.entries:
        if not required(entry):
            continue
        _, approved = entry_images(entry, data)
        for digest in sorted(approved):
            found = results.get(digest)
            if found is None:
                required_missing.append(f"entry {entry.id}: {digest} has no verification result")
            elif not found[1].get("passed"):
                required_missing.append(f"entry {entry.id}: {digest} failed verification")
    known_levels = [int(k[4:]) for k in levels if k != "none"]
    ev.facts = {
        "imagesVerified": n,
        "imagesStored": len(data.analyses),
        "signedPercent": pct(signed, n),
        "sbomPercent": pct(sbom, n),
        "vexPercent": pct(vex, n),
        "passedPercent": pct(passed, n),
        "slsaLevels": dict(sorted(levels.items())),
        "lowestSlsaLevel": 0 if levels.get("none") else min(known_levels, default=0),
        "requiredButNotShown": required_missing,
    }
    ev.tables.append(
        Table(
            "Latest verification per image",
            ["image", "verified", "signed", "slsa", "sbom", "vex", "passed", "failed"],
            rows,
        )
    )
    ev.as_of = max((str(r["verified"]) for r in rows if r["verified"]), default=None)
    if passed < n:
        ev.notes.append(f"{n - passed} of {n} verified images failed their requirements")
    ev.notes.extend(required_missing)
    ev.status = PARTIAL if ev.notes else MET
    ev.summary = (
        f"{n} images verified: {pct(signed, n)}% signed, {pct(sbom, n)}% with SBOM, "
        f"{pct(vex, n)}% with VEX; SLSA levels "
        + ", ".join(f"{k}: {v}" for k, v in sorted(levels.items()))
    )
    return ev


def audit_evidence(data: StoreData) -> Evidence:
    ev = new("audit")
    report = data.audit
    ev.as_of = iso(data.head_time)
    ev.facts = {
        "ok": report.ok,
        "rows": report.rows,
        "head": data.head,
        "problems": [p.to_dict() for p in report.problems],
        "problemsTruncated": report.truncated,
    }
    if report.problems:
        ev.tables.append(
            Table(
                "Audit problems",
                ["row", "what", "detail"],
                [p.to_dict() for p in report.problems],
            )
        )
    if not report.ok:
        first = report.problems[0]
        for problem in report.problems:
            where = "the head record" if problem.row is None else f"row {problem.row}"
            ev.notes.append(f"audit log {where} {problem.what}: {problem.detail}")
        ev.summary = (
            f"TAMPERED: {'head record' if first.row is None else f'row {first.row}'} "
            f"{first.what} ({len(report.problems)} problems in {report.rows} rows)"
        )
        return ev
    if report.rows == 0 or data.head is None:
        ev.notes.append("the audit log is empty: nothing has been recorded")
        ev.summary = "the audit log is empty"
        return ev
    ev.status = MET
    ev.summary = f"intact: {report.rows} rows, head {data.head}"
    return ev

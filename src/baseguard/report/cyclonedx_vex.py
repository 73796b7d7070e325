"""``-o cyclonedx-vex``: CycloneDX 1.6 with the vulnerabilities and their analysis states.

Every finding is written, suppressed ones too (that is what a VEX document is for): each
vulnerability ``affects`` the ``bom-ref`` of its package component, and carries an
``analysis`` when VEX or the distro said something (``not_affected``, ``resolved``,
``exploitable``, ``in_triage``) with the justification in CycloneDX's vocabulary.
"""

from __future__ import annotations

import json
import uuid
from typing import TYPE_CHECKING, Any

from baseguard.report.base import RenderOptions, ScanFormat

if TYPE_CHECKING:
    from baseguard.matching.findings import Finding, ScanResult, VexDecision

SPEC_VERSION = "1.6"
STATES = {
    "not_affected": "not_affected",
    "fixed": "resolved",
    "affected": "exploitable",
    "under_investigation": "in_triage",
}
#: OpenVEX / CSAF justifications in CycloneDX's words.
JUSTIFICATIONS = {
    "component_not_present": "code_not_present",
    "vulnerable_code_not_present": "code_not_present",
    "vulnerable_code_not_in_execute_path": "code_not_reachable",
    "vulnerable_code_cannot_be_controlled_by_adversary": "requires_environment",
    "inline_mitigations_already_exist": "protected_by_mitigating_control",
}
CDX_JUSTIFICATIONS = {
    "code_not_present",
    "code_not_reachable",
    "requires_configuration",
    "requires_dependency",
    "requires_environment",
    "protected_by_compiler",
    "protected_at_runtime",
    "protected_at_perimeter",
    "protected_by_mitigating_control",
}
SEVERITIES = {
    "CRITICAL": "critical",
    "HIGH": "high",
    "MEDIUM": "medium",
    "LOW": "low",
    "NEGLIGIBLE": "info",
}
_NAMESPACE = uuid.UUID("0b5c1f1e-7d0e-4c39-9a35-3f0c8e2f6a11")


def _source_of(ident: str) -> dict[str, str]:
    if ident.startswith("CVE-"):
        return {"name": "NVD", "url": f"https://nvd.nist.gov/vuln/detail/{ident}"}
    if ident.startswith("GHSA-"):
        return {"name": "GitHub", "url": f"https://github.com/advisories/{ident}"}
    return {"name": "OSV", "url": f"https://osv.dev/vulnerability/{ident}"}


def _analysis(decision: VexDecision) -> dict[str, Any]:
    out: dict[str, Any] = {"state": STATES[decision.status]}
    just = decision.justification
    if just:
        mapped = just if just in CDX_JUSTIFICATIONS else JUSTIFICATIONS.get(just)
        if mapped and decision.status == "not_affected":
            out["justification"] = mapped
    detail = " ".join(
        p
        for p in (
            decision.impact_statement,
            decision.action_statement,
            decision.status_notes,
            f"(justification: {just})" if just and "justification" not in out else None,
        )
        if p
    )
    if detail:
        out["detail"] = detail
    return out


class CycloneDxVexFormat(ScanFormat):
    name = "cyclonedx-vex"
    description = "CycloneDX 1.6 VEX: vulnerabilities with affects and analysis states"

    def render(self, result: ScanResult, options: RenderOptions) -> str:
        from baseguard import __version__

        findings = [*result.findings, *result.suppressed]
        refs: dict[tuple[str, str], str] = {}
        components: list[dict[str, Any]] = []
        used: set[str] = set()
        for f in findings:
            key = (f.package.purl, f.package.locations[0] if f.package.locations else "")
            if key in refs:
                continue
            ref = f.package.purl or f"{f.package.type}:{f.package.name}@{f.package.version}"
            if ref in used:
                ref = f"{ref}#{key[1]}"
            used.add(ref)
            refs[key] = ref
            component: dict[str, Any] = {
                "type": "library",
                "bom-ref": ref,
                "name": f.package.name,
                "version": f.package.version,
            }
            if f.package.purl:
                component["purl"] = f.package.purl
            components.append(component)

        grouped: dict[tuple[str, str], list[Finding]] = {}
        for f in findings:
            decision = json.dumps(f.vex.to_dict(), sort_keys=True) if f.vex else ""
            grouped.setdefault((f.id, decision), []).append(f)
        vulnerabilities: list[dict[str, Any]] = []
        for n, ((vid, _), members) in enumerate(sorted(grouped.items())):
            first = members[0]
            entry: dict[str, Any] = {
                "bom-ref": f"vuln-{n + 1}-{vid}",
                "id": vid,
                "source": _source_of(vid),
            }
            aliases = sorted({a for m in members for a in m.aliases})
            if aliases:
                entry["references"] = [{"id": a, "source": _source_of(a)} for a in aliases]
            rating: dict[str, Any] = {"severity": SEVERITIES.get(first.severity, "unknown")}
            if first.cvss_score is not None:
                rating["score"] = first.cvss_score
            entry["ratings"] = [rating]
            if first.summary:
                entry["description"] = first.summary
            fixed = sorted({v for m in members for v in m.fixed_versions})
            if fixed:
                entry["recommendation"] = f"Upgrade to {', '.join(fixed)}"
            if first.references:
                entry["advisories"] = [{"url": r} for r in first.references]
            unaffected = first.vex is not None and first.vex.status in ("not_affected", "fixed")
            entry["affects"] = [
                {
                    "ref": refs[
                        (m.package.purl, m.package.locations[0] if m.package.locations else "")
                    ],
                    "versions": [
                        {
                            "version": m.installed_version,
                            "status": "unaffected" if unaffected else "affected",
                        }
                    ],
                }
                for m in members
            ]
            if first.vex is not None:
                entry["analysis"] = _analysis(first.vex)
            vulnerabilities.append(entry)

        target = result.target
        name = str(target.get("name") or target.get("reference") or "image")
        digest = target.get("manifestDigest") or target.get("configDigest") or ""
        when = result.scanned_at
        serial = uuid.uuid5(_NAMESPACE, f"{name}|{digest}|{when.isoformat() if when else ''}")
        image: dict[str, Any] = {"type": "container", "bom-ref": "image", "name": name}
        if digest:
            image["version"] = str(digest)
        metadata: dict[str, Any] = {
            "tools": {
                "components": [{"type": "application", "name": "baseguard", "version": __version__}]
            },
            "component": image,
        }
        if when is not None:
            metadata["timestamp"] = when.strftime("%Y-%m-%dT%H:%M:%SZ")
        doc = {
            "$schema": "http://cyclonedx.org/schema/bom-1.6.schema.json",
            "bomFormat": "CycloneDX",
            "specVersion": SPEC_VERSION,
            "serialNumber": f"urn:uuid:{serial}",
            "version": 1,
            "metadata": metadata,
            "components": components,
            "vulnerabilities": vulnerabilities,
        }
        return json.dumps(doc, indent=2) + "\n"

"""``baseguard check -o sarif``: SARIF 2.1.0 that GitHub code scanning accepts.

The frame of :mod:`baseguard.report.sarif_envelope` (schema URI, driver, invocations) and
the conventions of :mod:`baseguard.report.sarif` (partial fingerprints): one rule per
verdict kind (and per severity when images were scanned), one result per use that is not
plainly approved, located at its ``FROM`` or ``image:`` line with the file named relative
to the repository root. A result is an ``error`` when the use trips ``--fail-on``, else a
``warning`` (not allowed) or a ``note`` (allowed: deprecated, excepted). An excepted use
carries an external, accepted suppression with the exception's justification, as
suppressed vulnerabilities do.
"""

from __future__ import annotations

import hashlib
from typing import Any

from baseguard.catalog.verdicts import Verdict
from baseguard.gate.check import DIGEST_REQUIRED, CheckedUse, CheckResult
from baseguard.report.sarif_envelope import accepted_suppression, render_document

#: Rule id → (name, short description, default level, help text), verdict kinds first.
RULES: dict[str, tuple[str, str, str, str]] = {
    Verdict.NOT_IN_CATALOG.value: (
        "ImageNotInCatalog",
        "Image not in the catalog of approved base images",
        "error",
        "No catalog entry allows this image: its repository is not in the catalog, or the "
        "tag or digest is not one the entry allows. Move to an approved image, or ask the "
        "catalog owners to add it (or to grant a time-limited exception).",
    ),
    Verdict.RETIRED.value: (
        "ImageRetired",
        "Image of a retired catalog entry",
        "error",
        "The catalog entry that allows this image has been retired: it must not be used. "
        "Move to the entry's replacement.",
    ),
    Verdict.PAST_EOL.value: (
        "ImagePastEndOfLife",
        "Image past its end-of-life date",
        "error",
        "The catalog entry's end-of-life date has passed: the image no longer receives "
        "security fixes. Move to a supported release.",
    ),
    Verdict.DEV_IN_PRODUCTION.value: (
        "DevVariantInProduction",
        "Dev variant (shell, package manager) used outside a build stage",
        "error",
        "Dev variants carry a shell and a package manager and are allowed only in build "
        "stages. Run the entry's runtime image instead and copy build output into it.",
    ),
    Verdict.PROPOSED.value: (
        "ImageOnlyProposed",
        "Image of a catalog entry that is only proposed",
        "warning",
        "The catalog entry is proposed, not approved: it does not count as approved until "
        "the catalog owners approve it.",
    ),
    Verdict.DEPRECATED.value: (
        "ImageDeprecated",
        "Image of a deprecated catalog entry",
        "warning",
        "The catalog entry is deprecated: still allowed, but it will be retired. Plan the "
        "move to its replacement.",
    ),
    Verdict.EXCEPTED.value: (
        "ImageExcepted",
        "Image allowed by a time-limited catalog exception",
        "note",
        "A live catalog exception allows this image until its expiry date; after that the "
        "verdict it covers applies again.",
    ),
}
DIGEST_RULES: dict[str, tuple[str, str, str, str]] = {
    DIGEST_REQUIRED: (
        "ImageNotPinnedByDigest",
        "Image not pinned by digest",
        "error",
        "The image is named by tag only. The admission webhook and the generated policies "
        "refuse images that are not pinned by digest (image@sha256:…): pin it, for example "
        "with `baseguard fix`.",
    ),
}
SEVERITY_RULES: dict[str, tuple[str, str, str, str]] = {
    "critical-vulnerabilities": (
        "ImageHasCriticalVulnerabilities",
        "Image with critical vulnerabilities",
        "error",
        "The image that runs here has vulnerabilities of critical severity "
        "(VEX applied). Update it, or move to a hardened catalog image.",
    ),
    "high-vulnerabilities": (
        "ImageHasHighVulnerabilities",
        "Image with high-severity vulnerabilities",
        "error",
        "The image that runs here has vulnerabilities of high severity (VEX applied). "
        "Update it, or move to a hardened catalog image.",
    ),
}
_SEVERITY_OF_RULE = {"critical-vulnerabilities": "CRITICAL", "high-vulnerabilities": "HIGH"}


def _rule(rule_id: str, spec: tuple[str, str, str, str]) -> dict[str, Any]:
    name, short, level, text = spec
    return {
        "id": rule_id,
        "name": name,
        "shortDescription": {"text": short},
        "fullDescription": {"text": text},
        "defaultConfiguration": {"level": level},
        "help": {"text": text, "markdown": f"**{short}**\n\n{text}"},
        "properties": {"tags": ["security", "supply-chain", "container-image"]},
    }


def _location(checked: CheckedUse) -> dict[str, Any]:
    loc = checked.use.location
    physical: dict[str, Any] = {"artifactLocation": {"uri": loc.file or "unknown"}}
    if loc.line:
        physical["region"] = {"startLine": loc.line}
    out: dict[str, Any] = {"physicalLocation": physical}
    if loc.kind:
        out["message"] = {"text": str(loc).split(" ", 1)[-1]}
    return out


def _fingerprint(rule_id: str, checked: CheckedUse) -> str:
    loc = checked.use.location
    identity = "|".join(
        (
            rule_id,
            loc.file or "",
            checked.use.reference,
            checked.use.role,
            loc.kind or "",
            loc.namespace or "",
            loc.name or "",
            loc.container or "",
        )
    )
    return hashlib.sha256(identity.encode()).hexdigest()


def _verdict_result(checked: CheckedUse, index: int) -> dict[str, Any]:
    judgement = checked.judgement
    rule_id = judgement.verdict.value
    if checked.judgement.verdict.value in checked.failures:
        level = "error"
    else:
        level = "note" if judgement.allowed else "warning"
    result: dict[str, Any] = {
        "ruleId": rule_id,
        "ruleIndex": index,
        "level": level,
        "message": {"text": checked.message()},
        "locations": [_location(checked)],
        "partialFingerprints": {"catalogVerdict/v1": _fingerprint(rule_id, checked)},
        "properties": {
            "image": checked.use.reference,
            "raw": checked.use.raw,
            "role": checked.use.role,
            "verdict": judgement.label,
            "entry": judgement.entry,
            "failing": checked.failing,
            "replacement": checked.replacement.to_dict() if checked.replacement else None,
        },
    }
    if judgement.verdict is Verdict.EXCEPTED:
        result["suppressions"] = [accepted_suppression(judgement.reason)]
    return result


def _digest_result(checked: CheckedUse, index: int) -> dict[str, Any]:
    return {
        "ruleId": DIGEST_REQUIRED,
        "ruleIndex": index,
        "level": "error",
        "message": {
            "text": f"{checked.use.reference} ({checked.use.role}) is not pinned by digest; "
            "the admission webhook and policies refuse it"
        },
        "locations": [_location(checked)],
        "partialFingerprints": {"catalogVerdict/v1": _fingerprint(DIGEST_REQUIRED, checked)},
        "properties": {"image": checked.use.reference, "raw": checked.use.raw},
    }


def _severity_result(checked: CheckedUse, rule_id: str, index: int) -> dict[str, Any] | None:
    vulns = checked.vulnerabilities
    severity = _SEVERITY_OF_RULE[rule_id]
    if vulns is None or not vulns.counts.get(severity):
        return None
    n = vulns.counts[severity]
    ids = ", ".join(vulns.ids.get(severity, ()))
    more = f" ({ids}{', …' if n > len(vulns.ids.get(severity, ())) else ''})" if ids else ""
    failing = any(f in ("critical", "high") for f in checked.failures)
    return {
        "ruleId": rule_id,
        "ruleIndex": index,
        "level": "error" if failing else "warning",
        "message": {
            "text": f"{checked.use.reference} ({checked.use.role}) has {n} "
            f"{severity.lower()} vulnerabilit{'ies' if n != 1 else 'y'}{more}"
        },
        "locations": [_location(checked)],
        "partialFingerprints": {"catalogVerdict/v1": _fingerprint(rule_id, checked)},
        "properties": {"image": checked.use.reference, "digest": vulns.digest, "count": n},
    }


def render_sarif(result: CheckResult) -> str:
    """The SARIF 2.1.0 document for ``result``."""
    specs = dict(RULES)
    if DIGEST_REQUIRED in result.fail_on:
        specs.update(DIGEST_RULES)
    if result.scanned:
        specs.update(SEVERITY_RULES)
    rule_ids = list(specs)
    index = {rid: i for i, rid in enumerate(rule_ids)}
    results: list[dict[str, Any]] = []
    for checked in result.uses:
        if checked.verdict is not Verdict.APPROVED:
            results.append(_verdict_result(checked, index[checked.verdict.value]))
        if DIGEST_REQUIRED in checked.failures:
            results.append(_digest_result(checked, index[DIGEST_REQUIRED]))
        if result.scanned:
            for rule_id in SEVERITY_RULES:
                item = _severity_result(checked, rule_id, index[rule_id])
                if item is not None:
                    results.append(item)
    return render_document(
        rules=[_rule(rid, specs[rid]) for rid in rule_ids],
        results=results,
        warnings=(str(issue) for issue in result.issues),
        properties={
            "catalog": result.catalog_source,
            "date": result.date.isoformat(),
            "failOn": list(result.fail_on),
            "passed": result.passed,
        },
        automation_id="baseguard/check/",
        exit_code=result.exit_code,
    )

"""The CI gate: every image use in a set of files judged against the catalog, pass or fail.

``baseguard check`` inventories Dockerfiles, compose files and Kubernetes manifests, gives
every use the catalog's verdict (the engine in :mod:`baseguard.catalog.verdicts`) and fails
when a use has a verdict named in ``--fail-on``. ``critical`` and ``high`` in ``--fail-on``
also fail a use whose image (a running image, not a build stage) has a vulnerability of that
severity or worse; that needs a vulnerability database and images that can be opened.

Files are named relative to the repository root (the working directory by default), as
GitHub code scanning expects them, whatever path the user gave.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from baseguard import __version__
from baseguard.catalog.model import Catalog
from baseguard.catalog.verdicts import SEVERITY_ORDER, Judgement, Verdict, judge
from baseguard.errors import BaseguardError, UsageError
from baseguard.gate.advice import Replacement, replacement_for
from baseguard.inventory.model import RUNNING_ROLES, ImageUse, Inventory, InventoryIssue

if TYPE_CHECKING:
    from baseguard.catalog.imagestore import ImageStore
    from baseguard.image.source import OpenOptions
    from baseguard.matching.matcher import AdvisorySource

#: ``--fail-on`` values that name a verdict (``approved`` never fails).
VERDICT_FAIL_ON = tuple(v.value for v in SEVERITY_ORDER if v is not Verdict.APPROVED)
#: ``--fail-on`` values that need a vulnerability scan; each means "this severity or worse".
SEVERITY_FAIL_ON = ("critical", "high")
#: ``--fail-on`` value for a use whose reference is not pinned by digest (what the webhook and
#: the generated admission policies refuse whatever the catalog says).
DIGEST_REQUIRED = "digest-required"
FAIL_ON_CHOICES = (*VERDICT_FAIL_ON, DIGEST_REQUIRED, *SEVERITY_FAIL_ON)
DEFAULT_FAIL_ON = ("not-in-catalog", "retired", "past-eol")
#: Severity labels at or above each severity ``--fail-on`` value.
AT_OR_ABOVE = {"critical": ("CRITICAL",), "high": ("CRITICAL", "HIGH")}
#: Vulnerability ids kept per severity for messages.
TOP_IDS = 5

EXIT_PASS = 0
EXIT_FAIL = 1


class GateError(BaseguardError):
    """The gate cannot give an answer (an image could not be scanned, …): exit 2."""


def parse_fail_on(values: Iterable[str]) -> tuple[str, ...]:
    """``["retired,past-EOL", "critical"]`` → the canonical, ordered tuple of values.

    Values may be repeated or comma-separated, in any case; ``none`` alone means fail on
    nothing (report only). Unknown values raise :class:`UsageError` listing the choices.
    """
    wanted: set[str] = set()
    saw_none = False
    for value in values:
        for part in value.split(","):
            item = part.strip().lower()
            if not item:
                continue
            if item == "none":
                saw_none = True
                continue
            if item not in FAIL_ON_CHOICES:
                raise UsageError(
                    f"--fail-on {part.strip()!r} is not a verdict or severity",
                    hint=f"choose from: {', '.join(FAIL_ON_CHOICES)} (or none)",
                )
            wanted.add(item)
    if saw_none and wanted:
        raise UsageError("--fail-on none cannot be combined with other values")
    return tuple(v for v in FAIL_ON_CHOICES if v in wanted)


def pinned(reference: str) -> bool:
    """True when ``reference`` names its image by digest (``…@sha256:…``)."""
    return "@" in reference


def needs_scan(fail_on: Iterable[str]) -> bool:
    """True when ``fail_on`` names a severity, so images must be scanned."""
    return any(v in SEVERITY_FAIL_ON for v in fail_on)


# --------------------------------------------------------------------------- inventory


def repo_path(path: Path, root: Path) -> str:
    """``path`` relative to the repository ``root``, with ``/`` separators; absolute if outside."""
    full = path if path.is_absolute() else Path.cwd() / path
    full = Path(os.path.normpath(full))
    base = Path(os.path.normpath(root if root.is_absolute() else Path.cwd() / root))
    for a, b in ((full, base), (full.resolve(), base.resolve())):
        try:
            return a.relative_to(b).as_posix()
        except ValueError:
            continue
    return full.as_posix()


def collect_uses(
    paths: Sequence[Path], *, root: Path, build_args: Mapping[str, str] | None = None
) -> Inventory:
    """Inventory ``paths``, every location named relative to the repository ``root``.

    Each path is inventoried on its own, so that a use found in ``deploy/app.yaml`` is
    reported as ``deploy/app.yaml`` whether the user gave ``.``, ``deploy`` or the file.
    """
    from baseguard.inventory.scan import inventory_paths

    result = Inventory()
    for given in paths:
        found = inventory_paths([given], build_args=dict(build_args or {}))
        base = given.parent if given.is_file() else given
        uses = [_relocated(u, base, root) for u in found.uses]
        issues = [
            replace(i, path=repo_path(base / i.path, root)) if i.path else i for i in found.issues
        ]
        result.extend(uses, issues)
        result.files_scanned += found.files_scanned
        result.sources.extend(found.sources)
    return result.finish()


def _relocated(use: ImageUse, base: Path, root: Path) -> ImageUse:
    if not use.location.file:
        return use
    location = replace(use.location, file=repo_path(base / use.location.file, root))
    return replace(use, location=location)


# --------------------------------------------------------------------------- vulnerabilities


@dataclass(frozen=True)
class ImageVulnerabilities:
    """What a scan found in one image: counts per severity and the first ids of each."""

    reference: str
    counts: Mapping[str, int]
    ids: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    digest: str | None = None

    def at_or_above(self, severity: str) -> int:
        return sum(self.counts.get(s, 0) for s in AT_OR_ABOVE[severity])

    def to_dict(self) -> dict[str, Any]:
        return {
            "reference": self.reference,
            "digest": self.digest,
            "bySeverity": {k.lower(): v for k, v in self.counts.items()},
            "ids": {k.lower(): list(v) for k, v in self.ids.items() if v},
        }


def scan_images(
    inventory: Inventory,
    db: AdvisorySource,
    *,
    store: ImageStore | None = None,
    offline: bool = False,
    options: OpenOptions | None = None,
    workers: int = 2,
) -> dict[str, ImageVulnerabilities]:
    """Scan every running image of ``inventory`` (the assess machinery, cached by digest).

    An image that cannot be opened or scanned raises :class:`GateError` naming it: a gate
    that could not look must not pass.
    """
    from baseguard.catalog.assess import AnalysisCache, assess, default_cache_dir

    result = assess(
        inventory,
        db,
        store=store,
        offline=offline,
        options=options,
        cache=AnalysisCache(default_cache_dir()),
        workers=workers,
    )
    failed = [i for i in result.images if not i.assessed]
    if failed:
        listed = "; ".join(f"{i.reference}: {i.error}" for i in failed[:5])
        more = f" (and {len(failed) - 5} more)" if len(failed) > 5 else ""
        raise GateError(
            f"cannot judge vulnerability severities: {len(failed)} image(s) could not be "
            f"scanned: {listed}{more}",
            hint="give --images with a local image store (and --offline), check registry "
            "access, or drop critical/high from --fail-on",
        )
    out: dict[str, ImageVulnerabilities] = {}
    for image in result.images:
        assert image.scan is not None
        ids: dict[str, tuple[str, ...]] = {}
        for severity in ("CRITICAL", "HIGH"):
            found = sorted({f.id for f in image.scan.findings if f.severity == severity})
            ids[severity] = tuple(found[:TOP_IDS])
        out[image.reference] = ImageVulnerabilities(
            image.reference,
            image.severity_counts(),
            ids,
            image.analysis.image.manifest_digest if image.analysis else None,
        )
    return out


# --------------------------------------------------------------------------- the check


@dataclass(frozen=True)
class CheckedUse:
    """One use, its verdict, the catalog's replacement and the ``--fail-on`` values it trips."""

    use: ImageUse
    judgement: Judgement
    replacement: Replacement | None = None
    failures: tuple[str, ...] = ()
    vulnerabilities: ImageVulnerabilities | None = None

    @property
    def failing(self) -> bool:
        return bool(self.failures)

    @property
    def verdict(self) -> Verdict:
        return self.judgement.verdict

    def message(self) -> str:
        """One sentence: the image, how it is used, the verdict, why, and what to use instead."""
        j = self.judgement
        text = f"{self.use.reference} ({_role_text(self.use.role)}): {j.label}: {j.reason}"
        if self.replacement is not None:
            text += f"; use {self.replacement.text()} instead"
        return text

    def severity_text(self) -> str | None:
        """``3 critical vulnerabilities (CVE-…, …)`` when a severity ``--fail-on`` is tripped."""
        v = self.vulnerabilities
        tripped = [s for s in SEVERITY_FAIL_ON if s in self.failures]
        if v is None or not tripped:
            return None
        parts = []
        for label in AT_OR_ABOVE[tripped[-1]]:
            n = v.counts.get(label, 0)
            if n:
                ids = ", ".join(v.ids.get(label, ()))
                more = ", …" if n > len(v.ids.get(label, ())) else ""
                noun = "vulnerabilities" if n != 1 else "vulnerability"
                parts.append(f"{n} {label.lower()} {noun}" + (f" ({ids}{more})" if ids else ""))
        return "; ".join(parts) or None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            **self.use.to_dict(),
            "verdict": self.judgement.to_dict(),
            "replacement": self.replacement.to_dict() if self.replacement else None,
            "failing": self.failing,
            "failures": list(self.failures),
        }
        if self.vulnerabilities is not None:
            out["vulnerabilities"] = self.vulnerabilities.to_dict()
        return out


def _role_text(role: str) -> str:
    return {
        "base": "base image",
        "build": "build stage",
        "runtime": "container",
        "init": "init container",
        "ephemeral": "ephemeral container",
    }.get(role, role)


@dataclass
class CheckResult:
    """Every use judged on one date, and whether the gate passes."""

    catalog_source: str | None
    date: date
    entries: int
    fail_on: tuple[str, ...]
    uses: list[CheckedUse]
    issues: list[InventoryIssue] = field(default_factory=list)
    files_scanned: int = 0
    #: True when images were scanned for vulnerabilities (severity ``--fail-on`` values).
    scanned: bool = False

    @property
    def failing(self) -> list[CheckedUse]:
        return [u for u in self.uses if u.failing]

    @property
    def passed(self) -> bool:
        return not self.failing

    @property
    def exit_code(self) -> int:
        return EXIT_PASS if self.passed else EXIT_FAIL

    def counts(self) -> dict[str, int]:
        """Uses per verdict, worst first, every verdict present."""
        return {v.value: sum(1 for u in self.uses if u.verdict is v) for v in SEVERITY_ORDER}

    def failure_counts(self) -> dict[str, int]:
        """Failing uses per ``--fail-on`` value that they trip (only values with failures)."""
        out: dict[str, int] = {}
        for value in self.fail_on:
            n = sum(1 for u in self.uses if value in u.failures)
            if n:
                out[value] = n
        return out

    def summary(self) -> str:
        """One line for a CI log."""
        files = len({u.use.location.file for u in self.uses if u.use.location.file})
        head = (
            f"{len(self.uses)} image use{'s' if len(self.uses) != 1 else ''} in {files} "
            f"file{'s' if files != 1 else ''} judged against "
            f"{self.catalog_source or 'the catalog'} as of {self.date.isoformat()}"
        )
        if not self.fail_on:
            return f"{head}: report only (--fail-on none)."
        if self.passed:
            return f"{head}: PASSED (--fail-on {','.join(self.fail_on)})."
        tripped = ", ".join(f"{n} {v}" for v, n in self.failure_counts().items())
        n = len(self.failing)
        return f"{head}: FAILED: {n} use{'s' if n != 1 else ''} ({tripped})."

    def to_dict(self) -> dict[str, Any]:
        return {
            "schemaVersion": "1",
            "tool": {"name": "baseguard", "version": __version__},
            "catalog": {
                "file": self.catalog_source,
                "entries": self.entries,
                "date": self.date.isoformat(),
            },
            "failOn": list(self.fail_on),
            "passed": self.passed,
            "exitCode": self.exit_code,
            "summary": {
                "uses": len(self.uses),
                "failing": len(self.failing),
                "files": self.files_scanned,
                "byVerdict": self.counts(),
                "byFailOn": self.failure_counts(),
                "scanned": self.scanned,
            },
            "uses": [u.to_dict() for u in self.uses],
            "inventoryIssues": [i.to_dict() for i in self.issues],
        }


def check(
    inventory: Inventory,
    catalog: Catalog,
    *,
    today: date,
    fail_on: Sequence[str] = DEFAULT_FAIL_ON,
    catalog_source: str | None = None,
    vulnerabilities: Mapping[str, ImageVulnerabilities] | None = None,
) -> CheckResult:
    """Judge every use of ``inventory`` on ``today`` and mark those that trip ``fail_on``.

    Severity values in ``fail_on`` need ``vulnerabilities`` (from :func:`scan_images`) for
    every running image; without it they raise :class:`UsageError`.
    """
    unknown = [v for v in fail_on if v not in FAIL_ON_CHOICES]
    if unknown:
        raise UsageError(f"unknown --fail-on value {unknown[0]!r}")
    if needs_scan(fail_on) and vulnerabilities is None:
        raise UsageError(
            "--fail-on critical/high needs a vulnerability scan of the images",
            hint="give --db FILE (a database from `baseguard db update`)",
        )
    checked: list[CheckedUse] = []
    for use in inventory.uses:
        judgement = judge(catalog, use.reference, use.role, today)
        failures = [judgement.verdict.value] if judgement.verdict.value in fail_on else []
        if DIGEST_REQUIRED in fail_on and not pinned(use.reference):
            failures.append(DIGEST_REQUIRED)
        vulns = None
        if vulnerabilities is not None and use.role in RUNNING_ROLES:
            vulns = vulnerabilities.get(use.reference)
            if vulns is None and needs_scan(fail_on):
                raise GateError(f"{use.reference} was not scanned; cannot judge its severities")
            if vulns is not None:
                failures += [s for s in SEVERITY_FAIL_ON if s in fail_on and vulns.at_or_above(s)]
        checked.append(
            CheckedUse(
                use,
                judgement,
                replacement_for(catalog, judgement),
                tuple(failures),
                vulns,
            )
        )
    checked.sort(
        key=lambda c: (
            c.use.location.file or "",
            c.use.location.line or 0,
            c.use.reference,
            c.use.role,
            str(c.use.location),
        )
    )
    return CheckResult(
        catalog_source=catalog_source,
        date=today,
        entries=len(catalog.entries),
        fail_on=tuple(fail_on),
        uses=checked,
        issues=list(inventory.issues),
        files_scanned=inventory.files_scanned,
        scanned=vulnerabilities is not None,
    )

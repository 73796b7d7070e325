"""Re-match stored analyses against the current vulnerability database, and record the diff.

No image is pulled: a stored :class:`~baseguard.analysis.analyze.Analysis` holds every
package, so a feed update costs one match per analysis. For each analysis the new result is
compared with the latest stored scan of the same digest:

- ``new``: findings that were not there (neither reported nor suppressed);
- ``fixed``: reported findings that are gone (the advisory no longer covers the version);
- ``vex``: findings whose VEX status changed, or that moved in or out of ``suppressed``;
- ``becameFixable``: findings that had no fixed version and now have one (the patch-SLA
  clock starts here, see :mod:`baseguard.monitor.sla`);
- ``kevAdded``, ``severityChanged``: enrichment that changed.

A scan is saved only when something in that list changed or when the digest had no scan
yet, so re-matching an unchanged estate writes nothing but one summary event; a changed
digest gets a new scan and a ``monitor.diff`` audit event naming each change. Running it
twice against the same database changes nothing the second time (idempotent).
"""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from baseguard.monitor import events as ev

if TYPE_CHECKING:
    from baseguard.analysis.analyze import Analysis
    from baseguard.matching.matcher import AdvisorySource
    from baseguard.matching.vex import VexDocument
    from baseguard.store import Store
    from baseguard.vulndb.model import Advisory, Affected

#: Analyses read per page while re-matching everything.
PAGE = 500


@dataclass(frozen=True)
class FindingState:
    """What a diff compares about one finding (from ``Finding.to_dict()``)."""

    id: str
    package: str
    version: str
    type: str
    purl: str
    location: str
    severity: str
    fixed_versions: tuple[str, ...]
    kev: bool
    vex: str | None
    suppressed: bool

    @property
    def key(self) -> str:
        return f"{self.id}|{self.purl}|{self.location}"

    @classmethod
    def from_dict(cls, data: dict[str, Any], suppressed: bool) -> FindingState:
        pkg = data.get("package") or {}
        locations = pkg.get("locations") or []
        vex = data.get("vex") or None
        return cls(
            id=str(data.get("id", "")),
            package=str(pkg.get("name", "")),
            version=str(data.get("installedVersion") or pkg.get("version") or ""),
            type=str(pkg.get("type", "")),
            purl=str(pkg.get("purl", "")),
            location=str(locations[0]) if locations else "",
            severity=str(data.get("severity") or "UNKNOWN"),
            fixed_versions=tuple(data.get("fixedVersions") or ()),
            kev=data.get("kev") is not None,
            vex=str(vex.get("status")) if isinstance(vex, dict) and vex.get("status") else None,
            suppressed=suppressed,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "package": self.package,
            "version": self.version,
            "type": self.type,
            "purl": self.purl,
            "severity": self.severity,
            "fixedVersions": list(self.fixed_versions),
            "kev": self.kev,
            "vex": self.vex,
        }


def finding_states(scan: dict[str, Any]) -> dict[str, FindingState]:
    """Every finding of a scan dict (``ScanResult.to_dict()`` or ``Store.latest_scan``)."""
    out: dict[str, FindingState] = {}
    for flag, group in ((False, "findings"), (True, "suppressed")):
        for item in scan.get(group) or []:
            state = FindingState.from_dict(item, flag)
            out.setdefault(state.key, state)
    return out


@dataclass
class ScanDiff:
    """How a new scan differs from the previous one of the same digest."""

    new: list[FindingState] = field(default_factory=list)
    fixed: list[FindingState] = field(default_factory=list)
    vex: list[tuple[FindingState, FindingState]] = field(default_factory=list)
    became_fixable: list[FindingState] = field(default_factory=list)
    kev_added: list[FindingState] = field(default_factory=list)
    severity_changed: list[tuple[FindingState, FindingState]] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (
            self.new
            or self.fixed
            or self.vex
            or self.became_fixable
            or self.kev_added
            or self.severity_changed
        )

    def counts(self) -> dict[str, int]:
        return {
            "new": len(self.new),
            "fixed": len(self.fixed),
            "vex": len(self.vex),
            "becameFixable": len(self.became_fixable),
            "kevAdded": len(self.kev_added),
            "severityChanged": len(self.severity_changed),
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "new": [f.to_dict() for f in self.new],
            "fixed": [f.to_dict() for f in self.fixed],
            "vex": [
                {
                    **new.to_dict(),
                    "before": old.vex,
                    "suppressedBefore": old.suppressed,
                    "suppressed": new.suppressed,
                }
                for old, new in self.vex
            ],
            "becameFixable": [f.to_dict() for f in self.became_fixable],
            "kevAdded": [f.to_dict() for f in self.kev_added],
            "severityChanged": [
                {**new.to_dict(), "before": old.severity} for old, new in self.severity_changed
            ],
        }


def diff_scans(old: dict[str, Any] | None, new: dict[str, Any]) -> ScanDiff:
    """Compare two scan dicts finding by finding (key: id, purl, first location)."""
    before = finding_states(old) if old is not None else {}
    after = finding_states(new)
    diff = ScanDiff()
    for key, state in after.items():
        prev = before.get(key)
        if prev is None:
            if not state.suppressed:
                diff.new.append(state)
            continue
        if prev.vex != state.vex or prev.suppressed != state.suppressed:
            diff.vex.append((prev, state))
        if state.suppressed or prev.suppressed:
            continue
        if not prev.fixed_versions and state.fixed_versions:
            diff.became_fixable.append(state)
        if state.kev and not prev.kev:
            diff.kev_added.append(state)
        if prev.severity != state.severity:
            diff.severity_changed.append((prev, state))
    for key, prev in before.items():
        if key not in after and not prev.suppressed:
            diff.fixed.append(prev)
    return diff


class CachedAdvisories:
    """A :class:`~baseguard.matching.matcher.AdvisorySource` that remembers each package
    name's advisories: analyses of an estate share most packages, so a re-match of
    thousands reads and decodes each advisory once instead of once per image."""

    def __init__(self, db: AdvisorySource, *, max_names: int = 200_000) -> None:
        self.db = db
        self.max_names = max_names
        self._cache: dict[tuple[str, str], list[tuple[Advisory, Affected]]] = {}
        self._ecosystems: set[str] | None = None
        self._kev: dict[str, dict[str, Any] | None] = {}
        self._epss: dict[str, tuple[float, float] | None] = {}
        self.hits = 0
        self.misses = 0

    def advisories_for(
        self, ecosystem: str, names: Iterable[str]
    ) -> dict[str, list[tuple[Advisory, Affected]]]:
        out: dict[str, list[tuple[Advisory, Affected]]] = {}
        missing: list[str] = []
        for name in names:
            found = self._cache.get((ecosystem, name))
            if found is None:
                missing.append(name)
            else:
                self.hits += 1
                out[name] = found
        if missing:
            self.misses += len(missing)
            fetched = self.db.advisories_for(ecosystem, missing)
            if len(self._cache) + len(fetched) > self.max_names:
                self._cache.clear()
            for name, found in fetched.items():
                self._cache[(ecosystem, name)] = found
                out[name] = found
        return out

    def ecosystems(self) -> set[str]:
        if self._ecosystems is None:
            self._ecosystems = self.db.ecosystems()
        return self._ecosystems

    def kev(self, ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        wanted = list(ids)
        unknown = [i for i in wanted if i not in self._kev]
        if unknown:
            found = self.db.kev(unknown)
            for i in unknown:
                self._kev[i] = found.get(i)
        return {i: v for i in wanted if (v := self._kev.get(i)) is not None}

    def epss(self, ids: Iterable[str]) -> dict[str, tuple[float, float]]:
        wanted = list(ids)
        unknown = [i for i in wanted if i not in self._epss]
        if unknown:
            found = self.db.epss(unknown)
            for i in unknown:
                self._epss[i] = found.get(i)
        return {i: v for i in wanted if (v := self._epss.get(i)) is not None}

    def age(self, now: datetime | None = None) -> timedelta:
        return self.db.age(now)


@dataclass
class RematchOutcome:
    """What re-matching one digest did."""

    digest: str
    reference: str
    #: The scan saved (None: nothing changed, nothing saved).
    scan_id: int | None
    #: True when the digest had no scan before (a baseline, not a diff).
    first: bool
    diff: ScanDiff
    findings: int = 0

    @property
    def changed(self) -> bool:
        return self.scan_id is not None and not self.first

    def to_dict(self) -> dict[str, Any]:
        return {
            "digest": self.digest,
            "reference": self.reference,
            "scan": self.scan_id,
            "first": self.first,
            "findings": self.findings,
            "changes": self.diff.counts(),
        }


@dataclass
class RematchReport:
    """A whole re-match run."""

    db_built: datetime | None
    started: datetime
    analyses: int = 0
    saved: int = 0
    first: int = 0
    unchanged: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    #: The outcomes that changed something (diffs), in id order.
    changed: list[RematchOutcome] = field(default_factory=list)
    last_analysis_id: int = 0
    seconds: float = 0.0
    peak_bytes: int | None = None

    def totals(self) -> dict[str, int]:
        out = {k: 0 for k in ScanDiff().counts()}
        for outcome in self.changed:
            for k, v in outcome.diff.counts().items():
                out[k] += v
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "dbBuiltAt": self.db_built.isoformat() if self.db_built else None,
            "startedAt": self.started.isoformat(),
            "analyses": self.analyses,
            "saved": self.saved,
            "first": self.first,
            "unchanged": self.unchanged,
            "failed": [{"digest": d, "error": e} for d, e in self.failed],
            "changes": self.totals(),
            "changed": [o.to_dict() for o in self.changed],
            "lastAnalysisId": self.last_analysis_id,
            "seconds": round(self.seconds, 3),
        }


def db_built_at(db: AdvisorySource, now: datetime) -> datetime | None:
    try:
        return now - db.age(now)
    except Exception:  # a DB that cannot tell its age still matches
        return None


def rematch_one(
    store: Store,
    db: AdvisorySource,
    digest: str,
    *,
    analysis: Analysis | None = None,
    vex: Sequence[VexDocument] = (),
    now: datetime | None = None,
    actor: str = ev.ACTOR,
) -> RematchOutcome | None:
    """Re-match the stored analysis of ``digest``; save a scan and a ``monitor.diff`` event
    when the findings changed (or when it was never scanned). ``None``: no such analysis."""
    from baseguard.matching.matcher import match

    moment = now or datetime.now(UTC)
    if analysis is None:
        analysis = store.load_analysis(digest)
        if analysis is None:
            return None
    result = match(analysis, db, vex=vex, now=moment)
    current = result.to_dict()
    previous = store.latest_scan(digest)
    diff = diff_scans(previous, current)
    outcome = RematchOutcome(
        digest=digest,
        reference=analysis.image.reference,
        scan_id=None,
        first=previous is None,
        diff=diff,
        findings=len(result.findings),
    )
    if previous is not None and diff.empty:
        return outcome
    outcome.scan_id = store.save_scan(digest, result, actor)
    if previous is not None:
        built = current.get("database", {}).get("builtAt")
        store.record_event(
            ev.DIFF,
            digest,
            {
                "scan": outcome.scan_id,
                "previousScan": (previous.get("stored") or {}).get("id"),
                "reference": analysis.image.reference,
                "dbBuiltAt": built,
                "at": moment.isoformat(),
                "counts": diff.counts(),
                **diff.to_dict(),
            },
            actor,
        )
    return outcome


def rematch_all(
    store: Store,
    db: AdvisorySource,
    *,
    vex: Sequence[VexDocument] = (),
    now: datetime | None = None,
    actor: str = ev.ACTOR,
    after_id: int = 0,
    progress: Callable[[int, int], None] | None = None,
    measure_memory: bool = False,
    record: bool = True,
    extra: dict[str, Any] | None = None,
) -> RematchReport:
    """Re-match every stored analysis (those after ``after_id``) against ``db``.

    One analysis that fails (unreadable data) is recorded in ``failed`` and the run goes on.
    With ``record`` a ``monitor.rematch`` summary event is appended at the end (with
    ``extra`` keys added to it).
    """
    moment = now or datetime.now(UTC)
    source = db if isinstance(db, CachedAdvisories) else CachedAdvisories(db)
    report = RematchReport(db_built=db_built_at(db, moment), started=moment)
    started = time.monotonic()
    if measure_memory:
        tracemalloc.start()
    try:
        rows = store.list_analyses(after_id=after_id)
        total = len(rows)
        for done, (row_id, digest, _reference) in enumerate(rows, 1):
            report.analyses += 1
            report.last_analysis_id = max(report.last_analysis_id, row_id)
            try:
                outcome = rematch_one(store, source, digest, vex=vex, now=moment, actor=actor)
            except Exception as exc:  # one bad analysis must not stop the sweep
                report.failed.append((digest, f"{type(exc).__name__}: {exc}"))
                continue
            if outcome is None:
                continue
            if outcome.scan_id is None:
                report.unchanged += 1
            else:
                report.saved += 1
                if outcome.first:
                    report.first += 1
                else:
                    report.changed.append(outcome)
            if progress is not None:
                progress(done, total)
    finally:
        if measure_memory:
            report.peak_bytes = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
    report.seconds = time.monotonic() - started
    if record:
        summary = report.to_dict()
        summary["changed"] = [o.digest for o in report.changed][:1000]
        summary.update(extra or {})
        store.record_event(
            ev.REMATCH,
            f"vulndb:{summary['dbBuiltAt']}",
            summary,
            actor,
        )
    return report


def last_rematch(store: Store) -> ev.Event | None:
    """The newest ``monitor.rematch`` summary, if any."""
    found = ev.events(store, [ev.REMATCH])
    return found[-1] if found else None

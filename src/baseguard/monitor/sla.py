"""Patch-SLA clocks: from "a fix is available" to "an approved digest carries it".

A catalog entry's ``patch_sla`` gives, per severity, how long the image's maintainers have
to ship a fixed image once a fix exists. For every tag an entry follows
(:mod:`baseguard.monitor.tags`) and every vulnerability found in the digest the tag pointed
at, the clock

- **starts** when the feeds first showed a fixed version for it while that digest was the
  tag's current one (the first scan that showed it fixable: a ``becameFixable`` or ``new``
  item of a ``monitor.diff`` event, or the digest's first scan when it was fixable from the
  start);
- **stops** when the tag moved to a digest whose latest scan no longer reports it: the
  approved digest carrying the fix appeared then.

A clock is ``met`` (stopped before its deadline), ``breached`` (stopped after it: ``breach``
says by how much), ``open`` (running, deadline ahead) or ``overdue`` (running, deadline
passed). :func:`compute_clocks` is pure (times are injected); :func:`sla_clocks` gathers
its inputs from the store.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from baseguard.monitor import events as ev
from baseguard.monitor.tags import TagHistory, tag_history

if TYPE_CHECKING:
    from baseguard.catalog.model import CatalogEntry
    from baseguard.store import Store

MET, BREACHED, OPEN, OVERDUE = "met", "breached", "open", "overdue"

#: (vulnerability id, package name): what a clock is about within one tag.
FindingKey = tuple[str, str]


@dataclass(frozen=True)
class FixSighting:
    """A scan of ``digest`` at ``at`` showed ``vuln_id`` in ``package`` with a fix available."""

    digest: str
    vuln_id: str
    package: str
    severity: str
    at: datetime
    fixed_versions: tuple[str, ...] = ()


@dataclass(frozen=True)
class SlaClock:
    """One patch-SLA clock of one tag of one catalog entry."""

    entry_id: str
    tag: str
    vuln_id: str
    package: str
    severity: str
    sla: timedelta
    fix_available_at: datetime
    #: The digest the fix was first seen missing from.
    digest: str
    resolved_at: datetime | None
    resolved_by: str | None
    now: datetime
    fixed_versions: tuple[str, ...] = ()

    @property
    def deadline(self) -> datetime:
        return self.fix_available_at + self.sla

    @property
    def status(self) -> str:
        if self.resolved_at is not None:
            return MET if self.resolved_at <= self.deadline else BREACHED
        return OPEN if self.now <= self.deadline else OVERDUE

    @property
    def breached(self) -> bool:
        return self.status in (BREACHED, OVERDUE)

    @property
    def breach(self) -> timedelta | None:
        """How far past the deadline the fix shipped (or, still running, how far it is now)."""
        end = self.resolved_at if self.resolved_at is not None else self.now
        over = end - self.deadline
        return over if over > timedelta(0) else None

    @property
    def key(self) -> str:
        return f"{self.entry_id}|{self.tag}|{self.vuln_id}|{self.package}"

    def to_dict(self) -> dict[str, Any]:
        breach = self.breach
        return {
            "entry": self.entry_id,
            "tag": self.tag,
            "vulnerability": self.vuln_id,
            "package": self.package,
            "severity": self.severity,
            "sla": _hours(self.sla),
            "slaSeconds": int(self.sla.total_seconds()),
            "fixAvailableAt": self.fix_available_at.isoformat(),
            "fixedVersions": list(self.fixed_versions),
            "deadline": self.deadline.isoformat(),
            "digest": self.digest,
            "resolvedAt": self.resolved_at.isoformat() if self.resolved_at else None,
            "resolvedBy": self.resolved_by,
            "status": self.status,
            "breachSeconds": int(breach.total_seconds()) if breach else 0,
            "breach": _hours(breach) if breach else None,
        }


def _hours(value: timedelta) -> str:
    seconds = int(value.total_seconds())
    hours, rest = divmod(seconds, 3600)
    return f"{hours}h" if not rest else f"{hours}h{rest // 60:02d}m"


#: The (vulnerability, package) keys a digest's latest scan reports; None: never scanned.
Carried = Callable[[str], "set[FindingKey] | None"]


def compute_clocks(
    entries: Iterable[CatalogEntry],
    history: TagHistory,
    sightings: Mapping[str, Sequence[FixSighting]],
    carried: Carried,
    now: datetime,
) -> list[SlaClock]:
    """Every clock of every tag of every entry with a patch SLA (retired entries skipped).

    ``history`` is each (entry, tag)'s digests over time; ``sightings`` the fix sightings
    per digest (the analysis digest when it differs from the tag's); ``carried`` what a
    digest's latest scan reports. Sorted by entry, tag, start, vulnerability.
    """
    clocks: list[SlaClock] = []
    for entry in entries:
        if entry.patch_sla is None or entry.state == "retired":
            continue
        for (entry_id, tag), line in sorted(history.items()):
            if entry_id != entry.id or not line:
                continue
            starts = [obs.seen_at for obs in line]
            digests = [obs.analysis_digest or obs.digest for obs in line]
            opened: dict[FindingKey, tuple[int, FixSighting]] = {}
            for index, digest in enumerate(digests):
                for sighting in sightings.get(digest, ()):
                    current = bisect.bisect_right(starts, sighting.at) - 1
                    if current < 0 or digests[current] != digest:
                        continue  # the tag had already moved on (or not yet arrived)
                    key = (sighting.vuln_id, sighting.package)
                    if entry.patch_sla.for_severity(sighting.severity) is None:
                        continue
                    known = opened.get(key)
                    if known is None or sighting.at < known[1].at:
                        opened[key] = (index, sighting)
            for key, (index, sighting) in opened.items():
                sla = entry.patch_sla.for_severity(sighting.severity)
                assert sla is not None
                resolved_at: datetime | None = None
                resolved_by: str | None = None
                for later in range(index + 1, len(line)):
                    keys = carried(digests[later])
                    if keys is not None and key not in keys:
                        resolved_at = max(line[later].seen_at, sighting.at)
                        resolved_by = line[later].digest
                        break
                clocks.append(
                    SlaClock(
                        entry_id=entry.id,
                        tag=tag,
                        vuln_id=key[0],
                        package=key[1],
                        severity=sighting.severity.upper(),
                        sla=sla,
                        fix_available_at=sighting.at,
                        digest=line[index].digest,
                        resolved_at=resolved_at,
                        resolved_by=resolved_by,
                        now=now,
                        fixed_versions=sighting.fixed_versions,
                    )
                )
    clocks.sort(key=lambda c: (c.entry_id, c.tag, c.fix_available_at, c.vuln_id, c.package))
    return clocks


# --------------------------------------------------------------------------- from the store


def _unsuppressed_keys(scan: dict[str, Any]) -> set[FindingKey]:
    return {
        (str(f.get("id")), str((f.get("package") or {}).get("name")))
        for f in scan.get("findings") or []
    }


def gather_sightings(
    store: Store, digests: Iterable[str]
) -> tuple[dict[str, list[FixSighting]], dict[str, set[FindingKey] | None]]:
    """Fix sightings of the given digests: from ``monitor.diff`` events (new findings with a
    fixed version, findings that became fixable) and, for findings fixable in the latest
    scan that no diff mentions, the digest's first scan (fixable from the start).

    Also returns what each digest's latest scan carries (``None``: never scanned), so that
    the clocks need not read those scans a second time."""
    wanted = set(digests)
    carried: dict[str, set[FindingKey] | None] = {}
    out: dict[str, list[FixSighting]] = {d: [] for d in wanted}
    seen: dict[str, set[FindingKey]] = {d: set() for d in wanted}
    mentioned: dict[str, set[FindingKey]] = {d: set() for d in wanted}
    for event in ev.events(store, [ev.DIFF]):
        digest = event.subject
        if digest not in wanted:
            continue
        at = ev.parse_time(str(event.data.get("at"))) if event.data.get("at") else event.time
        for group in ("new", "becameFixable"):
            for item in event.data.get(group) or []:
                key = (str(item.get("id")), str(item.get("package")))
                mentioned[digest].add(key)
                fixed = tuple(item.get("fixedVersions") or ())
                if fixed and key not in seen[digest]:
                    seen[digest].add(key)
                    out[digest].append(
                        FixSighting(digest, key[0], key[1], str(item.get("severity")), at, fixed)
                    )
    for digest in sorted(wanted):
        latest = store.latest_scan(digest)
        carried[digest] = _unsuppressed_keys(latest) if latest is not None else None
        if latest is None:
            continue
        first = store.list_scans(digest, limit=1)
        if not first:
            continue
        start = first[0].scanned_at or first[0].created_at
        for item in latest.get("findings") or []:
            key = (str(item.get("id")), str((item.get("package") or {}).get("name")))
            fixed = tuple(item.get("fixedVersions") or ())
            if not fixed or key in mentioned[digest] or key in seen[digest]:
                continue
            seen[digest].add(key)
            out[digest].append(
                FixSighting(digest, key[0], key[1], str(item.get("severity")), start, fixed)
            )
    return out, carried


def sla_clocks(
    store: Store,
    entries: Iterable[CatalogEntry],
    *,
    now: datetime | None = None,
    history: TagHistory | None = None,
) -> list[SlaClock]:
    """The clocks of every catalog entry, from what the store recorded."""
    moment = now or datetime.now(UTC)
    chosen = [e for e in entries if e.patch_sla is not None]
    lines = tag_history(store) if history is None else history
    ids = {e.id for e in chosen}
    lines = {k: v for k, v in lines.items() if k[0] in ids}
    digests = {obs.analysis_digest or obs.digest for line in lines.values() for obs in line}
    # Every digest the clocks ask about is one of ``digests``: read once, by gather_sightings.
    sightings, carried = gather_sightings(store, digests)
    return compute_clocks(chosen, lines, sightings, carried.get, moment)


def record_transitions(
    store: Store, clocks: Iterable[SlaClock], *, actor: str = ev.ACTOR
) -> list[SlaClock]:
    """Append a ``monitor.sla`` event for each clock whose status changed since the last
    one recorded (started, met, breached, overdue): the evidence trail of the SLA."""
    last: dict[str, str] = {}
    for event in ev.events(store, [ev.SLA]):
        key = event.data.get("key")
        if isinstance(key, str):
            last[key] = str(event.data.get("status"))
    changed: list[SlaClock] = []
    for clock in clocks:
        if last.get(clock.key) == clock.status:
            continue
        store.record_event(ev.SLA, clock.key, {"key": clock.key, **clock.to_dict()}, actor)
        changed.append(clock)
    return changed

"""One monitoring cycle, what ``baseguard watch`` runs on its schedule.

1. refresh the vulnerability database (``db update`` from a mirror, a directory or the
   public feeds; a failure keeps the old database and is reported);
2. follow every catalog entry's tags (new digests are analysed, or queued for a worker);
3. re-match the stored analyses: all of them when the database changed since the last
   re-match, else only analyses added since (inline, or queued for workers);
4. patch-SLA clocks, and a ``monitor.sla`` event for each clock whose status changed;
5. alerts (new critical / KEV findings from the ``monitor.diff`` events since the last
   cycle, SLA breaches, end of life, exception expiry), sent through the notify channels;
6. a ``monitor.cycle`` audit event summing it up.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from baseguard.monitor import events as ev

if TYPE_CHECKING:
    from baseguard.catalog.model import CatalogEntry, CatalogException
    from baseguard.matching.vex import VexDocument
    from baseguard.monitor.alerts import Alert
    from baseguard.monitor.notify import DispatchReport, NotifyConfig
    from baseguard.monitor.rematch import RematchReport
    from baseguard.monitor.sla import SlaClock
    from baseguard.monitor.tags import PollReport, TagRegistry
    from baseguard.monitor.tasks import TaskQueue
    from baseguard.store import Store


@dataclass
class WatchOptions:
    """What a cycle does, from ``baseguard watch``'s options."""

    vulndb_path: Path | None = None
    #: Refresh the database first (from ``mirror``, ``from_dir`` or the public feeds).
    update: bool = True
    mirror: str | None = None
    from_dir: Path | None = None
    follow_tags: bool = True
    #: Analyse a digest a tag moved to (inline, or on a worker when ``queue`` is set).
    analyze_new: bool = True
    insecure: bool = False
    ca_file: str | None = None
    vex: Sequence[VexDocument] = ()
    notify: NotifyConfig | None = None
    queue: TaskQueue | None = None
    actor: str = ev.ACTOR


@dataclass
class CycleReport:
    started: datetime
    db_built: datetime | None = None
    updated: dict[str, Any] | None = None
    rematch: RematchReport | None = None
    queued: int = 0
    tags: PollReport | None = None
    clocks: list[SlaClock] = field(default_factory=list)
    sla_changes: int = 0
    alerts: list[Alert] = field(default_factory=list)
    dispatch: DispatchReport | None = None
    errors: list[str] = field(default_factory=list)
    audit_cursor: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "startedAt": self.started.isoformat(),
            "dbBuiltAt": self.db_built.isoformat() if self.db_built else None,
            "update": self.updated,
            "rematch": self.rematch.to_dict() if self.rematch else None,
            "queued": self.queued,
            "tags": self.tags.to_dict() if self.tags else None,
            "sla": [c.to_dict() for c in self.clocks],
            "slaChanges": self.sla_changes,
            "alerts": [a.to_dict() for a in self.alerts],
            "notify": self.dispatch.to_dict() if self.dispatch else None,
            "errors": list(self.errors),
            "auditCursor": self.audit_cursor,
        }

    def summary(self) -> dict[str, Any]:
        """The compact form recorded in the ``monitor.cycle`` event."""
        breached = [c for c in self.clocks if c.breached]
        return {
            "startedAt": self.started.isoformat(),
            "dbBuiltAt": self.db_built.isoformat() if self.db_built else None,
            "updated": bool(self.updated),
            "rematch": (
                {
                    "analyses": self.rematch.analyses,
                    "saved": self.rematch.saved,
                    "changes": self.rematch.totals(),
                }
                if self.rematch
                else None
            ),
            "queued": self.queued,
            "tagsChanged": len(self.tags.changed) if self.tags else 0,
            "slaClocks": len(self.clocks),
            "slaBreached": len(breached),
            "alerts": len(self.alerts),
            "sent": len(self.dispatch.sent) if self.dispatch else 0,
            "errors": self.errors[:20],
            "auditCursor": self.audit_cursor,
        }


def load_entries(store: Store) -> list[CatalogEntry]:
    """The catalog entries the store mirrors (entries that no longer validate are skipped)."""
    from baseguard.catalog.model import CatalogEntry, parse_stored

    return parse_stored(store.catalog_entries(), CatalogEntry.from_dict)[0]


def load_catalog(store: Store) -> tuple[list[CatalogEntry], list[CatalogException]]:
    """The catalog as the store mirrors it (entries that no longer validate are skipped)."""
    from baseguard.catalog.model import CatalogException, parse_stored

    return load_entries(store), parse_stored(store.exceptions(), CatalogException.from_dict)[0]


def _head_id(store: Store) -> int:
    newest = store.audit_events(limit=1)
    return newest[0].id if newest else 0


def run_cycle(
    store: Store,
    options: WatchOptions,
    *,
    now: datetime | None = None,
    registry: TagRegistry | None = None,
    analyzer: Callable[[str], Any] | None = None,
) -> CycleReport:
    """Run one cycle (see the module doc). ``now`` is injectable for tests; ``registry``
    and ``analyzer`` replace the registry client and image analysis."""
    from baseguard.monitor import alerts as al
    from baseguard.monitor.notify import Dispatcher
    from baseguard.monitor.sla import record_transitions, sla_clocks
    from baseguard.monitor.tags import poll_tags, tag_history
    from baseguard.vulndb.store import VulnDB, VulnDbError

    moment = now or datetime.now(UTC)
    report = CycleReport(started=moment)
    entries, exceptions = load_catalog(store)
    # Read once: polling appends what it records, and the SLA clocks read it after.
    history = tag_history(store)

    # 1. feeds
    if options.update:
        from baseguard.vulndb.update import update_db

        try:
            result = update_db(
                db_path=options.vulndb_path,
                mirror=options.mirror,
                from_dir=options.from_dir,
                now=moment,
            )
            report.updated = {
                "builtAt": result.built_at.isoformat(),
                "advisories": result.advisories,
                "seconds": round(result.seconds, 3),
            }
        except Exception as exc:
            report.errors.append(f"db update: {getattr(exc, 'message', None) or exc}")

    # 2. tags
    if options.follow_tags and any(e.state != "retired" for e in entries):
        client: Any = registry
        own_client = client is None
        if own_client:
            from baseguard.image.registry import RegistryClient

            client = RegistryClient(insecure=options.insecure, ca_file=options.ca_file)
        chosen_analyzer = analyzer
        if chosen_analyzer is None and options.analyze_new and options.queue is None:
            chosen_analyzer = _default_analyzer(options)
        try:
            report.tags = poll_tags(
                store,
                client,
                entries,
                now=moment,
                analyzer=chosen_analyzer,
                actor=options.actor,
                history=history,
            )
        finally:
            if own_client:
                client.close()
        report.errors.extend(f"tag {t}: {e}" for t, e in report.tags.errors)
        if options.queue is not None and options.analyze_new:
            for obs in report.tags.changed:
                if options.queue.enqueue_scan(obs.reference, obs.digest):
                    report.queued += 1

    # 3. re-match
    try:
        db = VulnDB.open(options.vulndb_path)
    except VulnDbError as exc:
        report.errors.append(f"vulnerability database: {exc.message}")
        db = None
    if db is not None:
        with db:
            report.db_built = db.built_at()
            _rematch(store, db, options, report, moment)

    # 4. SLA clocks
    report.clocks = sla_clocks(store, entries, now=moment, history=history)
    report.sla_changes = len(record_transitions(store, report.clocks, actor=options.actor))

    # 5. alerts
    previous = ev.events(store, [ev.CYCLE])
    cursor = int(previous[-1].data.get("auditCursor", 0)) if previous else 0
    head = _head_id(store)
    diffs = [e for e in ev.events(store, [ev.DIFF], after_id=cursor) if e.id <= head]
    config = options.notify
    today = moment.date()
    eol_warn = config.eol_warning if config else al.EOL_WARNING
    exc_warn = config.exception_warning if config else al.EXCEPTION_WARNING
    report.alerts = al.sort_alerts(
        [
            *al.finding_alerts(diffs),
            *al.sla_alerts(report.clocks),
            *al.eol_alerts(entries, today, warn=eol_warn),
            *al.exception_alerts(exceptions, today, warn=exc_warn),
        ]
    )
    report.audit_cursor = head
    if config is not None and config.channels:
        report.dispatch = Dispatcher(store, config, actor=options.actor).dispatch(
            report.alerts, now=moment
        )
        report.errors.extend(f"notify {c}: {e}" for c, e in report.dispatch.failed)

    # 6. the record
    store.record_event(ev.CYCLE, "watch", report.summary(), options.actor)
    return report


def _rematch(
    store: Store, db: Any, options: WatchOptions, report: CycleReport, moment: datetime
) -> None:
    from baseguard.monitor.rematch import last_rematch, rematch_all

    built = db.built_at().astimezone(UTC).isoformat()
    stamp = db_stamp(db)
    last = last_rematch(store)
    after = 0
    if last is not None and last.data.get("dbStamp") == stamp:
        after = int(last.data.get("lastAnalysisId") or 0)
    if after and not store.list_analyses(after_id=after, limit=1):
        return  # same database, no new analysis: nothing can have changed
    if options.queue is not None:
        rows = store.list_analyses(after_id=after)
        for _row, digest, reference in rows:
            if options.queue.enqueue_scan(reference, digest):
                report.queued += 1
        store.record_event(
            ev.REMATCH,
            f"vulndb:{built}",
            {
                "dbBuiltAt": built,
                "dbStamp": stamp,
                "startedAt": moment.isoformat(),
                "analyses": len(rows),
                "queued": report.queued,
                "lastAnalysisId": max((r[0] for r in rows), default=after),
            },
            options.actor,
        )
        return
    report.rematch = rematch_all(
        store,
        db,
        vex=options.vex,
        now=moment,
        actor=options.actor,
        after_id=after,
        extra={"dbStamp": stamp},
    )
    report.errors.extend(f"re-match {d}: {e}" for d, e in report.rematch.failed)


def db_stamp(db: Any) -> str:
    """What tells one database file from another: its build time (to the second), and the
    file's size and modification time (two builds within one second differ there)."""
    built: str = db.built_at().astimezone(UTC).isoformat()
    try:
        info = Path(db.path).stat()
    except OSError:
        return built
    return f"{built}|{info.st_size}|{info.st_mtime_ns}"


def _default_analyzer(options: WatchOptions) -> Callable[[str], Any]:
    def analyze_reference(reference: str) -> Any:
        from baseguard.analysis.analyze import analyze
        from baseguard.image.source import OpenOptions

        return analyze(reference, OpenOptions(insecure=options.insecure, ca_file=options.ca_file))

    return analyze_reference

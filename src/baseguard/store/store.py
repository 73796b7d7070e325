"""The store: catalog, exceptions, analyses, scans, assessments and the audit log.

One :class:`Store` wraps one database (a SQLite file by default, PostgreSQL for teams). Each
write method is one transaction that also appends its audit event, so a write and its audit
record land together or not at all, and a process killed mid-write leaves the store as it
was. Audit appends are serialised by a lock on the one-row ``audit_head`` table
(``SELECT … FOR UPDATE`` on PostgreSQL; on SQLite every write transaction starts with
``BEGIN IMMEDIATE``, which takes the database's write lock), so writers in any number of
processes extend one chain.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    create_engine,
    event,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import URL
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from baseguard.analysis.analyze import Analysis
from baseguard.matching.findings import Finding, ScanResult
from baseguard.store import migrations
from baseguard.store.audit import (
    GENESIS,
    AuditRecord,
    AuditReport,
    canonical_json,
    format_time,
    json_default,
    row_hash,
    verify_rows,
)
from baseguard.store.errors import StoreError
from baseguard.store.models import (
    KEY_LENGTH,
    AnalysisRow,
    AssessmentRow,
    AuditHeadRow,
    AuditRow,
    CatalogEntryRow,
    ExceptionRow,
    FindingRow,
    ScanRow,
)
from baseguard.store.url import is_sqlite, redact, resolve_url

Clock = Callable[[], datetime]

#: Rows fetched per round trip when streaming, and finding rows per INSERT batch.
BATCH = 1000

#: Audit event kinds the store writes itself.
CATALOG_UPSERT = "catalog.upsert"
EXCEPTION_UPSERT = "exception.upsert"
ANALYSIS_SAVE = "analysis.save"
SCAN_RESULT = "scan.result"
ASSESSMENT_SAVE = "assessment.save"


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class ScanInfo:
    """One stored scan, without its findings."""

    id: int
    digest: str
    scanned_at: datetime | None
    created_at: datetime
    actor: str
    total: int
    suppressed: int
    summary: dict[str, Any]


def open_store(
    url: str | None = None, *, migrate: bool = True, clock: Clock | None = None
) -> Store:
    """Open the store at ``url`` (``None``: ``$BASEGUARD_DB``, else the default SQLite file).

    With ``migrate`` the schema is brought to the newest revision first (a fresh database is
    created); without it, a store that is not at the newest revision is refused with a hint
    to run ``baseguard store migrate``. ``clock`` gives the times written (tests inject it).
    """
    resolved = resolve_url(url)
    if is_sqlite(resolved):
        path = resolved.database or ""
        if not migrate and not os.path.exists(path):
            raise StoreError(
                f"no store at {path}",
                hint="give the right --db, or create the store with `baseguard store migrate`",
            )
        parent = os.path.dirname(path)
        try:
            os.makedirs(parent, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create the store directory {parent}: {exc}") from None
    store = Store(resolved, clock=clock)
    try:
        if migrate:
            store.migrate()
        else:
            store.check_schema()
    except BaseException:
        store.close()
        raise
    return store


class Store:
    """The database behind baseguard's catalog, results and audit log (see module doc)."""

    def __init__(self, url: URL, *, clock: Clock | None = None) -> None:
        self.url = url
        self.clock: Clock = clock or utc_now
        #: For tests: called inside every write transaction at named points (``"data"``
        #: after the rows are written, ``"audit"`` after the audit row); raising aborts it.
        self.fault_hook: Callable[[str], None] | None = None
        self.backend = url.get_backend_name()
        self._engine = _make_engine(url)
        if self.backend == "sqlite":
            self._read_engine = self._engine.execution_options(sqlite_begin="DEFERRED")
        else:
            # One snapshot per read: verification must not see the log grow under it.
            self._read_engine = self._engine.execution_options(isolation_level="REPEATABLE READ")

    # -- lifecycle ---------------------------------------------------------------------

    @property
    def display_url(self) -> str:
        """The URL without its password."""
        return redact(self.url)

    def close(self) -> None:
        self._engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def migrate(self) -> tuple[str | None, str]:
        """Bring the schema to the newest revision; returns (revision before, after)."""
        with self._errors("migrate"):
            before = self.schema_revision()
            if before is not None and before != migrations.HEAD and not migrations.known(before):
                raise self._newer(before)
            return migrations.upgrade(self._engine)

    def schema_revision(self) -> str | None:
        """The Alembic revision the database is at (``None``: never migrated)."""
        with self._errors("read the schema revision"), self._engine.connect() as conn:
            revision = migrations.current(conn)
            conn.rollback()
            return revision

    def check_schema(self) -> None:
        revision = self.schema_revision()
        if revision == migrations.HEAD:
            return
        if revision is None:
            raise StoreError(
                f"{self.display_url} is not a baseguard store (no schema)",
                hint="create it with `baseguard store migrate`, or give the right --db",
            )
        if not migrations.known(revision):
            raise self._newer(revision)
        raise StoreError(
            f"the store {self.display_url} is at schema {revision}; this baseguard needs "
            f"{migrations.HEAD}",
            hint="run `baseguard store migrate`",
        )

    def _newer(self, revision: str) -> StoreError:
        return StoreError(
            f"the store {self.display_url} is at schema {revision}, which this baseguard "
            "does not know (a newer version made it)",
            hint="upgrade baseguard",
        )

    # -- plumbing ----------------------------------------------------------------------

    @contextmanager
    def _errors(self, action: str) -> Iterator[None]:
        try:
            yield
        except SQLAlchemyError as exc:
            cause = getattr(exc, "orig", None) or exc
            first = str(cause).strip().splitlines()[0] if str(cause).strip() else type(exc)
            raise StoreError(
                f"store {self.display_url}: cannot {action}: {first}",
                hint="check that the database is reachable and that you may write to it",
            ) from exc

    @contextmanager
    def _write(self, action: str) -> Iterator[Session]:
        """One write transaction (SQLite: BEGIN IMMEDIATE); rolled back on any error."""
        with self._errors(action), Session(self._engine) as session, session.begin():
            yield session

    @contextmanager
    def _read(self, action: str) -> Iterator[Session]:
        with self._errors(action), Session(self._read_engine) as session, session.begin():
            yield session

    def _checkpoint(self, stage: str) -> None:
        if self.fault_hook is not None:
            self.fault_hook(stage)

    def _now(self) -> datetime:
        moment = self.clock()
        if moment.tzinfo is None:
            raise StoreError("the store's clock returned a naive time; give it a zone")
        return moment.astimezone(UTC)

    def _upsert(self, model: type[Any]) -> Any:
        return (pg_insert if self.backend == "postgresql" else sqlite_insert)(model)

    def _append(
        self, session: Session, kind: str, subject: str, data: dict[str, Any], actor: str
    ) -> AuditRecord:
        """Append one audit row in ``session``'s transaction, under the head lock."""
        _check_key("audit kind", kind)
        data_text = _canonical(data)
        head = session.execute(
            select(AuditHeadRow.seq, AuditHeadRow.hash)
            .where(AuditHeadRow.id == 1)
            .with_for_update()
        ).one_or_none()
        if head is None:
            raise StoreError(
                f"the store {self.display_url} has no audit head record",
                hint="run `baseguard audit verify`; the audit log has been tampered with",
            )
        seq, prev = head[0] + 1, head[1] or GENESIS
        time = format_time(self._now())
        digest = row_hash(prev, time, actor, kind, subject, data_text)
        session.execute(
            insert(AuditRow).values(
                id=seq,
                time=time,
                actor=actor,
                kind=kind,
                subject=subject,
                data=data_text,
                prev_hash=prev,
                hash=digest,
            )
        )
        session.execute(
            update(AuditHeadRow).where(AuditHeadRow.id == 1).values(seq=seq, hash=digest)
        )
        self._checkpoint("audit")
        return AuditRecord(seq, time, actor, kind, subject, data_text, prev, digest)

    # -- catalog and exceptions --------------------------------------------------------

    def upsert_catalog_entry(self, entry: dict[str, Any], actor: str) -> None:
        """Insert or replace the catalog entry ``entry["id"]``; audit ``catalog.upsert``.

        Writing an entry equal to the stored one changes nothing and records nothing.
        """
        self._upsert_keyed(CatalogEntryRow, entry, actor, CATALOG_UPSERT, "catalog entry", "entry")

    def upsert_exception(self, exc: dict[str, Any], actor: str) -> None:
        """Insert or replace the exception ``exc["id"]``; audit ``exception.upsert``."""
        self._upsert_keyed(ExceptionRow, exc, actor, EXCEPTION_UPSERT, "exception", "exception")

    def _upsert_keyed(
        self,
        model: type[CatalogEntryRow] | type[ExceptionRow],
        item: dict[str, Any],
        actor: str,
        kind: str,
        what: str,
        data_key: str,
    ) -> None:
        _check_actor(actor)
        key = item.get("id") if isinstance(item, dict) else None
        if not isinstance(key, str) or not key:
            raise StoreError(f"a {what} needs a non-empty string id")
        _check_key(f"{what} id", key)
        data = _plain(item)
        with self._write(f"write {what} {key}") as session:
            stored = session.execute(
                select(model.data).where(model.id == key).with_for_update()
            ).scalar_one_or_none()
            if stored is not None and _canonical(stored) == _canonical(data):
                return
            now = self._now()
            stmt = self._upsert(model).values(id=key, data=data, updated_at=now, updated_by=actor)
            session.execute(
                stmt.on_conflict_do_update(
                    index_elements=[model.id],
                    set_={"data": data, "updated_at": now, "updated_by": actor},
                )
            )
            self._checkpoint("data")
            self._append(session, kind, key, {"created": stored is None, data_key: data}, actor)

    def catalog_entries(self) -> list[dict[str, Any]]:
        """Every catalog entry, ordered by id (streamed from the database in batches)."""
        return list(self._stream_data(CatalogEntryRow, "read the catalog"))

    def exceptions(self) -> list[dict[str, Any]]:
        """Every exception, ordered by id."""
        return list(self._stream_data(ExceptionRow, "read the exceptions"))

    def _stream_data(
        self, model: type[CatalogEntryRow] | type[ExceptionRow], action: str
    ) -> Iterator[dict[str, Any]]:
        with self._read(action) as session:
            stmt = select(model.data).order_by(model.id).execution_options(yield_per=BATCH)
            yield from session.scalars(stmt)

    # -- analyses ----------------------------------------------------------------------

    def save_analysis(self, analysis: Analysis, actor: str) -> int:
        """Store ``analysis`` under its manifest (else config) digest; returns the row id.

        Idempotent: the same digest always maps to the same row, which is updated; an
        unchanged analysis writes nothing. Audit ``analysis.save`` when something changed.
        """
        _check_actor(actor)
        digest = analysis.image.manifest_digest or analysis.image.config_digest
        if not digest:
            raise StoreError(
                f"the analysis of {analysis.image.reference} has no manifest or config digest",
                hint="only analyses of images with a digest can be stored",
            )
        _check_key("digest", digest)
        data = _plain(analysis.to_dict())
        reference = analysis.image.reference
        distro = (analysis.distro.display or None) if analysis.distro else None
        values = {
            "reference": reference,
            "distro": distro[:KEY_LENGTH] if distro else None,
            "package_count": len(analysis.packages),
            "analyzed_at": analysis.analyzed_at.astimezone(UTC)
            if analysis.analyzed_at and analysis.analyzed_at.tzinfo
            else None,
            "data": data,
        }
        with self._write(f"save the analysis of {digest}") as session:
            stored = session.execute(
                select(AnalysisRow.id, AnalysisRow.data)
                .where(AnalysisRow.digest == digest)
                .with_for_update()
            ).one_or_none()
            if stored is not None and _canonical(stored[1]) == _canonical(data):
                return int(stored[0])
            now = self._now()
            stmt = self._upsert(AnalysisRow).values(
                digest=digest, created_at=now, updated_at=now, updated_by=actor, **values
            )
            row_id = session.execute(
                stmt.on_conflict_do_update(
                    index_elements=[AnalysisRow.digest],
                    set_={**values, "updated_at": now, "updated_by": actor},
                ).returning(AnalysisRow.id)
            ).scalar_one()
            self._checkpoint("data")
            self._append(
                session,
                ANALYSIS_SAVE,
                digest,
                {
                    "id": int(row_id),
                    "created": stored is None,
                    "reference": reference,
                    "distro": distro,
                    "packages": len(analysis.packages),
                },
                actor,
            )
            return int(row_id)

    def load_analysis(self, digest: str) -> Analysis | None:
        """The stored analysis of ``digest``, or ``None``."""
        with self._read(f"load the analysis of {digest}") as session:
            data = session.execute(
                select(AnalysisRow.data).where(AnalysisRow.digest == digest)
            ).scalar_one_or_none()
        return Analysis.from_dict(data) if data is not None else None

    def list_analyses(
        self, *, after_id: int = 0, limit: int | None = None
    ) -> list[tuple[int, str, str]]:
        """``(id, digest, reference)`` of stored analyses in id order, without their data.

        Page with ``after_id`` (the last id seen) and ``limit``; by default every row is
        returned (three short columns each, streamed in batches).
        """
        stmt = (
            select(AnalysisRow.id, AnalysisRow.digest, AnalysisRow.reference)
            .where(AnalysisRow.id > after_id)
            .order_by(AnalysisRow.id)
        )
        if limit is not None:
            stmt = stmt.limit(max(0, limit))
        with self._read("list analyses") as session:
            return [
                (int(i), d, r)
                for i, d, r in session.execute(stmt.execution_options(yield_per=BATCH))
            ]

    # -- scans -------------------------------------------------------------------------

    def save_scan(self, digest: str, result: ScanResult, actor: str) -> int:
        """Store one scan of ``digest`` with all its findings; returns the scan id.

        The scan row, every finding row (suppressed ones flagged) and the ``scan.result``
        audit event (the summary) are one transaction.
        """
        _check_actor(actor)
        _check_key("digest", digest)
        header = result.to_dict()
        findings = header.pop("findings")
        suppressed = header.pop("suppressed")
        header = _plain(header)
        summary = header.get("summary") or {}
        with self._write(f"save a scan of {digest}") as session:
            now = self._now()
            scan_id = int(
                session.execute(
                    insert(ScanRow)
                    .values(
                        digest=digest,
                        scanned_at=result.scanned_at.astimezone(UTC)
                        if result.scanned_at and result.scanned_at.tzinfo
                        else None,
                        created_at=now,
                        actor=actor,
                        total=len(result.findings),
                        suppressed=len(result.suppressed),
                        summary=summary,
                        header=header,
                    )
                    .returning(ScanRow.id)
                ).scalar_one()
            )
            rows = _finding_rows(
                scan_id,
                [*zip(result.findings, findings, strict=True)],
                [*zip(result.suppressed, suppressed, strict=True)],
            )
            for start in range(0, len(rows), BATCH):
                session.execute(insert(FindingRow), rows[start : start + BATCH])
                if start == 0:
                    self._checkpoint("findings")
            self._checkpoint("data")
            self._append(
                session,
                SCAN_RESULT,
                digest,
                {
                    "scan": scan_id,
                    "scannedAt": header.get("scannedAt"),
                    "target": header.get("target", {}).get("reference"),
                    "summary": summary,
                },
                actor,
            )
            return scan_id

    def latest_scan(self, digest: str) -> dict[str, Any] | None:
        """The newest scan of ``digest`` as ``ScanResult.to_dict`` wrote it, plus
        ``stored`` (scan id, digest, when saved and by whom); ``None`` if never scanned."""
        with self._read(f"read the latest scan of {digest}") as session:
            scan = session.execute(
                select(ScanRow).where(ScanRow.digest == digest).order_by(ScanRow.id.desc()).limit(1)
            ).scalar_one_or_none()
            if scan is None:
                return None
            out: dict[str, Any] = dict(scan.header)
            out["findings"], out["suppressed"] = [], []
            stmt = (
                select(FindingRow.suppressed, FindingRow.data)
                .where(FindingRow.scan_id == scan.id)
                .order_by(FindingRow.position)
                .execution_options(yield_per=BATCH)
            )
            for is_suppressed, data in session.execute(stmt):
                out["suppressed" if is_suppressed else "findings"].append(data)
            out["stored"] = {
                "id": scan.id,
                "digest": scan.digest,
                "savedAt": scan.created_at.isoformat(),
                "actor": scan.actor,
            }
            return out

    def list_scans(
        self, digest: str | None = None, *, after_id: int = 0, limit: int = BATCH
    ) -> list[ScanInfo]:
        """Stored scans (of ``digest``, or all) in id order, a page at a time."""
        stmt = select(ScanRow).where(ScanRow.id > after_id).order_by(ScanRow.id)
        if digest is not None:
            stmt = stmt.where(ScanRow.digest == digest)
        with self._read("list scans") as session:
            return [
                ScanInfo(
                    s.id,
                    s.digest,
                    s.scanned_at,
                    s.created_at,
                    s.actor,
                    s.total,
                    s.suppressed,
                    s.summary,
                )
                for s in session.scalars(stmt.limit(max(0, limit)))
            ]

    def iter_scans(self) -> Iterator[ScanInfo]:
        """Every stored scan in id order, read a page of :data:`BATCH` at a time."""
        after = 0
        while page := self.list_scans(after_id=after):
            yield from page
            after = page[-1].id

    # -- assessments -------------------------------------------------------------------

    def save_assessment(self, assessment: dict[str, Any], actor: str) -> int:
        """Store an estate assessment (``Assessment.to_dict()``); audit ``assessment.save``."""
        _check_actor(actor)
        data = _plain(assessment)
        summary = data.get("summary") if isinstance(data.get("summary"), dict) else {}
        generated = _parse_time(data.get("generatedAt"))
        with self._write("save an assessment") as session:
            row_id = int(
                session.execute(
                    insert(AssessmentRow)
                    .values(
                        generated_at=generated,
                        created_at=self._now(),
                        actor=actor,
                        summary=summary,
                        data=data,
                    )
                    .returning(AssessmentRow.id)
                ).scalar_one()
            )
            self._checkpoint("data")
            self._append(
                session,
                ASSESSMENT_SAVE,
                str(row_id),
                {"id": row_id, "generatedAt": data.get("generatedAt"), "summary": summary},
                actor,
            )
            return row_id

    def load_assessment(self, assessment_id: int) -> dict[str, Any] | None:
        with self._read(f"load assessment {assessment_id}") as session:
            return session.execute(
                select(AssessmentRow.data).where(AssessmentRow.id == assessment_id)
            ).scalar_one_or_none()

    # -- audit -------------------------------------------------------------------------

    def record_event(self, kind: str, subject: str, data: dict[str, Any], actor: str) -> None:
        """Append one audit event (an approval, a login, a policy change…) on its own."""
        _check_actor(actor)
        if not isinstance(data, dict):
            raise StoreError("audit event data must be a JSON object")
        with self._write(f"record a {kind} event") as session:
            self._append(session, kind, subject, data, actor)

    def audit_head(self) -> str | None:
        """The hash of the last audit row (``None`` for an empty log): quote it in evidence
        so that a later rewrite of the whole chain shows."""
        with self._read("read the audit head") as session:
            return session.execute(
                select(AuditRow.hash).order_by(AuditRow.id.desc()).limit(1)
            ).scalar_one_or_none()

    def audit_events(self, *, limit: int = 100, before_id: int | None = None) -> list[AuditRecord]:
        """The newest ``limit`` audit rows (older than ``before_id``), newest first."""
        stmt = select(*_AUDIT_COLUMNS).order_by(AuditRow.id.desc()).limit(max(0, limit))
        if before_id is not None:
            stmt = stmt.where(AuditRow.id < before_id)
        with self._read("read the audit log") as session:
            return [AuditRecord(*row) for row in session.execute(stmt)]

    def iter_audit(
        self, *, after_id: int = 0, kinds: Iterable[str] | None = None
    ) -> Iterator[AuditRecord]:
        """Every audit row after ``after_id`` (only of ``kinds``, if given), oldest first, in
        one read snapshot. Filtering by kind happens in the database (``kind`` is indexed),
        so readers of a few kinds do not pull the whole log, webhook decisions and all."""
        wanted = sorted(set(kinds)) if kinds is not None else None
        with self._read("read the audit log") as session:
            yield from _audit_pages(session, after_id, wanted)

    def verify_audit(self) -> AuditReport:
        """Walk the whole chain (streamed) and report the first and any further bad rows."""
        with self._read("verify the audit log") as session:
            head = session.execute(
                select(AuditHeadRow.seq, AuditHeadRow.hash).where(AuditHeadRow.id == 1)
            ).one_or_none()

            def owner(h: str) -> int | None:
                found = session.execute(
                    select(AuditRow.id).where(AuditRow.hash == h).limit(1)
                ).scalar_one_or_none()
                return int(found) if found is not None else None

            return verify_rows(
                _audit_pages(session, 0),
                owner,
                (int(head[0]), head[1]) if head is not None else None,
            )

    def counts(self) -> dict[str, int]:
        """Rows per table (for ``baseguard store status``)."""
        tables: dict[str, Any] = {
            "catalog_entries": CatalogEntryRow,
            "exceptions": ExceptionRow,
            "analyses": AnalysisRow,
            "scans": ScanRow,
            "findings": FindingRow,
            "assessments": AssessmentRow,
            "audit_log": AuditRow,
        }
        with self._read("count rows") as session:
            return {
                name: int(session.execute(select(func.count()).select_from(model)).scalar_one())
                for name, model in tables.items()
            }


_AUDIT_COLUMNS = (
    AuditRow.id,
    AuditRow.time,
    AuditRow.actor,
    AuditRow.kind,
    AuditRow.subject,
    AuditRow.data,
    AuditRow.prev_hash,
    AuditRow.hash,
)


def _audit_pages(
    session: Session, after_id: int, kinds: Sequence[str] | None = None
) -> Iterator[AuditRecord]:
    """Audit rows in id order (of ``kinds`` only, if given), by keyset pages of :data:`BATCH`."""
    last = after_id
    while True:
        stmt = select(*_AUDIT_COLUMNS).where(AuditRow.id > last)
        if kinds is not None:
            stmt = stmt.where(AuditRow.kind.in_(kinds))
        stmt = stmt.order_by(AuditRow.id).limit(BATCH)
        page = [AuditRecord(*row) for row in session.execute(stmt)]
        yield from page
        if len(page) < BATCH:
            return
        last = page[-1].id


def _finding_rows(
    scan_id: int,
    findings: Sequence[tuple[Finding, dict[str, Any]]],
    suppressed: Sequence[tuple[Finding, dict[str, Any]]],
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for flag, group in ((False, findings), (True, suppressed)):
        for finding, data in group:
            rows.append(
                {
                    "scan_id": scan_id,
                    "position": len(rows),
                    "vuln_id": finding.id[:KEY_LENGTH],
                    "package": finding.package.name,
                    "version": finding.installed_version,
                    "package_type": finding.package.type[:64],
                    "purl": finding.package.purl,
                    "severity": finding.severity[:32],
                    "fixed_versions": ", ".join(finding.fixed_versions),
                    "fixable": bool(finding.fixed_versions),
                    "kev": finding.in_kev,
                    "vex_status": finding.vex.status[:64] if finding.vex else None,
                    "suppressed": flag,
                    "data": data,  # Finding.to_dict(): plain JSON already
                }
            )
    return rows


def _canonical(value: Any) -> str:
    try:
        return canonical_json(value)
    except (TypeError, ValueError) as exc:
        raise StoreError(f"cannot store this value as JSON: {exc}") from None


def _plain(value: Any) -> Any:
    """``value`` as plain JSON data (dates as ISO strings), refused if it is not JSON."""
    return json.loads(_canonical(value))


def _check_actor(actor: str) -> None:
    if not isinstance(actor, str) or not actor.strip():
        raise StoreError("every write needs an actor (who did it)")
    _check_key("actor", actor)


def _check_key(what: str, value: str) -> None:
    if len(value) > KEY_LENGTH:
        raise StoreError(f"{what} is longer than {KEY_LENGTH} characters: {value[:40]}…")


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def _column_json(value: Any) -> str:
    """JSON columns: compact, keys in the order given (only the audit log is canonical)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=json_default)


#: How long a SQLite connection waits for another's lock before giving up.
SQLITE_BUSY_SECONDS = 60.0


def _make_engine(url: URL) -> Engine:
    if is_sqlite(url):
        engine = create_engine(
            url,
            connect_args={"timeout": SQLITE_BUSY_SECONDS, "check_same_thread": False},
            json_serializer=_column_json,
        )
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    return create_engine(url, pool_pre_ping=True, json_serializer=_column_json)


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # Hand transaction control to us (see _sqlite_begin); wait for locks; WAL so that
    # readers never block the writer; enforce foreign keys (findings → scans).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout = {int(SQLITE_BUSY_SECONDS * 1000)}")
        _sqlite_wal(cursor)
        cursor.execute("PRAGMA foreign_keys = ON")
    finally:
        cursor.close()


def _sqlite_wal(cursor: Any) -> None:
    """Put the database in WAL mode, retrying while another connection is converting it.

    Two connections switching a fresh database to WAL at once can deadlock on the lock
    upgrade; SQLite then answers "database is locked" at once instead of calling the busy
    handler (seen in about 1 of 30 races of six threads). Once one has converted it, the
    mode is stored in the file and the others find it set.
    """
    deadline = time.monotonic() + SQLITE_BUSY_SECONDS
    delay = 0.005
    while True:
        try:
            if str(cursor.execute("PRAGMA journal_mode").fetchone()[0]).lower() != "wal":
                cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
        time.sleep(delay)
        delay = min(delay * 2, 0.25)


def _sqlite_begin(conn: Connection) -> None:
    # Writers take the write lock at BEGIN (no deadlock between two deferred transactions
    # that both try to upgrade); readers start a deferred transaction: a WAL snapshot.
    mode = conn.get_execution_options().get("sqlite_begin", "IMMEDIATE")
    conn.exec_driver_sql(f"BEGIN {mode}")

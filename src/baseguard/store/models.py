"""The store's tables, as typed SQLAlchemy 2 models.

The schema itself is created and changed only by the Alembic revisions in ``migrations/``;
these models must describe the same tables (a test compares them on both backends).

JSON columns hold what the library's ``to_dict`` methods wrote (camelCase keys, as in
baseguard's ``-o json``); the columns beside them are what queries filter and sort on.
The audit log keeps its ``data`` as the exact canonical JSON text that was hashed.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

#: Constraint names that are the same on every backend (Alembic needs stable names).
NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

#: A 64-bit key that is a plain ``INTEGER PRIMARY KEY`` (rowid) on SQLite.
BigKey = BigInteger().with_variant(Integer(), "sqlite")

#: Longest id, digest, actor and kind accepted (checked before writing, on every backend).
KEY_LENGTH = 255


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC time on every backend (SQLite keeps no zone of its own)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use an aware (UTC) time")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class CatalogEntryRow(Base):
    """One catalog entry (the catalog's own dict), keyed by its id."""

    __tablename__ = "catalog_entries"

    id: Mapped[str] = mapped_column(String(KEY_LENGTH), primary_key=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_by: Mapped[str] = mapped_column(String(KEY_LENGTH))


class ExceptionRow(Base):
    """One catalog exception (image pattern, justification, approver, expiry…)."""

    __tablename__ = "exceptions"

    id: Mapped[str] = mapped_column(String(KEY_LENGTH), primary_key=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_by: Mapped[str] = mapped_column(String(KEY_LENGTH))


class AnalysisRow(Base):
    """An :class:`~baseguard.analysis.analyze.Analysis`, one per manifest (or config) digest."""

    __tablename__ = "analyses"

    id: Mapped[int] = mapped_column(BigKey, primary_key=True, autoincrement=True)
    digest: Mapped[str] = mapped_column(String(KEY_LENGTH), unique=True)
    reference: Mapped[str] = mapped_column(Text)
    distro: Mapped[str | None] = mapped_column(String(KEY_LENGTH))
    package_count: Mapped[int] = mapped_column(Integer)
    analyzed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_by: Mapped[str] = mapped_column(String(KEY_LENGTH))


class ScanRow(Base):
    """One scan of one digest: the result's header and summary; findings are rows below."""

    __tablename__ = "scans"
    __table_args__ = (Index("ix_scans_digest_id", "digest", "id"),)

    id: Mapped[int] = mapped_column(BigKey, primary_key=True, autoincrement=True)
    digest: Mapped[str] = mapped_column(String(KEY_LENGTH))
    scanned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(KEY_LENGTH))
    total: Mapped[int] = mapped_column(Integer)
    suppressed: Mapped[int] = mapped_column(Integer)
    summary: Mapped[dict[str, Any]] = mapped_column(JSON)
    header: Mapped[dict[str, Any]] = mapped_column(JSON)


class FindingRow(Base):
    """One finding of a scan (``suppressed`` ones too, flagged), in the scan's order."""

    __tablename__ = "findings"
    __table_args__ = (Index("ix_findings_vuln_id", "vuln_id"),)

    scan_id: Mapped[int] = mapped_column(
        BigKey, ForeignKey("scans.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    vuln_id: Mapped[str] = mapped_column(String(KEY_LENGTH))
    package: Mapped[str] = mapped_column(Text)
    version: Mapped[str] = mapped_column(Text)
    package_type: Mapped[str] = mapped_column(String(64))
    purl: Mapped[str] = mapped_column(Text)
    severity: Mapped[str] = mapped_column(String(32))
    fixed_versions: Mapped[str] = mapped_column(Text)
    fixable: Mapped[bool] = mapped_column(Boolean)
    kev: Mapped[bool] = mapped_column(Boolean)
    vex_status: Mapped[str | None] = mapped_column(String(64))
    suppressed: Mapped[bool] = mapped_column(Boolean)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)


class AssessmentRow(Base):
    """An estate assessment (what ``Assessment.to_dict`` wrote)."""

    __tablename__ = "assessments"

    id: Mapped[int] = mapped_column(BigKey, primary_key=True, autoincrement=True)
    generated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(KEY_LENGTH))
    summary: Mapped[dict[str, Any]] = mapped_column(JSON)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)


class AuditRow(Base):
    """One audit event, chained to the one before it by ``prev_hash`` (see audit.py).

    ``id`` is assigned by the store under the head lock (1, 2, 3, … without gaps), never by
    a sequence: a sequence skips numbers on rollback, and a gap must mean a deleted row.
    """

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_kind", "kind"),)

    id: Mapped[int] = mapped_column(BigKey, primary_key=True, autoincrement=False)
    time: Mapped[str] = mapped_column(String(40))
    actor: Mapped[str] = mapped_column(String(KEY_LENGTH))
    kind: Mapped[str] = mapped_column(String(KEY_LENGTH))
    subject: Mapped[str] = mapped_column(Text)
    data: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class AuditHeadRow(Base):
    """The single row (id 1) naming the last audit event: its sequence number and hash.

    Appends lock this row, which keeps concurrent writers on one chain, and verification
    compares the log's end with it, which shows a truncated or extended tail.
    """

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str | None] = mapped_column(String(64))


# The service's API tokens live in their own module; imported here so that the metadata
# (and the migration check) knows their table.
from baseguard.store import tokens as _tokens  # noqa: E402, F401

"""The initial schema: catalog, exceptions, analyses, scans, findings, assessments, audit.

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

BigKey = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Time = sa.DateTime(timezone=True)
KEY = 255


def upgrade() -> None:
    for name in ("catalog_entries", "exceptions"):
        op.create_table(
            name,
            sa.Column("id", sa.String(KEY), nullable=False),
            sa.Column("data", sa.JSON(), nullable=False),
            sa.Column("updated_at", Time, nullable=False),
            sa.Column("updated_by", sa.String(KEY), nullable=False),
            sa.PrimaryKeyConstraint("id", name=f"pk_{name}"),
        )
    op.create_table(
        "analyses",
        sa.Column("id", BigKey, autoincrement=True, nullable=False),
        sa.Column("digest", sa.String(KEY), nullable=False),
        sa.Column("reference", sa.Text(), nullable=False),
        sa.Column("distro", sa.String(KEY), nullable=True),
        sa.Column("package_count", sa.Integer(), nullable=False),
        sa.Column("analyzed_at", Time, nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("created_at", Time, nullable=False),
        sa.Column("updated_at", Time, nullable=False),
        sa.Column("updated_by", sa.String(KEY), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_analyses"),
        sa.UniqueConstraint("digest", name="uq_analyses_digest"),
    )
    op.create_table(
        "scans",
        sa.Column("id", BigKey, autoincrement=True, nullable=False),
        sa.Column("digest", sa.String(KEY), nullable=False),
        sa.Column("scanned_at", Time, nullable=True),
        sa.Column("created_at", Time, nullable=False),
        sa.Column("actor", sa.String(KEY), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("suppressed", sa.Integer(), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=False),
        sa.Column("header", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_scans"),
    )
    op.create_index("ix_scans_digest_id", "scans", ["digest", "id"])
    op.create_table(
        "findings",
        sa.Column("scan_id", BigKey, nullable=False),
        sa.Column("position", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("vuln_id", sa.String(KEY), nullable=False),
        sa.Column("package", sa.Text(), nullable=False),
        sa.Column("version", sa.Text(), nullable=False),
        sa.Column("package_type", sa.String(64), nullable=False),
        sa.Column("purl", sa.Text(), nullable=False),
        sa.Column("severity", sa.String(32), nullable=False),
        sa.Column("fixed_versions", sa.Text(), nullable=False),
        sa.Column("fixable", sa.Boolean(), nullable=False),
        sa.Column("kev", sa.Boolean(), nullable=False),
        sa.Column("vex_status", sa.String(64), nullable=True),
        sa.Column("suppressed", sa.Boolean(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["scan_id"], ["scans.id"], name="fk_findings_scan_id_scans", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("scan_id", "position", name="pk_findings"),
    )
    op.create_index("ix_findings_vuln_id", "findings", ["vuln_id"])
    op.create_table(
        "assessments",
        sa.Column("id", BigKey, autoincrement=True, nullable=False),
        sa.Column("generated_at", Time, nullable=True),
        sa.Column("created_at", Time, nullable=False),
        sa.Column("actor", sa.String(KEY), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_assessments"),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", BigKey, autoincrement=False, nullable=False),
        sa.Column("time", sa.String(40), nullable=False),
        sa.Column("actor", sa.String(KEY), nullable=False),
        sa.Column("kind", sa.String(KEY), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit_log"),
        sa.UniqueConstraint("hash", name="uq_audit_log_hash"),
    )
    op.create_index("ix_audit_log_kind", "audit_log", ["kind"])
    head = op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(64), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_audit_head"),
    )
    op.bulk_insert(head, [{"id": 1, "seq": 0, "hash": None}])


def downgrade() -> None:
    for name in (
        "audit_head",
        "audit_log",
        "assessments",
        "findings",
        "scans",
        "analyses",
        "exceptions",
        "catalog_entries",
    ):
        op.drop_table(name)

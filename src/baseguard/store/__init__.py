"""The store: catalog, exceptions, analyses, scans, assessments and a hash-chained audit log.

SQLAlchemy 2 over a SQLite file (the default) or PostgreSQL, its schema made by Alembic
migrations. See docs/store.md.
"""

from baseguard.store.audit import AuditProblem, AuditRecord, AuditReport
from baseguard.store.errors import StoreError
from baseguard.store.store import ScanInfo, Store, open_store
from baseguard.store.url import default_path, redact, resolve_url

__all__ = [
    "AuditProblem",
    "AuditRecord",
    "AuditReport",
    "ScanInfo",
    "Store",
    "StoreError",
    "default_path",
    "open_store",
    "redact",
    "resolve_url",
]

"""The store's Alembic migrations, run from code (no alembic.ini needed).

:func:`upgrade` brings a database to :data:`HEAD` inside one transaction that also holds
a lock (SQLite ``BEGIN IMMEDIATE``; PostgreSQL an advisory transaction lock), so two
processes opening a fresh store at once do not both create it. The directory ships in the
wheel, so this works from an installed package as well as from a checkout.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, text

#: The newest revision this baseguard knows (a test checks it is the scripts' head).
HEAD = "0002"

#: ``pg_advisory_xact_lock`` key that serialises migrations ("bgmigrat" as an integer).
PG_LOCK_KEY = 0x62676D6967726174

DIRECTORY = Path(__file__).resolve().parent


def config(connection: Connection | None = None) -> Config:
    """An Alembic config pointing at these scripts (and at ``connection``, when given)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(DIRECTORY))
    # New revision files are named v0002_slug.py: importable names, which mypy wants.
    cfg.set_main_option("file_template", "v%%(rev)s_%%(slug)s")
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def script_head() -> str | None:
    return ScriptDirectory.from_config(config()).get_current_head()


def current(connection: Connection) -> str | None:
    """The revision the database is at (``None``: never migrated)."""
    return MigrationContext.configure(connection).get_current_revision()


def known(revision: str) -> bool:
    """Whether ``revision`` is one of ours (an unknown one was made by a newer baseguard)."""
    try:
        return ScriptDirectory.from_config(config()).get_revision(revision) is not None
    except Exception:  # alembic raises several kinds for an unknown id
        return False


def upgrade(engine: Engine) -> tuple[str | None, str]:
    """Upgrade to :data:`HEAD` under a lock; returns (revision before, revision after)."""
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": PG_LOCK_KEY})
        before = current(conn)
        if before != HEAD:
            command.upgrade(config(conn), "head")
        return before, current(conn) or ""

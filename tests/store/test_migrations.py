"""Alembic migrations: a fresh database is created at head, a migrated one is reused, the
models describe exactly what the revisions create, and stores from the future are refused."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, text

from baseguard.store import StoreError, migrations, open_store
from baseguard.store.models import Base


def test_head_constant_is_the_scripts_head() -> None:
    assert migrations.script_head() == migrations.HEAD


def test_revisions_ship_inside_the_package() -> None:
    assert (migrations.DIRECTORY / "env.py").is_file()
    assert (migrations.DIRECTORY / "versions" / "v0001_initial.py").is_file()
    assert migrations.DIRECTORY.parent.name == "store"


def test_fresh_database_is_migrated_to_head(store_url: str) -> None:
    with open_store(store_url) as store:
        assert store.schema_revision() == migrations.HEAD
        assert store.counts()["audit_log"] == 0
        assert store.verify_audit().ok


def test_already_migrated_database_opens_and_keeps_its_data(store_url: str) -> None:
    with open_store(store_url) as store:
        store.upsert_catalog_entry({"id": "e1"}, "alice")
    with open_store(store_url) as again:
        assert again.migrate() == (migrations.HEAD, migrations.HEAD)
        assert again.catalog_entries() == [{"id": "e1"}]
    with open_store(store_url, migrate=False) as plain:
        assert plain.catalog_entries() == [{"id": "e1"}]
        assert plain.verify_audit().rows == 1


def test_models_match_what_the_migrations_create(store_url: str, raw: Engine) -> None:
    open_store(store_url).close()
    with raw.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []


def test_without_migrate_an_empty_database_is_refused(store_url: str, raw: Engine) -> None:
    with raw.connect():
        pass  # SQLite: now the (empty) file exists
    with pytest.raises(StoreError, match="not a baseguard store") as raised:
        open_store(store_url, migrate=False)
    assert "baseguard store migrate" in (raised.value.hint or "")


def test_without_migrate_a_missing_sqlite_file_is_refused_and_not_created(tmp_path: Path) -> None:
    path = tmp_path / "absent.sqlite"
    with pytest.raises(StoreError, match="no store at"):
        open_store(str(path), migrate=False)
    assert not path.exists()


def test_a_store_from_a_newer_baseguard_is_refused(store_url: str, raw: Engine) -> None:
    open_store(store_url).close()
    with raw.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    for migrate in (True, False):
        with pytest.raises(StoreError, match="newer version") as raised:
            open_store(store_url, migrate=migrate)
        assert raised.value.hint == "upgrade baseguard"


def test_the_audit_head_record_is_created_by_the_migration(store_url: str, raw: Engine) -> None:
    open_store(store_url).close()
    with raw.connect() as conn:
        assert conn.execute(text("SELECT id, seq, hash FROM audit_head")).all() == [(1, 0, None)]

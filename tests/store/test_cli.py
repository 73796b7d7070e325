"""`baseguard audit verify|log` and `baseguard store migrate|status` as a user runs them:
a real process, real exit codes (0 intact, 1 tampered, 2 error)."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import Engine, text

from baseguard.store import Store
from tests.cli_runner import run_baseguard


def fill(store: Store) -> None:
    for i in range(1, 6):
        store.record_event("catalog.approve", f"entry-{i}", {"i": i}, "alice")


def test_verify_intact_log_exits_0(store: Store, store_url: str) -> None:
    fill(store)
    result = run_baseguard("audit", "verify", "--db", store_url, "-o", "json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["ok"] is True and report["rows"] == 5
    assert report["head"] == store.audit_head()
    assert report["problems"] == []


def test_verify_tampered_log_exits_1_and_names_the_row(
    store: Store, store_url: str, raw: Engine
) -> None:
    fill(store)
    with raw.begin() as conn:
        conn.execute(text("UPDATE audit_log SET actor = 'mallory' WHERE id = 3"))
    result = run_baseguard("audit", "verify", "--db", store_url, "-o", "table")
    assert result.returncode == 1, result.stderr
    assert "TAMPERED: row 3 edited" in result.stdout
    as_json = json.loads(run_baseguard("audit", "verify", "--db", store_url, "-o", "json").stdout)
    assert as_json["ok"] is False
    assert as_json["problems"][0]["row"] == 3 and as_json["problems"][0]["what"] == "edited"


def test_verify_table_of_an_intact_log(store: Store, store_url: str) -> None:
    fill(store)
    result = run_baseguard("audit", "verify", "--db", store_url, "-o", "table")
    assert result.returncode == 0
    assert "result  intact" in result.stdout
    assert "rows    5" in result.stdout


def test_verify_without_a_store_exits_2_and_creates_nothing(tmp_path: Path) -> None:
    missing = tmp_path / "none.sqlite"
    result = run_baseguard("audit", "verify", "--db", str(missing))
    assert result.returncode == 2
    assert "no store at" in result.stderr
    assert not missing.exists()


def test_verify_unreachable_postgresql_exits_2_without_the_password() -> None:
    result = run_baseguard("audit", "verify", "--db", "postgresql://u:hunter2@127.0.0.1:1/x")
    assert result.returncode == 2
    assert "error:" in result.stderr and "hunter2" not in result.stderr


def test_log_shows_the_newest_events_first(store: Store, store_url: str) -> None:
    fill(store)
    result = run_baseguard("audit", "log", "--db", store_url, "--limit", "2", "-o", "json")
    assert result.returncode == 0, result.stderr
    events = json.loads(result.stdout)
    assert [e["id"] for e in events] == [5, 4]
    assert events[0]["data"] == {"i": 5} and events[0]["actor"] == "alice"
    older = json.loads(
        run_baseguard("audit", "log", "--db", store_url, "--before", "4", "-o", "json").stdout
    )
    assert [e["id"] for e in older] == [3, 2, 1]
    table = run_baseguard("audit", "log", "--db", store_url, "-o", "table")
    assert "catalog.approve" in table.stdout and "entry-5" in table.stdout


def test_store_migrate_creates_the_store_named_by_the_environment(tmp_path: Path) -> None:
    path = tmp_path / "env" / "store.sqlite"
    result = run_baseguard("store", "migrate", env={"BASEGUARD_DB": str(path)})
    assert result.returncode == 0, result.stderr
    from baseguard.store.migrations import HEAD

    assert f"at schema {HEAD}" in result.stdout
    assert path.is_file()
    status = run_baseguard("store", "status", "-o", "json", env={"BASEGUARD_DB": str(path)})
    assert status.returncode == 0, status.stderr
    data = json.loads(status.stdout)
    assert data["schema"] == data["schemaHead"] == HEAD
    assert data["backend"] == "sqlite"
    assert data["rows"]["audit_log"] == 0 and data["auditHead"] is None


def test_store_status_table(store: Store, store_url: str) -> None:
    fill(store)
    result = run_baseguard("store", "status", "--db", store_url, "-o", "table")
    assert result.returncode == 0, result.stderr
    assert f"audit head {store.audit_head()}" in result.stdout
    assert "audit_log" in result.stdout

"""Real processes: concurrent writers keep one audit chain and lose nothing, and a writer
killed inside its transaction leaves the store as it was."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import threading
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from baseguard.store import open_store
from baseguard.store.store import _sqlite_connect
from tests.store.builders import digest_of, make_scan
from tests.store.conftest import expect_line, start_worker


def run_together(workers: list[subprocess.Popen[str]]) -> None:
    """Wait until every worker has opened the store, release them at once, check they end."""
    try:
        for proc in workers:
            expect_line(proc, "ready")
        for proc in workers:
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        for proc in workers:
            out, err = proc.communicate(timeout=240)
            assert proc.returncode == 0, err
            assert out.strip() == "done"
    finally:
        for proc in workers:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def test_two_processes_appending_events_stay_one_chain(store_url: str) -> None:
    # Both open the fresh database at once, so this also races the initial migration.
    run_together([start_worker("events", store_url, "200", name) for name in ("left", "right")])
    with open_store(store_url, migrate=False) as store:
        report = store.verify_audit()
        assert report.ok, report.problems[:3]
        assert report.rows == 400
        rows = list(store.iter_audit())
    assert [r.id for r in rows] == list(range(1, 401))
    for name in ("left", "right"):
        mine = [int(r.subject.rsplit("-", 1)[1]) for r in rows if r.actor == name]
        assert mine == list(range(200))  # each process's events, in its own order


def test_two_processes_saving_scans_lose_nothing(store_url: str, raw: Engine) -> None:
    open_store(store_url).close()
    run_together([start_worker("scans", store_url, "50", "20") for _ in range(2)])
    with raw.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM scans")).scalar_one() == 100
        assert conn.execute(text("SELECT count(*) FROM findings")).scalar_one() == 2000
        per_scan = conn.execute(
            text("SELECT count(*) FROM findings GROUP BY scan_id HAVING count(*) <> 20")
        ).all()
        assert per_scan == []
    with open_store(store_url, migrate=False) as store:
        report = store.verify_audit()
        assert report.ok and report.rows == 100
        assert sum(len(store.list_scans(digest_of(i))) for i in range(5)) == 100


@pytest.mark.parametrize("stage", ["findings", "audit"])
def test_process_killed_mid_write_leaves_the_store_as_it_was(
    store_url: str, raw: Engine, stage: str
) -> None:
    with open_store(store_url) as store:
        store.record_event("before", "crash", {}, "alice")
        store.save_scan(digest_of(1), make_scan(3), "ci")
        before_counts, before_head = store.counts(), store.audit_head()

    proc = start_worker("crash", store_url, "5000", stage)
    try:
        expect_line(proc, "ready")
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()
        expect_line(proc, "inside")  # the transaction is open and half written
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL

    with open_store(store_url) as store:
        assert store.counts() == before_counts
        assert store.audit_head() == before_head
        assert store.latest_scan(digest_of(99)) is None
        report = store.verify_audit()
        assert report.ok and report.rows == 2
        # The next writer gets the lock the dead one held, and the chain goes on.
        store.record_event("after", "crash", {}, "alice")
        assert store.verify_audit().rows == 3
    with raw.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM findings")).scalar_one() == 3


def _race_to_wal(path: Path, connections: int) -> tuple[list[str], list[str]]:
    """Open ``connections`` store connections to ``path`` at once: their modes, their errors."""
    barrier = threading.Barrier(connections)
    modes: list[str] = []
    errors: list[str] = []

    def connect() -> None:
        conn = sqlite3.connect(path, timeout=10, check_same_thread=False)
        try:
            barrier.wait()
            _sqlite_connect(conn, None)
            modes.append(conn.execute("PRAGMA journal_mode").fetchone()[0])
        except sqlite3.Error as exc:
            errors.append(str(exc))
        finally:
            conn.close()

    threads = [threading.Thread(target=connect) for _ in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return modes, errors


def test_connections_racing_to_turn_a_fresh_sqlite_file_to_wal_all_get_in(
    tmp_path: Path,
) -> None:
    # Six connections switching one fresh file to WAL at once sometimes deadlock on the
    # lock upgrade, and SQLite says "database is locked" without waiting (about 1 race in
    # 30 here); every connection the store makes must still get in, in WAL mode.
    for trial in range(40):
        path = tmp_path / f"race-{trial}.sqlite"
        sqlite3.connect(path).close()
        modes, errors = _race_to_wal(path, 6)
        assert errors == [], f"trial {trial}"
        assert modes == ["wal"] * 6

"""The audit chain: rows linked by SHA-256, and verification that names the first bad row
and what happened to it (edited, inserted, deleted, reordered) after tampering by SQL."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, text

from baseguard.store import Store
from baseguard.store.audit import (
    GENESIS,
    AuditRecord,
    canonical_json,
    row_hash,
    verify_rows,
)


def fill(store: Store, n: int = 10) -> None:
    for i in range(1, n + 1):
        store.record_event("test.event", f"subject-{i}", {"i": i}, "alice")


def sql(raw: Engine, statement: str, **params: object) -> None:
    with raw.begin() as conn:
        conn.execute(text(statement), params)


def first_problem(store: Store) -> tuple[int | None, str]:
    report = store.verify_audit()
    assert not report.ok
    problem = report.problems[0]
    return problem.row, problem.what


def forged_row(raw: Engine, row_id: int, prev_hash: str | None = None) -> None:
    """Insert a row with a hash computed the way the store does (a knowing forger)."""
    with raw.begin() as conn:
        prev = (
            prev_hash
            or conn.execute(
                text("SELECT hash FROM audit_log WHERE id = :i"), {"i": row_id - 1}
            ).scalar_one()
        )
        time, data = "2026-01-15T13:00:00.000000Z", canonical_json({"forged": True})
        digest = row_hash(prev, time, "mallory", "catalog.upsert", "evil", data)
        conn.execute(
            text(
                "INSERT INTO audit_log (id, time, actor, kind, subject, data, prev_hash, hash)"
                " VALUES (:id, :time, 'mallory', 'catalog.upsert', 'evil', :data, :prev, :h)"
            ),
            {"id": row_id, "time": time, "data": data, "prev": prev, "h": digest},
        )


def shift_ids(raw: Engine, from_id: int, by: int) -> None:
    """Renumber rows ≥ from_id (in two steps, so that no primary key collides)."""
    sql(raw, "UPDATE audit_log SET id = id + 1000000 WHERE id >= :f", f=from_id)
    sql(raw, "UPDATE audit_log SET id = id - 1000000 + :by WHERE id >= 1000000", by=by)


# -- the intact chain ------------------------------------------------------------------


def test_empty_log_verifies(store: Store) -> None:
    report = store.verify_audit()
    assert report.ok and report.rows == 0 and report.head is None
    assert store.audit_head() is None


def test_rows_are_chained_from_genesis(store: Store) -> None:
    fill(store, 3)
    rows = list(store.iter_audit())
    assert [r.id for r in rows] == [1, 2, 3]
    assert rows[0].prev_hash == GENESIS
    assert rows[1].prev_hash == rows[0].hash and rows[2].prev_hash == rows[1].hash
    for row in rows:
        assert row.hash == row_hash(
            row.prev_hash, row.time, row.actor, row.kind, row.subject, row.data
        )
    report = store.verify_audit()
    assert report.ok and report.rows == 3 and report.head == rows[-1].hash == store.audit_head()


def test_times_come_from_the_injected_clock(store: Store) -> None:
    fill(store, 2)
    assert [r.time for r in store.iter_audit()] == [
        "2026-01-15T12:00:00.000000Z",
        "2026-01-15T12:00:01.000000Z",
    ]


def test_audit_events_pages_newest_first(store: Store) -> None:
    fill(store, 5)
    newest = store.audit_events(limit=2)
    older = store.audit_events(limit=2, before_id=newest[-1].id)
    assert [e.id for e in newest + older] == [5, 4, 3, 2]


def test_reading_some_kinds_pages_through_only_their_rows(store: Store) -> None:
    with store._write("fill") as session:  # three kinds interleaved over more than one page
        for i in range(2400):
            store._append(
                session,
                ("admission", "verify.result", "catalog.upsert")[i % 3],
                str(i),
                {"i": i},
                "alice",
            )
    verified = list(store.iter_audit(kinds=["verify.result"]))
    assert [r.subject for r in verified] == [str(i) for i in range(1, 2400, 3)]
    both = list(store.iter_audit(kinds={"verify.result", "catalog.upsert"}, after_id=1800))
    assert [r.id for r in both] == [i + 1 for i in range(1800, 2400) if i % 3]
    assert {r.kind for r in both} == {"verify.result", "catalog.upsert"}
    assert list(store.iter_audit(kinds=[])) == []
    assert len(list(store.iter_audit())) == 2400


def test_verification_streams_more_than_one_page(store: Store, raw: Engine) -> None:
    with store._write("fill") as session:  # 2,500 events in one transaction, for speed
        for i in range(2500):
            store._append(session, "bulk", str(i), {"i": i}, "alice")
    report = store.verify_audit()
    assert report.ok and report.rows == 2500
    sql(raw, "UPDATE audit_log SET actor = 'mallory' WHERE id = 2222")
    assert first_problem(store) == (2222, "edited")


# -- tampering -------------------------------------------------------------------------


def test_edited_data_names_the_row_as_edited(store: Store, raw: Engine) -> None:
    fill(store)
    sql(raw, "UPDATE audit_log SET data = :d WHERE id = 4", d='{"i":40}')
    report = store.verify_audit()
    assert [(p.row, p.what) for p in report.problems] == [(4, "edited")]
    assert "hash does not match its content" in report.problems[0].detail


@pytest.mark.parametrize("column", ["actor", "kind", "subject", "time", "hash"])
def test_any_edited_field_is_found(store: Store, raw: Engine, column: str) -> None:
    fill(store)
    sql(raw, f"UPDATE audit_log SET {column} = 'f' || substr({column}, 2) WHERE id = 6")
    assert first_problem(store) == (6, "edited")


def test_row_rewritten_with_a_recomputed_hash_is_named_as_edited(store: Store, raw: Engine) -> None:
    fill(store)
    with raw.begin() as conn:
        prev = conn.execute(text("SELECT prev_hash, time FROM audit_log WHERE id = 5")).one()
        digest = row_hash(prev[0], prev[1], "alice", "test.event", "subject-5", '{"i":500}')
        conn.execute(
            text("UPDATE audit_log SET data = :d, hash = :h WHERE id = 5"),
            {"d": '{"i":500}', "h": digest},
        )
    assert first_problem(store) == (5, "edited")


def test_deleted_middle_row_is_named_as_deleted(store: Store, raw: Engine) -> None:
    fill(store)
    sql(raw, "DELETE FROM audit_log WHERE id = 5")
    report = store.verify_audit()
    assert [(p.row, p.what) for p in report.problems] == [(5, "deleted")]
    assert "row 5 missing" in report.problems[0].detail
    assert report.rows == 9


def test_deleted_rows_closed_up_by_renumbering_are_found(store: Store, raw: Engine) -> None:
    fill(store)
    sql(raw, "DELETE FROM audit_log WHERE id = 5")
    shift_ids(raw, 6, -1)
    row, what = first_problem(store)
    assert (row, what) in {(4, "edited"), (5, "deleted")}


def test_deleted_first_row_is_found(store: Store, raw: Engine) -> None:
    fill(store)
    sql(raw, "DELETE FROM audit_log WHERE id = 1")
    assert first_problem(store) == (1, "deleted")


def test_deleted_tail_is_found_against_the_head_record(store: Store, raw: Engine) -> None:
    fill(store)
    sql(raw, "DELETE FROM audit_log WHERE id >= 9")
    report = store.verify_audit()
    assert [(p.row, p.what) for p in report.problems] == [(9, "deleted")]
    assert "rows 9 to 10 were deleted" in report.problems[0].detail


def test_forged_row_appended_is_named_as_inserted(store: Store, raw: Engine) -> None:
    fill(store)
    forged_row(raw, 11)  # links correctly and hashes correctly: only the head shows it
    report = store.verify_audit()
    assert [(p.row, p.what) for p in report.problems] == [(11, "inserted")]


def test_forged_row_with_a_made_up_link_is_named_as_inserted(store: Store, raw: Engine) -> None:
    fill(store)
    forged_row(raw, 11, prev_hash="f" * 64)
    assert first_problem(store) == (11, "inserted")


def test_forged_row_inserted_in_the_middle_is_named_as_inserted(store: Store, raw: Engine) -> None:
    fill(store)
    shift_ids(raw, 5, +1)
    forged_row(raw, 5, prev_hash="e" * 64)
    assert first_problem(store) == (5, "inserted")


def test_knowingly_chained_forgery_in_the_middle_is_named_as_inserted(
    store: Store, raw: Engine
) -> None:
    fill(store)
    shift_ids(raw, 5, +1)
    forged_row(raw, 5)  # links to row 4 and hashes correctly; row 6 (the old 5) skips it
    assert first_problem(store) == (5, "inserted")


def test_swapped_rows_are_named_as_reordered(store: Store, raw: Engine) -> None:
    fill(store)
    sql(raw, "UPDATE audit_log SET id = 1000 WHERE id = 5")
    sql(raw, "UPDATE audit_log SET id = 5 WHERE id = 6")
    sql(raw, "UPDATE audit_log SET id = 6 WHERE id = 1000")
    assert first_problem(store) == (5, "reordered")


def test_missing_head_record_is_reported(store: Store, raw: Engine) -> None:
    fill(store, 2)
    sql(raw, "DELETE FROM audit_head")
    report = store.verify_audit()
    assert report.problems[0].row is None
    assert "head record" in report.problems[0].detail


# -- the verifier alone ----------------------------------------------------------------


def chain(n: int) -> list[AuditRecord]:
    rows, prev = [], GENESIS
    for i in range(1, n + 1):
        data = canonical_json({"i": i})
        digest = row_hash(prev, f"t{i}", "a", "k", str(i), data)
        rows.append(AuditRecord(i, f"t{i}", "a", "k", str(i), data, prev, digest))
        prev = digest
    return rows


def verify(
    rows: list[AuditRecord], head: tuple[int, str | None] | None = None
) -> list[tuple[int | None, str]]:
    owners = {r.hash: r.id for r in rows}
    report = verify_rows(rows, owners.get, head)
    return [(p.row, p.what) for p in report.problems]


def test_verifier_accepts_an_intact_chain_with_its_head() -> None:
    rows = chain(5)
    assert verify(rows, (5, rows[-1].hash)) == []
    assert verify([], (0, None)) == []


def test_verifier_without_head_record_says_so_and_still_checks_the_links() -> None:
    rows = chain(5)
    del rows[2]
    assert verify(rows) == [(None, "deleted"), (3, "deleted")]


def test_verifier_flags_rows_after_an_empty_head() -> None:
    assert verify(chain(2), (0, None)) == [(1, "inserted"), (2, "inserted")]


def test_verifier_reports_each_problem_once_and_resynchronises() -> None:
    rows = chain(12)
    rows[2] = rows[2]._replace(data='{"i":99}')
    del rows[7]
    assert verify(rows, (12, rows[-1].hash)) == [(3, "edited"), (8, "deleted")]

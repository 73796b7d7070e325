"""The audit writer off the request path: batching, a failing store, a full queue."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any, cast

from baseguard.server.audit import KIND, AuditWriter
from baseguard.store import Store, open_store
from baseguard.store.errors import StoreError


class FlakyStore:
    """Fails the first ``failures`` writes, then records; can hold writes until released."""

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.events: list[tuple[str, str, dict[str, Any], str]] = []
        self.gate = threading.Event()
        self.gate.set()

    def record_event(self, kind: str, subject: str, data: dict[str, Any], actor: str) -> None:
        self.gate.wait(10)
        if self.failures:
            self.failures -= 1
            raise StoreError("database is locked")
        self.events.append((kind, subject, data, actor))


def writer(store: Any, **kw: Any) -> AuditWriter:
    out = AuditWriter(cast(Store, store), retry_wait=0, **kw)
    out.start()
    return out


def test_decisions_queued_during_a_write_go_out_as_one_event() -> None:
    store = FlakyStore()
    audit = writer(store)
    store.gate.clear()  # hold the first write so that the next ones queue up
    audit.submit("Pod a/first", {"uid": "0"})
    for i in range(1, 6):
        audit.submit(f"Pod a/p{i}", {"uid": str(i)})
    store.gate.set()
    assert audit.flush()
    audit.close()
    uids = [d["uid"] for _, _, data, _ in store.events for d in data["decisions"]]
    assert uids == ["0", "1", "2", "3", "4", "5"]
    assert all(kind == KIND for kind, *_ in store.events)
    assert len(store.events) < 6
    for _, subject, data, _ in store.events:
        batch = data["decisions"]
        assert subject == (
            batch[0]["subject"] if len(batch) == 1 else f"{len(batch)} admission decisions"
        )
    assert audit.status()["decisionsWritten"] == 6


def test_a_failing_store_is_retried_then_counted_not_raised() -> None:
    recovers = FlakyStore(failures=2)
    audit = writer(recovers)
    audit.submit("Pod a/x", {"uid": "x"})
    assert audit.flush()
    assert [e[2]["decisions"][0]["uid"] for e in recovers.events] == ["x"]
    assert audit.status()["errors"] == 2 and audit.status()["dropped"] == 0
    audit.close()

    down = FlakyStore(failures=10**6)
    audit = writer(down)
    audit.submit("Pod a/y", {"uid": "y"})
    assert audit.flush()
    status = audit.status()
    assert status["dropped"] == 1
    assert status["lastError"] == "database is locked"
    audit.close()


def test_a_full_queue_drops_and_counts_instead_of_blocking() -> None:
    store = FlakyStore()
    audit = AuditWriter(cast(Store, store), max_queue=3)  # not started: nothing drains it
    accepted = [audit.submit("Pod a/x", {"uid": str(i)}) for i in range(10)]
    assert accepted == [True] * 3 + [False] * 7
    assert audit.status()["dropped"] == 7
    audit.start()
    audit.close()
    assert [d["uid"] for e in store.events for d in e[2]["decisions"]] == ["0", "1", "2"]


def test_close_writes_what_is_queued_into_a_real_store(tmp_path: Path) -> None:
    with open_store(str(tmp_path / "s.sqlite")) as store:
        audit = writer(store)
        for i in range(25):
            audit.submit(f"Pod a/p{i}", {"uid": str(i), "allowed": True})
        audit.close()
        assert audit.status()["decisionsWritten"] == 25
        rows = list(store.iter_audit())
        assert sum(len(json.loads(r.data)["decisions"]) for r in rows) == 25
        assert all(r.actor == "baseguard-webhook" for r in rows)
        assert store.verify_audit().ok

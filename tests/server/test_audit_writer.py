"""The audit writer off the request path: batching, a failing store, a full queue."""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path
from typing import Any, cast

import pytest

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


class RefusingStore(FlakyStore):
    """Refuses, every time, any write holding a decision whose uid is in ``refused``."""

    def __init__(self, *refused: str) -> None:
        super().__init__()
        self.refused = set(refused)
        self.calls = 0

    def record_event(self, kind: str, subject: str, data: dict[str, Any], actor: str) -> None:
        self.calls += 1
        if any(d["uid"] in self.refused for d in data["decisions"]):
            raise StoreError("value too long for the audit log")
        super().record_event(kind, subject, data, actor)


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


def one_batch(store: FlakyStore, uids: list[str]) -> AuditWriter:
    """Write ``uids`` as one batch (queued before the writer starts), then close."""
    audit = AuditWriter(cast(Store, store), retry_wait=0)
    for uid in uids:
        audit.submit(f"Pod a/{uid}", {"uid": uid, "allowed": True})
    audit.start()
    audit.close()
    return audit


@pytest.mark.parametrize("bad", [["u0"], ["u7"], ["u13"], ["u3", "u4"], ["u1", "u12"]])
def test_a_refused_decision_is_dropped_alone_and_the_rest_land_in_order(
    bad: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    store = RefusingStore(*bad)
    uids = [f"u{i}" for i in range(14)]
    with caplog.at_level(logging.ERROR, logger="baseguard.server"):
        audit = one_batch(store, uids)
    written = [d["uid"] for _, _, data, _ in store.events for d in data["decisions"]]
    assert written == [u for u in uids if u not in bad]
    status = audit.status()
    assert status["dropped"] == len(bad)
    assert status["decisionsWritten"] == len(uids) - len(bad)
    logged = "\n".join(r.getMessage() for r in caplog.records)
    for uid in bad:
        assert f"uid {uid}" in logged


def test_a_store_that_refuses_everything_is_not_asked_once_per_decision() -> None:
    store = RefusingStore(*(f"u{i}" for i in range(200)))
    audit = one_batch(store, [f"u{i}" for i in range(200)])
    assert store.events == []
    assert audit.status()["dropped"] == 200
    assert store.calls == 3 + 2 * (200).bit_length() + 1  # the batch, then refused parts


def test_a_decision_the_real_store_cannot_encode_spares_the_others(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with open_store(str(tmp_path / "s.sqlite")) as store:
        audit = AuditWriter(store, retry_wait=0)  # not started: all go out as one batch
        for i in range(5):
            audit.submit(f"Pod a/p{i}", {"uid": f"u{i}", "allowed": True})
        audit.submit("Pod a/evil", {"uid": "evil", "message": "secret-\ud800-content"})
        for i in range(5, 9):
            audit.submit(f"Pod a/p{i}", {"uid": f"u{i}", "allowed": True})
        with caplog.at_level(logging.ERROR, logger="baseguard.server"):
            audit.start()
            audit.close()
        uids = [d["uid"] for r in store.iter_audit() for d in json.loads(r.data)["decisions"]]
        assert uids == [f"u{i}" for i in range(9)]
        assert store.verify_audit().ok
        assert audit.status()["dropped"] == 1
        logged = "\n".join(r.getMessage() for r in caplog.records)
        assert "uid evil" in logged
        assert "secret-" not in logged
        assert "secret-" not in (audit.status()["lastError"] or "")

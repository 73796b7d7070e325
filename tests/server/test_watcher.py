"""The watch scheduler inside the service: a real cycle runs on its thread and is audited."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from baseguard.monitor.cycle import WatchOptions
from baseguard.server.app import Settings, create_app
from baseguard.store import open_store
from baseguard.store.store import Store

FEEDS = Path(__file__).resolve().parents[2] / "examples" / "feeds"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with open_store(f"sqlite:///{tmp_path / 'store.db'}") as s:
        yield s


def _cycles(store: Store) -> list[str]:
    return [e.kind for e in store.audit_events(limit=50) if e.kind == "monitor.cycle"]


@pytest.mark.timeout(120)
def test_service_runs_a_watch_cycle_and_reports_it(store: Store, tmp_path: Path) -> None:
    options = WatchOptions(
        vulndb_path=tmp_path / "vulndb.sqlite", from_dir=FEEDS, follow_tags=False
    )
    settings = Settings(audit=True, watch_interval=timedelta(hours=6), watch_options=options)
    with TestClient(create_app(settings, store=store)) as client:
        deadline = time.monotonic() + 90
        status = client.get("/readyz").json()
        while status["watch"]["cycles"] < 1 and time.monotonic() < deadline:
            time.sleep(0.05)  # bounded poll for the background thread's first cycle
            status = client.get("/readyz").json()
    assert status["watch"] == {"cycles": 1, "lastError": None}
    assert _cycles(store) == ["monitor.cycle"]
    assert (tmp_path / "vulndb.sqlite").is_file()  # the feeds were loaded by the cycle


def test_no_watcher_without_an_interval(store: Store) -> None:
    with TestClient(create_app(Settings(audit=True), store=store)) as client:
        client.get("/healthz")
    assert _cycles(store) == []

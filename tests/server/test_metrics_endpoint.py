"""`GET /metrics` on the service: Prometheus text from the store the service uses."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from baseguard.server.app import Settings, create_app
from baseguard.store import open_store
from baseguard.store.store import Store
from tests.server.test_api import TODAY, populate


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with open_store(f"sqlite:///{tmp_path / 'store.db'}") as s:
        yield s


def test_metrics_are_served_in_prometheus_text_format(store: Store) -> None:
    parser = pytest.importorskip("prometheus_client.parser")
    populate(store)
    with TestClient(create_app(Settings(audit=False, today=lambda: TODAY), store=store)) as c:
        response = c.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    families = {f.name: f for f in parser.text_string_to_metric_families(response.text)}
    entries = {s.labels["state"]: s.value for s in families["baseguard_catalog_entries"].samples}
    assert entries["approved"] == 1 and entries["proposed"] == 1


def test_metrics_without_a_store_is_503() -> None:
    app = create_app(Settings(audit=False, today=lambda: TODAY))
    with TestClient(app) as c:
        assert c.get("/metrics").status_code == 503

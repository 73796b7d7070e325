"""Hostile and broken input to the service: every refusal is a 4xx problem, never a 500."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from baseguard.store import Store, open_store
from baseguard.store.tokens import create_token
from tests.server.test_api import auth, is_problem, make_client, populate


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with open_store(f"sqlite:///{tmp_path / 'store.db'}") as s:
        populate(s)
        yield s


@pytest.fixture
def viewer(store: Store) -> str:
    return create_token(store, "viewer-token", "viewer", actor="test")


@pytest.fixture
def client(store: Store) -> Iterator[TestClient]:
    with make_client(store, vulndb=Path("/nonexistent/vuln.db")) as c:
        yield c


@pytest.mark.parametrize(
    "url",
    [
        "/api/analyses?after_id=9223372036854775808",
        "/api/analyses?after_id=99999999999999999999999",
        "/api/scans?after_id=9223372036854775808",
        "/api/audit?before_id=9223372036854775808",
        "/api/assessments/9223372036854775808",
    ],
)
def test_an_id_beyond_64_bits_is_422_not_500(client: TestClient, viewer: str, url: str) -> None:
    body = is_problem(client.get(url, headers=auth(viewer)), 422)
    assert "less than or equal to 9223372036854775807" in body["errors"][0]["msg"]


def test_the_largest_64_bit_id_is_answered(client: TestClient, viewer: str) -> None:
    response = client.get("/api/analyses?after_id=9223372036854775807", headers=auth(viewer))
    assert response.status_code == 200, response.text
    assert response.json() == {"analyses": [], "next": None}
    is_problem(client.get("/api/assessments/9223372036854775807", headers=auth(viewer)), 404)

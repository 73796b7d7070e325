"""Hostile and broken input to the service: every refusal is a 4xx problem, never a 500."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from baseguard.store import Store, open_store
from baseguard.store.tokens import create_token
from tests.server.test_api import auth, digest, is_problem, make_client, populate
from tests.store.builders import make_analysis


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


@pytest.fixture
def uploader(store: Store) -> str:
    return create_token(store, "uploader-token", "uploader", actor="test")


@pytest.mark.parametrize("encoded", ["escaped", "raw", "escaped-in-dsse", "raw-in-dsse"])
def test_an_upload_with_an_unpaired_surrogate_is_422_and_stores_nothing(
    client: TestClient, store: Store, uploader: str, encoded: str
) -> None:
    analysis = make_analysis(digest(7), packages=2, reference="registry.example/app:1")
    text = json.dumps(analysis.to_dict())
    name = analysis.packages[0].name
    assert json.dumps(name) in text
    if encoded.startswith("escaped"):
        data = text.replace(json.dumps(name), '"\\ud800evil"', 1).encode()
    else:
        data = text.replace(json.dumps(name), '"\ud800evil"', 1).encode("utf-8", "surrogatepass")
    if encoded.endswith("-in-dsse"):  # the payload is base64: no escape shows in the body
        payload = base64.b64encode(data).decode("ascii")
        envelope = {"payloadType": "application/vnd.in-toto+json", "payload": payload}
        data = json.dumps({**envelope, "signatures": []}).encode()
    events = len(store.audit_events(limit=1000))
    response = client.post(
        "/api/analyses",
        headers={**auth(uploader), "Content-Type": "application/json"},
        content=data,
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    if encoded != "raw":  # raw in the body is not UTF-8: the SBOM reader refuses it
        assert "packages[0].name: holds an unpaired UTF-16 surrogate" in response.json()["detail"]
    assert store.load_analysis(digest(7)) is None
    assert len(store.audit_events(limit=1000)) == events
    assert store.verify_audit().ok


def test_an_upload_with_a_surrogate_pair_is_text(
    client: TestClient, store: Store, uploader: str
) -> None:
    analysis = make_analysis(digest(7), packages=2, reference="registry.example/app:1")
    text = json.dumps(analysis.to_dict())
    data = text.replace(json.dumps(analysis.packages[0].name), '"\\ud83d\\ude00"', 1)
    response = client.post(
        "/api/analyses",
        headers={**auth(uploader), "Content-Type": "application/json"},
        content=data.encode(),
    )
    assert response.status_code == 201, response.text
    stored = store.load_analysis(digest(7))
    assert stored is not None
    assert "\U0001f600" in {p.name for p in stored.packages}


def test_the_login_form_stops_reading_a_body_beyond_its_limit(store: Store) -> None:
    """The login form is open to anyone: a body without Content-Length is read only up to the
    limit (it was read whole, then refused), so it cannot fill the server's memory."""
    app = make_client(store).app
    sent = 0
    answer: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal sent
        sent += 1
        if sent > 10_000:
            return {"type": "http.disconnect"}
        return {"type": "http.request", "body": b"token=" + b"a" * 1024, "more_body": True}

    async def send(message: dict[str, Any]) -> None:
        answer.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/dashboard/login",
        "raw_path": b"/dashboard/login",
        "root_path": "",
        "query_string": b"",
        "headers": [(b"content-type", b"application/x-www-form-urlencoded")],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
        "state": {},
    }
    asyncio.run(app(scope, receive, send))  # type: ignore[arg-type]
    assert answer[0]["type"] == "http.response.start"
    assert answer[0]["status"] == 413
    assert sent <= 5
    assert b"Too long." in b"".join(m.get("body", b"") for m in answer[1:])


def test_the_login_form_refuses_a_declared_oversized_body(client: TestClient) -> None:
    response = client.post("/dashboard/login", content=b"token=" + b"a" * 5000)
    assert response.status_code == 413
    assert "Too long." in response.text
    assert "baseguard_token" not in response.headers.get("set-cookie", "")


@pytest.mark.parametrize("site", ["cross-site", "same-site"])
def test_dashboard_forms_posted_from_another_site_are_refused(
    client: TestClient, viewer: str, site: str
) -> None:
    login = client.post(
        "/dashboard/login",
        content=f"token={viewer}",
        headers={"sec-fetch-site": site, "content-type": "application/x-www-form-urlencoded"},
        follow_redirects=False,
    )
    is_problem(login, 403)
    assert "baseguard_token" not in login.headers.get("set-cookie", "")
    client.cookies.set("baseguard_token", viewer)
    logout = client.post(
        "/dashboard/logout", headers={"sec-fetch-site": site}, follow_redirects=False
    )
    is_problem(logout, 403)
    assert "set-cookie" not in logout.headers


@pytest.mark.parametrize("site", ["same-origin", "none", None])
def test_dashboard_forms_from_its_own_pages_still_sign_in(
    client: TestClient, viewer: str, site: str | None
) -> None:
    headers = {"content-type": "application/x-www-form-urlencoded"}
    if site is not None:
        headers["sec-fetch-site"] = site
    login = client.post(
        "/dashboard/login", content=f"token={viewer}", headers=headers, follow_redirects=False
    )
    assert login.status_code == 303
    assert "baseguard_token=" in login.headers["set-cookie"]


@pytest.mark.parametrize(
    ("role", "article"), [("viewer", "a"), ("uploader", "an"), ("approver", "an")]
)
def test_a_403_names_the_token_s_role_with_its_article(
    client: TestClient, store: Store, role: str, article: str
) -> None:
    token = create_token(store, f"{role}-x", role, actor="test")
    body = is_problem(client.post("/api/tokens", headers=auth(token), json={}), 403)
    assert body["detail"].endswith(f"token '{role}-x' is {article} {role}")


def test_a_body_that_is_not_json_is_a_400_titled_bad_request(
    client: TestClient, store: Store
) -> None:
    admin = create_token(store, "admin-x", "admin", actor="test")
    response = client.post(
        "/api/tokens",
        headers={**auth(admin), "Content-Type": "application/json"},
        content=b'{"name": "\xff"}',  # not UTF-8: not a JSON decode error
    )
    body = is_problem(response, 400)
    assert body["title"] == "Bad Request"
    assert body["detail"] == "There was an error parsing the body"

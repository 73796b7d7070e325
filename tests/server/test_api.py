"""The REST API through FastAPI's TestClient on a real SQLite store: roles, audit, uploads."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from baseguard.server.app import Settings, create_app
from baseguard.server.auth import ServiceOptions
from baseguard.store import Store, open_store
from baseguard.store.tokens import create_token
from tests.store.builders import make_analysis, make_finding, make_scan

TODAY = date(2026, 1, 15)
EXAMPLE_IMAGE = "oci:/work/main/examples/images:docker.io/library/alpine:3.20"
ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = f"oci:{ROOT / 'examples' / 'images'}:docker.io/library/alpine:3.20"


def digest(n: int) -> str:
    return f"sha256:{n:064x}"


def entry(entry_id: str, repository: str, state: str, **extra: Any) -> dict[str, Any]:
    history = [{"state": "proposed", "date": "2025-11-01", "actor": "alice"}]
    if state == "approved":
        history.append({"state": "approved", "date": "2025-12-01", "actor": "bob"})
    data: dict[str, Any] = {
        "id": entry_id,
        "provider": "chainguard",
        "repository": repository,
        "tags": ["latest"],
        "owner": {"team": "platform", "contact": "platform@example.com"},
        "lifecycle": {"state": state, "history": history},
        "eol": "2028-10-31",
        "patch_sla": {"critical": "2d", "high": "7d", "medium": "30d"},
    }
    data.update(extra)
    return data


#: (digest number, reference, [(day in January 2026, findings)]) of the populated estate.
IMAGES = [
    (1, "cgr.dev/chainguard/python:latest", [(2, 4), (9, 2), (14, 1)]),
    (2, "docker.io/library/debian:12", [(5, 12), (14, 15)]),
    (3, "docker.io/library/node:18", [(9, 7)]),
]
#: Distinct scan days, so the dashboard chart's points.
SCAN_DAYS = sorted({day for _, _, scans in IMAGES for day, _ in scans})


def populate(store: Store) -> None:
    """A small estate: two catalog entries, two exceptions, three images scanned over time."""
    store.upsert_catalog_entry(entry("python", "cgr.dev/chainguard/python", "approved"), "alice")
    store.upsert_catalog_entry(entry("node", "cgr.dev/chainguard/node", "proposed"), "alice")
    store.upsert_exception(
        {
            "id": "old-debian",
            "pattern": "docker.io/library/debian:*",
            "justification": "legacy batch jobs move in Q1",
            "approver": "carol",
            "created": "2025-12-01",
            "expires": (TODAY + timedelta(days=10)).isoformat(),
        },
        "carol",
    )
    store.upsert_exception(
        {
            "id": "gone-redis",
            "pattern": "docker.io/library/redis:6*",
            "justification": "expired waiver",
            "approver": "carol",
            "created": "2025-01-01",
            "expires": "2025-06-30",
        },
        "carol",
    )
    for n, reference, scans in IMAGES:
        analysis = make_analysis(digest(n), packages=5, reference=reference)
        store.save_analysis(analysis, "ci")
        for day, count in scans:
            result = make_scan(count, reference=reference)
            result = replace(
                result,
                findings=[make_finding(i + 100 * n) for i in range(count)],
                scanned_at=datetime(2026, 1, day, 12, tzinfo=UTC),
            )
            store.save_scan(digest(n), result, "ci")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with open_store(f"sqlite:///{tmp_path / 'store.db'}") as s:
        yield s


@pytest.fixture
def tokens(store: Store) -> dict[str, str]:
    return {
        role: create_token(store, f"{role}-token", role, actor="test")
        for role in ("viewer", "uploader", "approver", "admin")
    }


def make_client(store: Store, **options: Any) -> TestClient:
    app = create_app(Settings(audit=False, today=lambda: TODAY), store=store)
    app.state.service = ServiceOptions(**options)
    return TestClient(app)


@pytest.fixture
def client(store: Store) -> Iterator[TestClient]:
    populate(store)
    with make_client(store, vulndb=Path("/nonexistent/vuln.db")) as c:
        yield c


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def is_problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    return body


def test_no_token_is_401_with_bearer_challenge(client: TestClient) -> None:
    response = client.get("/api/catalog")
    is_problem(response, 401)
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_unknown_token_is_401(client: TestClient) -> None:
    is_problem(client.get("/api/catalog", headers=auth("bgt_not-a-token")), 401)


def test_viewer_reads_the_catalog(client: TestClient, tokens: dict[str, str]) -> None:
    response = client.get("/api/catalog", headers=auth(tokens["viewer"]))
    assert response.status_code == 200
    assert [e["id"] for e in response.json()["entries"]] == ["node", "python"]


def test_viewer_cannot_approve(client: TestClient, tokens: dict[str, str]) -> None:
    body = is_problem(client.post("/api/catalog/node/approve", headers=auth(tokens["viewer"])), 403)
    assert "approver" in body["detail"]


def test_uploader_cannot_approve(client: TestClient, tokens: dict[str, str]) -> None:
    is_problem(client.post("/api/catalog/node/approve", headers=auth(tokens["uploader"])), 403)


def test_approver_approves_and_the_audit_log_names_the_token(
    client: TestClient, store: Store, tokens: dict[str, str]
) -> None:
    response = client.post(
        "/api/catalog/node/approve",
        headers=auth(tokens["approver"]),
        json={"reason": "reviewed by security"},
    )
    assert response.status_code == 200, response.text
    assert response.json()["lifecycle"]["state"] == "approved"
    stored = {e["id"]: e for e in store.catalog_entries()}["node"]
    assert stored["lifecycle"]["state"] == "approved"
    assert stored["lifecycle"]["history"][-1]["actor"] == "approver-token"
    kinds = [(e.kind, e.actor, e.subject) for e in store.audit_events(limit=2)]
    assert kinds == [
        ("catalog.approve", "approver-token", "node"),
        ("catalog.upsert", "approver-token", "node"),
    ]
    assert store.verify_audit().ok


def test_approving_an_approved_entry_is_409(client: TestClient, tokens: dict[str, str]) -> None:
    body = is_problem(
        client.post("/api/catalog/python/approve", headers=auth(tokens["admin"])), 409
    )
    assert "already approved" in body["detail"]


def test_approving_an_unknown_entry_is_404(client: TestClient, tokens: dict[str, str]) -> None:
    is_problem(client.post("/api/catalog/nope/approve", headers=auth(tokens["admin"])), 404)


def test_approve_body_is_validated(client: TestClient, tokens: dict[str, str]) -> None:
    body = is_problem(
        client.post("/api/catalog/node/approve", headers=auth(tokens["admin"]), json={"when": "x"}),
        422,
    )
    assert body["errors"]


def test_exceptions_say_how_many_days_are_left(client: TestClient, tokens: dict[str, str]) -> None:
    items = client.get("/api/exceptions", headers=auth(tokens["viewer"])).json()["exceptions"]
    assert {(x["id"], x["daysLeft"], x["live"]) for x in items} == {
        ("old-debian", 10, True),
        ("gone-redis", -199, False),
    }


def test_approver_grants_an_exception_as_its_approver(
    client: TestClient, store: Store, tokens: dict[str, str]
) -> None:
    body = {
        "id": "py-legacy",
        "pattern": "docker.io/library/python:3.8*",
        "justification": "vendor appliance, replaced in March",
        "expires": "2026-03-31",
    }
    is_problem(client.post("/api/exceptions", headers=auth(tokens["uploader"]), json=body), 403)
    response = client.post("/api/exceptions", headers=auth(tokens["approver"]), json=body)
    assert response.status_code == 201, response.text
    assert response.json()["approver"] == "approver-token"
    assert store.audit_events(limit=1)[0].kind == "exception.approve"


def test_analyses_list_and_detail(client: TestClient, tokens: dict[str, str]) -> None:
    listed = client.get("/api/analyses", headers=auth(tokens["viewer"])).json()["analyses"]
    assert [a["digest"] for a in listed] == [digest(1), digest(2), digest(3)]
    detail = client.get(f"/api/analyses/{digest(2)}", headers=auth(tokens["viewer"])).json()
    assert detail["image"]["reference"] == "docker.io/library/debian:12"
    packages = client.get(
        f"/api/analyses/{digest(2)}/packages", headers=auth(tokens["viewer"])
    ).json()
    assert len(packages["packages"]) == 5
    facts = client.get(f"/api/analyses/{digest(2)}/facts", headers=auth(tokens["viewer"]))
    assert facts.json() == {"digest": digest(2), "facts": None}


def test_a_malformed_digest_is_422(client: TestClient, tokens: dict[str, str]) -> None:
    is_problem(client.get("/api/analyses/sha256:xyz", headers=auth(tokens["viewer"])), 422)


def test_an_unknown_analysis_is_404(client: TestClient, tokens: dict[str, str]) -> None:
    is_problem(client.get(f"/api/analyses/{digest(9)}", headers=auth(tokens["viewer"])), 404)


def test_findings_are_the_newest_scan(client: TestClient, tokens: dict[str, str]) -> None:
    scan = client.get(f"/api/findings?digest={digest(1)}", headers=auth(tokens["viewer"])).json()
    assert scan["summary"]["total"] == 1
    assert scan["scannedAt"].startswith("2026-01-14")


def test_scans_are_listed(client: TestClient, tokens: dict[str, str]) -> None:
    scans = client.get("/api/scans", headers=auth(tokens["viewer"])).json()["scans"]
    assert len(scans) == sum(len(s) for _, _, s in IMAGES)


def test_rescan_without_a_database_is_409(client: TestClient, tokens: dict[str, str]) -> None:
    body = is_problem(client.post(f"/api/scans/{digest(1)}", headers=auth(tokens["uploader"])), 409)
    assert "vulnerability database" in body["detail"]


def test_viewer_cannot_rescan(client: TestClient, tokens: dict[str, str]) -> None:
    is_problem(client.post(f"/api/scans/{digest(1)}", headers=auth(tokens["viewer"])), 403)


def test_upload_of_a_baseguard_analysis(
    client: TestClient, store: Store, tokens: dict[str, str]
) -> None:
    analysis = make_analysis(digest(7), packages=4, reference="registry.example/app:1")
    response = client.post(
        "/api/analyses?reference=registry.example/app:1.0",
        headers={**auth(tokens["uploader"]), "Content-Type": "application/json"},
        content=json.dumps(analysis.to_dict()),
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["digest"], body["packages"], body["scan"]) == (digest(7), 4, None)
    assert body["scanSkipped"]
    stored = store.load_analysis(digest(7))
    assert stored is not None and stored.image.reference == "registry.example/app:1.0"
    event = store.audit_events(limit=1)[0]
    assert (event.kind, event.actor, event.subject) == (
        "analysis.save",
        "uploader-token",
        digest(7),
    )


def test_viewer_cannot_upload(client: TestClient, tokens: dict[str, str]) -> None:
    is_problem(client.post("/api/analyses", headers=auth(tokens["viewer"]), content=b"{}"), 403)


def test_upload_without_token_is_401(client: TestClient) -> None:
    is_problem(client.post("/api/analyses", content=b"{}"), 401)


def test_oversized_upload_is_413(store: Store, tokens: dict[str, str]) -> None:
    with make_client(store, max_upload_bytes=1000) as small:
        body = is_problem(
            small.post("/api/analyses", headers=auth(tokens["uploader"]), content=b"{" * 5000),
            413,
        )
    assert "1000 bytes" in body["detail"]
    assert store.counts()["analyses"] == 0


@pytest.mark.parametrize(
    "payload",
    [b"not json at all", b'{"bomFormat": "CycloneDX", "specVersion": 7}', b"   ", b"[1, 2]"],
)
def test_malformed_upload_is_422_problem(
    client: TestClient, store: Store, tokens: dict[str, str], payload: bytes
) -> None:
    before = store.counts()["analyses"]
    body = is_problem(
        client.post("/api/analyses", headers=auth(tokens["uploader"]), content=payload), 422
    )
    assert body["title"] == "Invalid upload" and body["detail"]
    assert store.counts()["analyses"] == before


def test_upload_without_digest_needs_one(client: TestClient, tokens: dict[str, str]) -> None:
    bom = {"bomFormat": "CycloneDX", "specVersion": "1.5", "version": 1, "components": []}
    body = is_problem(client.post("/api/analyses", headers=auth(tokens["uploader"]), json=bom), 422)
    assert "digest" in body["detail"]
    response = client.post(
        f"/api/analyses?digest={digest(8)}&reference=registry.example/x:1",
        headers=auth(tokens["uploader"]),
        json=bom,
    )
    assert response.status_code == 201, response.text


def test_an_invalid_reference_is_422(client: TestClient, tokens: dict[str, str]) -> None:
    analysis = make_analysis(digest(7))
    is_problem(
        client.post(
            "/api/analyses?reference=UPPER CASE!",
            headers=auth(tokens["uploader"]),
            json=analysis.to_dict(),
        ),
        422,
    )


def test_audit_verify(client: TestClient, tokens: dict[str, str]) -> None:
    report = client.get("/api/audit/verify", headers=auth(tokens["viewer"])).json()
    assert report["ok"] is True and report["rows"] > 0


def test_assessment_not_found_is_404(client: TestClient, tokens: dict[str, str]) -> None:
    is_problem(client.get("/api/assessments/5", headers=auth(tokens["viewer"])), 404)


def test_assessment_is_returned(client: TestClient, store: Store, tokens: dict[str, str]) -> None:
    row = store.save_assessment({"generatedAt": "2026-01-14T12:00:00+00:00", "summary": {}}, "ci")
    got = client.get(f"/api/assessments/{row}", headers=auth(tokens["viewer"])).json()
    assert got["generatedAt"] == "2026-01-14T12:00:00+00:00"


def test_tokens_are_admin_only(client: TestClient, tokens: dict[str, str]) -> None:
    is_problem(client.get("/api/tokens", headers=auth(tokens["approver"])), 403)
    created = client.post(
        "/api/tokens", headers=auth(tokens["admin"]), json={"name": "ci-2", "role": "uploader"}
    ).json()
    assert created["token"].startswith("bgt_")
    listed = client.get("/api/tokens", headers=auth(tokens["admin"])).json()["tokens"]
    assert "ci-2" in {t["name"] for t in listed}
    assert all("token" not in t for t in listed)
    assert client.get("/api/catalog", headers=auth(created["token"])).status_code == 200
    assert client.delete("/api/tokens/ci-2", headers=auth(tokens["admin"])).status_code == 200
    is_problem(client.get("/api/catalog", headers=auth(created["token"])), 401)


def test_compliance_report_or_501(client: TestClient, tokens: dict[str, str]) -> None:
    from baseguard.server.api import compliance_module

    response = client.get("/api/reports/compliance?framework=dora", headers=auth(tokens["viewer"]))
    if compliance_module() is None:
        is_problem(response, 501)
    else:
        assert response.status_code == 200, response.text
        assert response.json()["framework"] == "dora"


def test_openapi_lists_the_api(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/api/catalog", "/api/analyses", "/api/catalog/{entry_id}/approve"} <= set(paths)

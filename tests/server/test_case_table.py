"""The shared admission case table (tests/policy/cases.json): the webhook gives every case the
verdict the generated policies give it, with its default settings, over HTTP."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from baseguard.catalog.spec import load_catalog
from baseguard.gate.admission import decide, parse_review
from baseguard.server.app import Settings
from baseguard.store import Store
from tests.conftest import PROJECT
from tests.server.conftest import serving

TABLE = PROJECT / "tests" / "policy" / "cases.json"


def table() -> dict[str, Any]:
    if not TABLE.is_file():
        pytest.skip(f"{TABLE} (the policy generators' case table) is not in this checkout")
    doc = json.loads(TABLE.read_text())
    for key in ("catalog", "cases"):
        assert key in doc, f"{TABLE}: no {key!r}; the webhook reads catalog, cases[]"
    for case in doc["cases"]:
        missing = {"name", "today", "allowed", "reason", "admissionReview"} - set(case)
        assert not missing, f"{TABLE}: case {case.get('name')} lacks {sorted(missing)}"
    return doc  # type: ignore[no-any-return]


def cases() -> list[Any]:
    if not TABLE.is_file():
        return [pytest.param(None, marks=pytest.mark.skip(reason=f"no {TABLE}"))]
    return [pytest.param(c, id=c["name"]) for c in json.loads(TABLE.read_text())["cases"]]


def test_the_table_covers_what_issue_8_lists() -> None:
    names = {c["name"] for c in table()["cases"]}
    reasons = {c["reason"] for c in table()["cases"]}
    assert {"init-container", "ephemeral-container", "cronjob-template", "excepted"} <= names
    assert {"not-in-catalog", "retired", "digest-required", "approved", "excepted"} <= reasons


@pytest.mark.parametrize("case", cases())
def test_each_case_decided_in_process(case: dict[str, Any]) -> None:
    doc = table()
    catalog = load_catalog(TABLE.parent / doc["catalog"])
    request = parse_review(case["admissionReview"])
    decision = decide(
        request,
        catalog,
        today=date.fromisoformat(case["today"]),
        exempt_namespaces=set(doc.get("exemptNamespaces", ())),
    )
    assert (decision.allowed, decision.reason) == (case["allowed"], case["reason"]), (
        decision.message or decision.warnings
    )


def test_every_case_over_http_with_the_default_settings(tmp_path: Path, store: Store) -> None:
    """One server with the defaults (digests required, kube-system and baseguard-system exempt);
    the clock is moved to each case's day."""
    doc = table()
    day = {"today": date(2026, 1, 1)}
    settings = Settings(catalog=TABLE.parent / doc["catalog"], today=lambda: day["today"])
    assert settings.exempt == set(doc.get("exemptNamespaces", settings.exempt))
    seen = []
    with serving(settings, store) as running:
        for case in doc["cases"]:
            day["today"] = date.fromisoformat(case["today"])
            answer = running.review(case["admissionReview"])
            assert answer.status_code == 200, (case["name"], answer.text)
            response = answer.json()["response"]
            assert response["uid"] == case["admissionReview"]["request"]["uid"]
            assert response["allowed"] is case["allowed"], (case["name"], response)
            if not case["allowed"]:
                assert case["reason"] in response["status"]["message"], (case["name"], response)
            seen.append(case["name"])
        running.flush_audit()
    logged = {
        d["uid"]: d["reason"]
        for r in store.iter_audit()
        if r.kind == "admission.decision"
        for d in json.loads(r.data)["decisions"]
    }
    for case in doc["cases"]:
        uid = case["admissionReview"]["request"]["uid"]
        assert logged[uid] == case["reason"], case["name"]
    assert len(seen) == len(doc["cases"])

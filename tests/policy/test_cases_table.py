"""The shared case table: current, large enough, in the API server's shape, and true to the
catalog's own verdict engine (the one the admission webhook uses)."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import pytest

from baseguard.catalog.model import Catalog
from baseguard.catalog.verdicts import Verdict, judge
from baseguard.policy.base import HAS_DIGEST_RE
from tests.policy import build_cases
from tests.policy.conftest import CASE_IDS, CASES, CASES_FILE

REQUIRED = {
    "excepted",
    "expired-exception",
    "not-in-catalog",
    "prefix-bypass-attempt",
    "tag-instead-of-digest",
    "retired",
    "past-eol",
    "init-container",
    "ephemeral-container",
    "cronjob-template",
    "exempt-namespace",
    "allowed-pinned-digest",
}
ROLE = {"containers": "runtime", "initContainers": "init", "ephemeralContainers": "ephemeral"}


def test_cases_json_is_what_build_cases_writes() -> None:
    assert CASES_FILE.read_text(encoding="utf-8") == build_cases.render()


def test_the_table_covers_every_required_situation() -> None:
    assert len(CASES) >= 12
    assert set(CASE_IDS) >= REQUIRED
    assert len(set(CASE_IDS)) == len(CASE_IDS)


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_each_case_is_an_admission_review_v1_as_the_api_server_sends_it(
    case: dict[str, Any],
) -> None:
    review = case["admissionReview"]
    assert review["apiVersion"] == "admission.k8s.io/v1"
    assert review["kind"] == "AdmissionReview"
    request = review["request"]
    for key in (
        "uid",
        "kind",
        "resource",
        "requestKind",
        "requestResource",
        "name",
        "namespace",
        "operation",
        "userInfo",
        "object",
        "oldObject",
        "dryRun",
        "options",
    ):
        assert key in request, key
    obj = request["object"]
    assert obj["kind"] == request["kind"]["kind"]
    assert obj["metadata"]["namespace"] == request["namespace"]
    # validating admission sees the system fields the API server fills in on CREATE
    assert obj["metadata"]["creationTimestamp"].endswith("Z")
    assert obj["metadata"]["uid"]
    if request["operation"] == "UPDATE":
        assert request["oldObject"] is not None


def _images(obj: dict[str, Any]) -> list[tuple[str, str]]:
    spec = obj["spec"]
    if obj["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]["template"]["spec"]
    elif obj["kind"] != "Pod":
        spec = spec["template"]["spec"]
    return [(f, c["image"]) for f in ROLE for c in spec.get(f, [])]


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_the_catalog_verdict_engine_agrees_with_each_case(
    case: dict[str, Any], catalog: Catalog
) -> None:
    """Admission = digest required, then ``judge`` for a running container, per image."""
    request = case["admissionReview"]["request"]
    if request["namespace"] in ("kube-system", "baseguard-system"):
        assert case["reason"] == "exempt-namespace" and case["allowed"]
        return
    today = date.fromisoformat(case["today"])
    refusals, verdicts = [], []
    for field, image in _images(request["object"]):
        if not re.search(HAS_DIGEST_RE, image):
            refusals.append("digest-required")
            continue
        judgement = judge(catalog, image, ROLE[field], today)
        verdicts.append(judgement.verdict)
        if not judgement.allowed:
            refusals.append(judgement.verdict.value)
    assert case["allowed"] is (not refusals)
    if refusals:
        assert refusals == [case["reason"]]
    elif case["reason"] == "excepted":
        assert Verdict.EXCEPTED in verdicts
    else:
        assert case["reason"] == "approved" and set(verdicts) == {Verdict.APPROVED}

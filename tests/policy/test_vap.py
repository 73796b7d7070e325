"""ValidatingAdmissionPolicy: variables, matchConditions and validations evaluated with a CEL
library on every case, with object, oldObject, request and params bound as the API server
binds them."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from baseguard.catalog.model import Catalog
from baseguard.policy.base import PolicyOptions
from baseguard.policy.vap import cel_list_of_maps, cel_string
from tests.policy import engines
from tests.policy.conftest import CASE_IDS, CASES, resources

cel = pytest.importorskip("cel")


@pytest.fixture(scope="module")
def generated(catalog: Catalog, options: PolicyOptions) -> tuple[dict[str, Any], dict[str, Any]]:
    policy, binding = resources("vap", catalog, options)
    return policy, binding


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_the_validations_give_each_case_its_verdict(
    case: dict[str, Any], generated: tuple[dict[str, Any], dict[str, Any]]
) -> None:
    policy, binding = generated
    decision = engines.vap(policy, binding, case["admissionReview"])
    assert decision.allowed is case["allowed"], decision.message
    if not case["allowed"]:
        assert decision.reason == case["reason"]
        assert decision.message.startswith(case["reason"] + ": image ")
    elif case["reason"] == "exempt-namespace":
        assert decision.reason == engines.EXEMPT


def _with_time(review: dict[str, Any], created: str, managed: list[str]) -> dict[str, Any]:
    out = copy.deepcopy(review)
    meta = out["request"]["object"]["metadata"]
    meta["creationTimestamp"] = created
    meta["managedFields"] = [{"manager": "m", "operation": "Update", "time": t} for t in managed]
    return out


def test_the_request_time_is_the_newest_object_timestamp(
    generated: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    """CEL has no clock: creationTimestamp on CREATE, the latest managedFields time on UPDATE."""
    policy, binding = generated
    review = next(c for c in CASES if c["name"] == "excepted")["admissionReview"]
    live = _with_time(review, "2026-12-31T23:59:59Z", [])
    assert engines.vap(policy, binding, live).allowed
    expired = _with_time(review, "2027-01-01T00:00:00Z", [])
    assert engines.vap(policy, binding, expired).reason == "not-in-catalog"
    updated_later = _with_time(review, "2026-02-01T00:00:00Z", ["2027-02-01T00:00:00Z"])
    assert engines.vap(policy, binding, updated_later).reason == "not-in-catalog"
    not_yet = _with_time(review, "2025-12-31T23:00:00Z", [])
    assert engines.vap(policy, binding, not_yet).reason == "not-in-catalog"


def test_no_timestamp_at_all_fails_closed(generated: tuple[dict[str, Any], dict[str, Any]]) -> None:
    policy, binding = generated
    review = copy.deepcopy(next(c for c in CASES if c["name"] == "excepted")["admissionReview"])
    meta = review["request"]["object"]["metadata"]
    del meta["creationTimestamp"], meta["managedFields"]
    assert not engines.vap(policy, binding, review).allowed


def test_binding_modes_and_opt_in(catalog: Catalog) -> None:
    here = Path(__file__).parent
    _, enforce = resources("vap", catalog, PolicyOptions(base_dir=here))
    assert enforce["spec"]["validationActions"] == ["Deny"]
    assert "matchResources" not in enforce["spec"]
    _, audit = resources(
        "vap",
        catalog,
        PolicyOptions(mode="audit", opt_in_label=("team", "payments"), base_dir=here),
    )
    assert audit["spec"]["validationActions"] == ["Warn", "Audit"]
    assert audit["spec"]["matchResources"]["namespaceSelector"] == {
        "matchLabels": {"team": "payments"}
    }


def test_matches_ephemeral_containers_and_every_workload(
    generated: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    policy, _ = generated
    rules = policy["spec"]["matchConstraints"]["resourceRules"]
    resources_ = {r for rule in rules for r in rule["resources"]}
    assert {"pods", "pods/ephemeralcontainers", "deployments", "cronjobs", "jobs"} <= resources_
    assert policy["spec"]["failurePolicy"] == "Fail"


def test_literals_are_homogeneous_string_maps_that_cel_reads_back() -> None:
    items = [{"re": r"^a\.b$", "q": "it's"}]
    assert cel.evaluate(cel_list_of_maps(items)) == items
    assert cel.evaluate(cel_string("back\\slash 'quote'")) == "back\\slash 'quote'"

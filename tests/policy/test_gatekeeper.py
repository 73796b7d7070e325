"""Gatekeeper: the generated Rego evaluated with regorus (Gatekeeper's v0 syntax) on every case,
and the Gatekeeper library's allowedrepos template shown to admit the prefix bypass ours
refuses."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from baseguard.catalog.model import Catalog
from baseguard.policy.base import PolicyOptions, generate
from tests.conftest import realdata_path
from tests.policy import engines
from tests.policy.conftest import CASE_IDS, CASES, resources

regorus = pytest.importorskip("regorus")

LIBRARY = ("policies", "gatekeeper-library", "library", "general")


@pytest.fixture(scope="module")
def generated(catalog: Catalog, options: PolicyOptions) -> tuple[dict[str, Any], dict[str, Any]]:
    template, constraint = resources("gatekeeper", catalog, options)
    return template, constraint


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_the_generated_rego_gives_each_case_its_verdict(
    case: dict[str, Any], generated: tuple[dict[str, Any], dict[str, Any]]
) -> None:
    template, constraint = generated
    decision = engines.gatekeeper(
        template, constraint, case["admissionReview"], engines.noon(case["today"])
    )
    assert decision.allowed is case["allowed"], decision.message
    if not case["allowed"]:
        assert decision.reason == case["reason"]
    elif case["reason"] == "exempt-namespace":
        assert decision.reason == engines.EXEMPT


def test_the_template_is_gatekeeper_v0_rego_with_one_violation_rule(
    generated: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    template, constraint = generated
    rego = template["spec"]["targets"][0]["rego"]
    engine = regorus.Engine()
    engine.set_rego_v0(True)
    engine.add_policy("t.rego", rego)  # parses as v0
    assert rego.startswith("package baseguardcatalogimages\n")
    assert "violation[{" in rego and " if " not in rego and "contains" not in rego.split("{")[0]
    assert template["spec"]["crd"]["spec"]["names"]["kind"] == constraint["kind"]
    # the parameters are described by the template's schema (Gatekeeper validates them)
    schema = template["spec"]["crd"]["spec"]["validation"]["openAPIV3Schema"]
    assert set(schema["properties"]) == set(constraint["spec"]["parameters"])


def test_expiry_is_read_from_the_clock_not_baked_in(
    generated: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    """The same generated policy admits the excepted image until the exception's last day."""
    template, constraint = generated
    case = next(c for c in CASES if c["name"] == "excepted")
    review = case["admissionReview"]
    last_day = datetime.fromisoformat("2026-12-31T23:59:59+00:00")
    day_after = datetime.fromisoformat("2027-01-01T00:00:01+00:00")
    assert engines.gatekeeper(template, constraint, review, last_day).allowed
    late = engines.gatekeeper(template, constraint, review, day_after)
    assert not late.allowed and late.reason == "not-in-catalog"


def test_audit_mode_warns_and_opt_in_selects_namespaces(catalog: Catalog) -> None:
    opts = PolicyOptions(
        mode="audit", opt_in_label=("baseguard.io/enforce", "true"), base_dir=Path(__file__).parent
    )
    _, constraint = resources("gatekeeper", catalog, opts)
    assert constraint["spec"]["enforcementAction"] == "warn"
    match = constraint["spec"]["match"]
    assert match["namespaceSelector"] == {"matchLabels": {"baseguard.io/enforce": "true"}}
    assert match["excludedNamespaces"] == ["baseguard-system", "kube-system"]
    kinds = {k for group in match["kinds"] for k in group["kinds"]}
    assert {"Pod", "Deployment", "CronJob", "Job", "StatefulSet", "DaemonSet"} <= kinds


# ----------------------------------------------------------------------------- the bypass

BYPASS = "registry.io/org-evil/x@sha256:" + "a" * 64


def _pod(image: str) -> dict[str, Any]:
    return {
        "kind": {"group": "", "version": "v1", "kind": "Pod"},
        "operation": "CREATE",
        "namespace": "default",
        "object": {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "x", "namespace": "default"},
            "spec": {"containers": [{"name": "app", "image": image}]},
        },
    }


def _library_violations(template_file: Path, parameters: dict[str, Any], image: str) -> list[Any]:
    template = yaml.safe_load(template_file.read_text(encoding="utf-8"))
    engine = regorus.Engine()
    engine.set_rego_v0(True)
    engine.add_policy("library.rego", template["spec"]["targets"][0]["rego"])
    engine.set_input({"review": _pod(image), "parameters": parameters})
    package = template["metadata"]["name"]
    out = json.loads(engine.eval_query_as_json(f"v := data.{package}.violation"))
    return list(out["result"][0]["bindings"]["v"])


@pytest.mark.realdata
def test_the_library_allowedrepos_template_admits_the_prefix_bypass() -> None:
    """DESIGN.md: allowedrepos with repos [registry.io/org] admits registry.io/org-evil/x."""
    template = realdata_path(*LIBRARY, "allowedrepos", "template.yaml")
    params = {"repos": ["registry.io/org"]}
    assert _library_violations(template, params, BYPASS) == []  # admitted: the bypass
    assert _library_violations(template, params, "docker.io/other/x:1") != []  # sanity


@pytest.mark.realdata
def test_allowedreposv2_prefix_glob_admits_it_too() -> None:
    template = realdata_path(*LIBRARY, "allowedreposv2", "template.yaml")
    params = {"allowedImages": ["registry.io/org*"]}
    assert _library_violations(template, params, BYPASS) == []


def test_ours_refuses_the_prefix_bypass_for_the_same_catalog(tmp_path: Path) -> None:
    """A catalog naming registry.io/org (every tag) refuses registry.io/org-evil/x."""
    (tmp_path / "catalog.yaml").write_text(
        "version: 1\nentries:\n"
        "  - id: org\n    provider: internal\n    repository: registry.io/org\n"
        "    tags: ['*']\n"
        "    owner: {team: t, contact: t@example.com}\n"
        "    lifecycle: {state: approved, history: [{state: approved, date: 2026-01-01,"
        " actor: a}]}\n"
        "    patch_sla: {critical: 24h}\n",
        encoding="utf-8",
    )
    from baseguard.catalog.spec import load_catalog

    opts = PolicyOptions(base_dir=tmp_path)
    template, constraint = [
        r.body
        for r in generate("gatekeeper", load_catalog(tmp_path / "catalog.yaml"), opts).resources
    ]
    now = datetime.fromisoformat("2026-06-15T12:00:00+00:00")
    review = {"request": {**_pod(BYPASS)}}
    refused = engines.gatekeeper(template, constraint, review, now)
    assert not refused.allowed and refused.reason == "not-in-catalog"
    allowed = engines.gatekeeper(
        template, constraint, {"request": _pod("registry.io/org:1@sha256:" + "a" * 64)}, now
    )
    assert allowed.allowed

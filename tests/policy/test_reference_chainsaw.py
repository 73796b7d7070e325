"""The Kyverno reference policy require-image-checksum's own chainsaw resources, run through
our Kyverno, Gatekeeper and VAP policies: what its test applies must be admitted, what it
expects refused must be refused (for a catalog that allows those repositories)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from baseguard.catalog.spec import load_catalog
from baseguard.policy.base import PolicyOptions, generate
from tests.conftest import realdata_path
from tests.policy import engines

pytestmark = pytest.mark.realdata

CHAINSAW = ("policies", "kyverno-policies", "other", "require-image-checksum", ".chainsaw-test")
BUSYBOX = "sha256:c81e98c8ff8ebe2ef81b784e9fcab9d1013d75064d00d0be4941ffb6973c948d"
NGINX = "sha256:eca6768a39363decf0a4606a282e222552576fec380f555b65560983f7305cf7"
CATALOG = f"""version: 1
entries:
  - id: busybox
    provider: upstream
    repository: ghcr.io/kyverno/test-busybox
    tags: ["*"]
    digests: ["{BUSYBOX}"]
    owner: {{team: t, contact: t@example.com}}
    lifecycle: {{state: approved, history: [{{state: approved, date: 2026-01-01, actor: a}}]}}
    patch_sla: {{critical: 24h}}
  - id: nginx
    provider: upstream
    repository: ghcr.io/kyverno/test-nginx
    tags: ["*"]
    digests: ["{NGINX}"]
    owner: {{team: t, contact: t@example.com}}
    lifecycle: {{state: approved, history: [{{state: approved, date: 2026-01-01, actor: a}}]}}
    patch_sla: {{critical: 24h}}
"""
NOW = datetime.fromisoformat("2026-06-15T12:00:00+00:00")
PLURALS = {
    "Pod": ("", "pods"),
    "Deployment": ("apps", "deployments"),
    "CronJob": ("batch", "cronjobs"),
}


def _review(obj: dict[str, Any]) -> dict[str, Any]:
    group, plural = PLURALS[obj["kind"]]
    obj = {
        **obj,
        "metadata": {
            **obj["metadata"],
            "namespace": "chainsaw",
            "creationTimestamp": "2026-06-15T12:00:00Z",
            "uid": "u",
        },
    }
    gvk = {"group": group, "version": "v1", "kind": obj["kind"]}
    return {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": "r",
            "kind": gvk,
            "requestKind": gvk,
            "resource": {"group": group, "version": "v1", "resource": plural},
            "name": obj["metadata"]["name"],
            "namespace": "chainsaw",
            "operation": "CREATE",
            "userInfo": {"username": "chainsaw"},
            "object": obj,
            "oldObject": None,
            "dryRun": False,
        },
    }


def _objects(name: str) -> list[dict[str, Any]]:
    text = (realdata_path(*CHAINSAW) / name).read_text(encoding="utf-8")
    return [d for d in yaml.safe_load_all(text) if d]


@pytest.fixture(scope="module")
def policies(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[dict[str, Any]]]:
    folder: Path = tmp_path_factory.mktemp("chainsaw")
    (folder / "catalog.yaml").write_text(CATALOG, encoding="utf-8")
    catalog = load_catalog(folder / "catalog.yaml")
    opts = PolicyOptions(base_dir=folder)
    return {
        e: [r.body for r in generate(e, catalog, opts).resources]
        for e in ("kyverno", "gatekeeper", "vap")
    }


def _decide(engine: str, policies: list[dict[str, Any]], review: dict[str, Any]) -> Any:
    if engine == "kyverno":
        return engines.kyverno(policies[0], review, NOW)
    if engine == "gatekeeper":
        return engines.gatekeeper(policies[0], policies[1], review, NOW)
    return engines.vap(policies[0], policies[1], review)


@pytest.mark.parametrize("engine", ["kyverno", "gatekeeper", "vap"])
@pytest.mark.parametrize(
    ("file", "admitted"),
    [
        ("pod-good.yaml", True),
        ("podcontroller-good.yaml", True),
        ("pod-bad.yaml", False),
        ("podcontroller-bad.yaml", False),
    ],
)
def test_the_reference_tests_resources_get_the_reference_verdict(
    engine: str, file: str, admitted: bool, policies: dict[str, list[dict[str, Any]]]
) -> None:
    objects = _objects(file)
    assert objects
    for obj in objects:
        decision = _decide(engine, policies[engine], _review(obj))
        assert decision.allowed is admitted, (obj["metadata"]["name"], decision)
        if not admitted:
            assert decision.reason in ("digest-required", "not-in-catalog")

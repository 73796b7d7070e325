"""The sample manifests in examples/webhook: valid Kubernetes objects (every field known to the
API's own models) that send the webhook exactly what it judges."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from baseguard.gate.admission import DEFAULT_EXEMPT, JUDGED_SUBRESOURCES, WORKLOADS
from baseguard.server.app import DEFAULT_NAMESPACE
from tests.conftest import PROJECT

EXAMPLES = PROJECT / "examples" / "webhook"
PLURALS = {
    "Pod": "pods",
    "PodTemplate": "podtemplates",
    "ReplicationController": "replicationcontrollers",
    "Deployment": "deployments",
    "StatefulSet": "statefulsets",
    "DaemonSet": "daemonsets",
    "ReplicaSet": "replicasets",
    "Job": "jobs",
    "CronJob": "cronjobs",
}


def _strip_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_strip_none(v) for v in value]
    return value


def check_against_model(doc: dict[str, Any]) -> None:
    """Validate with the Kubernetes API's models; a field they do not know fails the round trip."""
    kubernetes = pytest.importorskip("cloudcoil.models.kubernetes")
    del kubernetes
    import importlib

    group, _, version = doc["apiVersion"].rpartition("/")
    package = {"": "core", "apps": "apps", "admissionregistration.k8s.io": "admissionregistration"}
    module = importlib.import_module(f"cloudcoil.models.kubernetes.{package[group]}.{version}")
    model = getattr(module, doc["kind"]).model_validate(doc)
    dumped = _strip_none(model.model_dump(by_alias=True, exclude_unset=True, mode="json"))
    assert dumped == _strip_none(doc), f"{doc['kind']}: a field is unknown or mistyped"


def documents(name: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all((EXAMPLES / name).read_text()) if d]


def test_every_sample_object_is_a_valid_kubernetes_object() -> None:
    for name in ("validatingwebhookconfiguration.yaml", "deployment.yaml"):
        for doc in documents(name):
            check_against_model(doc)


def test_the_webhook_configuration_matches_what_the_webhook_judges() -> None:
    (config,) = documents("validatingwebhookconfiguration.yaml")
    (hook,) = config["webhooks"]
    assert hook["admissionReviewVersions"] == ["v1"]
    assert hook["sideEffects"] == "None"
    assert hook["failurePolicy"] in ("Fail", "Ignore")
    assert 1 <= hook["timeoutSeconds"] <= 30
    assert hook["clientConfig"]["service"]["path"] == "/validate"
    excluded = hook["namespaceSelector"]["matchExpressions"][0]
    assert excluded["key"] == "kubernetes.io/metadata.name"
    assert excluded["operator"] == "NotIn"
    assert set(excluded["values"]) == {*DEFAULT_EXEMPT, DEFAULT_NAMESPACE}
    routed = {
        (group, resource)
        for rule in hook["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
    }
    wanted = {(group, PLURALS[kind]) for group, kind in WORKLOADS}
    wanted |= {("", f"pods/{sub}") for sub in JUDGED_SUBRESOURCES if sub}
    assert routed == wanted
    for rule in hook["rules"]:
        assert set(rule["operations"]) == {"CREATE", "UPDATE"}


def test_the_deployment_probes_and_namespace_fit_the_service() -> None:
    docs = {d["kind"]: d for d in documents("deployment.yaml")}
    assert docs["Namespace"]["metadata"]["name"] == DEFAULT_NAMESPACE
    (container,) = docs["Deployment"]["spec"]["template"]["spec"]["containers"]
    assert container["args"][0] == "serve"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    (config,) = documents("validatingwebhookconfiguration.yaml")
    service = config["webhooks"][0]["clientConfig"]["service"]
    assert service["name"] == docs["Service"]["metadata"]["name"]
    assert service["namespace"] == docs["Service"]["metadata"]["namespace"]

"""Build tests/policy/cases.json, the one admission case table every engine must agree on.

Run ``python tests/policy/build_cases.py`` after changing :data:`CASES`; a test checks that
cases.json is what this script writes.

Each case is an AdmissionReview v1 as the API server sends it to a *validating* webhook
(``request.object`` already carries ``metadata.creationTimestamp`` and ``uid``: the API server
sets them before validating admission on CREATE), judged against tests/policy/catalog.yaml on
``today`` (UTC). The reference shape is the Gatekeeper library's samples in
../shared/realdata/policies/gatekeeper-library/admissionreview-examples (v1beta1, trimmed),
completed with the v1 fields (uid, kind, resource, requestKind, requestResource, userInfo,
options, dryRun).
"""

from __future__ import annotations

import hashlib
import json
import uuid
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
OUT = HERE / "cases.json"


def digest(seed: str) -> str:
    return "sha256:" + hashlib.sha256(seed.encode()).hexdigest()


APP = digest("app")
TODAY = "2026-06-15"

#: (name, description, today, kind, namespace, containers, allowed, reason, extra)
#: containers: list of (field, name, image); extra: operation/subresource overrides.
CASES: list[
    tuple[str, str, str, str, str, list[tuple[str, str, str]], bool, str, dict[str, Any]]
] = [
    (
        "allowed-pinned-digest",
        "a catalog image pinned by the digest the catalog pins",
        TODAY,
        "Pod",
        "payments",
        [("containers", "app", f"registry.io/org/app@{APP}")],
        True,
        "approved",
        {},
    ),
    (
        "allowed-familiar-name-tag-and-digest",
        "docker.io/library/alpine written as 'alpine', an allowed tag glob, pinned by digest",
        TODAY,
        "Pod",
        "payments",
        [("containers", "app", f"alpine:3.22.1@{digest('alpine322')}")],
        True,
        "approved",
        {},
    ),
    (
        "not-in-catalog",
        "a repository no entry names",
        TODAY,
        "Pod",
        "payments",
        [("containers", "app", f"registry.io/other/tool@{digest('other')}")],
        False,
        "not-in-catalog",
        {},
    ),
    (
        "prefix-bypass-attempt",
        "registry.io/org-evil/x begins with the text of registry.io/org but is another repository",
        TODAY,
        "Pod",
        "payments",
        [("containers", "app", f"registry.io/org-evil/x@{APP}")],
        False,
        "not-in-catalog",
        {},
    ),
    (
        "prefix-bypass-sibling-repository",
        "registry.io/org/app-evil begins with registry.io/org/app",
        TODAY,
        "Pod",
        "payments",
        [("containers", "app", f"registry.io/org/app-evil@{APP}")],
        False,
        "not-in-catalog",
        {},
    ),
    (
        "digest-not-pinned-by-catalog",
        "the right repository, but a digest the entry does not pin",
        TODAY,
        "Pod",
        "payments",
        [("containers", "app", f"registry.io/org/app:1.4.2@{digest('app-old')}")],
        False,
        "not-in-catalog",
        {},
    ),
    (
        "tag-instead-of-digest",
        "an allowed tag, but not pinned by digest",
        TODAY,
        "Pod",
        "payments",
        [("containers", "app", "alpine:3.22.1")],
        False,
        "digest-required",
        {},
    ),
    (
        "retired",
        "a retired entry's image",
        TODAY,
        "Pod",
        "payments",
        [("containers", "app", f"docker.io/library/alpine:3.10.9@{digest('alpine310')}")],
        False,
        "retired",
        {},
    ),
    (
        "past-eol",
        "an approved entry whose end of life (2026-04-01) has passed",
        TODAY,
        "Pod",
        "payments",
        [("containers", "app", f"index.docker.io/library/alpine:3.20.3@{digest('alpine320')}")],
        False,
        "past-eol",
        {},
    ),
    (
        "before-eol",
        "the same image before its end of life",
        "2026-03-01",
        "Pod",
        "payments",
        [("containers", "app", f"index.docker.io/library/alpine:3.20.3@{digest('alpine320')}")],
        True,
        "approved",
        {},
    ),
    (
        "excepted",
        "not in the catalog, but a live exception (until 2026-12-31) covers it",
        TODAY,
        "Pod",
        "payments",
        [("containers", "app", f"registry.io/legacy/tool:2.7@{digest('legacy')}")],
        True,
        "excepted",
        {},
    ),
    (
        "expired-exception",
        "the exception that covered it expired on 2026-03-31",
        TODAY,
        "Pod",
        "payments",
        [("containers", "app", f"registry.io/legacy/old:1.0@{digest('old')}")],
        False,
        "not-in-catalog",
        {},
    ),
    (
        "dev-variant",
        "a dev variant (shell, package manager) in a running pod",
        TODAY,
        "Pod",
        "payments",
        [("containers", "app", f"cgr.dev/chainguard/python:latest-dev@{digest('python-dev')}")],
        False,
        "dev-variant-in-production",
        {},
    ),
    (
        "proposed",
        "an entry that is only proposed",
        TODAY,
        "Pod",
        "payments",
        [("containers", "app", f"cgr.dev/chainguard/node:latest@{digest('node')}")],
        False,
        "proposed",
        {},
    ),
    (
        "init-container",
        "the app container is allowed, its initContainer is not",
        TODAY,
        "Pod",
        "payments",
        [
            ("containers", "app", f"registry.io/org/app@{APP}"),
            ("initContainers", "setup", f"registry.io/other/init@{digest('tool-init')}"),
        ],
        False,
        "not-in-catalog",
        {},
    ),
    (
        "ephemeral-container",
        "kubectl debug adds an ephemeral container (UPDATE of pods/ephemeralcontainers)",
        TODAY,
        "Pod",
        "payments",
        [
            ("containers", "app", f"registry.io/org/app@{APP}"),
            ("ephemeralContainers", "debugger", f"busybox:1.36@{digest('busybox')}"),
        ],
        False,
        "not-in-catalog",
        {"operation": "UPDATE", "subResource": "ephemeralcontainers"},
    ),
    (
        "cronjob-template",
        "a CronJob whose job template runs a retired image",
        TODAY,
        "CronJob",
        "payments",
        [("containers", "report", f"alpine:3.10@{digest('alpine310')}")],
        False,
        "retired",
        {},
    ),
    (
        "deployment-allowed",
        "a Deployment whose template runs catalog images only",
        TODAY,
        "Deployment",
        "payments",
        [
            ("containers", "app", f"registry.io/org/app:1.4.2@{APP}"),
            ("initContainers", "tools", f"registry.io/org/app-tools:2.1@{digest('tool-init')}"),
        ],
        True,
        "approved",
        {},
    ),
    (
        "exempt-namespace",
        "kube-system is exempt: not judged",
        TODAY,
        "Pod",
        "kube-system",
        [("containers", "proxy", f"registry.k8s.io/kube-proxy:v1.31.0@{digest('kube')}")],
        True,
        "exempt-namespace",
        {},
    ),
]


def _uid(name: str, salt: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"baseguard-case/{salt}/{name}"))


def pod_spec(containers: list[tuple[str, str, str]]) -> dict[str, Any]:
    spec: dict[str, Any] = {}
    for field, name, image in containers:
        item: dict[str, Any] = {"name": name, "image": image, "resources": {}}
        if field == "ephemeralContainers":
            item["targetContainerName"] = "app"
            item["stdin"] = True
            item["tty"] = True
        spec.setdefault(field, []).append(item)
    ordered = {
        f: spec[f] for f in ("initContainers", "containers", "ephemeralContainers") if f in spec
    }
    ordered["restartPolicy"] = "Always"
    ordered["serviceAccountName"] = "default"
    return ordered


def build_object(
    kind: str, name: str, namespace: str, created: str, containers: list[tuple[str, str, str]]
) -> dict[str, Any]:
    meta = {
        "name": name,
        "namespace": namespace,
        "uid": _uid(name, "object"),
        "creationTimestamp": created,
        "labels": {"app": name},
        "managedFields": [
            {
                "manager": "kubectl-client-side-apply",
                "operation": "Update",
                "apiVersion": "v1" if kind == "Pod" else "apps/v1",
                "time": created,
                "fieldsType": "FieldsV1",
                "fieldsV1": {"f:spec": {}},
            }
        ],
    }
    spec = pod_spec(containers)
    if kind == "Pod":
        return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec}
    template = {"metadata": {"labels": {"app": name}}, "spec": spec}
    if kind == "CronJob":
        spec["restartPolicy"] = "OnFailure"
        meta["managedFields"][0]["apiVersion"] = "batch/v1"
        return {
            "apiVersion": "batch/v1",
            "kind": "CronJob",
            "metadata": meta,
            "spec": {"schedule": "0 3 * * *", "jobTemplate": {"spec": {"template": template}}},
        }
    return {
        "apiVersion": "apps/v1",
        "kind": kind,
        "metadata": meta,
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": name}},
            "template": template,
        },
    }


RESOURCES = {
    "Pod": ("", "v1", "pods"),
    "Deployment": ("apps", "v1", "deployments"),
    "CronJob": ("batch", "v1", "cronjobs"),
}


def admission_review(
    name: str,
    today: str,
    kind: str,
    namespace: str,
    containers: list[tuple[str, str, str]],
    extra: dict[str, Any],
) -> dict[str, Any]:
    group, version, resource = RESOURCES[kind]
    operation = extra.get("operation", "CREATE")
    created = f"{today}T12:00:00Z"
    obj = build_object(
        kind,
        name,
        namespace,
        created if operation == "CREATE" else f"{today}T08:00:00Z",
        containers,
    )
    if operation == "UPDATE":
        obj["metadata"]["managedFields"].append(
            {
                "manager": "kubectl-debug",
                "operation": "Update",
                "apiVersion": "v1",
                "time": created,
                "fieldsType": "FieldsV1",
                "fieldsV1": {"f:spec": {"f:ephemeralContainers": {}}},
                "subresource": extra.get("subResource", ""),
            }
        )
        obj["metadata"]["resourceVersion"] = "48213"
    gvk = {"group": group, "version": version, "kind": kind}
    gvr = {"group": group, "version": version, "resource": resource}
    request: dict[str, Any] = {
        "uid": _uid(name, "request"),
        "kind": gvk,
        "resource": gvr,
        "requestKind": gvk,
        "requestResource": gvr,
        "name": name,
        "namespace": namespace,
        "operation": operation,
        "userInfo": {
            "username": "kubernetes-admin",
            "groups": ["kubeadm:cluster-admins", "system:authenticated"],
        },
        "object": obj,
        "oldObject": None,
        "dryRun": False,
        "options": {
            "kind": "CreateOptions" if operation == "CREATE" else "UpdateOptions",
            "apiVersion": "meta.k8s.io/v1",
            "fieldManager": "kubectl-client-side-apply",
        },
    }
    if "subResource" in extra:
        request["subResource"] = extra["subResource"]
        request["requestSubResource"] = extra["subResource"]
    if operation == "UPDATE":
        old = json.loads(json.dumps(obj))
        old["spec"].pop("ephemeralContainers", None)
        old["metadata"]["managedFields"] = old["metadata"]["managedFields"][:1]
        request["oldObject"] = old
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request}


def build() -> dict[str, Any]:
    cases = []
    for name, description, today, kind, namespace, containers, allowed, reason, extra in CASES:
        cases.append(
            {
                "name": name,
                "description": description,
                "today": today,
                "allowed": allowed,
                "reason": reason,
                "admissionReview": admission_review(
                    name, today, kind, namespace, containers, extra
                ),
            }
        )
    return {
        "description": (
            "Admission cases every baseguard engine must agree on (Kyverno, Gatekeeper, "
            "ValidatingAdmissionPolicy, the webhook). Judge admissionReview.request against "
            "catalog (a path relative to this file) with the clock at today (UTC, noon); "
            "expect allowed, and reason: approved | excepted | exempt-namespace when allowed, "
            "else the first refusal: digest-required | invalid-reference | not-in-catalog | "
            "retired | past-eol | proposed | dev-variant-in-production. Every image must be "
            "pinned by digest (an exception does not waive that); the catalog verdict is "
            "baseguard.catalog.verdicts.judge for a running container; exempt namespaces: "
            "kube-system, baseguard-system."
        ),
        "catalog": "catalog.yaml",
        "exemptNamespaces": ["baseguard-system", "kube-system"],
        "cases": cases,
    }


def render() -> str:
    return json.dumps(build(), indent=2, sort_keys=False) + "\n"


if __name__ == "__main__":
    OUT.write_text(render(), encoding="utf-8")
    print(f"wrote {OUT} ({len(CASES)} cases)")

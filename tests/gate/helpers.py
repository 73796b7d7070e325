"""A small catalog with one entry per lifecycle case, and AdmissionReviews as the API server
sends them (shared by the gate and server tests)."""

from __future__ import annotations

import copy
import json
import uuid
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from baseguard.catalog.model import Catalog

TODAY = date(2026, 6, 15)
APP_DIGEST = "sha256:" + "a" * 64
PINNED_DIGEST = "sha256:" + "b" * 64
OTHER_DIGEST = "sha256:" + "c" * 64

_OWNER = {"team": "platform", "contact": "platform@example.com"}
_SLA = {"critical": "24h", "high": "7d"}


def _entry(entry_id: str, repository: str, state: str = "approved", **more: Any) -> dict[str, Any]:
    return {
        "id": entry_id,
        "provider": "internal",
        "repository": repository,
        "owner": _OWNER,
        "patch_sla": _SLA,
        "lifecycle": {"state": state},
        **more,
    }


CATALOG_DATA: dict[str, Any] = {
    "version": 1,
    "entries": [
        _entry(
            "app",
            "registry.io/org/app",
            tags=["1.2", "1.2.*"],
            digests=[APP_DIGEST],
            variants=[{"name": "dev", "tags": ["1.2-dev"], "dev": True}],
            eol="2030-01-01",
        ),
        _entry(
            "base-old", "registry.io/org/base", "deprecated", tags=["1"], replaced_by="base-new"
        ),
        _entry("base-new", "registry.io/org/base", tags=["2"]),
        _entry("legacy", "registry.io/org/legacy", "retired", tags=["*"], replaced_by="base-new"),
        _entry(
            "alpine-3.19",
            "docker.io/library/alpine",
            tags=["3.19", "3.19.*"],
            eol="2026-01-01",
            replaced_by="alpine-3.22",
        ),
        _entry("alpine-3.22", "docker.io/library/alpine", tags=["3.22", "3.22.*"]),
        _entry("pinned", "registry.io/org/pinned", digests=[PINNED_DIGEST]),
        _entry("newcomer", "registry.io/org/new", "proposed", tags=["1"]),
        _entry(
            "golang",
            "docker.io/library/golang",
            variants=[{"name": "build", "tags": ["1.23"], "dev": True}],
        ),
    ],
    "exceptions": [
        {
            "id": "vendor-tool",
            "pattern": "registry.io/vendor/tool:*",
            "justification": "vendor appliance, replacement due in Q4",
            "approver": "ciso",
            "created": "2026-01-01",
            "expires": "2026-12-31",
        },
        {
            "id": "nginx-migration",
            "pattern": "docker.io/library/nginx:*",
            "justification": "migration to the catalog image",
            "approver": "ciso",
            "created": "2026-01-01",
            "expires": "2026-03-01",
        },
    ],
}


def catalog() -> Catalog:
    return Catalog.from_dict(copy.deepcopy(CATALOG_DATA))


def write_catalog(path: Path, data: dict[str, Any] | None = None) -> Path:
    path.write_text(yaml.safe_dump(data or CATALOG_DATA, sort_keys=False))
    return path


# --------------------------------------------------------------------------- reviews

#: kind → (API group, version, resource, path to the pod spec in the object).
KINDS: dict[str, tuple[str, str, str, tuple[str, ...]]] = {
    "Pod": ("", "v1", "pods", ("spec",)),
    "PodTemplate": ("", "v1", "podtemplates", ("template", "spec")),
    "ReplicationController": ("", "v1", "replicationcontrollers", ("spec", "template", "spec")),
    "Deployment": ("apps", "v1", "deployments", ("spec", "template", "spec")),
    "StatefulSet": ("apps", "v1", "statefulsets", ("spec", "template", "spec")),
    "DaemonSet": ("apps", "v1", "daemonsets", ("spec", "template", "spec")),
    "ReplicaSet": ("apps", "v1", "replicasets", ("spec", "template", "spec")),
    "Job": ("batch", "v1", "jobs", ("spec", "template", "spec")),
    "CronJob": ("batch", "v1", "cronjobs", ("spec", "jobTemplate", "spec", "template", "spec")),
}


def container(name: str, image: str) -> dict[str, Any]:
    """A container as the API server has it after defaulting."""
    return {
        "name": name,
        "image": image,
        "resources": {},
        "terminationMessagePath": "/dev/termination-log",
        "terminationMessagePolicy": "File",
        "imagePullPolicy": "IfNotPresent",
    }


def pod_spec(
    containers: list[tuple[str, str]],
    init: list[tuple[str, str]] | None = None,
    ephemeral: list[tuple[str, str]] | None = None,
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "containers": [container(n, i) for n, i in containers],
        "restartPolicy": "Always",
        "terminationGracePeriodSeconds": 30,
        "dnsPolicy": "ClusterFirst",
        "serviceAccountName": "default",
        "securityContext": {},
        "schedulerName": "default-scheduler",
    }
    if init:
        spec["initContainers"] = [container(n, i) for n, i in init]
    if ephemeral:
        spec["ephemeralContainers"] = [
            {**container(n, i), "targetContainerName": containers[0][0]} for n, i in ephemeral
        ]
    return spec


def workload(
    kind: str,
    spec: dict[str, Any],
    *,
    name: str = "web",
    namespace: str = "shop",
) -> dict[str, Any]:
    """An object of ``kind`` whose pod spec is ``spec``."""
    group, version, _, _ = KINDS[kind]
    meta = {
        "name": name,
        "namespace": namespace,
        "uid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{kind}/{namespace}/{name}")),
        "creationTimestamp": None,
        "labels": {"app": name},
        "managedFields": [
            {
                "manager": "kubectl-client-side-apply",
                "operation": "Update",
                "apiVersion": f"{group}/{version}" if group else version,
                "fieldsType": "FieldsV1",
                "fieldsV1": {"f:metadata": {"f:labels": {".": {}, "f:app": {}}}},
            }
        ],
    }
    obj: dict[str, Any] = {
        "kind": kind,
        "apiVersion": f"{group}/{version}" if group else version,
        "metadata": meta,
    }
    template = {"metadata": {"labels": {"app": name}, "creationTimestamp": None}, "spec": spec}
    if kind == "Pod":
        obj["spec"] = spec
        obj["status"] = {"phase": "Pending", "qosClass": "BestEffort"}
    elif kind == "PodTemplate":
        obj["template"] = template
    elif kind == "CronJob":
        obj["spec"] = {
            "schedule": "*/5 * * * *",
            "concurrencyPolicy": "Allow",
            "jobTemplate": {"metadata": {}, "spec": {"template": template}},
        }
    else:
        obj["spec"] = {
            "replicas": 1,
            "selector": {"matchLabels": {"app": name}},
            "template": template,
        }
        obj["status"] = {}
    return obj


def review(
    obj: dict[str, Any] | None,
    *,
    kind: str | None = None,
    operation: str = "CREATE",
    namespace: str | None = None,
    sub_resource: str | None = None,
    uid: str | None = None,
    old: dict[str, Any] | None = None,
    dry_run: bool = False,
) -> dict[str, Any]:
    """An AdmissionReview v1 request in the shape kube-apiserver sends."""
    kind = kind or (obj or old or {}).get("kind", "Pod")
    group, version, resource, _ = KINDS.get(kind, ("", "v1", kind.lower() + "s", ()))
    meta = (obj or old or {}).get("metadata", {})
    gvk = {"group": group, "version": version, "kind": kind}
    gvr = {"group": group, "version": version, "resource": resource}
    request: dict[str, Any] = {
        "uid": uid or str(uuid.uuid4()),
        "kind": gvk,
        "resource": gvr,
        "requestKind": gvk,
        "requestResource": gvr,
        "name": meta.get("name", ""),
        "namespace": namespace if namespace is not None else meta.get("namespace", "default"),
        "operation": operation,
        "userInfo": {
            "username": "kubernetes-admin",
            "groups": ["kubeadm:cluster-admins", "system:authenticated"],
        },
        "object": obj,
        "oldObject": old,
        "dryRun": dry_run,
        "options": {
            "kind": {"CREATE": "CreateOptions", "UPDATE": "UpdateOptions"}.get(
                operation, "DeleteOptions"
            ),
            "apiVersion": "meta.k8s.io/v1",
            "fieldManager": "kubectl-client-side-apply",
        },
    }
    if sub_resource:
        request["subResource"] = sub_resource
        request["requestSubResource"] = sub_resource
    return {"kind": "AdmissionReview", "apiVersion": "admission.k8s.io/v1", "request": request}


def pod_review(*images: str, namespace: str = "shop", **kw: Any) -> dict[str, Any]:
    """A Pod CREATE with one container per image."""
    spec = pod_spec([(f"c{i}", image) for i, image in enumerate(images)])
    return review(workload("Pod", spec, namespace=namespace), **kw)


def body(doc: Any) -> bytes:
    return json.dumps(doc).encode()

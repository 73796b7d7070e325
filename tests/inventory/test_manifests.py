"""Compose files and Kubernetes manifests: images, roles and locations."""

from __future__ import annotations

from pathlib import Path

import pytest

from baseguard.inventory.scan import inventory_paths

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: shop}
spec:
  template:
    spec:
      initContainers:
        - name: migrate
          image: registry.example.com/shop/api:2.0
      containers:
        - name: api
          image: registry.example.com/shop/api:2.0
      ephemeralContainers:
        - name: debug
          image: busybox:1.36
"""
CRONJOB = """\
apiVersion: batch/v1
kind: CronJob
metadata: {name: nightly}
spec:
  jobTemplate:
    spec:
      template:
        spec:
          containers:
            - name: job
              image: alpine:3.20
"""


def uses(tmp_path: Path) -> list[tuple[str, str, str]]:
    inv = inventory_paths([tmp_path])
    return [(u.reference, u.role, str(u.location)) for u in inv.uses]


def test_deployment_containers_init_and_ephemeral(tmp_path: Path) -> None:
    (tmp_path / "deploy.yaml").write_text(DEPLOYMENT)
    found = uses(tmp_path)
    assert (
        "registry.example.com/shop/api:2.0",
        "init",
        "deploy.yaml:9 shop/Deployment/api[migrate]",
    ) in found
    assert (
        "registry.example.com/shop/api:2.0",
        "runtime",
        "deploy.yaml:12 shop/Deployment/api[api]",
    ) in found
    assert (
        "docker.io/library/busybox:1.36",
        "ephemeral",
        "deploy.yaml:15 shop/Deployment/api[debug]",
    ) in found


def test_manifest_after_a_long_comment_header_is_recognised(tmp_path: Path) -> None:
    header = "".join(f"# licence line {n:05d} of a long header\n" for n in range(300))
    assert len(header) > 10_000  # well past the 4 KiB once read
    (tmp_path / "deploy.yaml").write_text(header + DEPLOYMENT)
    (tmp_path / "notes.yaml").write_text(header + "just: a config file\n")
    inv = inventory_paths([tmp_path])
    assert inv.files_scanned == 1
    assert "registry.example.com/shop/api:2.0" in {u.reference for u in inv.uses}


def test_multi_document_cronjob_and_list(tmp_path: Path) -> None:
    listed = "apiVersion: v1\nkind: List\nitems:\n" + "".join(
        "    " + line + "\n" if i else "  - " + line + "\n"
        for i, line in enumerate(CRONJOB.splitlines())
    )
    (tmp_path / "all.yaml").write_text(DEPLOYMENT + "---\n" + CRONJOB + "---\n" + listed)
    found = uses(tmp_path)
    cron = [f for f in found if "CronJob/nightly" in f[2]]
    assert len(cron) == 2
    assert cron[0][2] == "all.yaml:27 CronJob/nightly[job]"
    assert all(f[0] == "docker.io/library/alpine:3.20" for f in cron)


def test_broken_document_among_good_ones_is_reported_and_the_rest_kept(tmp_path: Path) -> None:
    (tmp_path / "mixed.yaml").write_text(DEPLOYMENT + "---\nkind: Pod\n  bad: [\n---\n" + CRONJOB)
    inv = inventory_paths([tmp_path])
    assert len(inv.uses) == 4
    assert len(inv.issues) == 1
    assert inv.issues[0].path == "mixed.yaml"
    assert "invalid YAML" in inv.issues[0].message


def test_unrendered_helm_template_is_reported(tmp_path: Path) -> None:
    (tmp_path / "deployment.yaml").write_text(
        DEPLOYMENT.replace("busybox:1.36", "{{ .Values.debugImage }}")
    )
    inv = inventory_paths([tmp_path])
    assert any("unrendered template" in i.message for i in inv.issues)
    assert len(inv.uses) == 2


def test_compose_image_and_build_context(tmp_path: Path) -> None:
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "Dockerfile").write_text("ARG V=1\nFROM python:3.${V}-slim\n")
    (tmp_path / "compose.yaml").write_text(
        "services:\n"
        "  db:\n    image: postgres:16\n"
        "  app:\n    build:\n      context: ./app\n      args:\n        V: '12'\n"
    )
    found = uses(tmp_path)
    assert ("docker.io/library/postgres:16", "runtime", "compose.yaml:3 service/db") in found
    # The build context is read with the compose args; the plain Dockerfile scan with defaults.
    assert ("docker.io/library/python:3.12-slim", "base", "app/Dockerfile:2") in found
    assert ("docker.io/library/python:3.1-slim", "base", "app/Dockerfile:2") in found


def test_compose_build_context_outside_the_tree_is_refused(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    tree.mkdir()
    (tmp_path / "Dockerfile").write_text("FROM alpine:3.20\n")
    (tree / "compose.yaml").write_text("services:\n  x:\n    build: ..\n")
    inv = inventory_paths([tree])
    assert inv.uses == []
    assert "outside" in inv.issues[0].message


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ('version: "3"\nvolumes: {}\n', "compose file has no services"),
        ("services:\n", "compose file has no services"),
        ("include: [a/compose.yaml]\n", "has no services (its include: files are not followed)"),
        ("x: 1\nservices: [web]\n", "has a services: that is not a mapping"),
    ],
)
def test_a_compose_file_without_services_is_an_issue(tmp_path: Path, text: str, said: str) -> None:
    (tmp_path / "compose.yaml").write_text(text)
    inv = inventory_paths([tmp_path / "compose.yaml"])
    assert [(i.path, said in i.message) for i in inv.issues] == [("compose.yaml", True)]
    assert inv.uses == []


def test_counts_and_json_shape(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(CRONJOB)
    (tmp_path / "Dockerfile").write_text("FROM alpine:3.20\n")
    doc = inventory_paths([tmp_path]).to_dict()
    assert doc["images"][0]["reference"] == "docker.io/library/alpine:3.20"
    assert doc["images"][0]["uses"] == 2
    assert doc["images"][0]["roles"] == ["base", "runtime"]
    assert doc["filesScanned"] == 2

"""Kubernetes manifests (and Helm/Kustomize-rendered output): every container's image."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from baseguard.inventory import yamlsafe
from baseguard.inventory.model import ImageUse, InventoryIssue, Location
from baseguard.inventory.sources.base import FileResult, InventorySource, ScanContext, normalise

#: kind → path of keys from the object to its PodSpec.
POD_SPEC_PATHS: dict[str, tuple[str, ...]] = {
    "Pod": ("spec",),
    "PodTemplate": ("template", "spec"),
    "Deployment": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "ReplicaSet": ("spec", "template", "spec"),
    "ReplicationController": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}
CONTAINER_LISTS = (
    ("containers", "runtime"),
    ("initContainers", "init"),
    ("ephemeralContainers", "ephemeral"),
)
MAX_LIST_DEPTH = 5


class KubernetesSource(InventorySource):
    name: ClassVar[str] = "kubernetes"

    def claims(self, path: Path, head: bytes) -> bool:
        if path.suffix.lower() not in (".yaml", ".yml", ".json"):
            return False
        return b"kind" in head and (b"apiVersion" in head or b"apiversion" in head.lower())

    def scan(self, path: Path, text: str, ctx: ScanContext) -> FileResult:
        display = ctx.display(path)
        result = FileResult()
        if "{{" in text and "}}" in text:
            result.issues.append(
                InventoryIssue(
                    display,
                    "contains unrendered template placeholders ({{ … }}); render it with "
                    "`helm template` or `kustomize build` first; placeholders were skipped",
                )
            )
        for first, node, error in yamlsafe.compose_documents(text):
            if error or node is None:
                result.issues.append(InventoryIssue(display, error or "empty document", first))
                continue
            budget = yamlsafe.Budget()
            try:
                self._object(display, first, node, budget, result, 0)
            except yamlsafe.YamlBudgetError as exc:
                result.issues.append(InventoryIssue(display, str(exc), first))
        return result

    def _object(
        self,
        display: str,
        first: int,
        node: yamlsafe.Node,
        budget: yamlsafe.Budget,
        result: FileResult,
        depth: int,
    ) -> None:
        kind = yamlsafe.scalar(yamlsafe.get(node, "kind", budget))
        if kind is None:
            return
        if kind.endswith("List"):
            if depth < MAX_LIST_DEPTH:
                for item in yamlsafe.items(yamlsafe.get(node, "items", budget), budget):
                    self._object(display, first, item, budget, result, depth + 1)
            return
        path = POD_SPEC_PATHS.get(kind)
        if path is None:
            return
        meta = yamlsafe.get(node, "metadata", budget)
        name = yamlsafe.scalar(yamlsafe.get(meta, "name", budget))
        namespace = yamlsafe.scalar(yamlsafe.get(meta, "namespace", budget))
        spec: yamlsafe.Node | None = node
        for key in path:
            spec = yamlsafe.get(spec, key, budget)
        for list_key, role in CONTAINER_LISTS:
            for container in yamlsafe.items(yamlsafe.get(spec, list_key, budget), budget):
                cname = yamlsafe.scalar(yamlsafe.get(container, "name", budget))
                image_node = yamlsafe.get(container, "image", budget)
                raw = yamlsafe.scalar(image_node)
                if not raw:
                    continue
                line = yamlsafe.line_of(image_node, first) if image_node is not None else first
                if "{{" in raw:
                    continue  # reported once per file above
                ref = normalise(raw)
                if ref is None:
                    result.issues.append(
                        InventoryIssue(
                            display,
                            f"{kind}/{name} container {cname}: invalid image reference {raw!r}",
                            line,
                        )
                    )
                    continue
                result.uses.append(
                    ImageUse(
                        ref,
                        raw,
                        role,
                        self.name,
                        Location(
                            display,
                            line,
                            namespace=namespace,
                            kind=kind,
                            name=name,
                            container=cname,
                        ),
                    )
                )

"""Compose files: services' ``image:``, and ``build:`` contexts read as their Dockerfile."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from yaml.nodes import MappingNode

from baseguard.inventory import yamlsafe
from baseguard.inventory.model import ImageUse, InventoryIssue, Location
from baseguard.inventory.sources.base import (
    FileResult,
    InventorySource,
    ScanContext,
    normalise,
    read_text,
)
from baseguard.inventory.sources.dockerfile import DockerfileSource

NAME_PATTERNS = ("docker-compose*.yml", "docker-compose*.yaml", "compose*.yml", "compose*.yaml")


class ComposeSource(InventorySource):
    name: ClassVar[str] = "compose"
    name_patterns: ClassVar[tuple[str, ...]] = NAME_PATTERNS

    def scan(self, path: Path, text: str, ctx: ScanContext) -> FileResult:
        display = ctx.display(path)
        result = FileResult()
        for first, node, error in yamlsafe.compose_documents(text):
            if error or node is None:
                result.issues.append(InventoryIssue(display, error or "empty document", first))
                continue
            budget = yamlsafe.Budget()
            try:
                self._services(path, display, first, node, budget, ctx, result)
            except yamlsafe.YamlBudgetError as exc:
                result.issues.append(InventoryIssue(display, str(exc), first))
        return result

    def _services(
        self,
        path: Path,
        display: str,
        first: int,
        node: yamlsafe.Node,
        budget: yamlsafe.Budget,
        ctx: ScanContext,
        result: FileResult,
    ) -> None:
        services = yamlsafe.get(node, "services", budget)
        listed = yamlsafe.pairs(services, budget)
        if not listed:
            mapping = services is None or isinstance(services, MappingNode)
            if not mapping and yamlsafe.scalar(services) in ("", "null", "~", "Null", "NULL"):
                mapping = True  # `services:` with nothing under it
            problem = "has no services" if mapping else "has a services: that is not a mapping"
            if yamlsafe.get(node, "include", budget) is not None:
                problem += " (its include: files are not followed)"
            line = yamlsafe.line_of(services, first) if services is not None else first
            result.issues.append(
                InventoryIssue(display, f"compose file {problem}; no images read from it", line)
            )
            return
        for service, spec in listed:
            image_node = yamlsafe.get(spec, "image", budget)
            raw = yamlsafe.scalar(image_node)
            build = yamlsafe.get(spec, "build", budget)
            if raw and build is None:
                line = yamlsafe.line_of(image_node, first) if image_node else first
                ref = normalise(raw)
                if ref is None:
                    result.issues.append(
                        InventoryIssue(
                            display, f"service {service}: invalid image reference {raw!r}", line
                        )
                    )
                    continue
                result.uses.append(
                    ImageUse(
                        ref,
                        raw,
                        "runtime",
                        self.name,
                        Location(display, line, kind="service", name=service),
                    )
                )
            if build is not None:
                self._build(path, service, build, budget, ctx, result)

    def _build(
        self,
        path: Path,
        service: str,
        build: yamlsafe.Node,
        budget: yamlsafe.Budget,
        ctx: ScanContext,
        result: FileResult,
    ) -> None:
        context = yamlsafe.scalar(build)
        dockerfile_name = "Dockerfile"
        args = dict(ctx.build_args)
        if context is None:
            context = yamlsafe.scalar(yamlsafe.get(build, "context", budget)) or "."
            dockerfile_name = (
                yamlsafe.scalar(yamlsafe.get(build, "dockerfile", budget)) or dockerfile_name
            )
            arg_node = yamlsafe.get(build, "args", budget)
            for key, value_node in yamlsafe.pairs(arg_node, budget):
                arg_value = yamlsafe.scalar(value_node)
                if arg_value is not None:
                    args.setdefault(key, arg_value)
            for item in yamlsafe.items(arg_node, budget):
                key, _, value = (yamlsafe.scalar(item) or "").partition("=")
                if key and value:
                    args.setdefault(key, value)
        if "://" in context:
            return  # a remote (git) context: nothing to read locally
        target = (path.parent / context / dockerfile_name).resolve()
        root = (ctx.root or path.parent).resolve()
        display = ctx.display(path)
        if not target.is_relative_to(root):
            result.issues.append(
                InventoryIssue(
                    display, f"service {service}: build context {context} is outside {root}"
                )
            )
            return
        text, issue = read_text(target, ctx.display(target))
        if issue or text is None:
            result.issues.append(issue or InventoryIssue(display, "unreadable Dockerfile"))
            return
        sub = DockerfileSource().scan(target, text, ScanContext(build_args=args, root=ctx.root))
        result.uses.extend(sub.uses)
        result.issues.extend(sub.issues)

"""``baseguard inventory PATH…``: which images an estate uses, where, and how often."""

from __future__ import annotations

import csv
import io
import json
import sys
from enum import StrEnum
from pathlib import Path

import typer
from rich.table import Table

from baseguard.cli import options
from baseguard.cli.common import (
    print_warnings,
    report_console,
    reported_errors,
    write_output,
)
from baseguard.inventory.model import Inventory


class InventoryFormat(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


def inventory_command(
    paths: list[Path] = typer.Argument(None, help="Files or directories to inventory."),
    output: InventoryFormat | None = typer.Option(
        None, "--output", "-o", help="Output format. Default: table on a terminal, json otherwise."
    ),
    file: Path | None = options.FILE,
    build_arg: list[str] = typer.Option(
        [], "--build-arg", help="KEY=VALUE for Dockerfile ARGs used in FROM lines (repeatable)."
    ),
    cluster: bool = typer.Option(
        False, "--cluster", help="Also list running pods' images through the Kubernetes API."
    ),
    context: str | None = typer.Option(None, "--context", help="kubeconfig context to use."),
    kubeconfig: Path | None = typer.Option(
        None, "--kubeconfig", help="kubeconfig file (default: $KUBECONFIG or ~/.kube/config)."
    ),
    namespace: str | None = typer.Option(
        None, "--namespace", "-n", help="Only this namespace (with --cluster)."
    ),
    registry: list[str] = typer.Option(
        [], "--registry", help="HOST[/NAMESPACE]: list its repositories and tags (repeatable)."
    ),
    base: list[str] = typer.Option(
        [],
        "--base",
        help="A known base image, to recognise images built on it by their "
        "bottom layers (repeatable; with --registry).",
    ),
    platform: str | None = options.PLATFORM,
    insecure: bool = options.INSECURE,
    ca_file: Path | None = options.CA_FILE,
) -> None:
    """List every image reference in Dockerfiles, compose files and Kubernetes manifests.

    \b
    Recognised files:
      Dockerfile, *.Dockerfile, Dockerfile.*, Containerfile   (multi-stage aware)
      docker-compose*.y(a)ml, compose*.y(a)ml                 (image: and build:)
      *.yaml / *.yml with apiVersion and kind                  (Pods, workloads, CronJobs, Lists)

    References are normalised (alpine → docker.io/library/alpine:latest) and counted; every
    use keeps its location (file:line and namespace/kind/name[container]). Files that cannot
    be read, and files named on the command line that are none of these kinds, are reported
    on stderr (and under "issues" in JSON) and the rest is still inventoried.

    With --cluster, running pods' images and image IDs (digests) come from the Kubernetes
    API (kubeconfig, or the service account when run inside a pod).

    Exit codes: 0 inventoried (even with unreadable files), 2 usage or access error.
    """
    from baseguard.errors import InvalidReferenceError, UsageError
    from baseguard.inventory.scan import inventory_paths
    from baseguard.refs import parse_reference

    with reported_errors():
        args = options.parse_build_args(build_arg)
        for raw in base:
            try:
                parse_reference(raw)
            except InvalidReferenceError as exc:
                raise UsageError(f"--base {raw!r}: {exc.message}", hint=exc.hint) from None
        registry_only = {
            "--base": bool(base),
            "--platform": platform is not None,
            "--insecure": insecure,
            "--ca-file": ca_file is not None,
        }
        given = [name for name, used in registry_only.items() if used]
        if given and not registry:
            raise UsageError(
                f"{', '.join(given)} {'needs' if len(given) == 1 else 'need'} --registry: "
                "they apply to registry images only (--base recognises images built on a "
                "base; --platform, --insecure and --ca-file are how they are pulled)",
                hint=f"add --registry HOST[/NAMESPACE], or leave out {', '.join(given)}",
            )
        if not paths and not cluster and not registry:
            raise UsageError(
                "nothing to inventory", hint="give PATHs, --registry HOST and/or --cluster"
            )
        result = inventory_paths(paths or [], build_args=args)
        if cluster:
            from baseguard.inventory.cluster import (
                in_cluster_access,
                inventory_cluster,
                load_kubeconfig,
            )

            access = None if (kubeconfig or context) else in_cluster_access()
            access = access or load_kubeconfig(kubeconfig, context)
            uses, issues, _pods = inventory_cluster(access, namespace)
            result.extend(uses, issues)
            result.sources.append("cluster")
        if registry:
            _inventory_registries(result, registry, base, platform, insecure, ca_file)
        result.finish()
        fmt = output or (InventoryFormat.table if sys.stdout.isatty() else InventoryFormat.json)
        if fmt is InventoryFormat.json:
            write_output(json.dumps(result.to_dict(), indent=2), file)
        elif fmt is InventoryFormat.csv:
            write_output(to_csv(result), file)
        else:
            render_table(result, file)
        print_warnings(result.issues)


def _inventory_registries(
    result: Inventory,
    specs: list[str],
    bases: list[str],
    platform: str | None,
    insecure: bool,
    ca_file: Path | None,
) -> None:
    from baseguard.image.cache import BlobCache
    from baseguard.image.credentials import load_credentials
    from baseguard.image.model import DEFAULT_PLATFORM, Platform
    from baseguard.image.registry import RegistryClient
    from baseguard.inventory.sources.registry import inventory_registry, known_bases

    plat = Platform.parse(platform) if platform else DEFAULT_PLATFORM
    with RegistryClient(
        insecure=insecure, credentials=load_credentials(), cache=BlobCache(), ca_file=ca_file
    ) as client:
        known, issues = known_bases(client, bases, plat)
        result.issues.extend(issues)
        for spec in specs:
            found = inventory_registry(client, spec, platform=plat, bases=known)
            result.extend(found.uses, found.issues)
            result.sources.append("registry")


def to_csv(result: Inventory) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(
        [
            "reference",
            "role",
            "source",
            "file",
            "line",
            "namespace",
            "kind",
            "name",
            "container",
            "platform",
        ]
    )
    for u in result.uses:
        loc = u.location
        writer.writerow(
            [
                u.reference,
                u.role,
                u.source,
                loc.file or "",
                loc.line or "",
                loc.namespace or "",
                loc.kind or "",
                loc.name or "",
                loc.container or "",
                u.platform or "",
            ]
        )
    return buf.getvalue()


def render_table(result: Inventory, file: Path | None) -> None:
    table = Table(
        title=f"{len(result.counts())} images, {len(result.uses)} uses in "
        f"{result.files_scanned} files",
        title_justify="left",
    )
    table.add_column("Image", overflow="fold")
    table.add_column("Uses", justify="right")
    table.add_column("Roles")
    table.add_column("Where", overflow="fold")
    counts = result.counts()
    for ref in sorted(counts, key=lambda r: (-counts[r], r)):
        uses = [u for u in result.uses if u.reference == ref]
        where = ", ".join(str(u.location) for u in uses[:3])
        if len(uses) > 3:
            where += f", … {len(uses) - 3} more"
        table.add_row(ref, str(counts[ref]), ", ".join(sorted({u.role for u in uses})), where)
    with report_console(file, width=160) as console:
        console.print(table)

"""``baseguard analyze REF``: what an image is made of and how exposed it is."""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from baseguard.cli import options
from baseguard.cli.common import report_console, reported_errors, write_output

if TYPE_CHECKING:
    from baseguard.analysis.analyze import Analysis


class AnalyzeFormat(StrEnum):
    table = "table"
    json = "json"


@options.image_command
def analyze_command(
    ref: str = options.REF,
    output: AnalyzeFormat | None = typer.Option(
        None,
        "--output",
        "-o",
        help="Output format. Default: table on a terminal, json otherwise.",
    ),
    file: Path | None = options.FILE,
    image: options.ImageArgs = options.IMAGE,
) -> None:
    """Analyse an image: distro, shells, package managers, network tools, setuid files,
    user, entrypoint, layers, size and age.

    \b
    REF is written as skopeo and syft users write it:
      registry.example.com/ns/name:tag   a registry image (docker:// and registry: also work)
      name@sha256:DIGEST                 a registry image pinned by digest
      oci:DIR[:TAG]                      an OCI image layout directory
      oci-archive:FILE[:TAG]             a tar of an OCI layout
      docker-archive:FILE[:NAME:TAG|:@N] `docker save` output, gzipped or not
      dir:ROOTFS                         a root filesystem directory
      PATH                               any of the above, detected (also a rootfs tarball)

    \b
    Examples:
      baseguard analyze alpine:3.20
      baseguard analyze oci:./layout:latest -o json --file facts.json
      baseguard analyze docker-archive:app.tar --platform linux/arm64

    Exit codes: 0 analysed, 2 bad input (unknown image, corrupt archive, digest mismatch,
    limit exceeded), 3 internal error.
    """
    with reported_errors():
        fmt = output or (AnalyzeFormat.table if sys.stdout.isatty() else AnalyzeFormat.json)
        result = image.analyze(ref)
        if fmt is AnalyzeFormat.json:
            write_output(json.dumps(result.to_dict(), indent=2), file)
        else:
            render_table(result, file)


def _package_summary(result: Analysis) -> str:
    if not result.packages:
        return "none found"
    counts: dict[str, int] = {}
    for pkg in result.packages:
        counts[pkg.type] = counts.get(pkg.type, 0) + 1
    return ", ".join(f"{n} {t}" for t, n in sorted(counts.items()))


def render_table(result: Analysis, file: Path | None) -> None:
    from rich.table import Table

    from baseguard.analysis.hardening import summary_rows

    ident = result.image
    table = Table(
        title=f"baseguard analyze {ident.reference}", show_header=False, title_justify="left"
    )
    table.add_column("", style="bold")
    table.add_column("", overflow="fold")
    table.add_row("Image", ident.name or ident.reference)
    table.add_row("Source", ident.source)
    digest = ident.manifest_digest or ident.config_digest
    if digest:
        table.add_row("Digest" if ident.manifest_digest else "Image ID", digest)
    table.add_row("Distro", result.distro.display)
    if result.facts is not None:
        for label, value in summary_rows(result.facts):
            table.add_row(label, value)
    table.add_row("Packages", _package_summary(result))
    if result.issues:
        table.add_row("[yellow]Issues[/]", f"{len(result.issues)} file(s) not catalogued (-o json)")
    for warning in result.warnings[:20]:
        table.add_row("[yellow]Warning[/]", warning)
    if len(result.warnings) > 20:
        table.add_row("[yellow]Warning[/]", f"… and {len(result.warnings) - 20} more (-o json)")
    with report_console(file, width=120) as console:
        console.print(table)

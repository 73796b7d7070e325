"""``baseguard compare A B``: two images side by side, every value measured."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.markup import escape
from rich.table import Table

from baseguard.cli import options
from baseguard.cli.common import report_console, reported_errors
from baseguard.cli.recommend import (
    IMAGES,
    OFFLINE,
    OUTPUT,
    ReportFormat,
    measurer_for,
    write_report,
)

if TYPE_CHECKING:
    from baseguard.catalog.compare import Comparison


NOTE = (
    "Attached means present and well-formed, not verified: `baseguard verify` checks "
    "signatures and attestations against a trusted key or identity."
)


def compare_command(
    left: str = typer.Argument(
        ..., metavar="A", help="The first image (any form `analyze` reads)."
    ),
    right: str = typer.Argument(..., metavar="B", help="The second image."),
    vex: list[Path] = typer.Option([], "--vex", help="VEX document to apply (repeatable)."),
    db: Path | None = typer.Option(None, "--db", help="Vulnerability database file."),
    images: Path | None = IMAGES,
    offline: bool = OFFLINE,
    no_attachments: bool = typer.Option(
        False, "--no-attachments", help="Do not ask the registry what is attached."
    ),
    output: ReportFormat | None = OUTPUT,
    file: Path | None = options.FILE,
    platform: str | None = options.PLATFORM,
    insecure: bool = options.INSECURE,
    ca_file: Path | None = options.CA_FILE,
) -> None:
    """Compare two images side by side with measured values.

    Both images are analysed (cached by digest) and scanned with VEX applied: shell,
    package managers, user, size, package count, distro and vulnerabilities by severity.
    For registry images, the signatures, SLSA provenance, SBOM and VEX attached to them are
    listed (attached, not verified); for images read from files or an image store that is
    "unknown".

    \b
    Examples:
      baseguard compare python:3.12-slim cgr.dev/chainguard/python:latest
      baseguard compare alpine:3.10 registry.example.com/base/static-debian12:2025.11 \\
          --images examples/images --offline -o markdown

    Exit codes: 0 compared, 2 an image could not be measured or another input error.
    """
    from baseguard.catalog.compare import compare

    with reported_errors():
        opts = options.open_options(platform, insecure, ca_file)
        with measurer_for(db, vex, images, offline, opts, scan=True) as measurer:
            result = compare(left, right, measurer, look_up_attachments=not no_attachments)
        write_report(
            result, output, file, markdown=to_markdown, table=render_table, warnings=result.warnings
        )


def render_table(result: Comparison, file: Path | None) -> None:
    rows = result.rows()
    table = Table(show_header=True, title="Side by side (measured)", title_justify="left")
    table.add_column("")
    table.add_column("A", overflow="fold")
    table.add_column("B", overflow="fold")
    for row in rows[1:]:
        table.add_row(*(escape(c) for c in row))
    with report_console(file, width=160, record_when_piped=True) as console:
        console.print(f"A: {escape(rows[0][1])}", soft_wrap=True)
        console.print(f"B: {escape(rows[0][2])}", soft_wrap=True)
        console.print(table)
        console.print(escape(NOTE), soft_wrap=True)


def to_markdown(result: Comparison) -> str:
    def cell(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", " ").strip()

    rows = result.rows()
    lines = [
        "# Image comparison",
        "",
        f"| | A: {cell(rows[0][1])} | B: {cell(rows[0][2])} |",
        "|---|---|---|",
    ]
    lines += [f"| {cell(a)} | {cell(b)} | {cell(c)} |" for a, b, c in rows[1:]]
    lines += ["", NOTE, ""]
    return "\n".join(lines)

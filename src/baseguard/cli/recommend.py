"""``baseguard recommend PATH…``: the catalog image to move each base image to, measured."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import typer
from rich.markup import escape
from rich.table import Table

from baseguard.cli import options
from baseguard.cli.common import (
    print_warnings,
    report_console,
    reported_errors,
    write_output,
)

if TYPE_CHECKING:
    from baseguard.catalog.compare import Measurement, Measurer
    from baseguard.catalog.recommend import Choice, Recommendation, RecommendationReport
    from baseguard.image.source import OpenOptions


class ReportFormat(StrEnum):
    """The output formats of ``recommend`` and ``compare``."""

    table = "table"
    json = "json"
    markdown = "markdown"


OUTPUT = typer.Option(
    None, "--output", "-o", help="table (default on a terminal), json or markdown."
)
CATALOG = typer.Option(..., "--catalog", help="The catalog (catalog.yaml) to recommend from.")
IMAGES = typer.Option(
    None,
    "--images",
    help="A local image store (OCI layout with full reference names), read before registries.",
)
OFFLINE = typer.Option(
    False,
    "--offline",
    help="Never contact a registry: images not in --images are reported as not measured.",
)
PREFER = typer.Option(
    [],
    "--prefer",
    metavar="ENTRY",
    help="Put this catalog entry first whenever it qualifies (repeatable, in order).",
)
DATE = typer.Option(
    None,
    "--date",
    metavar="YYYY-MM-DD",
    help="Judge the catalog (lifecycle, EOL, exceptions) as of this date. Default: today.",
)


def recommend_command(
    paths: list[Path] = typer.Argument(..., help="Files or directories of the estate."),
    catalog_file: Path = CATALOG,
    images: Path | None = IMAGES,
    offline: bool = OFFLINE,
    db: Path | None = typer.Option(None, "--db", help="Vulnerability database file."),
    vex: list[Path] = typer.Option([], "--vex", help="VEX document to apply (repeatable)."),
    build_arg: list[str] = typer.Option([], "--build-arg", help="KEY=VALUE (repeatable)."),
    on_date: str | None = DATE,
    prefer: list[str] = PREFER,
    alternatives: int = typer.Option(
        2, "--alternatives", min=0, max=10, help="Also measure this many runner-up entries."
    ),
    output: ReportFormat | None = OUTPUT,
    file: Path | None = options.FILE,
    platform: str | None = options.PLATFORM,
    insecure: bool = options.INSECURE,
    ca_file: Path | None = options.CA_FILE,
) -> None:
    """Recommend a catalog image for every base image the catalog does not approve.

    For each image a Dockerfile builds on whose catalog verdict is not `approved`, pick the
    best catalog entry with the same runtime and major version (the dev variant for build
    stages), then analyse and scan both images and show the measured difference:
    vulnerabilities by severity, shell, package managers, user, size. A candidate that
    cannot be opened is shown as not measured, with the reason.

    \b
    Examples:
      baseguard recommend . --catalog catalog.yaml
      baseguard recommend examples/estate --catalog examples/catalog.yaml \\
          --images examples/images --offline -o markdown

    Exit codes: 0 done (recommendations are advice, not failures), 2 usage or input error.
    """
    from baseguard.catalog.recommend import check_prefer
    from baseguard.catalog.spec import load_catalog
    from baseguard.inventory.scan import inventory_paths

    with reported_errors():
        args = options.parse_build_args(build_arg)
        today = options.parse_day(on_date)
        catalog = load_catalog(catalog_file)
        check_prefer(catalog, prefer)
        inventory = inventory_paths(paths, build_args=args)
        opts = options.open_options(platform, insecure, ca_file)
        with measurer_for(db, vex, images, offline, opts, scan=True) as measurer:
            from baseguard.catalog.recommend import recommend

            report = recommend(
                inventory,
                catalog,
                measurer,
                today=today or measurer.now.date(),
                alternatives=alternatives,
                catalog_source=str(catalog_file),
                prefer=prefer,
            )
        warnings = [*report.inventory_issues, *report.warnings]
        write_report(
            report, output, file, markdown=to_markdown, table=render_table, warnings=warnings
        )


# --------------------------------------------------------------------------- shared helpers


@contextmanager
def measurer_for(
    db: Path | None,
    vex: list[Path],
    images: Path | None,
    offline: bool,
    opts: OpenOptions,
    *,
    scan: bool,
) -> Iterator[Measurer]:
    """A :class:`Measurer` with the analysis cache, the image store and (with ``scan``) the
    vulnerability database open for the duration of the block."""
    from baseguard.catalog.assess import AnalysisCache, default_cache_dir
    from baseguard.catalog.compare import Measurer
    from baseguard.catalog.imagestore import ImageStore
    from baseguard.matching.vex import load_vex
    from baseguard.vulndb.store import VulnDB

    vex_docs = [load_vex(p) for p in vex]
    store = ImageStore(images) if images else None
    vulndb = VulnDB.open(db) if scan else None
    try:
        yield Measurer(
            vulndb,
            vex=vex_docs,
            store=store,
            offline=offline,
            options=opts,
            cache=AnalysisCache(default_cache_dir()),
        )
    finally:
        if vulndb is not None:
            vulndb.close()


class _Report(Protocol):
    def to_dict(self) -> dict[str, Any]: ...


R = TypeVar("R", bound=_Report)


def write_report(
    report: R,
    output: ReportFormat | None,
    file: Path | None,
    *,
    markdown: Callable[[R], str],
    table: Callable[[R, Path | None], None],
    warnings: Iterable[str],
) -> None:
    """Write ``report`` as ``output`` (default: table on a terminal, json otherwise) to
    ``file`` or stdout, then its ``warnings`` on stderr."""
    fmt = output or (ReportFormat.table if sys.stdout.isatty() else ReportFormat.json)
    if fmt is ReportFormat.json:
        write_output(json.dumps(report.to_dict(), indent=2), file)
    elif fmt is ReportFormat.markdown:
        write_output(markdown(report), file)
    else:
        table(report, file)
    print_warnings(warnings)


# --------------------------------------------------------------------------- rendering


def _column(choice: Choice | None, m: Measurement) -> list[str]:
    from baseguard.catalog.compare import measurement_cells

    if choice is None:
        head = ["current", m.reference, "-"]
    else:
        c = choice.candidate
        head = [
            f"{c.entry.id} ({c.variant_name}, {c.entry.state})",
            choice.pinned_reference or f"{c.reference} (no digest to pin)",
            ", ".join(c.why) or "-",
        ]
    return head + measurement_cells(m)


def _rows(rec: Recommendation) -> tuple[list[str], list[list[str]]]:
    from baseguard.catalog.compare import MEASUREMENT_ROWS

    labels = ["Catalog entry", "Reference", "Why", *MEASUREMENT_ROWS]
    columns = [_column(None, rec.current)]
    headers = ["", "Current"]
    if rec.best is not None:
        columns.append(_column(rec.best, rec.best.measurement))
        headers.append("Recommended")
    for i, alt in enumerate(rec.alternatives, start=1):
        columns.append(_column(alt, alt.measurement))
        headers.append(f"Alternative {i}")
    rows = [[label, *(col[i] for col in columns)] for i, label in enumerate(labels)]
    return headers, rows


def _title(rec: Recommendation) -> str:
    stage = "build stage" if rec.want == "dev" else "final stage"
    j = rec.judgement
    return f"{rec.reference} ({stage}; {j.label}: {j.reason})"


def _locations(rec: Recommendation) -> str:
    return ", ".join(sorted({str(u.use.location) for u in rec.uses}))


def _caveats(rec: Recommendation) -> list[str]:
    out = []
    for label, choice in [("recommended", rec.best)] + [
        (f"alternative {i}", a) for i, a in enumerate(rec.alternatives, start=1)
    ]:
        if choice is None:
            continue
        for caveat in choice.caveats:
            out.append(f"{label} {choice.candidate.entry.id}: {caveat}")
    return out


def _summary(report: RecommendationReport) -> str:
    s = report.summary()
    n = s["images"]
    return (
        f"{n} base image{'s' if n != 1 else ''} not approved by {report.catalog_source} "
        f"(as of {report.today.isoformat()}): {s['withRecommendation']} with a recommendation "
        f"({s['measured']} of them measured before and after), {s['withoutRecommendation']} "
        "without."
    )


def render_table(report: RecommendationReport, file: Path | None) -> None:
    with report_console(file, width=180, record_when_piped=True) as console:
        console.print(escape(_summary(report)))
        for rec in report.recommendations:
            console.print()
            console.print(f"[bold]{escape(_title(rec))}[/]", soft_wrap=True)
            console.print(f"  used at: {escape(_locations(rec))}", soft_wrap=True)
            console.print(f"  runtime: {escape(rec.runtime.label)}", soft_wrap=True)
            if rec.best is None:
                console.print(f"  no recommendation: {escape(rec.reason or '')}", soft_wrap=True)
                continue
            headers, rows = _rows(rec)
            table = Table(show_header=True)
            for h in headers:
                table.add_column(h, overflow="fold")
            for row in rows:
                table.add_row(*(escape(c) for c in row))
            console.print(table)
            for caveat in _caveats(rec):
                console.print(f"  caveat: {escape(caveat)}", soft_wrap=True)
        if report.approved:
            console.print()
            console.print(f"Approved base images: {escape(', '.join(report.approved))}")


def to_markdown(report: RecommendationReport) -> str:
    def cell(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", " ")

    lines = ["# Base image recommendations", "", _summary(report), ""]
    for rec in report.recommendations:
        lines += [f"## {cell(rec.reference)}", ""]
        lines.append(f"- **Stage:** {'build' if rec.want == 'dev' else 'final'}")
        lines.append(f"- **Verdict:** {rec.judgement.label}: {cell(rec.judgement.reason)}")
        lines.append(f"- **Used at:** {cell(_locations(rec))}")
        lines.append(f"- **Runtime:** {cell(rec.runtime.label)}")
        lines.append("")
        if rec.best is None:
            lines += [f"No recommendation: {cell(rec.reason or '')}", ""]
            continue
        headers, rows = _rows(rec)
        lines.append("| " + " | ".join(headers) + " |")
        lines.append("|" + "---|" * len(headers))
        for row in rows:
            lines.append("| " + " | ".join(cell(c.strip()) for c in row) + " |")
        caveats = _caveats(rec)
        if caveats:
            lines += ["", "Caveats:", ""] + [f"- {cell(c)}" for c in caveats]
        lines.append("")
    if report.approved:
        lines += ["Approved base images: " + ", ".join(report.approved), ""]
    return "\n".join(lines)

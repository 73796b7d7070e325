"""``baseguard assess PATH…``: the main job. What do we run on, and where to start hardening."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.markup import escape

from baseguard.cli import options
from baseguard.cli.common import (
    EXIT_FINDINGS,
    print_warnings,
    report_console,
    reported_errors,
    show_progress,
    stderr_console,
    write_output,
)

if TYPE_CHECKING:
    from baseguard.catalog.assess import Assessment

#: Highest first, as the assessment counts them (kept here so --help stays fast).
SEVERITIES = ("CRITICAL", "HIGH", "MEDIUM", "LOW", "NEGLIGIBLE", "UNKNOWN")


class AssessFormat(StrEnum):
    table = "table"
    json = "json"
    markdown = "markdown"
    html = "html"


class FailOn(StrEnum):
    critical = "critical"
    high = "high"
    medium = "medium"
    low = "low"


def assess_command(
    paths: list[Path] = typer.Argument(..., help="Files or directories of the estate."),
    output: AssessFormat | None = typer.Option(
        None, "--output", "-o", help="table (default on a terminal), json, markdown or html."
    ),
    file: Path | None = options.FILE,
    vex: list[Path] = typer.Option([], "--vex", help="VEX document to apply (repeatable)."),
    images: Path | None = typer.Option(
        None,
        "--images",
        help="A local image store (OCI layout with full reference names), read before registries.",
    ),
    offline: bool = typer.Option(
        False,
        "--offline",
        help="Never contact a registry: images not in --images are listed as not assessed.",
    ),
    db: Path | None = typer.Option(None, "--db", help="Vulnerability database file."),
    build_arg: list[str] = typer.Option([], "--build-arg", help="KEY=VALUE (repeatable)."),
    workers: int = typer.Option(2, "--workers", min=1, help="Images analysed in parallel."),
    fail_on: FailOn | None = typer.Option(
        None, "--fail-on", help="Exit 1 if any assessed image has a finding at or above this."
    ),
    platform: str | None = options.PLATFORM,
    insecure: bool = options.INSECURE,
    ca_file: Path | None = options.CA_FILE,
    catalog_file: Path | None = typer.Option(
        None,
        "--catalog",
        help="Judge every use against this catalog.yaml: approved, deprecated, retired, …",
    ),
    on_date: str | None = typer.Option(
        None,
        "--date",
        metavar="YYYY-MM-DD",
        help="Judge the catalog as of this date (EOL, exception expiry). Default: today.",
    ),
) -> None:
    """Inventory an estate, analyse and scan each distinct image, and rank them.

    Every image that Dockerfiles build on, compose services run and Kubernetes workloads
    run is analysed once (cached by digest) and scanned against the vulnerability database,
    with VEX applied. The ranking puts first the images with the most KEV, critical and high
    findings: start hardening there.

    \b
    Examples:
      baseguard db update
      baseguard assess ./deploy ./services
      baseguard assess examples/estate --images examples/images --offline
      baseguard assess . -o html --file estate.html --fail-on critical
      baseguard assess . --catalog catalog.yaml -o markdown

    Exit codes: 0 assessed, 1 --fail-on threshold reached, 2 usage or input error.
    """
    from baseguard.catalog.assess import AnalysisCache, assess, default_cache_dir
    from baseguard.catalog.imagestore import ImageStore
    from baseguard.catalog.spec import load_catalog
    from baseguard.errors import UsageError
    from baseguard.inventory.scan import inventory_paths
    from baseguard.matching.vex import load_vex
    from baseguard.vulndb.store import VulnDB

    with reported_errors():
        args = options.parse_build_args(build_arg)
        if on_date is not None and catalog_file is None:
            raise UsageError("--date judges a catalog: give --catalog FILE too")
        today = options.parse_day(on_date)
        catalog = load_catalog(catalog_file) if catalog_file is not None else None
        vex_docs = [load_vex(p) for p in vex]
        store = ImageStore(images) if images else None
        inventory = inventory_paths(paths, build_args=args)
        opts = options.open_options(platform, insecure, ca_file)
        with VulnDB.open(db) as vulndb:
            cache = AnalysisCache(default_cache_dir())
            distinct = len({u.reference for u in inventory.uses})
            result = _run(
                lambda progress: assess(
                    inventory,
                    vulndb,
                    vex=vex_docs,
                    store=store,
                    offline=offline,
                    options=opts,
                    cache=cache,
                    workers=workers,
                    progress=progress,
                    catalog=catalog,
                    catalog_source=str(catalog_file) if catalog_file else None,
                    today=today,
                ),
                distinct,
            )
        fmt = output or (AssessFormat.table if sys.stdout.isatty() else AssessFormat.json)
        if fmt is AssessFormat.json:
            write_output(json.dumps(result.to_dict(), indent=2), file)
        elif fmt is AssessFormat.markdown:
            write_output(to_markdown(result), file)
        elif fmt is AssessFormat.html:
            write_output(to_html(result), file)
        else:
            render_table(result, file)
        print_warnings(result.inventory.issues)
        if fail_on is not None:
            floor = SEVERITIES.index(fail_on.value.upper())
            hit = any(
                image.severity_counts()[s]
                for image in result.assessed
                for s in SEVERITIES[: floor + 1]
            )
            if hit:
                raise typer.Exit(EXIT_FINDINGS)


def _run(
    run: Callable[[Callable[[str, str], None] | None], Assessment], distinct: int
) -> Assessment:
    """Run the assessment, with a progress bar for people on a terminal."""
    if not show_progress():
        return run(None)
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    with Progress(
        TextColumn("assess"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.description}"),
        console=stderr_console(),
        transient=True,
    ) as bars:
        task = bars.add_task("", total=distinct)

        def tick(ref: str, _state: str) -> None:
            bars.update(task, advance=1, description=ref)

        return run(tick)


def _surface(d: dict[str, object]) -> str:
    parts = ["shell" if d["hasShell"] else "no shell"]
    managers = d["packageManagers"] or []
    assert isinstance(managers, list)
    parts.append(", ".join(managers) if managers else "no pkg manager")
    parts.append("root" if d["runsAsRoot"] else "non-root")
    return ", ".join(parts)


def _headers(result: Assessment) -> list[str]:
    """The table's columns: a Verdict column after Uses when judged against a catalog."""
    if result.catalog is None:
        return HEADERS
    return [*HEADERS[:3], "Verdict", *HEADERS[3:]]


def _rows(result: Assessment) -> list[list[str]]:
    rows = []
    for row, image in zip(_base_rows(result), result.images, strict=True):
        if result.catalog is not None:
            worst = image.verdict
            row.insert(3, worst.judgement.label if worst else "-")
        rows.append(row)
    return rows


def _base_rows(result: Assessment) -> list[list[str]]:
    from baseguard.humanize import format_size

    rows = []
    for rank, image in enumerate(result.images, start=1):
        d = image.to_dict()
        if not image.assessed:
            gap = ["-"] * (len(HEADERS) - 4)
            rows.append(
                [
                    str(rank),
                    image.reference,
                    str(len(image.uses)),
                    f"not assessed: {image.error}",
                    *gap,
                ]
            )
            continue
        sev = d["vulnerabilities"]["bySeverity"]
        rows.append(
            [
                str(rank),
                image.reference,
                str(len(image.uses)),
                d["distro"] or "?",
                f"{d['vulnerabilities']['total']} ({sev['critical']}/{sev['high']}/"
                f"{sev['medium']}/{sev['low']})",
                str(d["vulnerabilities"]["fixable"]),
                str(d["vulnerabilities"]["kev"]),
                _surface(d),
                format_size(d["compressedSize"] or None),
            ]
        )
    return rows


HEADERS = [
    "#",
    "Image",
    "Uses",
    "Distro",
    "Vulns (C/H/M/L)",
    "Fixable",
    "KEV",
    "Attack surface",
    "Size",
]
NUMERIC = frozenset({"#", "Uses", "Fixable", "KEV"})


def _summary(result: Assessment) -> str:
    s = result.to_dict()["summary"]
    v = s["vulnerabilities"]
    return (
        f"{s['images']} images ({s['assessed']} assessed) used {s['uses']} times in "
        f"{s['files']} files; {sum(v.values())} findings ({v['critical']} critical, "
        f"{v['high']} high, {v['medium']} medium, {v['low']} low, "
        f"{v['negligible'] + v['unknown']} without a severity); {s['withShell']} with a "
        f"shell, {s['runningAsRoot']} running as root."
    )


def _verdict_lines(result: Assessment) -> list[str]:
    """Uses per catalog verdict, with the files, worst first; empty without a catalog."""
    if result.catalog is None:
        return []
    c = result.catalog
    lines = [
        f"Catalog verdicts ({c.source or 'catalog'}, as of {c.date.isoformat()}, "
        f"{c.entries} entries): {sum(1 for u in c.uses if u.judgement.allowed)} of "
        f"{len(c.uses)} uses allowed."
    ]
    for verdict, data in c.counts().items():
        if data["uses"]:
            labels = sorted({u.judgement.label for u in c.uses if u.verdict.value == verdict})
            lines.append(
                f"  {', '.join(labels)}: {data['uses']} use{'s' if data['uses'] != 1 else ''}"
                f" in {', '.join(data['files'])}"
            )
    for ref in result.build_only:
        from baseguard.catalog.verdicts import worst

        w = worst(c.for_reference(ref))
        if w is not None:
            lines.append(f"  build-only {ref}: {w.judgement.label}")
    return lines


def render_table(result: Assessment, file: Path | None) -> None:
    from rich.table import Table

    table = Table(title="Estate assessment: start hardening at the top", title_justify="left")
    for h in _headers(result):
        widest = max((len(i.reference) for i in result.images), default=10)
        table.add_column(
            h,
            overflow="fold",
            justify="right" if h in NUMERIC else "left",
            min_width=min(widest, 50) if h == "Image" else None,
            no_wrap=h == "Verdict",
        )
    for row in _rows(result):
        table.add_row(*row)
    with report_console(file, width=160, min_piped_width=170) as console:
        console.print(table)
        console.print(_summary(result))
        if result.build_only:
            console.print(f"Build-only images (not scanned): {', '.join(result.build_only)}")
        for line in _verdict_lines(result):
            console.print(escape(line))


def to_markdown(result: Assessment) -> str:
    headers = _headers(result)
    lines = [
        "# Estate assessment",
        "",
        _summary(result),
        "",
        "| " + " | ".join(headers) + " |",
        "|" + "---|" * len(headers),
    ]
    for row in _rows(result):
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in row) + " |")
    lines += ["", "## Where each image is used", ""]
    for image in result.images:
        verdicts = [v.judgement.label for v in image.verdicts] or [""] * len(image.uses)
        lines.append(
            f"- **{image.reference}**: "
            + ", ".join(
                f"`{u.location}` ({u.role}{', ' + label if label else ''})"
                for u, label in zip(image.uses, verdicts, strict=True)
            )
        )
    if result.build_only:
        lines += ["", "Build-only images (not scanned): " + ", ".join(result.build_only)]
    if result.catalog is not None:
        lines += ["", "## Catalog verdicts", "", _verdict_lines(result)[0], ""]
        lines += ["| Verdict | Uses | Files |", "|---|---|---|"]
        for verdict, data in result.catalog.counts().items():
            if data["uses"]:
                lines.append(f"| {verdict} | {data['uses']} | {', '.join(data['files'])} |")
        lines += ["", "| Image | Role | Where | Verdict | Reason |", "|---|---|---|---|---|"]
        for judged in result.catalog.uses:
            cells = [
                judged.use.reference,
                judged.use.role,
                str(judged.use.location),
                judged.judgement.label,
                judged.judgement.reason,
            ]
            lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines) + "\n"


def to_html(result: Assessment) -> str:
    from html import escape as h

    head = "".join(f"<th>{h(x)}</th>" for x in _headers(result))
    body = "".join(
        "<tr>" + "".join(f"<td>{h(c)}</td>" for c in row) + "</tr>" for row in _rows(result)
    )
    verdicts = ""
    if result.catalog is not None:
        cells = [
            (
                j.use.reference,
                j.use.role,
                str(j.use.location),
                j.judgement.label,
                j.judgement.reason,
            )
            for j in result.catalog.uses
        ]
        counts = "".join(
            f"<tr><td>{h(v)}</td><td>{d['uses']}</td><td>{h(', '.join(d['files']))}</td></tr>"
            for v, d in result.catalog.counts().items()
            if d["uses"]
        )
        verdicts = (
            f"<h2>Catalog verdicts</h2><p>{h(_verdict_lines(result)[0])}</p>"
            "<table><thead><tr><th>Verdict</th><th>Uses</th><th>Files</th></tr></thead>"
            f"<tbody>{counts}</tbody></table><table><thead><tr><th>Image</th><th>Role</th>"
            "<th>Where</th><th>Verdict</th><th>Reason</th></tr></thead><tbody>"
            + "".join("<tr>" + "".join(f"<td>{h(c)}</td>" for c in row) + "</tr>" for row in cells)
            + "</tbody></table>"
        )
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>Estate assessment</title>"
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}"
        "th{background:#f3f3f3}</style></head><body>"
        f"<h1>Estate assessment</h1><p>{h(_summary(result))}</p>"
        f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{verdicts}"
        f"<p>Generated {h(result.generated_at.isoformat())} by baseguard.</p></body></html>"
    )

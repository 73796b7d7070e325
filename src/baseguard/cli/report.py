"""``baseguard report``: evidence reports built from the store (``report compliance``)."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path

import typer

from baseguard.cli.common import (
    EXIT_FINDINGS,
    STATE,
    reported_errors,
    stderr_console,
    write_file,
    write_output,
)
from baseguard.cli.store import STORE_OPTION
from baseguard.errors import UsageError

app = typer.Typer(
    help="Evidence reports built from the store.",
    no_args_is_help=True,
    rich_markup_mode=None,
)


class Framework(StrEnum):
    dora = "dora"
    nis2 = "nis2"
    all = "all"


class ReportFormat(StrEnum):
    html = "html"
    pdf = "pdf"
    json = "json"
    markdown = "markdown"


def parse_now(text: str | None) -> datetime | None:
    """``--now``: an ISO 8601 time or date (no zone: UTC); None for the current time."""
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(
            f"--now {text!r} is not an ISO 8601 time",
            hint="for example --now 2026-01-15T12:00:00Z or --now 2026-01-15",
        ) from None
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def write_bytes(data: bytes, file: Path | None) -> None:
    """Write binary output to ``file`` atomically, or to stdout when it is not a terminal."""
    if file is None:
        if sys.stdout.isatty():
            raise UsageError(
                "refusing to write a PDF to the terminal", hint="give --file report.pdf"
            )
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return
    write_file(data, file)


@app.command("compliance")
def compliance_command(
    framework: Framework = typer.Option(
        Framework.all, "--framework", help="dora, nis2 or all (both, with their standards)."
    ),
    db: str | None = STORE_OPTION,
    output: ReportFormat = typer.Option(
        ReportFormat.markdown, "--output", "-o", help="html, pdf, json or markdown."
    ),
    file: Path | None = typer.Option(
        None, "--file", "-f", metavar="OUT", help="Write here (atomically) instead of stdout."
    ),
    now: str | None = typer.Option(
        None,
        "--now",
        metavar="ISO",
        help="Judge as of this time (ISO 8601; default: now). Fixed output for a fixed store.",
    ),
    max_scan_age: int = typer.Option(
        7, "--max-scan-age", min=1, metavar="DAYS", help="Scans older than this are stale."
    ),
    max_assessment_age: int = typer.Option(
        30,
        "--max-assessment-age",
        min=1,
        metavar="DAYS",
        help="An assessment (inventory, coverage) older than this is stale.",
    ),
    fail_on_gap: bool = typer.Option(
        False, "--fail-on-gap", help="Exit 1 when any article's status is gap (report written)."
    ),
) -> None:
    """DORA / NIS2 evidence per article (requirement, control, measured evidence with dates,
    status met / partial / gap) from the store. Exit codes: 0 written, 1 a gap with
    --fail-on-gap (the report is still written), 2 error (bad input, no store)."""
    from baseguard.report.compliance import build_report, render
    from baseguard.report.compliance.evidence import Thresholds
    from baseguard.store import open_store

    with reported_errors():
        moment = parse_now(now)
        thresholds = Thresholds(max_scan_age=max_scan_age, max_assessment_age=max_assessment_age)
        with open_store(db, migrate=False) as store:
            report = build_report(store, framework.value, now=moment, thresholds=thresholds)
        document = render(report, output.value)
        if isinstance(document, bytes):
            write_bytes(document, file)
        else:
            write_output(document, file)
        gaps = report.counts.get("gap", 0)
        if file is not None and not STATE.quiet:
            stderr_console().print(
                f"wrote {file}: {report.counts.get('met', 0)} met, "
                f"{report.counts.get('partial', 0)} partial, {gaps} gap; "
                f"audit head {report.head_text}",
                markup=False,
                highlight=False,
                soft_wrap=True,
            )
        if fail_on_gap and gaps:
            raise typer.Exit(EXIT_FINDINGS)

"""``baseguard audit``: verify the store's hash-chained audit log, and read it."""

from __future__ import annotations

import json

import typer
from rich.table import Table

from baseguard.cli.common import (
    EXIT_FINDINGS,
    reported_errors,
    stdout_console,
    write_output,
)
from baseguard.cli.store import OUTPUT_OPTION, STORE_OPTION, OutputFormat, output_format

app = typer.Typer(
    help=(
        "The audit log: every catalog change, exception, analysis, scan and assessment, with "
        "actor and time, each row chained to the one before by SHA-256."
    ),
    no_args_is_help=True,
    rich_markup_mode=None,
)


@app.command("verify")
def verify_command(
    db: str | None = STORE_OPTION,
    output: OutputFormat | None = OUTPUT_OPTION,
) -> None:
    """Walk the whole chain and name the first edited, inserted, deleted or reordered row.
    Exit codes: 0 intact, 1 tampered, 2 error (no store, unreachable database)."""
    from baseguard.store import open_store

    with reported_errors():
        with open_store(db, migrate=False) as store:
            report = store.verify_audit()
            url = store.display_url
        if output_format(output) is OutputFormat.json:
            write_output(json.dumps({"store": url, **report.to_dict()}, indent=2), None)
        else:
            console = stdout_console()
            console.print(f"store   {url}", markup=False, highlight=False)
            console.print(f"rows    {report.rows}", markup=False, highlight=False)
            console.print(f"head    {report.head or '(empty log)'}", markup=False)
            if report.ok:
                console.print("result  intact", markup=False, highlight=False)
            else:
                first = report.problems[0]
                console.print(
                    f"result  TAMPERED: row {first.row} {first.what}"
                    f" ({len(report.problems)} problem{'s' if len(report.problems) != 1 else ''}"
                    f"{', more not listed' if report.truncated else ''})",
                    markup=False,
                    highlight=False,
                )
                table = Table()
                for column in ("row", "what", "detail"):
                    table.add_column(column, justify="right" if column == "row" else "left")
                for problem in report.problems:
                    table.add_row(
                        "-" if problem.row is None else str(problem.row),
                        problem.what,
                        problem.detail,
                    )
                console.print(table)
        if not report.ok:
            raise typer.Exit(EXIT_FINDINGS)


@app.command("log")
def log_command(
    db: str | None = STORE_OPTION,
    limit: int = typer.Option(20, "--limit", "-n", min=1, help="How many events, newest first."),
    before: int | None = typer.Option(
        None, "--before", metavar="ID", help="Only events older than this row id (paging)."
    ),
    output: OutputFormat | None = OUTPUT_OPTION,
) -> None:
    """Show the newest audit events (id, time, actor, kind, subject). Exit codes: 0 shown,
    2 error."""
    from baseguard.store import open_store

    with reported_errors():
        with open_store(db, migrate=False) as store:
            events = store.audit_events(limit=limit, before_id=before)
        if output_format(output) is OutputFormat.json:
            write_output(json.dumps([e.to_dict() for e in events], indent=2), None)
            return
        table = Table()
        for column in ("id", "time", "actor", "kind", "subject", "hash"):
            table.add_column(column, justify="right" if column == "id" else "left")
        for event in events:
            table.add_row(
                str(event.id), event.time, event.actor, event.kind, event.subject, event.hash[:12]
            )
        stdout_console().print(table)

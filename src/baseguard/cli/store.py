"""``baseguard store``: create or upgrade the store's schema, and show what it holds."""

from __future__ import annotations

import json
import sys
from enum import StrEnum

import typer

from baseguard.cli.common import reported_errors, stdout_console, write_output

app = typer.Typer(
    help=(
        "The store (catalog, analyses, scans, assessments, audit log): a SQLite file by "
        "default, PostgreSQL with --db postgresql://… or $BASEGUARD_DB."
    ),
    no_args_is_help=True,
    rich_markup_mode=None,
)

STORE_OPTION = typer.Option(
    None,
    "--db",
    metavar="URL",
    help=(
        "Store: a path, sqlite:///path or postgresql://user@host/db. Default: $BASEGUARD_DB, "
        "else <user data dir>/baseguard/baseguard.sqlite."
    ),
)


class OutputFormat(StrEnum):
    table = "table"
    json = "json"


def output_format(chosen: OutputFormat | None) -> OutputFormat:
    """``-o`` as given, else a table for a terminal and JSON for a pipe."""
    return chosen or (OutputFormat.table if sys.stdout.isatty() else OutputFormat.json)


OUTPUT_OPTION = typer.Option(None, "--output", "-o", help="table (default on a terminal) or json.")


@app.command("migrate")
def migrate_command(db: str | None = STORE_OPTION) -> None:
    """Create the store, or upgrade its schema to this baseguard's newest revision.
    Exit codes: 0 done, 2 error."""
    from baseguard.store import open_store

    with reported_errors(), open_store(db, migrate=True) as store:
        revision = store.schema_revision()
        stdout_console().print(
            f"store {store.display_url} at schema {revision}", markup=False, highlight=False
        )


@app.command("status")
def status_command(
    db: str | None = STORE_OPTION,
    output: OutputFormat | None = OUTPUT_OPTION,
) -> None:
    """Show where the store is, its schema revision, rows per table and the audit head.
    Exit codes: 0 shown, 2 no store or an error."""
    from baseguard.store import migrations, open_store

    with reported_errors(), open_store(db, migrate=False) as store:
        status = {
            "url": store.display_url,
            "backend": store.backend,
            "schema": store.schema_revision(),
            "schemaHead": migrations.HEAD,
            "rows": store.counts(),
            "auditHead": store.audit_head(),
        }
        if output_format(output) is OutputFormat.json:
            write_output(json.dumps(status, indent=2), None)
            return
        console = stdout_console()
        console.print(f"store      {status['url']}", markup=False, highlight=False)
        console.print(f"schema     {status['schema']}", markup=False, highlight=False)
        console.print(f"audit head {status['auditHead'] or '(empty log)'}", markup=False)
        for table, count in store.counts().items():
            console.print(f"{table:<16} {count:>10}", markup=False, highlight=False)

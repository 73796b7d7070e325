"""``baseguard db``: build, inspect, export and import the vulnerability database."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path

import typer
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from baseguard.cli.common import (
    STATE,
    print_warnings,
    reported_errors,
    show_progress,
    stderr_console,
    stdout_console,
    write_output,
)
from baseguard.humanize import format_age, format_size

app = typer.Typer(
    help=(
        "The vulnerability database: build it from the feeds (`update`), see how fresh it is "
        "(`status`), carry it to air-gapped hosts (`export`, `import`)."
    ),
    no_args_is_help=True,
    rich_markup_mode=None,
)

DB_OPTION = typer.Option(
    None,
    "--db",
    help="Database file. Default: $BASEGUARD_VULNDB, else <user cache>/baseguard/vulndb/.",
)


class StatusFormat(StrEnum):
    table = "table"
    json = "json"


ProgressCallback = Callable[[str, int, int | None], None]


@contextmanager
def _progress() -> Iterator[ProgressCallback | None]:
    """A progress callback drawing bars on stderr, or None when quiet or not a terminal."""
    if not show_progress():
        yield None
        return
    bars = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=stderr_console(),
        transient=True,
    )
    byte_bars = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        console=stderr_console(),
        transient=True,
    )
    tasks: dict[str, tuple[Progress, TaskID]] = {}

    def update(label: str, done: int, total: int | None) -> None:
        if label not in tasks:
            owner = bars if label.startswith("import ") else byte_bars
            description = label if label.startswith("import ") else f"fetch {label}"
            tasks[label] = (owner, owner.add_task(description, total=total))
        owner, task = tasks[label]
        owner.update(task, completed=done, total=total)

    from rich.console import Group
    from rich.live import Live

    with Live(Group(byte_bars, bars), console=stderr_console(), transient=True):
        yield update


@app.command("update")
def update_command(
    mirror: str | None = typer.Option(
        None, "--mirror", metavar="URL", help="Fetch the mirror layout from this web server."
    ),
    from_dir: Path | None = typer.Option(
        None, "--from", metavar="DIR", help="Read the mirror layout from this directory."
    ),
    only: list[str] | None = typer.Option(
        None,
        "--only",
        metavar="SOURCE",
        help="Update only these feeds (repeat or comma-separate): osv, alpine, wolfi, "
        "chainguard, debian, kev, epss. The others are kept from the current database.",
    ),
    db: Path | None = DB_OPTION,
) -> None:
    """Build the vulnerability database from the feeds, and swap it in atomically.

    \b
    Where from:
      (default)        the public feeds: OSV dumps, Alpine secdb, Wolfi and Chainguard
                       security.json, the Debian security tracker, CISA KEV, EPSS
      --mirror URL     a web server holding the mirror layout (see docs/db.md); its
                       index.txt lists the files (with sha256), else known paths are probed
      --from DIR       a directory holding the mirror layout (air-gapped sites)

    \b
    Examples:
      baseguard db update
      baseguard db update --from /srv/vulndb-mirror
      baseguard db update --mirror https://mirror.internal/vulndb --only osv,kev

    Without --only the new database holds exactly the feeds found; feeds the previous one
    had and the new one lacks are named in a warning. Malformed records are skipped and
    counted; a source that cannot be read fails the update and leaves the current
    database untouched. Exit codes: 0 built, 2 failed.
    """
    from baseguard.vulndb.update import update_db

    with reported_errors():
        with _progress() as progress:
            result = update_db(
                db_path=db,
                mirror=mirror,
                from_dir=from_dir,
                only=only,
                progress=progress,
            )
        err = stderr_console()
        for source in result.sources:
            if source.skipped:
                print_warnings(
                    [
                        f"{source.name}: skipped {source.skipped} malformed "
                        f"record{'s' if source.skipped != 1 else ''}"
                    ]
                )
            if source.problems and (source.skipped or STATE.verbose):
                for problem in source.problems[: 5 if not STATE.verbose else None]:
                    err.print(f"  {problem}", markup=False, highlight=False)
        if result.dropped:
            where = from_dir or mirror or "the public feeds"
            print_warnings(
                [
                    f"{', '.join(result.dropped)}: in the previous database but not in "
                    f"{where}, so no longer in {result.path}; to update some feeds and keep "
                    "the others, use --only FEED"
                ]
            )
        if not STATE.quiet:
            kept = (
                f"; kept {', '.join(result.kept)} from the previous database" if result.kept else ""
            )
            err.print(
                f"built {result.path}: {result.advisories} "
                f"advisor{'y' if result.advisories == 1 else 'ies'} from "
                f"{len(result.sources)} source{'' if len(result.sources) == 1 else 's'} "
                f"in {result.seconds:.1f} s{kept}",
                markup=False,
                highlight=False,
            )


@app.command("status")
def status_command(
    output: StatusFormat | None = typer.Option(
        None, "--output", "-o", help="table (default on a terminal) or json."
    ),
    db: Path | None = DB_OPTION,
) -> None:
    """Show when the database was built, how old it is, and what it holds per source and
    ecosystem. Warns when it is older than 7 days. Exit codes: 0 shown, 2 no database."""
    from baseguard.vulndb.store import VulnDB

    with reported_errors():
        fmt = output or (StatusFormat.table if sys.stdout.isatty() else StatusFormat.json)
        with VulnDB.open(db) as vulndb:
            status = vulndb.status()
        now = datetime.now(UTC)
        if status.is_stale(now):
            print_warnings(
                [
                    f"the vulnerability database is {format_age(status.age(now))} old; "
                    "run `baseguard db update`"
                ]
            )
        if fmt is StatusFormat.json:
            write_output(json.dumps(status.to_dict(now), indent=2), None)
            return
        console = stdout_console()
        console.print(f"database   {status.path}", markup=False, highlight=False)
        console.print(
            f"built      {status.built_at.strftime('%Y-%m-%d %H:%M:%S UTC')} "
            f"({format_age(status.age(now))} ago)",
            markup=False,
            highlight=False,
        )
        console.print(
            f"size       {format_size(status.size)}, schema {status.schema_version}",
            markup=False,
            highlight=False,
        )
        console.print(f"advisories {status.advisories}", markup=False, highlight=False)
        sources = Table(title="sources", title_justify="left")
        for column in ("source", "records", "skipped", "fetched", "sha256", "location"):
            sources.add_column(
                column, justify="right" if column in ("records", "skipped") else "left"
            )
        for source in status.sources:
            sources.add_row(
                source.name,
                str(source.records),
                str(source.skipped),
                source.fetched_at.strftime("%Y-%m-%d %H:%M"),
                (source.sha256 or "")[:12],
                source.location,
            )
        console.print(sources)
        ecosystems = Table(title="advisories per ecosystem", title_justify="left")
        ecosystems.add_column("ecosystem")
        ecosystems.add_column("advisories", justify="right")
        for name, count in sorted(status.counts.items()):
            ecosystems.add_row(name, str(count))
        for feed in ("kev", "epss"):
            if status.feeds.get(feed):
                ecosystems.add_row(f"({feed})", str(status.feeds[feed]))
        console.print(ecosystems)


@app.command("export")
def export_command(
    file: Path = typer.Argument(..., help="The file to write (a .tar.gz)."),
    db: Path | None = DB_OPTION,
) -> None:
    """Write the database to one file (a .tar.gz holding the database and a manifest with
    its sha256, size and build time) to carry to an air-gapped host."""
    from baseguard.vulndb.update import export_db

    with reported_errors():
        manifest = export_db(file, db_path=db)
        if not STATE.quiet:
            stderr_console().print(
                f"exported {manifest['advisories']} advisories built {manifest['built_at']} "
                f"to {file} (sha256 {manifest['sha256'][:16]}…)",
                markup=False,
                highlight=False,
            )


@app.command("import")
def import_command(
    file: Path = typer.Argument(..., help="A file written by `baseguard db export`."),
    db: Path | None = DB_OPTION,
) -> None:
    """Install a database exported with `baseguard db export`, after checking its
    manifest, size and sha256. A tampered or damaged file is refused (exit 2) and the
    current database is left as it was."""
    from baseguard.vulndb.update import import_db

    with reported_errors():
        manifest = import_db(file, db_path=db)
        if not STATE.quiet:
            stderr_console().print(
                f"imported {manifest.get('advisories', '?')} advisories built "
                f"{manifest['built_at']} from {file}",
                markup=False,
                highlight=False,
            )


@app.command("mirror-index")
def mirror_index_command(
    directory: Path = typer.Argument(..., help="A directory in the mirror layout."),
) -> None:
    """Write DIR/index.txt (sha256sum format) so that `db update --mirror` can fetch and
    verify exactly these files when DIR is served over HTTP."""
    from baseguard.vulndb.sources import write_index

    with reported_errors():
        index = write_index(directory)
        if not STATE.quiet:
            stderr_console().print(f"wrote {index}", markup=False, highlight=False)

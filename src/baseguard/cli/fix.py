"""``baseguard fix Dockerfile…``: move FROM lines to the recommended catalog image."""

from __future__ import annotations

import sys
from pathlib import Path

import typer
from rich.markup import escape

from baseguard.cli import options
from baseguard.cli.common import (
    EXIT_FINDINGS,
    EXIT_OK,
    EXIT_USAGE,
    STATE,
    reported_errors,
    stderr_console,
)
from baseguard.cli.recommend import (
    CATALOG,
    DATE,
    IMAGES,
    OFFLINE,
    PREFER,
    measurer_for,
)


def fix_command(
    files: list[Path] = typer.Argument(..., help="Dockerfiles (or Containerfiles) to fix."),
    catalog_file: Path = CATALOG,
    write: bool = typer.Option(
        False, "--write", help="Edit the files in place (atomically) instead of printing a diff."
    ),
    images: Path | None = IMAGES,
    offline: bool = OFFLINE,
    on_date: str | None = DATE,
    prefer: list[str] = PREFER,
    insecure: bool = options.INSECURE,
    ca_file: Path | None = options.CA_FILE,
) -> None:
    """Rewrite FROM lines to the recommended catalog image, pinned by digest.

    Each FROM whose image the catalog does not approve is moved to the image `recommend`
    picks (the dev variant in build stages), written as repo:tag@sha256:… . Stage aliases,
    --platform flags, comments, continuation lines and line endings are kept byte for byte;
    FROM ${ARG} rewrites the ARG's default. Nothing is written without a digest, nor where a
    RUN would break on the new image (no shell, no package manager): the warning proposes
    the multi-stage form instead. A file that does not parse is never touched.

    \b
    Examples:
      baseguard fix Dockerfile --catalog catalog.yaml            # print a diff
      baseguard fix Dockerfile --catalog catalog.yaml --write    # edit in place

    Exit codes (like `ruff format --check`): 0 nothing to change (or --write wrote every
    change), 1 changes proposed (diff printed), 2 a file could not be read, parsed or written.
    """
    from baseguard.catalog.fix import fix_file, write_fix
    from baseguard.catalog.recommend import check_prefer
    from baseguard.catalog.spec import load_catalog

    with reported_errors():
        today = options.parse_day(on_date)
        catalog = load_catalog(catalog_file)
        check_prefer(catalog, prefer)
        opts = options.open_options(None, insecure, ca_file)
        with measurer_for(None, [], images, offline, opts, scan=False) as measurer:
            day = today or measurer.now.date()
            results = [fix_file(path, catalog, measurer, day, prefer=prefer) for path in files]
        err = stderr_console()
        failed = False
        proposed = False
        for result in results:
            if result.error is not None:
                failed = True
                err.print(f"[bold red]error:[/] {escape(result.error)}", soft_wrap=True)
                continue
            for note in result.notes:
                if note.level == "warning":  # -q drops notes, never warnings
                    err.print(f"[yellow]{escape(str(note))}[/]", soft_wrap=True)
                elif not STATE.quiet:
                    err.print(f"[cyan]{escape(str(note))}[/]", soft_wrap=True)
            if not result.changed:
                continue
            if write:
                try:
                    write_fix(result)
                except Exception as exc:  # one file failing must not stop the others
                    failed = True
                    message = getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
                    err.print(f"[bold red]error:[/] {escape(message)}", soft_wrap=True)
                    continue
                if not STATE.quiet:
                    err.print(
                        f"wrote {escape(result.display)} ({len(result.changes)} change"
                        f"{'s' if len(result.changes) != 1 else ''})"
                    )
            else:
                proposed = True
                sys.stdout.flush()
                sys.stdout.buffer.write(result.diff().encode("utf-8"))
                sys.stdout.buffer.flush()
        code = EXIT_USAGE if failed else EXIT_FINDINGS if proposed else EXIT_OK
        if code:
            raise typer.Exit(code)

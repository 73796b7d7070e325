"""``baseguard check [PATH…]``: the CI gate. Judge every image use against the catalog."""

from __future__ import annotations

import json
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.markup import escape
from rich.table import Table

from baseguard.cli import options
from baseguard.cli.common import (
    STATE,
    print_warnings,
    report_console,
    reported_errors,
    stderr_console,
    write_output,
)

if TYPE_CHECKING:
    from baseguard.gate.check import CheckResult, ImageVulnerabilities
    from baseguard.inventory.model import Inventory


class CheckFormat(StrEnum):
    table = "table"
    json = "json"
    sarif = "sarif"


def check_command(
    paths: list[Path] = typer.Argument(
        None, help="Dockerfiles, compose files, Kubernetes manifests or directories. Default: ."
    ),
    catalog_file: Path = typer.Option(
        Path("catalog.yaml"), "--catalog", "-c", help="The catalog file.", show_default=True
    ),
    fail_on: list[str] = typer.Option(
        [],
        "--fail-on",
        metavar="VALUE[,VALUE…]",
        help="Fail (exit 1) when a use has one of these verdicts: not-in-catalog, retired, "
        "past-eol, dev-variant-in-production, proposed, deprecated, excepted; is not pinned by "
        "digest (digest-required, as the webhook requires); or, with --db, "
        "when its image has a critical (critical) or high-or-worse (high) vulnerability. "
        "Comma-separated or repeated; 'none' reports only. "
        "Default: not-in-catalog,retired,past-eol.",
    ),
    output: CheckFormat = typer.Option(
        CheckFormat.table, "--output", "-o", help="table, json or sarif (GitHub code scanning)."
    ),
    file: Path | None = options.FILE,
    on_date: str | None = typer.Option(
        None,
        "--date",
        metavar="YYYY-MM-DD",
        help="Judge as of this date (EOL, exception expiry). Default: today.",
    ),
    root: Path | None = typer.Option(
        None,
        "--root",
        exists=True,
        file_okay=False,
        help="Repository root that file names in the output are relative to. Default: the "
        "working directory.",
    ),
    build_arg: list[str] = typer.Option([], "--build-arg", help="KEY=VALUE (repeatable)."),
    db: Path | None = typer.Option(
        None,
        "--db",
        help="Vulnerability database file: scan the running images (needed for --fail-on "
        "critical/high).",
    ),
    images: Path | None = typer.Option(
        None,
        "--images",
        help="A local image store (OCI layout with full reference names), read before "
        "registries when scanning.",
    ),
    offline: bool = typer.Option(
        False, "--offline", help="Never contact a registry when scanning (needs --images)."
    ),
    platform: str | None = options.PLATFORM,
    insecure: bool = options.INSECURE,
    ca_file: Path | None = options.CA_FILE,
) -> None:
    """Judge every image use in the given files against the catalog; fail the build on policy.

    Each FROM line of a Dockerfile, service image of a compose file and container, init
    container and ephemeral container of a Kubernetes manifest gets the catalog's verdict:
    approved, deprecated, excepted-until-DATE, proposed, dev-variant-in-production,
    past-EOL, retired or not-in-catalog. SARIF results sit on the FROM or image: line.

    \b
    Examples:
      baseguard check . --catalog catalog.yaml
      baseguard check Dockerfile deploy/ --fail-on not-in-catalog,retired,past-eol,deprecated
      baseguard check . -o sarif --file baseguard.sarif
      baseguard check . --db vulndb.sqlite --fail-on retired,critical

    Exit codes: 0 passed, 1 a use tripped --fail-on, 2 usage or input error (unreadable
    catalog, missing path, --fail-on critical/high without --db, an image that could not
    be scanned), 3 internal error.
    """
    from baseguard.catalog.spec import load_catalog
    from baseguard.errors import UsageError
    from baseguard.gate.check import (
        DEFAULT_FAIL_ON,
        SEVERITY_FAIL_ON,
        check,
        collect_uses,
        needs_scan,
        parse_fail_on,
    )

    with reported_errors():
        wanted = parse_fail_on(fail_on) if fail_on else DEFAULT_FAIL_ON
        if needs_scan(wanted) and db is None:
            named = ",".join(v for v in wanted if v in SEVERITY_FAIL_ON)
            raise UsageError(
                f"--fail-on {named} needs a vulnerability scan of the images",
                hint="give --db FILE (built by `baseguard db update`), and --images DIR "
                "--offline for images that are not in a registry",
            )
        if offline and images is None:
            raise UsageError("--offline scans only images in --images: give --images DIR")
        args = options.parse_build_args(build_arg)
        today = options.parse_day(on_date) or date.today()
        catalog = load_catalog(catalog_file)
        inventory = collect_uses(paths or [Path(".")], root=root or Path("."), build_args=args)
        vulnerabilities = None
        if db is not None:
            vulnerabilities = _scan(inventory, db, images, offline, platform, insecure, ca_file)
        result = check(
            inventory,
            catalog,
            today=today,
            fail_on=wanted,
            catalog_source=str(catalog_file),
            vulnerabilities=vulnerabilities,
        )
        if output is CheckFormat.json:
            write_output(json.dumps(result.to_dict(), indent=2), file)
        elif output is CheckFormat.sarif:
            from baseguard.gate.sarif import render_sarif

            write_output(render_sarif(result), file)
        else:
            render_table(result, file)
        print_warnings(result.issues)
        if not STATE.quiet:
            err = stderr_console()
            if output is not CheckFormat.table or file is not None:
                err.print(escape(result.summary()), soft_wrap=True)
        if result.exit_code:
            raise typer.Exit(result.exit_code)


def _scan(
    inventory: Inventory,
    db: Path,
    images: Path | None,
    offline: bool,
    platform: str | None,
    insecure: bool,
    ca_file: Path | None,
) -> dict[str, ImageVulnerabilities]:
    from baseguard.catalog.imagestore import ImageStore
    from baseguard.gate.check import scan_images
    from baseguard.vulndb.store import VulnDB

    opts = options.open_options(platform, insecure, ca_file)
    with VulnDB.open(db) as vulndb:
        return scan_images(
            inventory,
            vulndb,
            store=ImageStore(images) if images else None,
            offline=offline,
            options=opts,
        )


def _rows(result: CheckResult) -> list[list[str]]:
    rows = []
    for checked in result.uses:
        loc = checked.use.location
        where = f"{loc.file}:{loc.line}" if loc.file and loc.line else str(loc)
        reason = checked.judgement.reason
        if checked.replacement is not None:
            reason += f"; use {checked.replacement.text()}"
        severity = checked.severity_text()
        if severity is not None:
            reason = f"{severity}; {reason}"
        if "digest-required" in checked.failures:
            reason = f"not pinned by digest; {reason}"
        row = [
            "FAIL" if checked.failing else "ok",
            where,
            checked.use.reference,
            checked.use.role,
            checked.judgement.label,
        ]
        if result.scanned:
            v = checked.vulnerabilities
            row.append(f"{v.counts.get('CRITICAL', 0)}/{v.counts.get('HIGH', 0)}" if v else "-")
        row.append(reason)
        rows.append(row)
    return rows


def render_table(result: CheckResult, file: Path | None) -> None:
    """The uses as a table, failing ones marked, and the one-line summary."""
    headers = ["", "Where", "Image", "Role", "Verdict"]
    if result.scanned:
        headers.append("Crit/High")
    headers.append("Why")
    table = Table(title="baseguard check", title_justify="left")
    for h in headers:
        table.add_column(h, overflow="fold", no_wrap=h in ("", "Verdict", "Role"))
    for row in _rows(result):
        style = "bold red" if row[0] == "FAIL" else None
        table.add_row(*(escape(c) for c in row), style=style)
    with report_console(file, width=160, min_piped_width=160) as console:
        if result.uses:
            console.print(table)
        console.print(escape(result.summary()))

"""``baseguard scan REF|SBOM``: the vulnerabilities of an image or SBOM, with VEX applied."""

from __future__ import annotations

import shutil
import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from baseguard.cli import options
from baseguard.cli import verify as verify_cli
from baseguard.cli.common import (
    EXIT_FINDINGS,
    print_warnings,
    reported_errors,
    stderr_console,
    write_output,
)

if TYPE_CHECKING:
    from baseguard.analysis.analyze import Analysis

FORMATS = ("table", "json", "sarif", "cyclonedx-vex", "markdown")
#: A database older than this is reported (the scan still runs).
STALE_DAYS = 7


class FailOn(StrEnum):
    critical = "critical"
    high = "high"
    medium = "medium"
    low = "low"
    negligible = "negligible"


def looks_like_sbom(path: Path) -> bool:
    """A JSON, XML or SPDX tag-value file (not an image archive), judged by its first bytes."""
    try:
        with path.open("rb") as fh:
            head = fh.read(512)
    except OSError:
        return False
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    return text[:1] in (b"{", b"<") or text.startswith((b"SPDXVersion", b"##"))


@options.image_command
def scan_command(
    ref: str = typer.Argument(
        ..., metavar="TARGET", help="An image (as for `analyze`) or an SBOM file."
    ),
    vex: list[Path] = typer.Option(
        [],
        "--vex",
        help="OpenVEX, CSAF 2.0 VEX or CycloneDX VEX document to apply; repeatable.",
    ),
    vex_from_image: bool = verify_cli.VEX_FROM_IMAGE,
    vex_key: Path | None = verify_cli.VEX_KEY,
    vex_identity: str | None = verify_cli.VEX_IDENTITY,
    vex_issuer: str | None = verify_cli.VEX_ISSUER,
    vex_trusted_root: Path | None = verify_cli.VEX_TRUSTED_ROOT,
    fail_on: FailOn | None = typer.Option(
        None,
        "--fail-on",
        help="Exit 1 if a finding VEX leaves is at or above this severity.",
    ),
    only_fixed: bool = typer.Option(
        False, "--only-fixed", help="Hide findings that have no fixed version yet."
    ),
    show_suppressed: bool = typer.Option(
        False,
        "--show-suppressed",
        help="Also list findings VEX or the distro suppressed, with the justification.",
    ),
    db_path: Path | None = typer.Option(
        None,
        "--db",
        help="Vulnerability database file. Default: the user cache (or $BASEGUARD_VULNDB).",
    ),
    output: str | None = typer.Option(
        None,
        "--output",
        "-o",
        help="table, json, sarif, cyclonedx-vex or markdown. "
        "Default: table on a terminal, json otherwise.",
    ),
    file: Path | None = options.FILE,
    image: options.ImageArgs = options.IMAGE,
) -> None:
    """Find the vulnerabilities of an image or an SBOM, apply VEX, and gate on severity.

    \b
    REF is any image form `baseguard analyze` takes (registry, oci:, oci-archive:,
    docker-archive:, dir:, a path). A file that holds an SBOM (CycloneDX or SPDX, JSON
    or XML or tag-value, or baseguard's own JSON) is scanned without touching an image.

    \b
    Distro packages are matched against their own release's data by source package;
    language packages against PyPI, npm, Go and Maven advisories. Every finding says which
    advisory and range matched. VEX `not_affected` and `fixed` statements suppress a
    finding (--show-suppressed lists them); `affected` and `under_investigation` annotate.

    \b
    Examples:
      baseguard scan alpine:3.20
      baseguard scan bom.cdx.json --vex vendor.openvex.json --fail-on high
      baseguard scan registry.example.com/app:1.2 --vex-from-image --vex-key vendor.pub
      baseguard scan oci:./layout -o sarif --file results.sarif
      baseguard scan app.tar --only-fixed -o markdown >> "$GITHUB_STEP_SUMMARY"

    A database older than 7 days gives a warning on stderr; the scan still runs.

    Exit codes: 0 no finding at or above --fail-on (or no --fail-on), 1 at least one such
    finding left after VEX, 2 bad input (unknown image, malformed SBOM or VEX, no
    database: run `baseguard db update`), 3 internal error.
    """
    from baseguard.errors import UsageError

    with reported_errors():
        fmt_name = output or ("table" if sys.stdout.isatty() and file is None else "json")
        if fmt_name not in FORMATS:
            raise UsageError(
                f"unknown output format {fmt_name!r}", hint=f"choose one of: {', '.join(FORMATS)}"
            )
        from baseguard.matching.matcher import match
        from baseguard.matching.vex import load_vex
        from baseguard.report.base import RenderOptions, scan_format
        from baseguard.vulndb.store import VulnDB

        formatter = scan_format(fmt_name)
        documents = [load_vex(p) for p in vex]
        if vex_from_image:
            documents += verify_cli.image_vex_documents(
                ref,
                vex_key,
                vex_identity,
                vex_issuer,
                vex_trusted_root,
                insecure=image.insecure,
                ca_file=image.ca_file,
            )
        db = VulnDB.open(db_path)
        try:
            analysis = _load_target(ref, image)
            result = match(analysis, db, vex=documents)
        finally:
            db.close()

        err = stderr_console()
        if result.db_age is not None and result.db_age.days >= STALE_DAYS:
            from baseguard.humanize import format_age

            print_warnings(
                [
                    f"the vulnerability database is {format_age(result.db_age)} old; "
                    "run `baseguard db update` for current data"
                ]
            )
        print_warnings(result.warnings)

        shown = result.only_fixed() if only_fixed else result
        to_terminal = file is None and sys.stdout.isatty()
        width = shutil.get_terminal_size((120, 24)).columns if to_terminal else 120
        text = formatter.render(
            shown,
            RenderOptions(show_suppressed=show_suppressed, color=to_terminal, width=width),
        )
        write_output(text, file)
        if fail_on is not None:
            failing = shown.at_or_above(fail_on.value)
            if failing:
                err.print(
                    f"{len(failing)} finding(s) at or above {fail_on.value} "
                    f"(--fail-on {fail_on.value})",
                    highlight=False,
                    soft_wrap=True,
                )
                raise typer.Exit(EXIT_FINDINGS)


def _load_target(ref: str, image: options.ImageArgs) -> Analysis:
    path = Path(ref)
    if path.is_file() and looks_like_sbom(path):
        from baseguard.sbom.read import read_sbom

        return read_sbom(path)
    return image.analyze(ref)

"""The ``baseguard`` command: global options and the command groups.

Commands only parse arguments and render results; the work is done by library functions
that return values and raise :class:`~baseguard.errors.BaseguardError`.
"""

from __future__ import annotations

import typer

from baseguard import __version__
from baseguard.cli import analyze, assess, compare, db, fix, inventory, recommend, sbom
from baseguard.cli import audit as audit_cli
from baseguard.cli import catalog as catalog_cli
from baseguard.cli import check as check_cli
from baseguard.cli import policy as policy_cli
from baseguard.cli import push as push_cli
from baseguard.cli import report as report_cli
from baseguard.cli import scan as scan_cli
from baseguard.cli import serve as serve_cli
from baseguard.cli import store as store_cli
from baseguard.cli import token as token_cli
from baseguard.cli import verify as verify_cli
from baseguard.cli import watch as watch_cli
from baseguard.cli.common import STATE

app = typer.Typer(
    name="baseguard",
    help=(
        "A governed catalog of hardened container base images: inventory, analysis, "
        "catalog, enforcement and evidence.\n\n"
        "Exit codes: 0 ok, 1 findings or policy failure, 2 usage or input error, "
        "3 internal error."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"baseguard {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    verbose: int = typer.Option(
        0, "--verbose", "-v", count=True, help="More detail; -v shows tracebacks on errors."
    ),
    quiet: bool = typer.Option(
        False,
        "--quiet",
        "-q",
        help="No progress bars or notes (warnings and errors are still printed).",
    ),
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Global options."""
    STATE.verbose = verbose
    STATE.quiet = quiet


app.command(name="analyze")(analyze.analyze_command)
app.command(name="sbom")(sbom.sbom_command)
app.add_typer(db.app, name="db")
app.add_typer(store_cli.app, name="store")
app.add_typer(audit_cli.app, name="audit")
app.command(name="scan")(scan_cli.scan_command)
app.command(name="inventory")(inventory.inventory_command)
app.command(name="assess")(assess.assess_command)
app.add_typer(catalog_cli.app, name="catalog")
app.add_typer(policy_cli.app, name="policy")
app.command(name="verify")(verify_cli.verify_command)
app.command(name="check")(check_cli.check_command)
app.command(name="serve")(serve_cli.serve_command)
app.command(name="push")(push_cli.push_command)
app.add_typer(token_cli.app, name="token")
app.add_typer(report_cli.app, name="report")
app.command(name="recommend")(recommend.recommend_command)
app.command(name="compare")(compare.compare_command)
app.command(name="fix")(fix.fix_command)
app.command(name="watch")(watch_cli.watch_command)
app.command(name="worker")(watch_cli.worker_command)


def run() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    run()

"""``baseguard token``: API tokens of the service (create, list, revoke), kept in the store."""

from __future__ import annotations

import getpass
import json

import typer

from baseguard.cli.common import reported_errors, stdout_console
from baseguard.cli.store import STORE_OPTION

app = typer.Typer(
    help="API tokens for `baseguard serve` (roles: viewer, uploader, approver, admin).",
    no_args_is_help=True,
    rich_markup_mode=None,
)


def _actor() -> str:
    try:
        return getpass.getuser() or "cli"
    except (KeyError, OSError):
        return "cli"


@app.command("create")
def create_command(
    role: str = typer.Option(
        ...,
        "--role",
        help="viewer (read), uploader (read and push analyses: CI), approver (also approve "
        "catalog entries and exceptions) or admin (everything, tokens too).",
    ),
    name: str = typer.Option(
        ..., "--name", help="Who holds it; the audit log names its writes by it."
    ),
    db: str | None = STORE_OPTION,
) -> None:
    """Create a token and print it once (the store keeps only its hash).

    \b
    Example:
      baseguard token create --role uploader --name ci-github
      export BASEGUARD_TOKEN=bgt_…   # then: baseguard push IMAGE --server URL

    Exit codes: 0 created, 2 bad role, name taken or store error.
    """
    from baseguard.store import open_store
    from baseguard.store.tokens import create_token

    with reported_errors(), open_store(db) as store:
        secret = create_token(store, name, role, actor=_actor())
        typer.echo(secret)


@app.command("list")
def list_command(db: str | None = STORE_OPTION) -> None:
    """List tokens (name, role, when made, by whom, revoked) as JSON lines; never secrets."""
    from baseguard.store import open_store
    from baseguard.store.tokens import list_tokens

    with reported_errors(), open_store(db) as store:
        for token in list_tokens(store):
            typer.echo(json.dumps(token.to_dict()))


@app.command("revoke")
def revoke_command(
    name: str = typer.Argument(..., help="The token's name."),
    db: str | None = STORE_OPTION,
) -> None:
    """Revoke a token: it stops working at once. Exit codes: 0 revoked, 2 no such token."""
    from baseguard.errors import UsageError
    from baseguard.store import open_store
    from baseguard.store.tokens import revoke_token

    with reported_errors(), open_store(db) as store:
        if not revoke_token(store, name, actor=_actor()):
            raise UsageError(f"no live token called {name!r}")
        stdout_console().print(f"revoked {name}", markup=False, highlight=False)

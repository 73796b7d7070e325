"""``baseguard catalog``: the catalog of approved base images, as code, mirrored into the store.

The commands only parse arguments, call :mod:`baseguard.catalog.spec` and
:mod:`baseguard.catalog.lifecycle`, and render. Every edit keeps the file's comments and key
order, is validated as the text to be written, and replaces the file atomically; then it is
mirrored into the store (entry or exception, and an audit event) unless ``--no-store``. If
mirroring fails the previous file is put back, so a failed command changes nothing.
"""

from __future__ import annotations

import getpass
import importlib
import json
import os
from collections.abc import Callable, Iterable
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import typer
from rich.markup import escape
from rich.table import Table

from baseguard.cli import options
from baseguard.cli.common import (
    STATE,
    print_warnings,
    reported_errors,
    stderr_console,
    stdout_console,
)

if TYPE_CHECKING:
    from baseguard.catalog.model import CatalogEntry, CatalogException

app = typer.Typer(
    help=(
        "The catalog of approved base images (catalog.yaml): create and check it, list and "
        "show entries, add entries, move them through their lifecycle (approve, deprecate, "
        "retire) and grant time-limited exceptions."
    ),
    no_args_is_help=True,
    rich_markup_mode=None,
)

CATALOG = typer.Option(
    Path("catalog.yaml"), "--catalog", "-c", help="The catalog file.", show_default=True
)
ACTOR = typer.Option(
    None,
    "--actor",
    help="Who makes the change, recorded in the file and the audit log. Default: $USER.",
)
DB = typer.Option(
    None,
    "--db",
    help="Store to mirror the edit into (sqlite:///FILE or postgresql://…). "
    "Default: $BASEGUARD_DB, else a SQLite file in the user data directory.",
)
NO_STORE = typer.Option(False, "--no-store", help="Edit the file only; do not mirror the edit.")
ON = typer.Option(
    None, "--date", metavar="YYYY-MM-DD", help="Date to record for the change. Default: today."
)
REASON = typer.Option(None, "--reason", help="Why (recorded in the lifecycle history).")


class Format(StrEnum):
    table = "table"
    json = "json"


# --------------------------------------------------------------------------- helpers


def _actor(actor: str | None) -> str:
    from baseguard.errors import UsageError

    name = actor or os.environ.get("USER") or os.environ.get("LOGNAME")
    if not name:
        try:
            name = getpass.getuser()
        except Exception:  # no user database entry (some containers)
            name = None
    if not name or not name.strip():
        raise UsageError("who is making this change?", hint="pass --actor NAME")
    return name.strip()


def _today(text: str | None, option: str = "--date") -> date:
    return options.parse_day(text, option) or date.today()


def _note(text: str) -> None:
    if not STATE.quiet:
        stderr_console().print(f"[yellow]note:[/] {escape(text)}", soft_wrap=True)


def _done(text: str) -> None:
    stdout_console().print(escape(text), soft_wrap=True)


def _load_store() -> Any | None:
    """The store module, or None while this baseguard has none (``baseguard.store``)."""
    from baseguard.catalog.model import CatalogError

    try:
        return importlib.import_module("baseguard.store")
    except ModuleNotFoundError as exc:
        if exc.name in {"baseguard.store", "baseguard"}:
            return None
        raise CatalogError(
            f"the store cannot be loaded: module {exc.name} is missing",
            hint="reinstall baseguard with its dependencies, or pass --no-store",
        ) from None


def _mirror(
    module: Any,
    *,
    db: str | None,
    actor: str,
    event: tuple[str, str, dict[str, Any]],
    entries: Iterable[dict[str, Any]] = (),
    exceptions: Iterable[dict[str, Any]] = (),
    written: list[str] | None = None,
) -> None:
    """Open the store (``db``), write ``entries``, ``exceptions`` and then the audit ``event``
    (kind, subject, data) into it, and close it; ``written`` collects the writes that
    succeeded."""
    done = [] if written is None else written
    store = module.open_store(db)
    try:
        for entry in entries:
            store.upsert_catalog_entry(entry, actor)
            done.append("entry")
        for exception in exceptions:
            store.upsert_exception(exception, actor)
            done.append("exception")
        store.record_event(*event, actor)
        done.append("event")
    finally:
        store.close()


def save_and_mirror(
    doc: Any,
    *,
    db: str | None,
    no_store: bool,
    actor: str,
    kind: str,
    subject: str,
    data: dict[str, Any],
    entry: dict[str, Any] | None = None,
    exception: dict[str, Any] | None = None,
) -> bool:
    """Write the edited catalog, then mirror the edit into the store (entry or exception,
    then an audit event). Call it holding the catalog's lock.

    A failed edit loses nothing: when mirroring fails the previous file is put back
    (atomically) and the error says nothing was changed. Returns False (after a note) when
    mirroring is skipped (``--no-store``, or no store in this baseguard).
    """
    from baseguard.catalog.model import CatalogError
    from baseguard.catalog.spec import write_atomic
    from baseguard.errors import BaseguardError

    catalog_file: Path = doc.path
    module = None if no_store else _load_store()
    previous = doc.original
    doc.save()
    if no_store:
        return False
    if module is None:
        _note("this baseguard has no store yet; the change is in the catalog file only")
        return False
    written: list[str] = []
    try:
        _mirror(
            module,
            db=db,
            actor=actor,
            event=(kind, subject, data),
            entries=[] if entry is None else [entry],
            exceptions=[] if exception is None else [exception],
            written=written,
        )
    except BaseException as exc:
        if "event" in written and isinstance(exc, Exception):
            # Every write landed; only closing the store failed. The edit stands in both.
            message = getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
            print_warnings(
                [
                    f"the edit is in {catalog_file} and the store, but closing the "
                    f"store afterwards failed: {message}"
                ]
            )
            return True
        try:
            write_atomic(catalog_file, previous)
        except CatalogError as undo:
            if not isinstance(exc, BaseguardError):
                raise
            raise CatalogError(
                f"{catalog_file} was updated, but mirroring into the store failed "
                f"({exc.message}) and putting the previous file back failed too: {undo.message}",
                hint="undo the edit in the file by hand, or fix the store (--db) and run "
                f"`baseguard catalog sync --catalog {catalog_file}`",
            ) from exc
        if not isinstance(exc, BaseguardError):
            raise
        if written:
            raise CatalogError(
                f"{catalog_file} was left unchanged, but mirroring into the store failed "
                f"part way ({exc.message}): the store may hold part of the edit",
                hint=f"run `baseguard catalog sync --catalog {catalog_file}` to make the "
                "store match the file again",
            ) from exc
        raise CatalogError(
            f"nothing was changed: mirroring the edit into the store failed: {exc.message}",
            hint=(f"{exc.hint}; " if exc.hint else "check the store given by --db; ")
            + "or pass --no-store to edit the file only and run `baseguard catalog sync` later",
        ) from exc
    return True


_Item = TypeVar("_Item", "CatalogEntry", "CatalogException")


def _parsed(
    from_dict: Callable[[dict[str, Any], tuple[str, ...]], _Item],
    data: dict[str, Any],
    command: str,
    item_id: str,
) -> _Item:
    """``data`` read as an entry or exception, or an error naming ``catalog COMMAND ID``."""
    from baseguard.catalog.model import CatalogError, CatalogValidationError

    try:
        return from_dict(data, (command,))
    except CatalogValidationError as exc:
        raise CatalogError(f"catalog {command} {item_id}: {exc.message}", hint=exc.hint) from None


def _add(
    item: CatalogEntry | CatalogException,
    *,
    catalog: Path,
    db: str | None,
    no_store: bool,
    actor: str,
    data: dict[str, Any],
) -> None:
    """Add a new entry or exception to the catalog file and mirror it, with an audit event
    ``catalog.entry.add`` or ``catalog.exception.add`` whose data is the file and ``data``."""
    from baseguard.catalog.model import CatalogEntry
    from baseguard.catalog.spec import CatalogDocument, locked

    with locked(catalog):
        doc = CatalogDocument.load(catalog)
        if isinstance(item, CatalogEntry):
            doc.add_entry(item)
            kind, entry, exception = "entry", item.to_dict(), None
        else:
            doc.add_exception(item)
            kind, entry, exception = "exception", None, item.to_dict()
        save_and_mirror(
            doc,
            db=db,
            no_store=no_store,
            actor=actor,
            kind=f"catalog.{kind}.add",
            subject=item.id,
            data={"file": str(catalog), **data},
            entry=entry,
            exception=exception,
        )


def _entry_rows(entry: Any) -> list[tuple[str, str]]:
    d = entry.to_dict()
    rows = [
        ("id", entry.id),
        ("state", _state(entry)),
        ("provider", entry.provider),
        ("repository", entry.repository),
        ("tags", ", ".join(entry.tags) or "-"),
        ("digests", ", ".join(entry.digests) or "-"),
    ]
    for v in entry.variants:
        flavour = "dev: build stages only" if v.dev else "runtime"
        if v.dev and entry.dev_in_production:
            flavour = "dev: allowed in production"
        rows.append((f"variant {v.name}", f"{', '.join((*v.tags, *v.digests))} ({flavour})"))
    if entry.runtime:
        rt = entry.runtime
        rows.append(("runtime", " ".join(x for x in (rt.name, rt.version, rt.libc) if x)))
    rows.append(("owner", f"{entry.owner.team} <{entry.owner.contact}>" if entry.owner else "-"))
    rows.append(("eol", entry.eol.isoformat() if entry.eol else "-"))
    sla = d["patch_sla"] or {}
    rows.append(("patch SLA", ", ".join(f"{k} {v}" for k, v in sla.items()) or "-"))
    att = entry.attestations
    if att:
        parts = []
        if att.signature:
            sig = att.signature
            parts.append(
                f"signature key {sig.key}"
                if sig.key
                else f"keyless signature {sig.identity} ({sig.issuer})"
            )
        if att.slsa_level is not None:
            parts.append(f"SLSA level {att.slsa_level}")
        parts += [x for x, on in (("SBOM", att.sbom), ("VEX", att.vex)) if on]
        rows.append(("attestations", "; ".join(parts) or "-"))
    if entry.replaced_by:
        rows.append(("replaced by", entry.replaced_by))
    for step in entry.lifecycle.history:
        why = f" ({step.reason})" if step.reason else ""
        rows.append(("history", f"{step.date} {step.state} by {step.actor}{why}"))
    if entry.notes:
        rows.append(("notes", entry.notes))
    return rows


def _state(entry: Any) -> str:
    since = entry.lifecycle.since()
    return f"{entry.state} since {since}" if since else entry.state


# --------------------------------------------------------------------------- commands


@app.command("init")
def init_command(
    catalog: Path = CATALOG,
    force: bool = typer.Option(False, "--force", help="Replace an existing file."),
) -> None:
    """Write a new, empty catalog file with comments explaining it.

    Exit codes: 0 written, 2 the file exists (without --force) or cannot be written.
    """
    from baseguard.catalog.model import CatalogError
    from baseguard.catalog.spec import INIT_TEMPLATE, write_atomic

    with reported_errors():
        if catalog.exists() and not force:
            raise CatalogError(
                f"{catalog} already exists",
                hint="edit it with the catalog commands, or pass --force to replace it",
            )
        write_atomic(catalog, INIT_TEMPLATE)
        _done(f"wrote {catalog}")


@app.command("validate")
def validate_command(
    catalog: Path = CATALOG,
    on: str | None = typer.Option(
        None, "--date", metavar="YYYY-MM-DD", help="Judge EOL and expiry as of this date."
    ),
) -> None:
    """Check the catalog: schema, dates, states, ids, repositories, lifecycle rules.

    Warns (without failing) about approved entries past their EOL and expired exceptions.

    Exit codes: 0 valid, 2 invalid (the error names the file, line, path and rule).
    """
    from baseguard.catalog.spec import load_catalog

    with reported_errors():
        today = _today(on)
        cat = load_catalog(catalog)
        states = {s: sum(1 for e in cat.entries if e.state == s) for s in _states()}
        shown = ", ".join(f"{n} {s}" for s, n in states.items() if n) or "none"
        live = sum(1 for x in cat.exceptions if x.live(today))
        _done(
            f"{catalog}: valid: {len(cat.entries)} entries ({shown}); "
            f"{len(cat.exceptions)} exceptions ({live} live on {today})"
        )
        for e in cat.entries:
            if e.state in {"approved", "deprecated"} and e.past_eol(today):
                _note(f"entry {e.id} is {e.state} but reached its end of life on {e.eol}")
        for x in cat.exceptions:
            if x.expires < today:
                _note(f"exception {x.id} expired on {x.expires} and no longer counts")


def _states() -> tuple[str, ...]:
    from baseguard.catalog.model import STATES

    return STATES


@app.command("list")
def list_command(
    catalog: Path = CATALOG,
    output: Format = typer.Option(Format.table, "--output", "-o", help="table or json."),
    state: str | None = typer.Option(None, "--state", help="Only entries in this state."),
    provider: str | None = typer.Option(None, "--provider", help="Only this provider."),
    on: str | None = typer.Option(
        None, "--date", metavar="YYYY-MM-DD", help="Judge exception expiry as of this date."
    ),
) -> None:
    """List the entries and the exceptions."""
    from baseguard.catalog.spec import load_catalog
    from baseguard.errors import UsageError

    with reported_errors():
        today = _today(on)
        if state is not None and state not in _states():
            raise UsageError(f"--state {state!r}: use one of {', '.join(_states())}")
        cat = load_catalog(catalog)
        entries = [
            e
            for e in cat.entries
            if (state is None or e.state == state) and (provider is None or e.provider == provider)
        ]
        if output is Format.json:
            doc = {
                "catalog": str(catalog),
                "date": today.isoformat(),
                "entries": [e.to_dict() for e in entries],
                "exceptions": [{**x.to_dict(), "live": x.live(today)} for x in cat.exceptions],
            }
            _done(json.dumps(doc, indent=2))
            return
        table = Table(title=f"Catalog {catalog}", title_justify="left")
        for h in ("ID", "State", "Provider", "Repository", "Tags", "Variants", "Owner", "EOL"):
            table.add_column(h, overflow="fold")
        for e in entries:
            table.add_row(
                e.id,
                _state(e),
                e.provider,
                e.repository,
                ", ".join(e.tags) or "-",
                ", ".join(f"{v.name}{' (dev)' if v.dev else ''}" for v in e.variants) or "-",
                e.owner.team if e.owner else "-",
                e.eol.isoformat() if e.eol else "-",
            )
        console = stdout_console()
        console.width = max(console.width, 140)
        console.print(table)
        if cat.exceptions:
            ex = Table(title="Exceptions", title_justify="left")
            for h in ("ID", "Pattern", "Approver", "Expires", "Status"):
                ex.add_column(h, overflow="fold")
            for x in cat.exceptions:
                ex.add_row(
                    x.id,
                    x.pattern,
                    x.approver,
                    x.expires.isoformat(),
                    "live" if x.live(today) else "expired" if x.expires < today else "not yet",
                )
            console.print(ex)


@app.command("show")
def show_command(
    item_id: str = typer.Argument(..., metavar="ID", help="An entry or exception id."),
    catalog: Path = CATALOG,
    output: Format = typer.Option(Format.table, "--output", "-o", help="table or json."),
) -> None:
    """Show one entry (or exception) in full, with its lifecycle history."""
    from baseguard.catalog.model import CatalogError
    from baseguard.catalog.spec import load_catalog

    with reported_errors():
        cat = load_catalog(catalog)
        entry = cat.get(item_id)
        exception = cat.get_exception(item_id) if entry is None else None
        if entry is None and exception is None:
            ids = ", ".join([e.id for e in cat.entries] + [x.id for x in cat.exceptions])
            raise CatalogError(
                f"{catalog}: no entry or exception has id {item_id!r}",
                hint=f"ids: {ids}" if ids else "the catalog is empty",
            )
        if output is Format.json:
            doc = (
                {"kind": "entry", **entry.to_dict()}
                if entry
                else {"kind": "exception", **exception.to_dict()}  # type: ignore[union-attr]
            )
            _done(json.dumps(doc, indent=2))
            return
        if entry is not None:
            rows = _entry_rows(entry)
        else:
            assert exception is not None
            rows = [(k, str(v)) for k, v in exception.to_dict().items()]
        table = Table(show_header=False, box=None)
        table.add_column(style="bold")
        table.add_column(overflow="fold")
        for k, v in rows:
            table.add_row(k, v)
        stdout_console().print(table)


_DIGEST_PREFIXES = ("sha256:", "sha512:")


def _variant_option(values: list[str], dev: bool, option: str) -> list[dict[str, Any]]:
    from baseguard.errors import UsageError

    out = []
    for item in values:
        name, sep, tags = item.partition("=")
        if not sep or not name or not tags:
            raise UsageError(f"{option} {item!r}: expected NAME=TAG[,TAG…]")
        refs = [t.strip() for t in tags.split(",") if t.strip()]
        out.append(
            {
                "name": name,
                "tags": [t for t in refs if not t.startswith(_DIGEST_PREFIXES)],
                "digests": [t for t in refs if t.startswith(_DIGEST_PREFIXES)],
                "dev": dev,
            }
        )
    return out


@app.command("add")
def add_command(
    entry_id: str = typer.Argument(..., metavar="ID", help="A new entry id, e.g. python-3.12."),
    provider: str = typer.Option(
        ..., "--provider", help="chainguard, docker-hardened, minimus, google-distroless, …"
    ),
    repository: str = typer.Option(..., "--repository", help="e.g. cgr.dev/chainguard/python."),
    tag: list[str] = typer.Option([], "--tag", help="Allowed tag or tag glob (repeatable)."),
    digest: list[str] = typer.Option([], "--digest", help="Pinned digest (repeatable)."),
    variant: list[str] = typer.Option(
        [],
        "--variant",
        help="Runtime variant NAME=TAG[,TAG…] (tags or sha256: digests; repeatable).",
    ),
    dev_variant: list[str] = typer.Option(
        [], "--dev-variant", help="Dev variant (shell, package manager) NAME=TAG[,TAG…]."
    ),
    dev_in_production: bool = typer.Option(
        False, "--dev-in-production", help="Allow the dev variants outside build stages."
    ),
    runtime: str | None = typer.Option(None, "--runtime", help="python, node, java, static, …"),
    runtime_version: str | None = typer.Option(None, "--runtime-version", help="e.g. 3.12."),
    libc: str | None = typer.Option(None, "--libc", help="glibc or musl."),
    team: str | None = typer.Option(None, "--team", help="Owning team."),
    contact: str | None = typer.Option(None, "--contact", help="How to reach the owner."),
    eol: str | None = typer.Option(None, "--eol", metavar="YYYY-MM-DD", help="End of life."),
    sla: list[str] = typer.Option(
        [], "--sla", help="Patch SLA SEVERITY=DURATION, e.g. critical=24h (repeatable)."
    ),
    signature_key: str | None = typer.Option(
        None, "--signature-key", help="Required cosign public key (PEM file)."
    ),
    signature_identity: str | None = typer.Option(
        None, "--signature-identity", help="Required keyless signer identity."
    ),
    signature_issuer: str | None = typer.Option(
        None, "--signature-issuer", help="OIDC issuer of the keyless identity."
    ),
    slsa_level: int | None = typer.Option(None, "--slsa-level", help="Required SLSA level."),
    require_sbom: bool = typer.Option(False, "--require-sbom", help="An SBOM attestation."),
    require_vex: bool = typer.Option(False, "--require-vex", help="A VEX attestation."),
    notes: str | None = typer.Option(None, "--notes", help="Free text."),
    catalog: Path = CATALOG,
    actor: str | None = ACTOR,
    on: str | None = ON,
    db: str | None = DB,
    no_store: bool = NO_STORE,
) -> None:
    """Add a new entry, in state proposed (approve it with `catalog approve`).

    \b
    Example:
      baseguard catalog add python-3.12 --provider chainguard \\
        --repository cgr.dev/chainguard/python --tag latest --dev-variant dev=latest-dev \\
        --runtime python --runtime-version 3.12 --libc glibc \\
        --team platform --contact platform@example.com --sla critical=24h --sla high=7d

    Exit codes: 0 added, 2 invalid (the file is left unchanged).
    """
    from baseguard.catalog.lifecycle import proposed
    from baseguard.catalog.model import CatalogEntry
    from baseguard.errors import UsageError

    with reported_errors():
        who, today = _actor(actor), _today(on)
        data: dict[str, Any] = {
            "id": entry_id,
            "provider": provider,
            "repository": repository,
            "tags": tag,
            "digests": digest,
            "variants": _variant_option(variant, False, "--variant")
            + _variant_option(dev_variant, True, "--dev-variant"),
            "dev_in_production": dev_in_production,
            "notes": notes,
            "eol": eol,
        }
        if runtime:
            data["runtime"] = {"name": runtime, "version": runtime_version, "libc": libc}
        elif runtime_version or libc:
            raise UsageError("--runtime-version and --libc need --runtime NAME")
        if team or contact:
            data["owner"] = {"team": team, "contact": contact}
        if sla:
            slas: dict[str, str] = {}
            for item in sla:
                sev, sep, value = item.partition("=")
                if not sep:
                    raise UsageError(f"--sla {item!r}: expected SEVERITY=DURATION, e.g. high=7d")
                slas[sev.strip().lower()] = value.strip()
            data["patch_sla"] = slas
        if (
            signature_key
            or signature_identity
            or signature_issuer
            or slsa_level is not None
            or (require_sbom or require_vex)
        ):
            sig = None
            if signature_key or signature_identity or signature_issuer:
                sig = {
                    "key": signature_key,
                    "identity": signature_identity,
                    "issuer": signature_issuer,
                }
            data["attestations"] = {
                "signature": sig,
                "slsa_level": slsa_level,
                "sbom": require_sbom,
                "vex": require_vex,
            }
        entry = proposed(
            _parsed(CatalogEntry.from_dict, data, "add", entry_id), actor=who, on=today
        )
        _add(
            entry,
            catalog=catalog,
            db=db,
            no_store=no_store,
            actor=who,
            data={"state": "proposed", "date": today.isoformat()},
        )
        _done(f"added {entry.id} ({entry.repository}) to {catalog} as proposed, by {who}")


def _move(
    entry_id: str,
    to: str,
    *,
    catalog: Path,
    actor: str | None,
    on: str | None,
    reason: str | None,
    db: str | None,
    no_store: bool,
    replaced_by: str | None = None,
) -> None:
    from baseguard.catalog.lifecycle import transition
    from baseguard.catalog.model import CatalogError
    from baseguard.catalog.spec import CatalogDocument, locked

    with reported_errors():
        who, today = _actor(actor), _today(on)
        with locked(catalog):
            doc = CatalogDocument.load(catalog)
            entry = doc.catalog.get(entry_id)
            if entry is None:
                ids = ", ".join(e.id for e in doc.catalog.entries)
                raise CatalogError(
                    f"{catalog}: no entry has id {entry_id!r}",
                    hint=f"entries: {ids}" if ids else "the catalog has no entries yet",
                )
            if replaced_by is not None and doc.catalog.get(replaced_by) is None:
                raise CatalogError(f"--replaced-by {replaced_by!r}: no entry has that id")
            before = entry.state
            moved = transition(entry, to, actor=who, on=today, reason=reason)
            doc.record_transition(moved, replaced_by=replaced_by)
            moved = doc.catalog.get(entry_id) or moved
            data: dict[str, Any] = {
                "file": str(catalog),
                "from": before,
                "to": to,
                "date": today.isoformat(),
            }
            if reason:
                data["reason"] = reason
            if replaced_by:
                data["replaced_by"] = replaced_by
            save_and_mirror(
                doc,
                db=db,
                no_store=no_store,
                actor=who,
                kind=f"catalog.entry.{_VERBS[to]}",
                subject=entry_id,
                data=data,
                entry=moved.to_dict(),
            )
        _done(f"{entry_id}: {before} → {to} in {catalog}, by {who} on {today}")


_VERBS = {"approved": "approve", "deprecated": "deprecate", "retired": "retire"}


def _lifecycle_command(to: str, doc: str) -> Callable[..., None]:
    """The command that moves an entry to ``to`` (approve, retire: the same options)."""

    def command(
        entry_id: str = typer.Argument(..., metavar="ID"),
        catalog: Path = CATALOG,
        actor: str | None = ACTOR,
        on: str | None = ON,
        reason: str | None = REASON,
        db: str | None = DB,
        no_store: bool = NO_STORE,
    ) -> None:
        _move(
            entry_id,
            to,
            catalog=catalog,
            actor=actor,
            on=on,
            reason=reason,
            db=db,
            no_store=no_store,
        )

    command.__doc__ = doc
    command.__name__ = f"{_VERBS[to]}_command"
    return app.command(_VERBS[to])(command)


approve_command = _lifecycle_command(
    "approved",
    """Approve a proposed entry (it needs an owner and a critical patch SLA).

    Exit codes: 0 approved, 2 refused (the reason is printed; the file is left unchanged).
    """,
)


@app.command("deprecate")
def deprecate_command(
    entry_id: str = typer.Argument(..., metavar="ID"),
    replaced_by: str | None = typer.Option(
        None, "--replaced-by", metavar="ID", help="The entry that replaces it."
    ),
    catalog: Path = CATALOG,
    actor: str | None = ACTOR,
    on: str | None = ON,
    reason: str | None = REASON,
    db: str | None = DB,
    no_store: bool = NO_STORE,
) -> None:
    """Deprecate an approved entry: still allowed, with a warning, until it is retired.

    Exit codes: 0 deprecated, 2 refused (the file is left unchanged).
    """
    _move(
        entry_id,
        "deprecated",
        catalog=catalog,
        actor=actor,
        on=on,
        reason=reason,
        db=db,
        no_store=no_store,
        replaced_by=replaced_by,
    )


retire_command = _lifecycle_command(
    "retired",
    """Retire a deprecated entry (or turn down a proposed one). Retirement is final.

    Exit codes: 0 retired, 2 refused (the file is left unchanged).
    """,
)


@app.command("except")
def except_command(
    exception_id: str = typer.Argument(..., metavar="ID", help="A new exception id."),
    pattern: str = typer.Option(
        ..., "--pattern", help="Image reference glob, e.g. docker.io/library/postgres:16-*."
    ),
    justification: str = typer.Option(..., "--justification", help="Why it is needed."),
    approver: str = typer.Option(..., "--approver", help="Who approved the exception."),
    expires: str = typer.Option(
        ..., "--expires", metavar="YYYY-MM-DD", help="Last day the exception counts."
    ),
    catalog: Path = CATALOG,
    actor: str | None = ACTOR,
    on: str | None = ON,
    db: str | None = DB,
    no_store: bool = NO_STORE,
) -> None:
    """Grant a time-limited exception for images matching a pattern.

    `*` and `?` match within one path component (never across `/`); `**` matches across.

    Exit codes: 0 added, 2 invalid (the file is left unchanged).
    """
    from baseguard.catalog.model import CatalogError, CatalogException

    with reported_errors():
        who, today = _actor(actor), _today(on)
        until = _today(expires, "--expires")
        if until < today:
            raise CatalogError(
                f"--expires {until} is in the past (today is {today})",
                hint="an expired exception would not count; give a future date",
            )
        data = {
            "id": exception_id,
            "pattern": pattern,
            "justification": justification,
            "approver": approver,
            "created": today.isoformat(),
            "expires": until.isoformat(),
        }
        exc = _parsed(CatalogException.from_dict, data, "except", exception_id)
        _add(
            exc,
            catalog=catalog,
            db=db,
            no_store=no_store,
            actor=who,
            data={"approver": approver, "expires": until.isoformat()},
        )
        _done(f"added exception {exc.id} for {exc.pattern} until {exc.expires} to {catalog}")


@app.command("schema")
def schema_command(
    file: Path | None = typer.Option(None, "--file", help="Write it to this file (atomically)."),
) -> None:
    """Print the JSON Schema of catalog.yaml (draft 2020-12), for editors and CI."""
    from baseguard.catalog.schema import schema_json
    from baseguard.cli.common import write_output

    with reported_errors():
        write_output(schema_json(), file)


@app.command("sync")
def sync_command(
    catalog: Path = CATALOG,
    actor: str | None = ACTOR,
    db: str | None = DB,
) -> None:
    """Mirror every entry and exception of the file into the store.

    Entries equal to the stored ones change nothing; use it after edits made by hand or with
    --no-store, or after a mirroring failure.
    """
    from baseguard.catalog.model import CatalogError
    from baseguard.catalog.spec import load_catalog
    from baseguard.errors import BaseguardError

    with reported_errors():
        who = _actor(actor)
        cat = load_catalog(catalog)
        module = _load_store()
        if module is None:
            raise CatalogError("this baseguard has no store to mirror into")
        counts = {"entries": len(cat.entries), "exceptions": len(cat.exceptions)}
        try:
            _mirror(
                module,
                db=db,
                actor=who,
                event=("catalog.sync", str(catalog), counts),
                entries=[e.to_dict() for e in cat.entries],
                exceptions=[x.to_dict() for x in cat.exceptions],
            )
        except BaseguardError as exc:
            raise CatalogError(
                f"mirroring {catalog} into the store failed: {exc.message}", hint=exc.hint
            ) from exc
        _done(
            f"mirrored {len(cat.entries)} entries and {len(cat.exceptions)} exceptions "
            f"of {catalog} into the store"
        )

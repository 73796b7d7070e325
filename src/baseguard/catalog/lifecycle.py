"""Lifecycle of a catalog entry: proposed → approved → deprecated → retired.

An entry may also go straight from proposed to retired (a proposal turned down). Nothing
leaves ``retired``, and an approved entry is deprecated before it is retired so that the
teams using it get a warning period. Approving needs an owner (team and contact), a patch SLA
for critical findings, and an end-of-life date that has not passed. Every transition records
its date and actor; refusals raise :class:`~baseguard.catalog.model.CatalogError` with the
reason and what to do instead.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from baseguard.catalog.model import (
    STATES,
    CatalogEntry,
    CatalogError,
    Lifecycle,
    PathPart,
    Transition,
)

#: The legal transitions: (from, to).
LEGAL = frozenset(
    {
        ("proposed", "approved"),
        ("proposed", "retired"),
        ("approved", "deprecated"),
        ("deprecated", "retired"),
    }
)

#: The states in which an entry must meet the approval requirements.
GOVERNED_STATES = frozenset({"approved", "deprecated"})


def refusal(entry: CatalogEntry, to: str, on: date) -> tuple[str, str | None] | None:
    """Why ``entry`` cannot move to ``to`` on ``on`` (reason, hint), or None if it can."""
    now = entry.state
    if to not in STATES:
        return (f"{to!r} is not a lifecycle state", f"use one of {', '.join(STATES)}")
    if to == now:
        return (f"entry {entry.id!r} is already {now}", None)
    last = entry.lifecycle.history[-1].date if entry.lifecycle.history else None
    if last is not None and on < last:
        return (
            f"{on} is before entry {entry.id!r}'s last transition ({last})",
            "transitions are recorded in date order; give a later --date",
        )
    if (now, to) not in LEGAL:
        return _illegal(entry, now, to)
    if to == "approved":
        problems = approval_problems(entry, on)
        if problems:
            reason, hint = problems[0][1], problems[0][2]
            return (f"cannot approve {entry.id!r}: {reason}", hint)
    return None


def _illegal(entry: CatalogEntry, now: str, to: str) -> tuple[str, str | None]:
    name = entry.id
    if now == "retired":
        return (
            f"entry {name!r} is retired, and retirement is final ({now} → {to} is not allowed)",
            "add a new entry, with a new id, if the image is to be used again",
        )
    if (now, to) == ("approved", "retired"):
        return (
            f"entry {name!r} is approved; it must be deprecated before it is retired "
            "(approved → retired is not allowed)",
            f"run `baseguard catalog deprecate {name}` first, so that its users are warned",
        )
    if now == "deprecated" and to == "approved":
        return (
            f"entry {name!r} is deprecated and cannot be approved again "
            "(deprecated → approved is not allowed)",
            "propose a new entry for the image if it should be approved again",
        )
    if to == "proposed":
        return (f"entry {name!r} is {now}; nothing goes back to proposed", None)
    if (now, to) == ("proposed", "deprecated"):
        return (
            f"entry {name!r} was never approved, so it cannot be deprecated "
            "(proposed → deprecated is not allowed)",
            f"run `baseguard catalog retire {name}` to turn the proposal down",
        )
    return (f"{now} → {to} is not allowed for entry {name!r}", None)


def approval_problems(entry: CatalogEntry, on: date | None) -> list[tuple[PathPart, str, str]]:
    """What stops ``entry`` from being approved: (key, reason, hint) each; empty when none.

    With ``on`` None the EOL date is not checked (a catalog may hold an approved entry whose
    EOL has passed: that is a verdict, past-EOL, not an invalid file).
    """
    out: list[tuple[PathPart, str, str]] = []
    if entry.owner is None:
        out.append(
            (
                "owner",
                "it has no owner",
                "add owner: {team: …, contact: …} to the entry in the catalog file",
            )
        )
    if entry.patch_sla is None or entry.patch_sla.critical is None:
        out.append(
            (
                "patch_sla",
                "it has no patch SLA for critical findings",
                "add patch_sla: {critical: 24h, high: 7d} to the entry",
            )
        )
    if on is not None and entry.eol is not None and entry.eol < on:
        out.append(
            (
                "eol",
                f"its end-of-life date {entry.eol} has passed",
                "approve a supported release instead, or correct the eol: date",
            )
        )
    return out


def entry_problems(entry: CatalogEntry) -> list[tuple[tuple[PathPart, ...], str, str | None]]:
    """Rules a catalog file must keep for ``entry`` (path under the entry, rule, hint).

    Approved and deprecated entries meet the approval requirements (an edited file cannot
    approve what ``catalog approve`` would refuse), and the recorded history is a legal path.
    """
    out: list[tuple[tuple[PathPart, ...], str, str | None]] = []
    if entry.state in GOVERNED_STATES:
        for key, reason, hint in approval_problems(entry, None):
            article = "an" if entry.state[0] in "aeiou" else "a"
            out.append(((key,), f"{article} {entry.state} entry needs this: {reason}", hint))
    history = entry.lifecycle.history
    for i in range(1, len(history)):
        step = (history[i - 1].state, history[i].state)
        if step not in LEGAL:
            out.append(
                (
                    ("lifecycle", "history", i, "state"),
                    f"{step[0]} → {step[1]} is not a legal transition",
                    "legal: proposed → approved → deprecated → retired, proposed → retired",
                )
            )
    return out


def transition(
    entry: CatalogEntry,
    to: str,
    *,
    actor: str,
    on: date,
    reason: str | None = None,
) -> CatalogEntry:
    """The entry moved to state ``to``, the step recorded; raises CatalogError if refused."""
    if not actor or not actor.strip():
        raise CatalogError("a transition needs an actor", hint="pass --actor NAME (default: $USER)")
    refused = refusal(entry, to, on)
    if refused is not None:
        raise CatalogError(refused[0], hint=refused[1])
    step = Transition(state=to, date=on, actor=actor, reason=reason or None)
    return replace(
        entry,
        lifecycle=Lifecycle(state=to, history=(*entry.lifecycle.history, step)),
    )


def proposed(entry: CatalogEntry, *, actor: str, on: date) -> CatalogEntry:
    """A new entry as ``catalog add`` records it: proposed by ``actor`` on ``on``."""
    step = Transition(state="proposed", date=on, actor=actor)
    return replace(entry, lifecycle=Lifecycle(state="proposed", history=(step,)))

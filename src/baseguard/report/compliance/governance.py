"""Evidence of catalog governance: the catalog entries (owners, patch SLAs, end of life,
required attestations) and the exceptions to the catalog (justified, approved, expiring).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from typing import Any

from baseguard.catalog.model import STATES, CatalogEntry
from baseguard.report.compliance.frameworks import GAP, MET, PARTIAL
from baseguard.report.compliance.model import Evidence, Table, Thresholds, iso, new
from baseguard.report.compliance.storedata import ALLOWED_STATES, StoreData


def catalog_evidence(data: StoreData, today: date, thresholds: Thresholds) -> Evidence:
    ev = new("catalog")
    entries = data.entries
    if not entries and not data.invalid_entries:
        ev.summary = "no catalog entries in the store"
        ev.notes.append("no catalog in the store: run `baseguard catalog sync` to mirror it")
        return ev
    by_state: dict[str, int] = defaultdict(int)
    rows: list[dict[str, Any]] = []
    for entry in entries:
        by_state[entry.state] += 1
        rows.append(
            {
                "entry": entry.id,
                "provider": entry.provider,
                "repository": entry.repository,
                "state": entry.state,
                "since": (s.isoformat() if (s := entry.lifecycle.since()) else None),
                "owner": entry.owner.team if entry.owner else None,
                "eol": entry.eol.isoformat() if entry.eol else None,
                "patchSla": ", ".join(f"{k} {v}" for k, v in entry.patch_sla.to_dict().items())
                if entry.patch_sla
                else None,
                "attestations": ", ".join(required(entry)) or None,
            }
        )
    live = [e for e in entries if e.state in ALLOWED_STATES]
    ev.as_of = iso(data.catalog_changed)
    no_owner = [e.id for e in live if e.owner is None]
    no_sla = [e.id for e in live if e.patch_sla is None]
    past_eol = [e.id for e in live if e.past_eol(today)]
    soon = today + timedelta(days=thresholds.eol_soon)
    eol_soon = [e.id for e in live if e.eol is not None and today <= e.eol <= soon]
    ev.facts = {
        "entries": len(entries),
        "byState": {s: by_state.get(s, 0) for s in STATES},
        "withOwner": sum(1 for e in entries if e.owner),
        "withPatchSla": sum(1 for e in entries if e.patch_sla),
        "withRequiredAttestations": sum(1 for e in entries if required(e)),
        "allowedWithoutOwner": no_owner,
        "allowedWithoutPatchSla": no_sla,
        "allowedPastEol": past_eol,
        "allowedEolWithinDays": eol_soon,
        "invalidEntries": [i for i, _ in data.invalid_entries],
    }
    ev.tables.append(
        Table(
            "Catalog entries",
            [
                "entry",
                "provider",
                "repository",
                "state",
                "since",
                "owner",
                "eol",
                "patchSla",
                "attestations",
            ],
            rows,
        )
    )
    for entry_id in no_owner:
        ev.notes.append(f"entry {entry_id} is allowed but names no owner")
    for entry_id in no_sla:
        ev.notes.append(f"entry {entry_id} is allowed but has no patch SLA")
    for entry_id in past_eol:
        ev.notes.append(f"entry {entry_id} is allowed but past its end of life")
    for entry_id, message in data.invalid_entries:
        ev.notes.append(f"stored entry {entry_id} is not a valid catalog entry: {message}")
    if not live:
        ev.notes.append("no entry is approved or deprecated: no image may be used")
    ev.status = MET if not ev.notes else (GAP if not live else PARTIAL)
    ev.summary = (
        f"{len(entries)} entries ({by_state.get('approved', 0)} approved); "
        f"{len(no_owner)} allowed without owner, {len(no_sla)} without patch SLA, "
        f"{len(past_eol)} past EOL"
    )
    return ev


def required(entry: CatalogEntry) -> list[str]:
    req = entry.attestations
    if req is None:
        return []
    out = ["signature"] if req.signature else []
    if req.slsa_level:
        out.append(f"slsa{req.slsa_level}")
    out += [n for n in ("sbom", "vex") if getattr(req, n)]
    return out


def exceptions_evidence(data: StoreData, today: date, thresholds: Thresholds) -> Evidence:
    ev = new("exceptions")
    if not data.entries and not data.exceptions:
        ev.summary = "no catalog and no exceptions in the store"
        ev.notes.append("no catalog in the store: there is nothing to make exceptions to")
        return ev
    soon = today + timedelta(days=thresholds.exceptions_expiring)
    rows: list[dict[str, Any]] = []
    expired, expiring = [], []
    for exc in data.exceptions:
        if exc.expires < today:
            state = "EXPIRED"
            expired.append(exc)
        elif exc.created > today:
            state = "not yet live"
        elif exc.expires <= soon:
            state = "expiring soon"
            expiring.append(exc)
        else:
            state = "live"
        rows.append(
            {
                "exception": exc.id,
                "pattern": exc.pattern,
                "justification": exc.justification,
                "approver": exc.approver,
                "created": exc.created.isoformat(),
                "expires": exc.expires.isoformat(),
                "state": state,
            }
        )
    ev.facts = {
        "exceptions": len(data.exceptions),
        "live": sum(1 for r in rows if r["state"] in ("live", "expiring soon")),
        "expired": [x.id for x in expired],
        "expiringWithinDays": [x.id for x in expiring],
        "invalid": [i for i, _ in data.invalid_exceptions],
    }
    if rows:
        ev.tables.append(
            Table(
                "Exceptions",
                [
                    "exception",
                    "pattern",
                    "justification",
                    "approver",
                    "created",
                    "expires",
                    "state",
                ],
                rows,
            )
        )
    for exc in expired:
        ev.notes.append(
            f"exception {exc.id} ({exc.pattern}, approved by {exc.approver}) expired on "
            f"{exc.expires} and is still on record"
        )
    for exc_id, message in data.invalid_exceptions:
        ev.notes.append(f"stored exception {exc_id} is not valid: {message}")
    ev.as_of = max((x.created.isoformat() for x in data.exceptions), default=None)
    ev.status = PARTIAL if ev.notes else MET
    ev.summary = (
        f"{len(data.exceptions)} exceptions, each with justification, approver and expiry: "
        f"{ev.facts['live']} live ({len(expiring)} expiring within "
        f"{thresholds.exceptions_expiring} days), {len(expired)} expired"
    )
    return ev

"""The REST API under ``/api``: catalog, exceptions, analyses, findings, scans, assessments,
the audit log and the compliance report, with bearer tokens and roles (:mod:`.auth`).

Every route answers JSON, every error problem+json (:mod:`.problems`), every input is checked
(path and query parameters by pattern and bound, bodies by pydantic models, uploads by the
SBOM parser). Every write is audited in the store with the token's name as the actor. Routes
are plain functions (FastAPI runs them in its thread pool): the store is synchronous.
"""

from __future__ import annotations

import importlib
from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from baseguard.errors import BaseguardError
from baseguard.server.auth import (
    ServiceOptions,
    Unauthorized,
    options_of,
    require,
    unauthorized_response,
)
from baseguard.server.problems import Problem
from baseguard.store.store import Store
from baseguard.store.tokens import ROLES, TokenInfo, create_token, list_tokens, revoke_token

#: ``date`` under another name, for models that have a field called ``date``.
Day = date

CATALOG_APPROVE = "catalog.approve"
EXCEPTION_APPROVE = "exception.approve"

_PROBLEM: dict[str, Any] = {"content": {"application/problem+json": {}}}
_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "No or unknown token", **_PROBLEM},
    403: {"description": "The token's role is too weak", **_PROBLEM},
    422: {"description": "Invalid input", **_PROBLEM},
}

router = APIRouter(prefix="/api", tags=["api"], responses=_ERRORS)

Viewer = Annotated[TokenInfo, Depends(require("viewer"))]
Uploader = Annotated[TokenInfo, Depends(require("uploader"))]
Approver = Annotated[TokenInfo, Depends(require("approver"))]
Admin = Annotated[TokenInfo, Depends(require("admin"))]

DIGEST_PATTERN = r"^sha(256:[0-9a-f]{64}|512:[0-9a-f]{128})$"
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"
Digest = Annotated[str, Path(pattern=DIGEST_PATTERN, description="sha256:<64 hex>")]
DigestQuery = Annotated[str, Query(pattern=DIGEST_PATTERN, description="sha256:<64 hex>")]
EntryId = Annotated[str, Path(pattern=ID_PATTERN)]
#: Largest row id a query may name: the stores' INTEGER is 64-bit signed, and a larger number
#: would fail in the database driver (OverflowError) instead of being a 422.
MAX_ID = 2**63 - 1


def store_of(request: Request) -> Store:
    """The service's store (503 when it runs without one)."""
    store = getattr(request.app.state.baseguard, "store", None)
    if store is None:
        raise Problem(503, "Service Unavailable", "the service runs without a store")
    assert isinstance(store, Store)
    return store


def today_of(request: Request) -> date:
    today: date = request.app.state.baseguard.settings.today()
    return today


# -- catalog and exceptions ------------------------------------------------------------------


class ApproveRequest(BaseModel):
    """Approve a proposed catalog entry (or an exception) on ``date`` (default: today)."""

    model_config = ConfigDict(extra="forbid")
    reason: str | None = Field(default=None, max_length=2000)
    date: Day | None = None


class ExceptionRequest(BaseModel):
    """A time-limited waiver; the approving token's name is recorded as its approver."""

    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=ID_PATTERN)
    pattern: str = Field(min_length=1, max_length=500)
    justification: str = Field(min_length=10, max_length=4000)
    expires: date
    created: date | None = None


class TokenRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=ID_PATTERN)
    role: str = Field(pattern="^(" + "|".join(ROLES) + ")$")


@router.get("/catalog", summary="Catalog entries, with their lifecycle state")
def get_catalog(request: Request, _t: Viewer) -> dict[str, Any]:
    return {"entries": store_of(request).catalog_entries()}


def _entry(store: Store, entry_id: str) -> dict[str, Any]:
    """The stored catalog entry ``entry_id`` (404 when there is none)."""
    for entry in store.catalog_entries():
        if entry.get("id") == entry_id:
            return entry
    raise Problem(404, "Not Found", f"no catalog entry {entry_id!r}")


@router.get("/catalog/{entry_id}", summary="One catalog entry")
def get_catalog_entry(request: Request, entry_id: EntryId, _t: Viewer) -> dict[str, Any]:
    return _entry(store_of(request), entry_id)


@router.post(
    "/catalog/{entry_id}/approve", summary="Approve a proposed catalog entry (approver role)"
)
def approve_entry(
    request: Request, entry_id: EntryId, token: Approver, body: ApproveRequest | None = None
) -> dict[str, Any]:
    from baseguard.catalog.lifecycle import transition
    from baseguard.catalog.model import CatalogEntry, CatalogError

    store = store_of(request)
    raw = _entry(store, entry_id)
    on = (body.date if body else None) or today_of(request)
    reason = body.reason if body else None
    try:
        entry = CatalogEntry.from_dict(raw)
        approved = transition(entry, "approved", actor=token.name, on=on, reason=reason)
    except CatalogError as exc:
        raise Problem(409, "Cannot approve", exc.message, hint=exc.hint) from None
    data = approved.to_dict()
    store.upsert_catalog_entry(data, token.name)
    store.record_event(
        CATALOG_APPROVE,
        entry_id,
        {"entry": entry_id, "date": on.isoformat(), "reason": reason},
        token.name,
    )
    return data


@router.get("/exceptions", summary="Catalog exceptions, with whether each is live today")
def get_exceptions(request: Request, _t: Viewer) -> dict[str, Any]:
    today = today_of(request)
    out = []
    for raw in store_of(request).exceptions():
        item = dict(raw)
        try:
            expires = date.fromisoformat(str(raw.get("expires")))
            item["daysLeft"] = (expires - today).days
            item["live"] = item["daysLeft"] >= 0
        except ValueError:
            item["daysLeft"], item["live"] = None, False
        out.append(item)
    return {"exceptions": out, "today": today.isoformat()}


@router.post("/exceptions", status_code=201, summary="Grant an exception (approver role)")
def post_exception(request: Request, body: ExceptionRequest, token: Approver) -> dict[str, Any]:
    from baseguard.catalog.model import CatalogError, CatalogException

    created = body.created or today_of(request)
    raw = {
        "id": body.id,
        "pattern": body.pattern,
        "justification": body.justification,
        "approver": token.name,
        "created": created.isoformat(),
        "expires": body.expires.isoformat(),
    }
    if body.expires < created:
        raise Problem(422, "Invalid exception", "expires is before created")
    try:
        data = CatalogException.from_dict(raw).to_dict()
    except CatalogError as exc:
        raise Problem(422, "Invalid exception", exc.message, hint=exc.hint) from None
    store = store_of(request)
    store.upsert_exception(data, token.name)
    store.record_event(EXCEPTION_APPROVE, body.id, {"exception": data}, token.name)
    return data


# -- analyses, findings, scans ----------------------------------------------------------------


@router.get("/analyses", summary="Stored analyses (id, digest, reference), a page at a time")
def get_analyses(
    request: Request,
    _t: Viewer,
    after_id: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    rows = store_of(request).list_analyses(after_id=after_id, limit=limit)
    items = [{"id": i, "digest": d, "reference": r} for i, d, r in rows]
    return {"analyses": items, "next": rows[-1][0] if len(rows) == limit else None}


def _analysis(request: Request, digest: str) -> Any:
    analysis = store_of(request).load_analysis(digest)
    if analysis is None:
        raise Problem(404, "Not Found", f"no analysis of {digest} is stored")
    return analysis


@router.get("/analyses/{digest}", summary="One stored analysis (baseguard JSON)")
def get_analysis(request: Request, digest: Digest, _t: Viewer) -> dict[str, Any]:
    result: dict[str, Any] = _analysis(request, digest).to_dict()
    return result


@router.get("/analyses/{digest}/packages", summary="The packages of a stored analysis")
def get_packages(request: Request, digest: Digest, _t: Viewer) -> dict[str, Any]:
    analysis = _analysis(request, digest)
    return {"digest": digest, "packages": [p.to_dict() for p in analysis.packages]}


@router.get("/analyses/{digest}/facts", summary="The attack-surface facts of an analysis")
def get_facts(request: Request, digest: Digest, _t: Viewer) -> dict[str, Any]:
    analysis = _analysis(request, digest)
    return {"digest": digest, "facts": analysis.facts.to_dict() if analysis.facts else None}


@router.post(
    "/analyses",
    status_code=201,
    summary="Upload an analysis or SBOM of an image (uploader role)",
    responses={413: {"description": "Upload too large", **_PROBLEM}},
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": "baseguard analysis JSON, or a CycloneDX / SPDX SBOM",
            "content": {
                "application/json": {"schema": {"type": "object"}},
                "application/xml": {"schema": {"type": "string"}},
                "text/plain": {"schema": {"type": "string"}},
            },
        }
    },
)
async def post_analysis(
    request: Request,
    token: Uploader,
    reference: Annotated[
        str | None, Query(min_length=1, max_length=1000, description="image reference")
    ] = None,
    digest: Annotated[str | None, Query(pattern=DIGEST_PATTERN)] = None,
    scan: Annotated[bool, Query(description="match it against the server's DB")] = True,
) -> dict[str, Any]:
    from baseguard.server.uploads import parse_upload, store_upload
    from baseguard.server.webhook import read_body

    options: ServiceOptions = options_of(request)
    data = await read_body(request, options.max_upload_bytes)
    analysis = await run_in_threadpool(
        parse_upload, data, reference=reference, digest=digest, limit=options.max_upload_bytes
    )
    store = store_of(request)
    return await run_in_threadpool(
        store_upload,
        store,
        analysis,
        actor=token.name,
        vulndb=options.vulndb,
        scan=scan and options.scan_uploads,
    )


@router.get("/findings", summary="The findings of the newest scan of an image")
def get_findings(request: Request, digest: DigestQuery, _t: Viewer) -> dict[str, Any]:
    scan = store_of(request).latest_scan(digest)
    if scan is None:
        raise Problem(404, "Not Found", f"{digest} has never been scanned")
    return scan


@router.get("/scans", summary="Stored scans (summaries), a page at a time")
def get_scans(
    request: Request,
    _t: Viewer,
    digest: Annotated[str | None, Query(pattern=DIGEST_PATTERN)] = None,
    after_id: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    scans = store_of(request).list_scans(digest, after_id=after_id, limit=limit)
    return {
        "scans": [
            {
                "id": s.id,
                "digest": s.digest,
                "scannedAt": s.scanned_at.isoformat() if s.scanned_at else None,
                "savedAt": s.created_at.isoformat(),
                "actor": s.actor,
                "total": s.total,
                "suppressed": s.suppressed,
                "summary": s.summary,
            }
            for s in scans
        ],
        "next": scans[-1].id if len(scans) == limit else None,
    }


@router.post(
    "/scans/{digest}",
    status_code=201,
    summary="Re-match a stored analysis with the server's vulnerability DB (uploader role)",
)
def post_scan(request: Request, digest: Digest, token: Uploader) -> dict[str, Any]:
    from baseguard.server.uploads import open_vulndb, scan_stored

    analysis = _analysis(request, digest)
    db = open_vulndb(options_of(request).vulndb)
    if db is None:
        raise Problem(
            409,
            "No vulnerability database",
            "the server has no vulnerability database to match with",
            hint="run `baseguard db update` on the server, or set $BASEGUARD_VULNDB",
        )
    try:
        return scan_stored(store_of(request), digest, analysis, db, actor=token.name)
    finally:
        db.close()


# -- assessments, audit, reports -------------------------------------------------------------


@router.get("/assessments/{assessment_id}", summary="A stored estate assessment")
def get_assessment(
    request: Request, assessment_id: Annotated[int, Path(ge=1, le=MAX_ID)], _t: Viewer
) -> dict[str, Any]:
    found = store_of(request).load_assessment(assessment_id)
    if found is None:
        raise Problem(404, "Not Found", f"no assessment {assessment_id}")
    return found


@router.get("/audit/verify", summary="Verify the audit log's hash chain")
def get_audit_verify(request: Request, _t: Viewer) -> dict[str, Any]:
    report: dict[str, Any] = store_of(request).verify_audit().to_dict()
    return report


@router.get("/audit", summary="The newest audit events, newest first")
def get_audit(
    request: Request,
    _t: Viewer,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    before_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
) -> dict[str, Any]:
    events = store_of(request).audit_events(limit=limit, before_id=before_id)
    return {
        "events": [
            {
                "id": e.id,
                "time": e.time,
                "actor": e.actor,
                "kind": e.kind,
                "subject": e.subject,
                "hash": e.hash,
            }
            for e in events
        ]
    }


def compliance_module() -> Any | None:
    """``baseguard.report.compliance`` when this baseguard has it, else ``None``."""
    try:
        return importlib.import_module("baseguard.report.compliance")
    except ImportError:
        return None


@router.get(
    "/reports/compliance",
    summary="DORA / NIS2 compliance evidence (JSON)",
    responses={501: {"description": "No compliance module", **_PROBLEM}},
)
def get_compliance(
    request: Request,
    _t: Viewer,
    framework: Annotated[str, Query(pattern="^(dora|nis2|all)$")] = "all",
) -> dict[str, Any]:
    module = compliance_module()
    if module is None:
        raise Problem(501, "Not Implemented", "this baseguard has no compliance report")
    report = module.build_report(store_of(request), framework, now=datetime.now(UTC))
    result: dict[str, Any] = report.to_dict()
    return result


# -- tokens ----------------------------------------------------------------------------------


@router.get("/tokens", summary="API tokens, without their secrets (admin role)")
def get_tokens(request: Request, _t: Admin) -> dict[str, Any]:
    return {"tokens": [t.to_dict() for t in list_tokens(store_of(request))]}


@router.post("/tokens", status_code=201, summary="Create an API token (admin role)")
def post_token(request: Request, body: TokenRequest, token: Admin) -> dict[str, Any]:
    try:
        secret = create_token(store_of(request), body.name, body.role, actor=token.name)
    except BaseguardError as exc:
        raise Problem(409, "Cannot create token", exc.message, hint=exc.hint) from None
    return {"name": body.name, "role": body.role, "token": secret}


@router.delete("/tokens/{name}", summary="Revoke an API token (admin role)")
def delete_token(
    request: Request, name: Annotated[str, Path(pattern=ID_PATTERN)], token: Admin
) -> dict[str, Any]:
    if not revoke_token(store_of(request), name, actor=token.name):
        raise Problem(404, "Not Found", f"no live token {name!r}")
    return {"name": name, "revoked": True}


def install(app: FastAPI, options: ServiceOptions | None = None) -> None:
    """Add the API to ``app`` (options: ``app.state.service``, default from the environment)."""
    if not isinstance(getattr(app.state, "service", None), ServiceOptions):
        app.state.service = options or ServiceOptions.from_env()
    app.add_exception_handler(Unauthorized, unauthorized_response)
    app.include_router(router)

"""``POST /validate`` (the validating admission webhook), ``GET /healthz`` and ``GET /readyz``.

``/validate`` takes an AdmissionReview v1 and answers one, always with HTTP 200 when the
review could be read: allowed or denied, per the catalog (or per the failure mode when no
catalog can be read, or when judging failed unexpectedly). A body that is not an
AdmissionReview v1 is answered 400 (too large: 413) as problem+json with the reason. Every
answered review is queued for the audit log.

``/healthz`` says the process serves HTTP. ``/readyz`` is 200 once a catalog is loaded (even a
stale one, while its file is broken: the reason is in the body) and 503 before.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from baseguard.gate.admission import (
    MAX_IMAGE_CHARS,
    AdmissionRequest,
    Decision,
    MalformedReviewError,
    decide,
    parse_review,
    shorten,
    unavailable,
)
from baseguard.server.app import ServerState
from baseguard.server.catalog_cache import CatalogSnapshot, CatalogUnavailableError
from baseguard.server.logtext import MAX_LOGGED_CHARS, log_text
from baseguard.server.problems import Problem

log = logging.getLogger("baseguard.server")
router = APIRouter(tags=["admission"])

_REVIEW_SCHEMA = {
    "type": "object",
    "description": "An admission.k8s.io/v1 AdmissionReview, as the Kubernetes API server sends it.",
    "required": ["apiVersion", "kind", "request"],
    "properties": {
        "apiVersion": {"const": "admission.k8s.io/v1"},
        "kind": {"const": "AdmissionReview"},
        "request": {"type": "object", "required": ["uid", "kind", "operation"]},
    },
}
_PROBLEM: dict[str, Any] = {"content": {"application/problem+json": {}}}
_BODY = {"required": True, "content": {"application/json": {"schema": _REVIEW_SCHEMA}}}


def state_of(request: Request) -> ServerState:
    state = request.app.state.baseguard
    assert isinstance(state, ServerState)
    return state


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refused with 413 beyond ``limit`` bytes (before reading it all)."""
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            size = int(declared)
        except ValueError:
            raise Problem(400, "Bad Request", "Content-Length is not a number") from None
        if size > limit:
            raise Problem(413, "Request too large", f"the body is larger than {limit} bytes")
    chunks: list[bytes] = []
    total = 0
    async for chunk in request.stream():
        total += len(chunk)
        if total > limit:
            raise Problem(413, "Request too large", f"the body is larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


#: A JSON escape of a UTF-16 surrogate (``\\ud800``): only these can put an unpaired one in a
#: string, which is not text (UTF-8 cannot encode it) and would fail every later encode.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def _has_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _printable(key: str) -> str:
    return key.encode("utf-8", "backslashreplace").decode("utf-8")


def lone_surrogate(doc: Any) -> str | None:
    """The path (``request.object.metadata.name``) of the first string or key in ``doc``
    holding an unpaired UTF-16 surrogate, ``(body)`` for ``doc`` itself, or None."""
    stack: list[tuple[str, Any]] = [("", doc)]  # popped in document order: pushed reversed
    while stack:
        path, value = stack.pop()
        if isinstance(value, str):
            if _has_surrogate(value):
                return path or "(body)"
        elif isinstance(value, Mapping):
            for key, item in reversed(list(value.items())):
                where = f"{path}.{_printable(str(key))}" if path else _printable(str(key))
                stack.append((where, item))
                stack.append((where, key))  # a key before its value
        elif isinstance(value, list | tuple):
            stack.extend((f"{path}[{i}]", value[i]) for i in reversed(range(len(value))))
    return None


def parse_json(body: bytes) -> tuple[Any, str]:
    """``body`` decoded (UTF-8, or the UTF-16/32 JSON allows) and parsed: (document, text).

    Raises ValueError when it is not JSON, RecursionError when nested too deeply. Unlike
    ``json.loads(bytes)`` the decoding is strict, so encoded surrogates are refused.
    """
    text = body.decode(json.detect_encoding(body))
    return json.loads(text), text


def audit_data(decision: Decision, admission: AdmissionRequest) -> dict[str, Any]:
    """The audit record of ``decision``: an image string too long to be a reference is
    recorded shortened, as the answer shows it (:meth:`ImageDecision.text`), with its length
    (``imageChars``) and ``imageSha256``, to tell it apart. A client's 1 MB image string is
    not sent back, logged or recorded whole."""
    data = decision.audit_data(admission)
    for record, image in zip(data["images"], decision.images, strict=True):
        record["image"] = shorten(record["image"])
        record["reference"] = shorten(record["reference"])
        full = image.container.image
        if len(full) > MAX_IMAGE_CHARS:
            record["imageChars"] = len(full)
            record["imageSha256"] = hashlib.sha256(
                full.encode("utf-8", "surrogatepass")
            ).hexdigest()
    return data


def _malformed(detail: str, **extra: Any) -> Problem:
    return Problem(400, "Malformed AdmissionReview", detail, **extra)


async def current_catalog(state: ServerState) -> CatalogSnapshot:
    """The catalog to judge with, never waiting for a reload when one is in memory.

    Nothing changed: the catalog in memory. The file changed: a reload starts in the
    background and this review is judged with the catalog in memory (the new one takes over
    once parsed). Nothing in memory yet: wait for the load, off the event loop.
    """
    cache = state.catalog
    snapshot = cache.fresh()
    if snapshot is not None:
        return snapshot
    held = cache.current
    if held is not None:
        cache.refresh_in_background()
        return held
    return await run_in_threadpool(cache.get)


async def review(
    state: ServerState, doc: Any
) -> tuple[AdmissionRequest, Decision, CatalogSnapshot | None]:
    """Decide one parsed body: (request, decision, the catalog judged against or None).

    Raises MalformedReviewError for a body that is not an AdmissionReview v1.
    """
    request = parse_review(doc)
    failure_mode = state.settings.failure_mode
    try:
        snapshot = await current_catalog(state)
    except CatalogUnavailableError as exc:
        log.error("no catalog for review %s: %s", log_text(request.uid), exc.message)
        decision = unavailable(request.uid, failure_mode=failure_mode, reason=exc.message)
        return request, decision, None
    try:
        decision = decide(
            request,
            snapshot.judge,
            today=state.settings.today(),
            exempt_namespaces=state.exempt,
            require_digest=state.settings.require_digest,
        )
    except MalformedReviewError:
        raise
    except Exception as exc:  # a bug must not become a 500 the API server retries blindly
        log.exception("judging review %s failed", request.uid)
        reason = f"internal error while judging ({type(exc).__name__})"
        decision = unavailable(request.uid, failure_mode=failure_mode, reason=reason)
    return request, decision, snapshot


@router.post(
    "/validate",
    summary="Validating admission webhook (AdmissionReview v1)",
    openapi_extra={"requestBody": _BODY},
    responses={400: _PROBLEM, 413: _PROBLEM},
)
async def validate(request: Request) -> Response:
    state = state_of(request)
    body = await read_body(request, state.settings.max_body_bytes)
    try:
        doc, text = parse_json(body)
    except RecursionError:
        raise _malformed("the body is nested too deeply") from None
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError
        raise _malformed(f"the body is not JSON: {exc}") from None
    # An unpaired surrogate would fail the answer (500) and the audit batch holding it
    # (dropping the other decisions in it): refuse it before it is judged or recorded.
    if _SURROGATE_ESCAPE.search(text) and (where := lone_surrogate(doc)) is not None:
        raise _malformed(
            f"{where}: holds an unpaired UTF-16 surrogate escape (\\ud800-\\udfff), "
            "which is not text",
            path=where,
        )
    try:
        admission, decision, snapshot = await review(state, doc)
    except MalformedReviewError as exc:
        raise _malformed(exc.message, path=exc.path) from None
    if state.audit is not None:
        data = audit_data(decision, admission)
        data["catalogSha256"] = snapshot.sha256 if snapshot is not None else None
        if snapshot is not None and state.catalog.stale:
            data["catalogStale"] = state.catalog.error
        state.audit.submit(admission.subject, data)
    if not decision.allowed:
        log.info(
            "denied %s (%s): %s",
            log_text(admission.subject),
            log_text(admission.uid),
            log_text(decision.message, 4 * MAX_LOGGED_CHARS),
        )
    return JSONResponse(decision.review())


@router.get("/healthz", summary="Liveness: the process serves HTTP", tags=["health"])
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="Readiness: a catalog is loaded",
    tags=["health"],
    responses={503: {"description": "no catalog loaded"}},
)
async def readyz(request: Request) -> JSONResponse:
    state = state_of(request)
    status = await run_in_threadpool(state.status)  # may reload the catalog
    ready = bool(status["catalog"]["loaded"])
    return JSONResponse({"ready": ready, **status}, status_code=200 if ready else 503)

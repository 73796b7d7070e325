"""Errors as RFC 9457 problem details (``application/problem+json``), for every route.

Raise :class:`Problem` from a route; :func:`install` makes FastAPI's own errors (404, 405,
request validation) and any unexpected exception answer in the same shape, never with a
traceback.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

MEDIA_TYPE = "application/problem+json"
log = logging.getLogger("baseguard.server")


class Problem(Exception):
    """An HTTP error with a title (the kind of problem) and a detail (this occurrence)."""

    def __init__(self, status: int, title: str, detail: str | None = None, **extra: Any) -> None:
        super().__init__(detail or title)
        self.status = status
        self.title = title
        self.detail = detail
        self.extra = extra


def problem_response(
    status: int, title: str, detail: str | None = None, **extra: Any
) -> JSONResponse:
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status}
    if detail:
        body["detail"] = detail
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE)


def reason_phrase(status: int) -> str:
    """The standard reason phrase of ``status`` (``Bad Request``), ``HTTP error`` if none."""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "HTTP error"


async def _problem(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Problem)
    return problem_response(exc.status, exc.title, exc.detail, **exc.extra)


async def _http(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    title = reason_phrase(exc.status_code)
    detail = exc.detail if isinstance(exc.detail, str) else None
    response = problem_response(exc.status_code, title, detail)
    for key, value in (exc.headers or {}).items():
        response.headers[key] = value
    return response


async def _validation(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg", ""))}
        for e in exc.errors()
    ]
    return problem_response(422, "Invalid request", "the request failed validation", errors=errors)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("internal error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem_response(500, "Internal Server Error", f"{type(exc).__name__}")


def install(app: FastAPI) -> None:
    """Answer every error of ``app`` as problem+json."""
    app.add_exception_handler(Problem, _problem)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(Exception, _unexpected)

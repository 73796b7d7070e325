"""Who is calling: bearer API tokens with roles, and the service's own options.

A request to the REST API carries ``Authorization: Bearer bgt_…``; the token's hash is looked
up in the store (:mod:`baseguard.store.tokens`). Roles include each other: ``viewer`` reads,
``approver`` also approves catalog entries and exceptions, ``admin`` may do everything.
No token is 401 (with ``WWW-Authenticate: Bearer``), a weaker role than needed 403, both as
problem+json. The dashboard also accepts the token from its HttpOnly login cookie, and reads
without one when the service runs with ``--dashboard-public``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from fastapi import Request
from fastapi.responses import Response

from baseguard.server.problems import Problem, problem_response
from baseguard.store.tokens import ROLES, TokenInfo, find_token

#: The dashboard's login cookie (it holds the token; HttpOnly, SameSite=Strict).
COOKIE = "baseguard_token"
#: Largest upload (analysis or SBOM) accepted by ``POST /api/analyses``.
MAX_UPLOAD_BYTES = 32 * 1024 * 1024
PUBLIC_ENV = "BASEGUARD_DASHBOARD_PUBLIC"
UPLOAD_ENV = "BASEGUARD_MAX_UPLOAD_BYTES"
VULNDB_ENV = "BASEGUARD_VULNDB"


@dataclass(frozen=True)
class ServiceOptions:
    """Options of the API and dashboard (``app.state.service``).

    ``dashboard_public``: the dashboard reads without a login (the API never does).
    ``vulndb``: the vulnerability database used to (re-)match analyses (``None``: the default
    path, when a database is there). ``scan_uploads``: match each upload at once.
    """

    dashboard_public: bool = False
    max_upload_bytes: int = MAX_UPLOAD_BYTES
    vulndb: Path | None = None
    scan_uploads: bool = True

    @classmethod
    def from_env(cls) -> ServiceOptions:
        """Options from ``$BASEGUARD_DASHBOARD_PUBLIC``, ``$BASEGUARD_MAX_UPLOAD_BYTES`` and
        ``$BASEGUARD_VULNDB``; defaults otherwise."""
        public = os.environ.get(PUBLIC_ENV, "").strip().lower() in {"1", "true", "yes", "on"}
        limit = os.environ.get(UPLOAD_ENV, "").strip()
        vulndb = os.environ.get(VULNDB_ENV, "").strip()
        return cls(
            dashboard_public=public,
            max_upload_bytes=int(limit) if limit.isdigit() else MAX_UPLOAD_BYTES,
            vulndb=Path(vulndb) if vulndb else None,
        )


def options_of(request: Request) -> ServiceOptions:
    options = getattr(request.app.state, "service", None)
    return options if isinstance(options, ServiceOptions) else ServiceOptions()


def bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


def lookup(request: Request, secret: str | None) -> TokenInfo | None:
    """The live token for ``secret`` in the service's store."""
    if not secret:
        return None
    from baseguard.server.api import store_of

    return find_token(store_of(request), secret)


class Unauthorized(Problem):
    """401 with ``WWW-Authenticate: Bearer`` (see :func:`unauthorized_response`)."""

    def __init__(self, detail: str) -> None:
        super().__init__(401, "Unauthorized", detail)


async def unauthorized_response(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Problem)
    response = problem_response(exc.status, exc.title, exc.detail, **exc.extra)
    response.headers["WWW-Authenticate"] = 'Bearer realm="baseguard"'
    return response


def _article(word: str) -> str:
    """``an`` before a vowel (``an uploader``, ``an admin``), ``a`` otherwise."""
    return "an" if word[:1].lower() in ("a", "e", "i", "o", "u") else "a"


def require(role: str) -> Callable[[Request], TokenInfo]:
    """A dependency: the calling token, which must have at least ``role``."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}")

    def dependency(request: Request) -> TokenInfo:
        secret = bearer(request)
        if secret is None:
            raise Unauthorized("this endpoint needs an API token (Authorization: Bearer)")
        token = lookup(request, secret)
        if token is None:
            raise Unauthorized("the API token is unknown or revoked")
        if not token.allows(role):
            raise Problem(
                403,
                "Forbidden",
                f"this needs the {role} role; token {token.name!r} is "
                f"{_article(token.role)} {token.role}",
            )
        request.state.actor = token.name
        return token

    dependency.__name__ = f"require_{role}"
    return dependency


def dashboard_viewer(request: Request) -> TokenInfo | None:
    """The dashboard's reader: its cookie's (or bearer) token, ``None`` when public.

    Raises :class:`LoginRequired` when neither.
    """
    secret = request.cookies.get(COOKIE) or bearer(request)
    token = lookup(request, secret)
    if token is not None:
        return token
    if options_of(request).dashboard_public:
        return None
    raise LoginRequired()


class LoginRequired(Exception):
    """The dashboard was opened without a login (answered with a redirect to the form)."""

"""The FastAPI application factory: ``create_app(settings)``.

One application carries every part of the service. Each part is a router added in
:func:`create_app` (the admission webhook today; the REST API and the dashboard next), and
shares the :class:`ServerState` at ``app.state.baseguard``: settings, the catalog cache, the
store and the audit writer. Errors are answered as problem+json (:mod:`.problems`) on every
route. The store and the audit thread are opened and closed by the application's lifespan, so
``uvicorn`` (or any ASGI server) runs the application as it is.
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI

from baseguard import __version__
from baseguard.gate.admission import DEFAULT_EXEMPT
from baseguard.server import problems
from baseguard.server.audit import AuditWriter
from baseguard.server.catalog_cache import CatalogCache

if TYPE_CHECKING:
    from baseguard.store.store import Store

log = logging.getLogger("baseguard.server")

FAILURE_MODES = ("open", "closed")
#: The namespace the webhook runs in, when the pod says (downward API), else this.
DEFAULT_NAMESPACE = "baseguard-system"
NAMESPACE_ENV = "POD_NAMESPACE"


def default_namespace() -> str:
    return os.environ.get(NAMESPACE_ENV) or DEFAULT_NAMESPACE


@dataclass(frozen=True)
class Settings:
    """How the service runs. Everything has a default except the catalog file.

    ``failure_mode`` says what ``/validate`` answers when no catalog can be read: ``closed``
    denies, ``open`` allows with a warning. ``namespace`` (the service's own) and
    ``exempt_namespaces`` are never judged. ``db_url`` is the store for the audit log
    (``None``: ``$BASEGUARD_DB``, else the default SQLite file); ``audit=False`` writes none.
    ``require_digest`` refuses images not pinned by digest, as the generated policies do.
    ``today`` gives the judging date, the UTC day by default (tests inject it).
    """

    catalog: Path | None = None
    failure_mode: str = "closed"
    namespace: str = field(default_factory=default_namespace)
    exempt_namespaces: tuple[str, ...] = DEFAULT_EXEMPT
    db_url: str | None = None
    audit: bool = True
    actor: str = "baseguard-webhook"
    max_body_bytes: int = 8 * 1024 * 1024
    audit_queue: int = 10_000
    require_digest: bool = True
    today: Callable[[], date] = field(default=lambda: datetime.now(UTC).date())
    #: Run ``baseguard watch`` cycles on a thread every this often (None: never); needs the
    #: store (``audit=True``). ``watch_options`` is a ``monitor.cycle.WatchOptions``.
    watch_interval: timedelta | None = None
    watch_options: Any = None

    def __post_init__(self) -> None:
        if self.failure_mode not in FAILURE_MODES:
            raise ValueError(f"failure_mode must be one of {FAILURE_MODES}")

    @property
    def exempt(self) -> frozenset[str]:
        """Namespaces never judged: the configured ones and the service's own."""
        return frozenset((*self.exempt_namespaces, self.namespace))


class ServerState:
    """What the routes share; created by :func:`create_app`, started by its lifespan."""

    def __init__(self, settings: Settings, store: Store | None = None) -> None:
        self.settings = settings
        self.catalog = CatalogCache(settings.catalog)
        self.exempt = settings.exempt
        self.store = store
        self._own_store = False
        self.audit: AuditWriter | None = None
        self.watcher: Any = None

    def start(self) -> None:
        """Load the catalog, open the store (unless given) and start the audit writer."""
        self.catalog.status()  # the first load, logged; a broken file is reported, not fatal
        if self.settings.audit:
            if self.store is None:
                from baseguard.store import open_store

                self.store = open_store(self.settings.db_url)
                self._own_store = True
            self.audit = AuditWriter(
                self.store, actor=self.settings.actor, max_queue=self.settings.audit_queue
            )
            self.audit.start()
            if self.settings.watch_interval is not None:
                from baseguard.monitor.cycle import WatchOptions
                from baseguard.server.watcher import Watcher

                options = self.settings.watch_options or WatchOptions()
                self.watcher = Watcher(self.store, options, self.settings.watch_interval)
                self.watcher.start()

    def stop(self) -> None:
        """Write the queued audit records and close what :meth:`start` opened."""
        if self.watcher is not None:
            self.watcher.stop()
            self.watcher = None
        if self.audit is not None:
            self.audit.close()
            self.audit = None
        if self._own_store and self.store is not None:
            self.store.close()
            self.store = None

    def status(self) -> dict[str, Any]:
        return {
            "catalog": self.catalog.status(),
            "failureMode": self.settings.failure_mode,
            "requireDigest": self.settings.require_digest,
            "exemptNamespaces": sorted(self.exempt),
            "audit": self.audit.status() if self.audit else None,
            "watch": self.watcher.status() if self.watcher else None,
        }


def create_app(settings: Settings, *, store: Store | None = None) -> FastAPI:
    """The baseguard service as an ASGI application.

    ``store`` is used for the audit log instead of opening ``settings.db_url`` (the caller
    keeps owning it). Other parts of the service add their routers here.
    """
    from baseguard.server import api, dashboard, metrics, webhook

    state = ServerState(settings, store)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        state.start()
        try:
            yield
        finally:
            state.stop()

    app = FastAPI(
        title="baseguard",
        version=__version__,
        summary="Governed catalog of hardened container base images: admission webhook.",
        lifespan=lifespan,
    )
    app.state.baseguard = state
    problems.install(app)
    app.include_router(webhook.router)
    app.include_router(metrics.router)
    api.install(app)
    dashboard.install(app)
    return app

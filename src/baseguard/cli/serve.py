"""``baseguard serve``: the service (admission webhook, health endpoints) under uvicorn."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

import typer

from baseguard.cli.common import STATE, reported_errors, stderr_console


class FailureMode(StrEnum):
    open = "open"
    closed = "closed"


def serve_command(
    catalog_file: Path = typer.Option(
        ..., "--catalog", "-c", help="The catalog file; reloaded when it changes."
    ),
    tls_cert: Path | None = typer.Option(
        None, "--tls-cert", help="PEM certificate (chain) to serve HTTPS with."
    ),
    tls_key: Path | None = typer.Option(None, "--tls-key", help="PEM private key of --tls-cert."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(8443, "--port", help="Port to listen on.", min=1, max=65535),
    failure_mode: FailureMode = typer.Option(
        FailureMode.closed,
        "--failure-mode",
        help="What /validate answers when no catalog can be read: closed denies, open allows "
        "with a warning.",
    ),
    db: str | None = typer.Option(
        None,
        "--db",
        help="Store for the audit log of decisions (sqlite:///FILE or postgresql://…). "
        "Default: $BASEGUARD_DB, else a SQLite file in the user data directory.",
    ),
    namespace: str | None = typer.Option(
        None,
        "--namespace",
        help="The namespace the webhook runs in, never judged. Default: $POD_NAMESPACE, "
        "else baseguard-system.",
    ),
    exempt_namespace: list[str] = typer.Option(
        ["kube-system"],
        "--exempt-namespace",
        help="Namespace never judged (repeatable; replaces the default kube-system).",
    ),
    require_digest: bool = typer.Option(
        True,
        "--require-digest/--allow-tags",
        help="Refuse images not pinned by digest (image@sha256:…), as the generated policies "
        "do; --allow-tags judges tag-only references by the catalog alone.",
    ),
    log_level: str = typer.Option("info", "--log-level", help="uvicorn log level."),
    access_log: bool = typer.Option(
        False, "--access-log", help="Log every HTTP request (decisions are in the audit log)."
    ),
    watch_interval: str | None = typer.Option(
        None,
        "--watch-interval",
        metavar="DURATION",
        help="Also run `baseguard watch` cycles in the service every DURATION (6h, 1d…): "
        "feeds refreshed, stored analyses re-matched, SLA clocks, alerts. Enable it on one "
        "replica.",
    ),
    watch_from: Path | None = typer.Option(
        None,
        "--watch-from",
        help="With --watch-interval: refresh the feeds from this mirror "
        "directory (default: the public feeds).",
    ),
) -> None:
    """Serve baseguard: the admission webhook (POST /validate, GET /healthz, GET /readyz),
    the REST API under /api and the dashboard (docs/service.md).

    The API server sends AdmissionReview v1 requests to /validate over HTTPS; each container,
    init container and ephemeral container image of a Pod or pod controller is judged against
    the catalog, denied images are named with their rule and the catalog replacement, and
    deprecated images get warnings. Every decision goes to the audit log (--db).

    \b
    Examples:
      baseguard serve --catalog catalog.yaml --tls-cert tls.crt --tls-key tls.key \\
          --host 0.0.0.0 --port 8443 --db postgresql://baseguard@db/baseguard
      baseguard serve --catalog catalog.yaml --port 8080   # plain HTTP, for local tests only

    See docs/webhook.md for the ValidatingWebhookConfiguration.
    """
    import logging

    from baseguard.errors import UsageError

    with reported_errors():
        if (tls_cert is None) != (tls_key is None):
            raise UsageError("--tls-cert and --tls-key go together: give both or neither")
        for option, path in (("--tls-cert", tls_cert), ("--tls-key", tls_key)):
            if path is not None and not path.is_file():
                raise UsageError(f"{option} {path}: no such file")
        if not catalog_file.exists():
            raise UsageError(
                f"--catalog {catalog_file}: no such file",
                hint="create one with `baseguard catalog init`",
            )
        import uvicorn

        from baseguard.server.app import Settings, create_app, default_namespace
        from baseguard.store import open_store

        every = None
        watch_options = None
        if watch_interval is not None:
            from baseguard.catalog.model import parse_duration
            from baseguard.monitor.cycle import WatchOptions

            try:
                every = parse_duration(watch_interval)
            except ValueError as exc:
                raise UsageError(f"--watch-interval: {exc}") from None
            watch_options = WatchOptions(from_dir=watch_from)
        settings = Settings(
            catalog=catalog_file,
            failure_mode=failure_mode.value,
            namespace=namespace or default_namespace(),
            exempt_namespaces=tuple(exempt_namespace),
            db_url=db,
            require_digest=require_digest,
            watch_interval=every,
            watch_options=watch_options,
        )
        store = open_store(db)
        logging.basicConfig(
            level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
        )
        if tls_cert is None and not STATE.quiet:
            stderr_console().print(
                "[yellow]note:[/] serving plain HTTP; the Kubernetes API server calls webhooks "
                "over HTTPS only (give --tls-cert and --tls-key)",
                soft_wrap=True,
            )
        try:
            uvicorn.run(
                create_app(settings, store=store),
                host=host,
                port=port,
                ssl_certfile=str(tls_cert) if tls_cert else None,
                ssl_keyfile=str(tls_key) if tls_key else None,
                log_level=log_level.lower(),
                access_log=access_log,
                server_header=False,
                timeout_graceful_shutdown=10,
            )
        finally:
            store.close()

"""``baseguard watch`` (continuous monitoring) and ``baseguard worker`` (queue workers)."""

from __future__ import annotations

import json
import signal
import sys
import threading
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from baseguard.cli.common import (
    EXIT_FINDINGS,
    reported_errors,
    stderr_console,
    stdout_console,
    write_output,
)
from baseguard.cli.options import check_ca_file

if TYPE_CHECKING:
    from baseguard.monitor.cycle import CycleReport

STORE_OPTION = typer.Option(
    None,
    "--db",
    metavar="URL",
    help="Store: a path, sqlite:///path or postgresql://user@host/db. Default: $BASEGUARD_DB.",
)
VULNDB_OPTION = typer.Option(
    None,
    "--vulndb",
    metavar="FILE",
    help="Vulnerability database file. Default: $BASEGUARD_VULNDB or the cache dir's.",
)
BROKER_OPTION = typer.Option(
    None,
    "--broker",
    metavar="URL",
    envvar="BASEGUARD_BROKER",
    help="Redis URL of the task queue (redis://host:6379/0). Default: $BASEGUARD_BROKER.",
)
INSECURE_OPTION = typer.Option(
    False, "--insecure", help="Allow plain HTTP and unverified TLS to registries."
)


class OutputFormat(StrEnum):
    table = "table"
    json = "json"


def _interval(text: str) -> timedelta:
    from baseguard.catalog.model import parse_duration
    from baseguard.errors import UsageError

    try:
        return parse_duration(text)
    except ValueError as exc:
        raise UsageError(f"--interval: {exc}") from None


def watch_command(
    once: bool = typer.Option(False, "--once", help="Run one cycle and exit."),
    interval: str = typer.Option(
        "6h", "--interval", help="Time between cycles: 30m, 6h, 1d…", metavar="DURATION"
    ),
    db: str | None = STORE_OPTION,
    vulndb: Path | None = VULNDB_OPTION,
    mirror: str | None = typer.Option(
        None, "--mirror", metavar="URL", help="Refresh the feeds from this mirror URL."
    ),
    from_dir: Path | None = typer.Option(
        None, "--from", metavar="DIR", help="Refresh the feeds from a mirror directory."
    ),
    no_update: bool = typer.Option(
        False, "--no-update", help="Use the database as it is (another job refreshes it)."
    ),
    no_tags: bool = typer.Option(False, "--no-tags", help="Do not poll the catalog's tags."),
    no_analyze: bool = typer.Option(
        False, "--no-analyze", help="Record new tag digests without analysing them."
    ),
    notify_config: Path | None = typer.Option(
        None, "--notify-config", metavar="FILE", help="Notification channels (YAML)."
    ),
    vex: list[Path] = typer.Option(
        [], "--vex", metavar="FILE", help="VEX document applied to every re-match (repeat)."
    ),
    broker: str | None = BROKER_OPTION,
    insecure: bool = INSECURE_OPTION,
    ca_file: Path | None = typer.Option(
        None, "--ca-file", help="PEM CA certificates for registry TLS.", callback=check_ca_file
    ),
    output: OutputFormat | None = typer.Option(
        None, "--output", "-o", help="table (default on a terminal) or json (one per cycle)."
    ),
) -> None:
    """Keep watching: refresh the feeds, follow catalog tags, re-match stored analyses,
    track patch-SLA clocks and send alerts, every --interval (or --once).
    Exit codes (--once): 0 the cycle ran cleanly, 1 it ran with errors (a feed, tag or
    channel failed; see the report), 2 usage or setup error."""
    with reported_errors():
        from baseguard.monitor.cycle import WatchOptions, run_cycle
        from baseguard.monitor.notify import NotifyConfig
        from baseguard.monitor.scheduler import Scheduler
        from baseguard.store import open_store

        every = _interval(interval)
        documents = _load_vex(vex)
        options = WatchOptions(
            vulndb_path=vulndb,
            update=not no_update,
            mirror=mirror,
            from_dir=from_dir,
            follow_tags=not no_tags,
            analyze_new=not no_analyze,
            insecure=insecure,
            ca_file=str(ca_file) if ca_file else None,
            vex=documents,
            notify=NotifyConfig.load(notify_config) if notify_config else None,
            queue=_queue(broker, db, vulndb, insecure) if broker else None,
        )
        fmt = output or (OutputFormat.table if sys.stdout.isatty() else OutputFormat.json)
        with open_store(db) as store:
            if once:
                report = run_cycle(store, options)
                _show(report, fmt)
                if report.errors:
                    raise typer.Exit(EXIT_FINDINGS)
                return

            def cycle(now: datetime) -> None:
                _show(run_cycle(store, options, now=now), fmt)

            def failed(job: Any, exc: BaseException) -> None:
                stderr_console().print(f"watch: cycle failed: {exc}", markup=False)

            scheduler = Scheduler(on_error=failed)
            scheduler.every(every, "cycle", cycle)
            _stop_on_signals(scheduler.stop_event)
            scheduler.run_forever()


def worker_command(
    broker: str | None = BROKER_OPTION,
    db: str | None = STORE_OPTION,
    vulndb: Path | None = VULNDB_OPTION,
    threads: int = typer.Option(2, "--threads", min=1, max=64, help="Worker threads."),
    insecure: bool = INSECURE_OPTION,
) -> None:
    """Run queue workers (Dramatiq on Redis) for scans and registry sweeps until SIGTERM.
    Exit codes: 0 stopped, 2 setup error."""
    with reported_errors():
        from baseguard.errors import UsageError

        if not broker:
            raise UsageError("a worker needs --broker redis://… (or $BASEGUARD_BROKER)")
        queue = _queue(broker, db, vulndb, insecure)
        stop = threading.Event()
        _stop_on_signals(stop)
        stderr_console().print(
            f"worker: {threads} threads on {_redact(broker)}, queue {queue.settings.queue_name}",
            markup=False,
        )
        try:
            queue.run_worker(threads=threads, stop=stop)
        finally:
            queue.close()


def _redact(url: str) -> str:
    head, at, tail = url.rpartition("@")
    return f"{head.split('//')[0]}//***@{tail}" if at else url


def _queue(broker: str, db: str | None, vulndb: Path | None, insecure: bool) -> Any:
    from baseguard.monitor.tasks import QueueSettings, TaskQueue

    return TaskQueue(
        QueueSettings(
            broker_url=broker, store_url=db, vulndb_path=vulndb, insecure_registries=insecure
        )
    )


def _load_vex(paths: list[Path]) -> list[Any]:
    if not paths:
        return []
    from baseguard.errors import UsageError
    from baseguard.matching.vex import VexError, load_vex

    out = []
    for path in paths:
        try:
            out.append(load_vex(path))
        except VexError as exc:
            raise UsageError(f"--vex {path}: {exc}") from None
    return out


def _stop_on_signals(stop: threading.Event) -> None:
    def handler(signum: int, frame: Any) -> None:
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, handler)


def _show(report: CycleReport, fmt: OutputFormat) -> None:
    if fmt is OutputFormat.json:
        write_output(json.dumps(report.to_dict(), indent=2, sort_keys=True), None)
        return
    console = stdout_console()
    when = report.started.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    lines = [f"watch cycle {when}"]
    if report.updated:
        lines.append(f"  database   rebuilt ({report.updated['advisories']} advisories)")
    if report.db_built:
        lines.append(f"  database   built {report.db_built.isoformat()}")
    if report.tags is not None:
        lines.append(
            f"  tags       {report.tags.checked} checked, {len(report.tags.changed)} moved"
        )
    if report.rematch is not None:
        totals = report.rematch.totals()
        lines.append(
            f"  re-match   {report.rematch.analyses} analyses, {report.rematch.saved} scans "
            f"saved; {totals['new']} new, {totals['fixed']} fixed, {totals['vex']} VEX changes"
        )
    if report.queued:
        lines.append(f"  queued     {report.queued} scans for the workers")
    breached = sum(1 for c in report.clocks if c.breached)
    lines.append(f"  patch SLA  {len(report.clocks)} clocks, {breached} breached")
    lines.append(f"  alerts     {len(report.alerts)}")
    if report.dispatch is not None:
        lines.append(
            f"  notify     {len(report.dispatch.sent)} sent, "
            f"{len(report.dispatch.queued)} queued for the digest, "
            f"{len(report.dispatch.duplicates)} already sent"
        )
    for alert in report.alerts[:20]:
        lines.append(f"  [{alert.level}] {alert.title}")
    for error in report.errors:
        lines.append(f"  error: {error}")
    console.print("\n".join(lines), markup=False, highlight=False)

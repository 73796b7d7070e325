"""The monitoring scheduler inside ``baseguard serve``: ``baseguard watch`` on a thread.

With several replicas behind a load balancer, enable it on one of them (or run
``baseguard watch`` as its own deployment): cycles are idempotent, but doing the same work
twice is waste.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from baseguard.monitor.cycle import WatchOptions
    from baseguard.store.store import Store

log = logging.getLogger("baseguard.server.watch")


class Watcher:
    """Runs a watch cycle every ``interval`` on a daemon thread until :meth:`stop`."""

    def __init__(self, store: Store, options: WatchOptions, interval: timedelta) -> None:
        from baseguard.monitor.scheduler import Scheduler

        self.store = store
        self.options = options
        self.cycles = 0
        self.last_error: str | None = None
        self.scheduler = Scheduler(on_error=self._failed)
        self.scheduler.every(interval, "watch", self._cycle)
        self.thread = threading.Thread(
            target=self.scheduler.run_forever, name="baseguard-watch", daemon=True
        )

    def _cycle(self, now: datetime) -> None:
        from baseguard.monitor.cycle import run_cycle

        report = run_cycle(self.store, self.options, now=now)
        self.cycles += 1
        log.info("watch cycle done: %s", report.summary())

    def _failed(self, _job: Any, exc: BaseException) -> None:
        self.last_error = f"{type(exc).__name__}: {exc}"
        log.error("watch cycle failed: %s", self.last_error)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.scheduler.stop_event.set()
        self.thread.join(timeout=60)

    def status(self) -> dict[str, Any]:
        return {"cycles": self.cycles, "lastError": self.last_error}

"""A small in-process scheduler: named jobs run every interval, on one thread.

``baseguard watch`` (and later ``baseguard serve``) registers its cycle here. The clock and
the wait are injectable, so tests step time instead of sleeping. A job that raises is
reported through ``on_error`` and runs again at its next time; a job is never run twice at
once and missed runs are not queued up (after a long job, the next run is one interval
after it started, or now if that has passed).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Job:
    name: str
    interval: timedelta
    run: Callable[[datetime], object]
    next_run: datetime
    runs: int = 0
    failures: int = 0
    last_error: str | None = None


class Scheduler:
    """Runs due jobs; :meth:`run_forever` waits on a stop event between them."""

    def __init__(
        self,
        *,
        clock: Clock = utc_now,
        on_error: Callable[[Job, BaseException], None] | None = None,
    ) -> None:
        self.clock = clock
        self.on_error = on_error
        self.jobs: list[Job] = []
        self.stop_event = threading.Event()

    def every(
        self,
        interval: timedelta,
        name: str,
        run: Callable[[datetime], object],
        *,
        start_now: bool = True,
    ) -> Job:
        """Run ``run(now)`` every ``interval`` (first run now, or one interval from now)."""
        if interval <= timedelta(0):
            raise ValueError("a job interval must be positive")
        now = self.clock()
        job = Job(name, interval, run, now if start_now else now + interval)
        self.jobs.append(job)
        return job

    def next_due(self) -> datetime | None:
        return min((j.next_run for j in self.jobs), default=None)

    def run_pending(self) -> list[str]:
        """Run every job that is due now, in registration order; returns their names."""
        ran: list[str] = []
        for job in self.jobs:
            started = self.clock()
            if job.next_run > started:
                continue
            try:
                job.run(started)
            except Exception as exc:  # a failing job must not stop the others
                job.failures += 1
                job.last_error = f"{type(exc).__name__}: {exc}"
                if self.on_error is not None:
                    self.on_error(job, exc)
            job.runs += 1
            ran.append(job.name)
            job.next_run = max(started + job.interval, self.clock())
        return ran

    def run_forever(self, *, max_wait: float = 60.0) -> None:
        """Run jobs as they fall due until :meth:`stop` is called."""
        while not self.stop_event.is_set():
            self.run_pending()
            due = self.next_due()
            if due is None:
                wait = max_wait
            else:
                wait = min(max_wait, max(0.0, (due - self.clock()).total_seconds()))
            if self.stop_event.wait(wait):
                return

    def stop(self) -> None:
        self.stop_event.set()

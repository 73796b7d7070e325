"""The in-process scheduler, stepped with an injected clock (no sleeping)."""

from __future__ import annotations

from datetime import datetime, timedelta

from baseguard.monitor.scheduler import Scheduler
from tests.monitor.builders import T0, Clock


def test_job_runs_now_then_every_interval() -> None:
    clock = Clock()
    runs: list[datetime] = []
    sched = Scheduler(clock=clock)
    sched.every(timedelta(hours=6), "cycle", runs.append)
    assert sched.run_pending() == ["cycle"]
    clock.advance(hours=5)
    assert sched.run_pending() == []
    clock.advance(hours=1)
    assert sched.run_pending() == ["cycle"]
    assert runs == [T0, T0 + timedelta(hours=6)]
    assert sched.next_due() == T0 + timedelta(hours=12)


def test_failing_job_is_reported_and_runs_again() -> None:
    clock = Clock()
    errors: list[str] = []

    def boom(now: datetime) -> None:
        raise RuntimeError("feed down")

    sched = Scheduler(clock=clock, on_error=lambda job, exc: errors.append(str(exc)))
    job = sched.every(timedelta(minutes=30), "cycle", boom)
    sched.run_pending()
    clock.advance(minutes=30)
    sched.run_pending()
    assert errors == ["feed down", "feed down"]
    assert (job.runs, job.failures) == (2, 2)


def test_missed_runs_are_not_queued_up() -> None:
    clock = Clock()
    runs: list[datetime] = []
    sched = Scheduler(clock=clock)
    sched.every(timedelta(hours=1), "cycle", runs.append)
    sched.run_pending()
    clock.advance(hours=5)
    assert sched.run_pending() == ["cycle"]
    assert sched.run_pending() == []
    assert len(runs) == 2


def test_stop_ends_run_forever() -> None:
    clock = Clock()
    sched = Scheduler(clock=clock)
    sched.every(timedelta(hours=1), "stop", lambda now: sched.stop())
    sched.run_forever(max_wait=5)
    assert sched.jobs[0].runs == 1

"""The task queue against a real Redis: de-duplication, retries with backoff, and a worker
killed mid-job (SIGKILL) whose job is redelivered and completes once."""

from __future__ import annotations

import json
import os
import queue as queue_module
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path

import pytest

from baseguard.monitor import tasks
from baseguard.monitor.tasks import QueueSettings, TaskQueue
from baseguard.store import open_store
from tests.monitor.builders import T0, build_db, osv_record, pypi_analysis, write_mirror
from tests.store.builders import digest_of

PROJECT = Path(__file__).resolve().parents[2]
WAIT = 60.0
DIGEST = digest_of(7)


@pytest.fixture
def setup(tmp_path: Path, redis_url: str) -> Iterator[QueueSettings]:
    """A store with one analysis, a database, and queue settings on a fresh namespace."""
    store_url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    with open_store(store_url) as store:
        store.save_analysis(pypi_analysis(DIGEST, [("requests", "2.25.0")]), "ci")
    mirror = write_mirror(tmp_path / "m", [osv_record("GHSA-q", "requests", fixed="2.31.0")])
    settings = QueueSettings(
        broker_url=redis_url,
        store_url=store_url,
        vulndb_path=build_db(mirror, tmp_path / "v.sqlite", T0),
        namespace=f"t{uuid.uuid4().hex[:12]}",
        heartbeat_timeout_ms=1000,
        maintenance_chance=tasks.MAINTENANCE_SCALE,
        lease_seconds=1.5,
        min_backoff_ms=100,
        max_backoff_ms=2000,
        max_retries=10,
    )
    yield settings
    tasks.HOOK = None


def scans(settings: QueueSettings) -> int:
    with open_store(settings.store_url) as store:
        return len(store.list_scans(DIGEST))


class InProcessWorker:
    """A Dramatiq worker on threads of this process; ``stages`` records what jobs did."""

    def __init__(self, queue: TaskQueue, threads: int = 2) -> None:
        self.queue = queue
        self.stop = threading.Event()
        self.thread = threading.Thread(
            target=queue.run_worker,
            kwargs={"threads": threads, "stop": self.stop, "timeout_ms": 100},
        )

    def __enter__(self) -> InProcessWorker:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=60)


def test_same_digest_queued_five_times_is_one_message_and_one_scan(
    setup: QueueSettings,
) -> None:
    queue = TaskQueue(setup)
    finished = threading.Event()
    stages: list[str] = []

    def hook(stage: str, digest: str) -> None:
        stages.append(stage)
        if stage == "done":
            finished.set()

    tasks.HOOK = hook
    sent = [queue.enqueue_scan(None, DIGEST) for _ in range(5)]
    assert sent == [True, False, False, False, False]
    assert queue.pending() == 1
    with InProcessWorker(queue):
        assert finished.wait(WAIT)
    assert scans(setup) == 1
    assert stages == ["leased", "saved", "done"]
    queue.close()


def test_duplicate_messages_on_two_threads_still_make_one_scan(setup: QueueSettings) -> None:
    queue = TaskQueue(setup)
    stages: list[str] = []
    lock = threading.Lock()
    all_done = threading.Event()

    def hook(stage: str, digest: str) -> None:
        with lock:
            stages.append(stage)
            if stages.count("done") + stages.count("skipped") == 5:
                all_done.set()

    tasks.HOOK = hook
    for _ in range(5):  # bypass the queueing mark: five real messages
        queue.enqueue_scan(None, DIGEST, dedupe=False)
    with InProcessWorker(queue, threads=2):
        assert all_done.wait(WAIT)
    assert scans(setup) == 1
    assert stages.count("saved") + stages.count("skipped") == 5
    queue.close()


def test_failing_job_is_retried_with_backoff_then_succeeds(setup: QueueSettings) -> None:
    queue = TaskQueue(setup)
    attempts: list[float] = []
    finished = threading.Event()

    def hook(stage: str, digest: str) -> None:
        if stage == "leased":
            attempts.append(time.monotonic())
            if len(attempts) <= 2:
                raise ConnectionError("store briefly unreachable")
        if stage == "done":
            finished.set()

    tasks.HOOK = hook
    queue.enqueue_scan(None, DIGEST)
    with InProcessWorker(queue):
        assert finished.wait(WAIT)
    assert len(attempts) == 3
    first_gap, second_gap = attempts[1] - attempts[0], attempts[2] - attempts[1]
    # Dramatiq's backoff: min_backoff * 2**retries, jittered up to twice that.
    assert first_gap >= 0.1
    assert second_gap >= 0.2
    assert scans(setup) == 1
    assert queue.dead_lettered() == 0
    queue.close()


class WorkerProcess:
    """A ``tests.monitor.qworker`` process; a thread hands its stdout lines to the test.

    Reading on a thread (not ``select`` on the pipe) matters: ``readline`` buffers every
    line the worker has written, and ``select`` only sees the pipe, so a stage printed
    together with the one before it would never be seen."""

    def __init__(self, settings: QueueSettings, tmp: Path, block_at: str | None) -> None:
        config = {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(settings).items()}
        config["block_at"] = block_at
        name = f"worker-{uuid.uuid4().hex[:8]}"
        (tmp / f"{name}.json").write_text(json.dumps(config))
        self.stderr_path = tmp / f"{name}.err"
        with self.stderr_path.open("w") as stderr:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "tests.monitor.qworker", str(tmp / f"{name}.json")],
                stdout=subprocess.PIPE,
                stderr=stderr,
                text=True,
                cwd=PROJECT,
                env={**os.environ, "PYTHONPATH": str(PROJECT)},
            )
        self.lines: queue_module.Queue[str | None] = queue_module.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def wait_for_line(self, wanted: str) -> None:
        """Wait (bounded) until the worker prints a line starting with ``wanted``."""
        deadline = time.monotonic() + WAIT
        seen: list[str] = []
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self.lines.get(timeout=left)
            except queue_module.Empty:
                break
            if line is None:
                break
            if line.startswith(wanted):
                return
            seen.append(line.rstrip())
        self.proc.kill()
        self.proc.wait()
        pytest.fail(
            f"the worker never printed {wanted!r}; it printed {seen!r}, and on stderr:\n"
            + self.stderr_path.read_text()[-4000:]
        )

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@pytest.mark.parametrize("killed_at", ["leased", "saved"])
def test_worker_killed_mid_job_is_redelivered_and_completes_once(
    setup: QueueSettings, tmp_path: Path, killed_at: str
) -> None:
    queue = TaskQueue(setup)
    assert queue.enqueue_scan(None, DIGEST)
    doomed = WorkerProcess(setup, tmp_path, block_at=killed_at)
    doomed.wait_for_line(killed_at)
    doomed.proc.kill()  # SIGKILL: no clean-up, the message stays unacknowledged
    doomed.proc.wait(timeout=30)
    assert queue.unfinished() == 1
    assert scans(setup) == (1 if killed_at == "saved" else 0)

    rescuer = WorkerProcess(setup, tmp_path, block_at=None)
    try:
        rescuer.wait_for_line("done")
    finally:
        rescuer.stop()
    assert scans(setup) == 1
    assert queue.unfinished() == 0
    assert queue.dead_lettered() == 0
    with open_store(setup.store_url) as store:
        assert store.verify_audit().ok
    queue.close()

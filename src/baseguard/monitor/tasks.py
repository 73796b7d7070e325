"""The task queue: Dramatiq on Redis (see docs/monitoring.md for why).

Three jobs, every one idempotent:

- ``baseguard.scan`` (reference, digest): make sure ``digest`` has a scan against the current
  vulnerability database: analyse ``reference`` first when the store has no analysis of it
  (the only job that pulls an image), then re-match
  (:func:`~baseguard.monitor.rematch.rematch_one`, which saves a scan only when the
  findings changed or there was none);
- ``baseguard.sweep_repository`` (repository): list its tags, resolve each to a digest, queue
  a scan per digest;
- ``baseguard.sweep_registry`` (registry): list its repositories, queue a sweep of each.

**One scan per digest, however often it is queued.** Three layers: (1) queueing sets
``<ns>:queued:<digest>`` with ``SET NX``: while a scan of the digest waits, queueing it again
sends nothing; (2) a running scan holds the lease ``<ns>:lease:<digest>`` (``SET NX PX``,
released by compare-and-delete), so two workers never scan one digest at once (the second
is retried with backoff); (3) a finished scan sets ``<ns>:done:<digest>:<db build time>``
and a redelivered message finds it and stops; and if the worker died after saving but
before that mark, the re-match finds the saved scan unchanged and saves nothing.

**Retries and crashes.** Failures are retried by Dramatiq's ``Retries`` middleware with
exponential backoff (jittered, ``min_backoff`` doubling up to ``max_backoff``, at most
``max_retries`` times, then dead-lettered). Messages are acknowledged only after the job
returns; a worker killed mid-job (SIGKILL, OOM, a lost machine) leaves its messages in its
ack set in Redis, and once its heartbeat is older than ``heartbeat_timeout`` another
worker's broker maintenance puts them back on the queue: the job runs again, and the layers
above keep it to one scan. A lease left by the dead worker expires after ``lease_seconds``.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import (
    AgeLimit,
    Callbacks,
    Pipelines,
    Retries,
    ShutdownNotifications,
    TimeLimit,
)

from baseguard.monitor.errors import MonitorError

if TYPE_CHECKING:
    import redis

    from baseguard.store import Store
    from baseguard.vulndb.store import VulnDB

ACTOR = "baseguard-worker"
SCAN, SWEEP_REPOSITORY, SWEEP_REGISTRY = (
    "baseguard.scan",
    "baseguard.sweep_repository",
    "baseguard.sweep_registry",
)
#: Dramatiq's maintenance scale: ``maintenance_chance`` is out of this many commands.
MAINTENANCE_SCALE = 1_000_000

_RELEASE = """
if redis.call("get", KEYS[1]) == ARGV[1] then
    return redis.call("del", KEYS[1])
end
return 0
"""

#: For tests: called as ``HOOK(stage, digest)`` at ``leased``, ``saved``, ``done`` and
#: ``skipped``; a hook that raises fails the job (it is retried), one that blocks holds it.
HOOK: Callable[[str, str], None] | None = None


class PermanentJobError(MonitorError):
    """A job that cannot succeed however often it is retried (dead-lettered at once)."""


@dataclass
class QueueSettings:
    """Where the broker, the store and the database are, and how jobs are retried."""

    broker_url: str
    store_url: str | None = None
    vulndb_path: Path | None = None
    namespace: str = "baseguard"
    queue_name: str = "baseguard"
    heartbeat_timeout_ms: int = 60_000
    maintenance_chance: int = 1_000
    lease_seconds: float = 900.0
    max_retries: int = 8
    min_backoff_ms: int = 15_000
    max_backoff_ms: int = 3_600_000
    time_limit_ms: int = 3_600_000
    #: How long "queued" and "done" marks live (a lost message unblocks after this).
    mark_ttl_seconds: int = 6 * 3600
    done_ttl_seconds: int = 7 * 86400
    insecure_registries: bool = False


def _hook(stage: str, digest: str) -> None:
    if HOOK is not None:
        HOOK(stage, digest)


class TaskQueue:
    """The broker, the actors, and what they need (store, database) in this process."""

    def __init__(self, settings: QueueSettings) -> None:
        self.settings = settings
        middleware = [
            AgeLimit(),
            TimeLimit(time_limit=settings.time_limit_ms),
            ShutdownNotifications(),
            Callbacks(),
            Pipelines(),
            Retries(
                max_retries=settings.max_retries,
                min_backoff=settings.min_backoff_ms,
                max_backoff=settings.max_backoff_ms,
            ),
        ]
        self.broker = RedisBroker(  # type: ignore[no-untyped-call]
            url=settings.broker_url,
            namespace=settings.namespace,
            heartbeat_timeout=settings.heartbeat_timeout_ms,
            maintenance_chance=settings.maintenance_chance,
            middleware=middleware,
        )
        self.redis: redis.Redis = self.broker.client
        self._release = self.redis.register_script(_RELEASE)
        options: dict[str, Any] = {
            "broker": self.broker,
            "queue_name": settings.queue_name,
            "max_retries": settings.max_retries,
            "min_backoff": settings.min_backoff_ms,
            "max_backoff": settings.max_backoff_ms,
            "throws": (PermanentJobError,),
        }
        # The actors return nothing (no result backend): the store is where results go.
        self.scan_actor: dramatiq.Actor[Any, Any] = dramatiq.actor(actor_name=SCAN, **options)(
            self._scan_message
        )
        self.sweep_repository_actor: dramatiq.Actor[Any, Any] = dramatiq.actor(
            actor_name=SWEEP_REPOSITORY, **options
        )(self._sweep_repository_message)
        self.sweep_registry_actor: dramatiq.Actor[Any, Any] = dramatiq.actor(
            actor_name=SWEEP_REGISTRY, **options
        )(self._sweep_registry_message)
        self._store: Store | None = None
        self._store_lock = threading.Lock()
        self._local = threading.local()

    # -- keys --------------------------------------------------------------------------

    def _key(self, *parts: str) -> str:
        return ":".join((self.settings.namespace, "bg", *parts))

    def queued_key(self, digest: str) -> str:
        return self._key("queued", digest)

    def lease_key(self, digest: str) -> str:
        return self._key("lease", digest)

    def done_key(self, digest: str, built: str) -> str:
        return self._key("done", digest, built)

    # -- queueing ----------------------------------------------------------------------

    def enqueue_scan(self, reference: str | None, digest: str, *, dedupe: bool = True) -> bool:
        """Queue a scan of ``digest`` (analysed from ``reference`` if the store has no
        analysis of it). False when a scan of it is already waiting (nothing sent)."""
        if dedupe and not self.redis.set(
            self.queued_key(digest), "1", nx=True, ex=self.settings.mark_ttl_seconds
        ):
            return False
        self.scan_actor.send(reference, digest)
        return True

    def enqueue_sweep_repository(self, repository: str) -> None:
        self.sweep_repository_actor.send(repository)

    def enqueue_sweep_registry(self, registry: str) -> None:
        self.sweep_registry_actor.send(registry)

    def pending(self) -> int:
        """Messages waiting on the queue and its delay queue (not those being worked on)."""
        ns, name = self.settings.namespace, self.settings.queue_name
        total = 0
        for queue in (name, f"{name}.DQ"):
            total += int(self.redis.llen(f"{ns}:{queue}"))
        return total

    def unfinished(self) -> int:
        """Messages not yet acknowledged: waiting, delayed, or held by a worker (live or
        dead); zero means every job ran to its end (or was dead-lettered)."""
        ns, name = self.settings.namespace, self.settings.queue_name
        total = 0
        for queue in (name, f"{name}.DQ"):
            total += int(self.redis.hlen(f"{ns}:{queue}.msgs"))
        return total

    def dead_lettered(self) -> int:
        ns, name = self.settings.namespace, self.settings.queue_name
        return int(self.redis.zcard(f"{ns}:{name}.XQ"))

    # -- what jobs use -----------------------------------------------------------------

    def store(self) -> Store:
        with self._store_lock:
            if self._store is None:
                from baseguard.store import open_store

                self._store = open_store(self.settings.store_url)
            return self._store

    def vulndb(self) -> VulnDB:
        """This thread's database, reopened when ``db update`` swapped in a new file."""
        from baseguard.vulndb.store import VulnDB, default_db_path

        path = self.settings.vulndb_path or default_db_path()
        try:
            stat = os.stat(path)
            stamp = (stat.st_ino, stat.st_mtime_ns)
        except OSError:
            stamp = None
        current = getattr(self._local, "db", None)
        if current is not None and self._local.stamp == stamp:
            db: VulnDB = current
            return db
        if current is not None:
            current.close()
        db = VulnDB.open(path)
        self._local.db, self._local.stamp = db, stamp
        return db

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None
        self.broker.close()

    # -- jobs --------------------------------------------------------------------------

    def _scan_message(self, reference: str | None, digest: str) -> None:
        self.scan_job(reference, digest)

    def _sweep_repository_message(self, repository: str) -> None:
        self.sweep_repository_job(repository)

    def _sweep_registry_message(self, registry: str) -> None:
        self.sweep_registry_job(registry)

    def scan_job(self, reference: str | None, digest: str) -> int | None:
        """Scan ``digest`` against the current database once (see the module doc)."""
        from baseguard.monitor.rematch import rematch_one

        db = self.vulndb()
        built = db.built_at().astimezone(UTC).isoformat()
        done = self.done_key(digest, built)
        if self.redis.exists(done):
            _hook("skipped", digest)
            return None
        token = uuid.uuid4().hex
        lease = self.lease_key(digest)
        if not self.redis.set(lease, token, nx=True, px=int(self.settings.lease_seconds * 1000)):
            # Another worker scans this digest right now: retried with backoff, quietly.
            raise dramatiq.Retry(f"{digest} is being scanned by another worker")
        try:
            self.redis.delete(self.queued_key(digest))
            _hook("leased", digest)
            store = self.store()
            analysis = store.load_analysis(digest)
            if analysis is None:
                if not reference:
                    raise PermanentJobError(
                        f"no stored analysis of {digest} and no reference to analyse"
                    )
                analysis = self._analyze(reference)
                store.save_analysis(analysis, ACTOR)
            target = analysis.image.manifest_digest or analysis.image.config_digest or digest
            outcome = rematch_one(
                store, db, target, analysis=analysis, now=datetime.now(UTC), actor=ACTOR
            )
            _hook("saved", digest)
            scan_id = outcome.scan_id if outcome is not None else None
            self.redis.set(done, str(scan_id or 0), ex=self.settings.done_ttl_seconds)
        finally:
            self._release(keys=[lease], args=[token])
        _hook("done", digest)
        return scan_id

    def _analyze(self, reference: str) -> Any:
        from baseguard.analysis.analyze import analyze
        from baseguard.image.source import OpenOptions

        return analyze(reference, OpenOptions(insecure=self.settings.insecure_registries))

    def _registry(self) -> Any:
        from baseguard.image.registry import RegistryClient

        return RegistryClient(insecure=self.settings.insecure_registries)

    def sweep_repository_job(self, repository: str) -> int:
        """Queue a scan of every tag's digest of ``repository``; returns how many were sent."""
        from baseguard.refs import parse_reference

        sent = 0
        with self._registry() as client:
            repo = parse_reference(repository)
            for tag in sorted(client.list_tags(repo)):
                _, _, digest = client.get_manifest(parse_reference(f"{repo.name}:{tag}"))
                if self.enqueue_scan(f"{repo.name}@{digest}", digest):
                    sent += 1
        return sent

    def sweep_registry_job(self, registry: str) -> int:
        """Queue a sweep of every repository the registry lists."""
        with self._registry() as client:
            repositories = client.catalog(registry)
        for repository in sorted(repositories):
            self.enqueue_sweep_repository(f"{registry}/{repository}")
        return len(repositories)

    # -- workers -----------------------------------------------------------------------

    def run_worker(
        self, *, threads: int = 2, stop: threading.Event | None = None, timeout_ms: int = 1000
    ) -> None:
        """Consume jobs on ``threads`` threads until ``stop`` is set; on a clean stop the
        messages fetched but not started go back to the queue."""
        worker = dramatiq.Worker(self.broker, worker_threads=threads, worker_timeout=timeout_ms)
        worker.start()
        try:
            (stop or threading.Event()).wait()
        finally:
            worker.stop(timeout=30_000)

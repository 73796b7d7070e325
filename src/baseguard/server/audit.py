"""Admission decisions to the store's hash-chained audit log, off the request path.

A decision must be answered in milliseconds, and one audit append is one durable transaction
(an fsync on SQLite: several milliseconds, and about 1.5 ms of CPU). So the webhook hands each
decision to an :class:`AuditWriter`, whose thread appends what has queued up since its last
write as one audit event of kind ``admission.decision`` (``data.decisions`` lists them, oldest
first), and starts writes at most every ``min_interval`` seconds (50 ms): at a few requests a
second that is one event per decision, written at once; under load, one event per 50 ms.
The queue is bounded: when the store cannot keep up or is down, decisions past the bound are
counted as dropped and logged, never allowed to stall admission. A batch the store keeps
refusing is written in parts, so that one decision it refuses (whatever the reason) costs
only itself, not the decisions batched with it. Closing the writer (server
shutdown) writes what is queued. A process killed outright loses what was queued and not yet
written (at most one write's worth under normal load).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from baseguard.errors import BaseguardError
from baseguard.server.logtext import log_text

if TYPE_CHECKING:
    from baseguard.store.store import Store

log = logging.getLogger("baseguard.server")

KIND = "admission.decision"
#: Decisions per audit event at most.
MAX_BATCH = 256
#: Write attempts per batch before it is written in parts (see ``AuditWriter._isolate``).
ATTEMPTS = 3
#: Longest error text kept (``lastError``, logs) and longest uid logged.
MAX_REASON = 500
MAX_UID = 100


@dataclass(frozen=True)
class AuditItem:
    subject: str
    data: dict[str, Any]


_STOP = object()


class AuditWriter:
    """A thread appending queued decisions to ``store`` (see module doc)."""

    def __init__(
        self,
        store: Store,
        *,
        actor: str = "baseguard-webhook",
        max_queue: int = 10_000,
        retry_wait: float = 0.5,
        min_interval: float = 0.05,
    ) -> None:
        self.store = store
        self.min_interval = min_interval
        self.actor = actor
        self.retry_wait = retry_wait
        self._queue: queue.Queue[object] = queue.Queue(maxsize=max_queue)
        self._thread: threading.Thread | None = None
        self._closing = threading.Event()
        self._lock = threading.Lock()
        self.written = 0
        self.events = 0
        self.dropped = 0
        self.errors = 0
        self.last_error: str | None = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="baseguard-audit", daemon=True)
            self._thread.start()

    def submit(self, subject: str, data: dict[str, Any]) -> bool:
        """Queue one decision; False (and counted as dropped) when the queue is full."""
        try:
            self._queue.put_nowait(AuditItem(subject, data))
            return True
        except queue.Full:
            with self._lock:
                self.dropped += 1
                if self.dropped == 1 or self.dropped % 1000 == 0:
                    log.error("audit queue full: %d admission decisions dropped", self.dropped)
            return False

    def close(self, timeout: float = 30.0) -> None:
        """Write what is queued, then stop the thread."""
        if self._thread is None:
            return
        self._closing.set()
        self._queue.put(_STOP)
        self._thread.join(timeout)
        self._thread = None

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until everything queued so far is written (tests, shutdown); True if it was."""
        done = threading.Event()
        try:
            self._queue.put(done, timeout=timeout)
        except queue.Full:
            return False
        return done.wait(timeout)

    def status(self) -> dict[str, Any]:
        return {
            "decisionsWritten": self.written,
            "eventsWritten": self.events,
            "queued": self._queue.qsize(),
            "dropped": self.dropped,
            "errors": self.errors,
            "lastError": self.last_error,
        }

    def _run(self) -> None:
        stop = False
        while not stop:
            first = self._queue.get()
            batch: list[AuditItem] = []
            waiters: list[threading.Event] = []
            item: object = first
            while True:
                if item is _STOP:
                    stop = True
                elif isinstance(item, threading.Event):
                    waiters.append(item)
                elif isinstance(item, AuditItem):
                    batch.append(item)
                if len(batch) >= MAX_BATCH:
                    break
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
            if batch:
                started = time.monotonic()
                self._write(batch)
                for waiter in waiters:
                    waiter.set()
                rest = self.min_interval - (time.monotonic() - started)
                if rest > 0 and not stop:
                    self._closing.wait(rest)  # let decisions gather; none once closing
            else:
                for waiter in waiters:
                    waiter.set()

    def _write(self, batch: list[AuditItem]) -> None:
        """Write ``batch`` as one event, retried; if the store keeps refusing it, in parts."""
        error = ""
        for attempt in range(1, ATTEMPTS + 1):
            failed = self._append(batch)
            if failed is None:
                return
            error = failed
            log.error("audit write failed (attempt %d of %d): %s", attempt, ATTEMPTS, error)
            if attempt < ATTEMPTS:
                self._closing.wait(self.retry_wait)  # no wait once shutting down
        if len(batch) == 1:
            self._drop(batch[0], error)
        else:
            self._isolate(batch)

    def _isolate(self, batch: list[AuditItem]) -> None:
        """Write ``batch`` in parts, halving each part the store refuses, so that only the
        decisions it refuses on their own are dropped and the others land, in order.

        One bad decision costs about log2(len(batch)) refused writes. A store refusing
        everything (down, locked) is not asked once per decision: once more than
        ``2 * len(batch).bit_length()`` parts are refused (two bad decisions' worth), what is
        left is dropped.
        """
        log.error(
            "audit: the store refuses a batch of %d decisions; writing it in parts", len(batch)
        )
        budget = 2 * len(batch).bit_length()
        refused = 0
        half = len(batch) // 2
        parts = [batch[half:], batch[:half]]  # a stack: the oldest part on top
        while parts:
            part = parts.pop()
            error = self._append(part)
            if error is None:
                continue
            refused += 1
            if len(part) == 1:
                self._drop(part[0], error)
            else:
                half = len(part) // 2
                parts += [part[half:], part[:half]]
            if refused > budget and parts:
                left = sum(len(p) for p in parts)
                with self._lock:
                    self.dropped += left
                log.error(
                    "audit: the store refused %d parts of a batch of %d decisions; "
                    "the %d not yet written are dropped",
                    refused,
                    len(batch),
                    left,
                )
                return

    def _append(self, batch: list[AuditItem]) -> str | None:
        """Append ``batch`` as one audit event: None once written, else why not (counted)."""
        subject = batch[0].subject if len(batch) == 1 else f"{len(batch)} admission decisions"
        data = {"decisions": [{"subject": i.subject, **i.data} for i in batch]}
        try:
            self.store.record_event(KIND, subject[:255], data, self.actor)
        except Exception as exc:  # the thread must outlive any store failure
            with self._lock:
                self.errors += 1
                self.last_error = _reason(exc)
                return self.last_error
        with self._lock:
            self.written += len(batch)
            self.events += 1
        return None

    def _drop(self, item: AuditItem, error: str) -> None:
        """Give up ``item``: counted and logged by its uid (not its content, which the store
        just refused and which may be anything a client sent)."""
        with self._lock:
            self.dropped += 1
        log.error("audit: admission decision uid %s dropped: %s", _uid(item), error)


def _reason(exc: BaseException) -> str:
    """``exc`` in a line, without the data it may carry: ``repr`` of a UnicodeEncodeError
    holds the whole text that failed (the record), its ``str`` only the position."""
    text = exc.message if isinstance(exc, BaseguardError) else f"{type(exc).__name__}: {exc}"
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text if len(text) <= MAX_REASON else text[: MAX_REASON - 1] + "…"


def _uid(item: AuditItem) -> str:
    return log_text(item.data.get("uid", "?"), MAX_UID)

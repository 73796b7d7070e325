"""Reading back the audit events monitoring writes (its state lives in the audit log).

Monitoring keeps no table of its own: every observation (a tag's digest, a re-match diff, a
notification sent) is an audit event, so it is chained, timestamped and visible in
``baseguard audit log``. The current state is a fold over those events.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from baseguard.store.audit import AuditRecord

#: Who monitoring's audit events are recorded as, unless the caller names someone.
ACTOR = "baseguard-watch"

#: Event kinds written by monitoring.
DIFF = "monitor.diff"
REMATCH = "monitor.rematch"
TAG = "monitor.tag"
SLA = "monitor.sla"
CYCLE = "monitor.cycle"
NOTIFY_SENT = "notify.sent"
NOTIFY_PENDING = "notify.pending"
NOTIFY_DIGEST = "notify.digest"


class AuditReader(Protocol):
    def iter_audit(
        self, *, after_id: int = 0, kinds: Iterable[str] | None = None
    ) -> Iterator[AuditRecord]: ...


@dataclass(frozen=True)
class Event:
    """One audit event of interest, its data decoded."""

    id: int
    time: datetime
    kind: str
    subject: str
    data: dict[str, Any]


def parse_time(value: str) -> datetime:
    """An ISO 8601 time (``Z`` allowed) as an aware UTC datetime."""
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def events(store: AuditReader, kinds: Iterable[str], *, after_id: int = 0) -> list[Event]:
    """The audit events of the given kinds, oldest first (one streamed pass over the rows of
    those kinds, read to the end so that the read snapshot is closed when this returns)."""
    out: list[Event] = []
    for record in store.iter_audit(after_id=after_id, kinds=kinds):
        try:
            data = json.loads(record.data)
        except ValueError:
            continue
        if isinstance(data, dict):
            out.append(Event(record.id, parse_time(record.time), record.kind, record.subject, data))
    return out

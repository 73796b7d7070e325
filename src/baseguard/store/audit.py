"""The append-only audit log: canonical rows chained by SHA-256, and their verification.

Each row's hash is ``sha256(prev_hash + canonical row content)``, where the content is the
canonical JSON array ``[time, actor, kind, subject, data]`` and ``data`` is itself the
canonical JSON text stored in the row. The first row links to :data:`GENESIS`. The row id is
not hashed: the order is the chain's, and rows whose ids disagree with it are reported as
reordered. A one-row table (``audit_head``) records the last sequence number and hash, so a
cut or extended tail shows too.

:func:`verify_rows` walks the rows in id order (streamed, constant memory) and reports, for
each bad row, what happened to it:

- ``edited``: the row's hash no longer matches its content (or the row before it was
  rewritten together with its hash, which its successor's link shows);
- ``inserted``: a row that is not part of the chain (skipping it restores the links) or that
  lies beyond the recorded head;
- ``deleted``: rows missing (an id gap whose successor links to a hash no row has, or a
  tail shorter than the recorded head); the problem names the first missing id;
- ``reordered``: a row that links to another row of the log than the one before it, or ids
  renumbered while the chain is intact.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import PurePath
from typing import Any, NamedTuple

#: What the first row links to.
GENESIS = "0" * 64

#: Problems reported at most (the first one is what matters; the rest are context).
MAX_PROBLEMS = 100

EDITED, INSERTED, DELETED, REORDERED = "edited", "inserted", "deleted", "reordered"


def json_default(value: Any) -> Any:
    """What :func:`json.dumps` cannot write itself: dates, sets, paths."""
    if isinstance(value, datetime):
        return format_time(value) if value.tzinfo else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=canonical_json)
    if isinstance(value, PurePath):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON-serialisable")


def canonical_json(value: Any) -> str:
    """Sorted keys, no whitespace, UTF-8 kept, no NaN: the same text for the same value.

    Dates and times become ISO 8601 strings, sets sorted lists, paths strings.
    """
    return json.dumps(
        value,
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
        default=json_default,
    )


def format_time(moment: datetime) -> str:
    """``2025-01-31T12:00:00.000000Z``: fixed width, so text order is time order."""
    if moment.tzinfo is None:
        raise ValueError("audit times must be timezone-aware")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def row_hash(prev_hash: str, time: str, actor: str, kind: str, subject: str, data: str) -> str:
    """The chain hash of one row: ``sha256(prev_hash + canonical content)`` in hex."""
    content = json.dumps([time, actor, kind, subject, data], ensure_ascii=False)
    return hashlib.sha256((prev_hash + content).encode("utf-8")).hexdigest()


class AuditRecord(NamedTuple):
    """One audit row as stored."""

    id: int
    time: str
    actor: str
    kind: str
    subject: str
    data: str
    prev_hash: str
    hash: str

    def computed_hash(self) -> str:
        return row_hash(self.prev_hash, self.time, self.actor, self.kind, self.subject, self.data)

    def to_dict(self) -> dict[str, Any]:
        try:
            data: Any = json.loads(self.data)
        except ValueError:
            data = self.data
        return {
            "id": self.id,
            "time": self.time,
            "actor": self.actor,
            "kind": self.kind,
            "subject": self.subject,
            "data": data,
            "prevHash": self.prev_hash,
            "hash": self.hash,
        }


class AuditProblem(NamedTuple):
    """A bad row: its id (``None`` when the head record itself is missing), what happened,
    and a sentence that says how we know."""

    row: int | None
    what: str
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return {"row": self.row, "what": self.what, "detail": self.detail}


@dataclass
class AuditReport:
    """What :func:`verify_rows` found: ``ok`` only when there is no problem."""

    rows: int = 0
    head: str | None = None
    problems: list[AuditProblem] = field(default_factory=list)
    truncated: bool = False

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def first(self) -> AuditProblem | None:
        return self.problems[0] if self.problems else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "rows": self.rows,
            "head": self.head,
            "problems": [p.to_dict() for p in self.problems],
            "problemsTruncated": self.truncated,
        }


class _Peekable:
    def __init__(self, rows: Iterable[AuditRecord]) -> None:
        self._it: Iterator[AuditRecord] = iter(rows)
        self._next: AuditRecord | None = None
        self._done = False

    def peek(self) -> AuditRecord | None:
        if self._next is None and not self._done:
            try:
                self._next = next(self._it)
            except StopIteration:
                self._done = True
        return self._next

    def pop(self) -> AuditRecord | None:
        row = self.peek()
        self._next = None
        return row


def verify_rows(
    rows: Iterable[AuditRecord],
    hash_owner: Callable[[str], int | None],
    head: tuple[int, str | None] | None,
) -> AuditReport:
    """Walk ``rows`` (in id order) and report every break in the chain.

    ``hash_owner(h)`` answers which row id carries hash ``h`` (or ``None``): it tells a link
    to another row of the log (reordered) from a link to a row that is gone (deleted).
    ``head`` is the recorded ``(seq, hash)``, or ``None`` when the head record is missing.
    """
    report = AuditReport()

    def problem(row: int | None, what: str, detail: str) -> None:
        if len(report.problems) < MAX_PROBLEMS:
            report.problems.append(AuditProblem(row, what, detail))
        else:
            report.truncated = True

    if head is None:
        problem(None, DELETED, "the audit head record (audit_head, id 1) is missing")
    head_seq = head[0] if head else None
    head_hash = head[1] if head else None
    past_head = head is not None and head_hash is None  # the head says: an empty log
    head_found = False

    stream = _Peekable(rows)
    expected_id = 1
    expected_prev = GENESIS  # what the next row must link to
    before_prev: str | None = None  # what the last accepted row linked to
    last: AuditRecord | None = None  # the last row accepted into the chain
    last_seen_id = 0

    while (row := stream.pop()) is not None:
        report.rows += 1
        last_seen_id = row.id
        hash_ok = row.computed_hash() == row.hash

        if past_head:
            problem(
                row.id,
                INSERTED,
                f"row {row.id} comes after the recorded head "
                f"({f'row {head_seq}' if head_seq else 'an empty log'}): "
                "it was added outside the store",
            )
            expected_id = row.id + 1
            continue

        if row.prev_hash == expected_prev:
            if not hash_ok:
                problem(
                    row.id,
                    EDITED,
                    f"row {row.id}'s hash does not match its content "
                    f"(stored {row.hash[:12]}…, computed {row.computed_hash()[:12]}…)",
                )
            elif row.id != expected_id:
                problem(
                    row.id,
                    REORDERED,
                    f"row {row.id} follows row {expected_id - 1} in the chain but its id is "
                    f"not {expected_id}: rows were renumbered",
                )
            before_prev, expected_prev, last = row.prev_hash, row.hash, row
            expected_id = row.id + 1
            if head_hash is not None and row.hash == head_hash:
                head_found = past_head = True
            continue

        # The link is broken: find out which row is to blame.
        owner = hash_owner(row.prev_hash)
        following = stream.peek()
        if last is not None and before_prev is not None and row.prev_hash == before_prev:
            problem(
                last.id,
                INSERTED,
                f"row {last.id} is not part of the chain: row {row.id} links past it to the "
                "row before it",
            )
            expected_prev = row.hash
        elif owner is not None and owner != row.id:
            problem(
                row.id,
                REORDERED,
                f"row {row.id} links to row {owner}, not to the row before it "
                f"({last.id if last else 'start of the log'})",
            )
            expected_prev = row.hash
        elif following is not None and following.prev_hash == expected_prev:
            problem(
                row.id,
                INSERTED,
                f"row {row.id} is not part of the chain: row {following.id} links past it "
                "to the row before it",
            )
            # expected_prev stays: the chain goes on from the row before the forged one
            expected_id = row.id + 1
            continue
        elif row.id > expected_id:
            missing = (
                f"row {expected_id}"
                if row.id == expected_id + 1
                else f"rows {expected_id} to {row.id - 1}"
            )
            problem(
                expected_id,
                DELETED,
                f"{missing} missing: row {row.id} links to hash {row.prev_hash[:12]}…, "
                "which no row of the log has",
            )
            expected_prev = row.hash
        elif last is not None:
            problem(
                last.id,
                EDITED,
                f"row {last.id} was rewritten with a recomputed hash: row {row.id} links to "
                f"hash {row.prev_hash[:12]}…, which row {last.id} no longer has (or rows "
                "were deleted and the rest renumbered)",
            )
            expected_prev = row.hash
        else:
            problem(
                row.id,
                DELETED,
                f"the first row ({row.id}) links to hash {row.prev_hash[:12]}…, not to the "
                "start of the chain: earlier rows were deleted",
            )
            expected_prev = row.hash
        before_prev, last = row.prev_hash, row
        expected_id = row.id + 1
        if head_hash is not None and row.hash == head_hash:
            head_found = past_head = True

    report.head = last.hash if last else None
    if head_seq is not None and head_hash is not None and not head_found:
        if last_seen_id < head_seq:
            first_missing = last_seen_id + 1
            span = (
                f"row {head_seq} was"
                if first_missing == head_seq
                else f"rows {first_missing} to {head_seq} were"
            )
            problem(
                first_missing,
                DELETED,
                f"the log ends at row {last_seen_id} but the recorded head is row "
                f"{head_seq}: {span} deleted",
            )
        else:
            problem(
                head_seq,
                EDITED,
                f"no row carries the recorded head hash {head_hash[:12]}…: row {head_seq} "
                "was rewritten with a new hash (or the head record was)",
            )
    return report

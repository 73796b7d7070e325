"""Prometheus text exposition (format 0.0.4) of what the store knows.

:func:`render` is pure: a :class:`MetricsSnapshot` in, the text out. :func:`collect` reads
the snapshot from a store (and the vulnerability database's age); :func:`metrics_text` does
both, and is what ``baseguard serve`` mounts at ``/metrics``
(``Content-Type: text/plain; version=0.0.4``).

Metrics:

- ``baseguard_catalog_entries{state}``: catalog entries per lifecycle state;
- ``baseguard_images``, ``baseguard_images_in_catalog``, ``baseguard_catalog_coverage_ratio``:
  stored images (analyses), those whose reference matches an approved or deprecated
  entry, and the ratio;
- ``baseguard_findings{severity}``, ``baseguard_findings_fixable``,
  ``baseguard_findings_kev``: findings in the latest scan of every image;
- ``baseguard_sla_clocks{status}``, ``baseguard_sla_breaches{severity}``: patch-SLA clocks;
- ``baseguard_scan_age_seconds`` (histogram over images, by their latest scan),
  ``baseguard_images_unscanned``, ``baseguard_vulndb_age_seconds``,
  ``baseguard_last_rematch_timestamp_seconds``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from baseguard.monitor.sla import SlaClock
    from baseguard.store import Store

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
SEVERITIES = ("critical", "high", "medium", "low", "negligible", "unknown")
STATES = ("proposed", "approved", "deprecated", "retired")
SLA_STATUSES = ("open", "met", "breached", "overdue")
#: Scan-age histogram buckets, in seconds: 1 h, 6 h, 1 d, 7 d, 30 d.
AGE_BUCKETS = (3600.0, 6 * 3600.0, 86400.0, 7 * 86400.0, 30 * 86400.0)


@dataclass
class MetricsSnapshot:
    """The numbers :func:`render` writes."""

    entries_by_state: dict[str, int] = field(default_factory=dict)
    images: int = 0
    images_in_catalog: int = 0
    findings_by_severity: dict[str, int] = field(default_factory=dict)
    fixable: int = 0
    kev: int = 0
    sla_by_status: dict[str, int] = field(default_factory=dict)
    breaches_by_severity: dict[str, int] = field(default_factory=dict)
    #: Age in seconds of each scanned image's latest scan.
    scan_ages: list[float] = field(default_factory=list)
    unscanned: int = 0
    vulndb_age: float | None = None
    last_rematch: datetime | None = None


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if float(value).is_integer():
        return str(int(value))
    return repr(float(value))


class _Writer:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def family(self, name: str, kind: str, help_text: str) -> None:
        self.lines.append(f"# HELP {name} {help_text}")
        self.lines.append(f"# TYPE {name} {kind}")

    def sample(self, name: str, value: float, labels: Mapping[str, str] | None = None) -> None:
        if labels:
            inner = ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items())
            self.lines.append(f"{name}{{{inner}}} {_number(value)}")
        else:
            self.lines.append(f"{name} {_number(value)}")

    def gauge(self, name: str, help_text: str, value: float) -> None:
        self.family(name, "gauge", help_text)
        self.sample(name, value)

    def labelled(
        self, name: str, help_text: str, label: str, keys: Sequence[str], values: Mapping[str, int]
    ) -> None:
        self.family(name, "gauge", help_text)
        extra = sorted(k for k in values if k not in keys)
        for key in (*keys, *extra):
            self.sample(name, values.get(key, 0), {label: key})


def render(snapshot: MetricsSnapshot) -> str:
    """The Prometheus text exposition of ``snapshot`` (ends with a newline)."""
    w = _Writer()
    w.labelled(
        "baseguard_catalog_entries",
        "Catalog entries by lifecycle state.",
        "state",
        STATES,
        snapshot.entries_by_state,
    )
    w.gauge("baseguard_images", "Images with a stored analysis.", snapshot.images)
    w.gauge(
        "baseguard_images_in_catalog",
        "Stored images whose reference matches an approved or deprecated catalog entry.",
        snapshot.images_in_catalog,
    )
    ratio = snapshot.images_in_catalog / snapshot.images if snapshot.images else 0.0
    w.gauge(
        "baseguard_catalog_coverage_ratio",
        "Share of stored images that come from the catalog (0 when there are none).",
        ratio,
    )
    w.labelled(
        "baseguard_findings",
        "Findings (not suppressed) in the latest scan of every image, by severity.",
        "severity",
        SEVERITIES,
        snapshot.findings_by_severity,
    )
    w.gauge(
        "baseguard_findings_fixable",
        "Findings with a fixed version available, in the latest scans.",
        snapshot.fixable,
    )
    w.gauge(
        "baseguard_findings_kev", "Findings listed in CISA KEV, in the latest scans.", snapshot.kev
    )
    w.labelled(
        "baseguard_sla_clocks",
        "Patch-SLA clocks by status (open, met, breached, overdue).",
        "status",
        SLA_STATUSES,
        snapshot.sla_by_status,
    )
    w.labelled(
        "baseguard_sla_breaches",
        "Patch-SLA clocks breached or overdue, by severity.",
        "severity",
        SEVERITIES[:4],
        snapshot.breaches_by_severity,
    )
    w.family(
        "baseguard_scan_age_seconds",
        "histogram",
        "Age of each scanned image's latest scan, in seconds.",
    )
    ages = sorted(snapshot.scan_ages)
    for bound in AGE_BUCKETS:
        w.sample(
            "baseguard_scan_age_seconds_bucket",
            sum(1 for a in ages if a <= bound),
            {"le": _number(bound)},
        )
    w.sample("baseguard_scan_age_seconds_bucket", len(ages), {"le": "+Inf"})
    w.sample("baseguard_scan_age_seconds_sum", round(sum(ages), 3))
    w.sample("baseguard_scan_age_seconds_count", len(ages))
    w.gauge(
        "baseguard_images_unscanned", "Stored images that were never scanned.", snapshot.unscanned
    )
    w.gauge(
        "baseguard_vulndb_age_seconds",
        "Age of the vulnerability database (NaN when there is none).",
        snapshot.vulndb_age if snapshot.vulndb_age is not None else math.nan,
    )
    w.gauge(
        "baseguard_last_rematch_timestamp_seconds",
        "When the last re-match of every analysis ran (Unix time; 0: never).",
        snapshot.last_rematch.timestamp() if snapshot.last_rematch else 0,
    )
    return "\n".join(w.lines) + "\n"


def collect(
    store: Store,
    *,
    now: datetime | None = None,
    vulndb_path: Path | None = None,
    clocks: Iterable[SlaClock] | None = None,
) -> MetricsSnapshot:
    """Read the numbers from the store (one pass over analyses and scans, by pages).

    ``clocks`` are the patch-SLA clocks when the caller has them (``watch`` does); otherwise
    they are computed from the store.
    """
    from baseguard.catalog.model import Catalog
    from baseguard.monitor.cycle import load_entries
    from baseguard.monitor.rematch import last_rematch
    from baseguard.monitor.sla import sla_clocks
    from baseguard.refs import parse_reference

    moment = now or datetime.now(UTC)
    snap = MetricsSnapshot()
    entries = load_entries(store)
    for entry in entries:
        snap.entries_by_state[entry.state] = snap.entries_by_state.get(entry.state, 0) + 1
    catalog = Catalog(entries=tuple(entries))
    latest = {s.digest: (s.scanned_at or s.created_at, s.summary) for s in store.iter_scans()}
    for _row_id, digest, reference in store.list_analyses():
        snap.images += 1
        try:
            matched = catalog.match(parse_reference(reference)) if reference else None
        except Exception:
            matched = None
        if matched is not None and matched[0].state in ("approved", "deprecated"):
            snap.images_in_catalog += 1
        found = latest.get(digest)
        if found is None:
            snap.unscanned += 1
            continue
        when, summary = found
        snap.scan_ages.append(max(0.0, (moment - when).total_seconds()))
        by = summary.get("bySeverity")
        if isinstance(by, dict):
            for severity, count in by.items():
                if isinstance(count, int):
                    key = str(severity).lower()
                    snap.findings_by_severity[key] = snap.findings_by_severity.get(key, 0) + count
        for attr, key in (("fixable", "fixable"), ("kev", "kev")):
            value = summary.get(key)
            if isinstance(value, int):
                setattr(snap, attr, getattr(snap, attr) + value)
    chosen = list(clocks) if clocks is not None else sla_clocks(store, entries, now=moment)
    for clock in chosen:
        snap.sla_by_status[clock.status] = snap.sla_by_status.get(clock.status, 0) + 1
        if clock.breached:
            sev = clock.severity.lower()
            snap.breaches_by_severity[sev] = snap.breaches_by_severity.get(sev, 0) + 1
    if vulndb_path is not None:
        from baseguard.vulndb.store import VulnDB, VulnDbError

        try:
            with VulnDB.open(vulndb_path) as db:
                snap.vulndb_age = max(0.0, db.age(moment).total_seconds())
        except VulnDbError:
            snap.vulndb_age = None
    last = last_rematch(store)
    if last is not None:
        snap.last_rematch = last.time
    return snap


def metrics_text(
    store: Store, *, now: datetime | None = None, vulndb_path: Path | None = None
) -> str:
    """What ``/metrics`` answers: :func:`collect` then :func:`render`."""
    return render(collect(store, now=now, vulndb_path=vulndb_path))

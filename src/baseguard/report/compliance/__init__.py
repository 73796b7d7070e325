"""DORA / NIS2 compliance evidence, built from the store: ``baseguard report compliance``.

:func:`build_report` measures the evidence (:mod:`.evidence`) and judges each article of the
chosen framework (:mod:`.frameworks`); the renderers write it as JSON, Markdown, HTML or PDF.
Every output names the generation time and the audit chain's head hash. See docs/report.md.
"""

from __future__ import annotations

import importlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from baseguard import __version__
from baseguard.errors import UsageError
from baseguard.report.compliance.evidence import Evidence, Thresholds, collect, iso
from baseguard.report.compliance.frameworks import (
    FRAMEWORKS,
    GAP,
    MET,
    PARTIAL,
    Article,
    article_status,
    articles_for,
)

if TYPE_CHECKING:
    from baseguard.store import Store

#: ``-o`` name -> ``module:function`` rendering a :class:`ComplianceReport` (imported when
#: chosen, so JSON never loads reportlab).
RENDERERS: dict[str, str] = {
    "json": "baseguard.report.compliance:render_json",
    "markdown": "baseguard.report.compliance.render_md:render_markdown",
    "html": "baseguard.report.compliance.render_html:render_html",
    "pdf": "baseguard.report.compliance.render_pdf:render_pdf",
}

FRAMEWORK_TITLES = {
    "dora": "DORA (Regulation (EU) 2022/2554) and Delegated Regulation (EU) 2024/1774",
    "nis2": "NIS2 (Directive (EU) 2022/2555) and Implementing Regulation (EU) 2024/2690",
    "all": "DORA, NIS2 and their technical standards",
}

#: The sentence every rendering puts under its header.
RULES_NOTE = (
    "Statuses follow the rules in baseguard's docs/report.md; requirements are one-line "
    "summaries, not the legal text."
)


@dataclass
class ArticleResult:
    """One article judged: its status and why."""

    article: Article
    status: str
    reasons: list[str]

    def to_dict(self) -> dict[str, Any]:
        return {**self.article.to_dict(), "status": self.status, "reasons": self.reasons}


@dataclass
class ComplianceReport:
    """The whole report: what was judged when, against which store and audit head."""

    framework: str
    generated_at: datetime
    store: str
    head: str | None
    audit_ok: bool
    audit_rows: int
    thresholds: Thresholds
    articles: list[ArticleResult]
    evidence: list[Evidence]
    tool_version: str = __version__
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def title(self) -> str:
        return f"baseguard compliance evidence: {FRAMEWORK_TITLES[self.framework]}"

    @property
    def generated(self) -> str:
        return iso(self.generated_at) or ""

    @property
    def head_text(self) -> str:
        return self.head or "(empty audit log)"

    @property
    def audit_state(self) -> str:
        """``intact, 18 rows`` (or ``TAMPERED, …``)."""
        return f"{'intact' if self.audit_ok else 'TAMPERED'}, {self.audit_rows} rows"

    @property
    def counts_text(self) -> str:
        """``1 met, 11 partial, 0 gap``."""
        met, partial, gap = (self.counts.get(s, 0) for s in (MET, PARTIAL, GAP))
        return f"{met} met, {partial} partial, {gap} gap"

    def header_rows(self) -> list[list[str]]:
        """The header table of the HTML and PDF renderings: label, value."""
        return [
            ["Generated", self.generated],
            ["Store", self.store],
            ["Audit chain head", f"{self.head_text} ({self.audit_state})"],
            ["Articles", self.counts_text],
            ["Tool", f"baseguard {self.tool_version}"],
        ]

    def evidence_by_id(self) -> dict[str, Evidence]:
        return {e.id: e for e in self.evidence}

    def used_evidence(self) -> list[Evidence]:
        """Evidence items that at least one included article uses, in report order."""
        wanted = {e for a in self.articles for e in a.article.evidence}
        return [e for e in self.evidence if e.id in wanted]

    def to_dict(self) -> dict[str, Any]:
        return {
            "schemaVersion": "1",
            "kind": "baseguard-compliance-report",
            "tool": {"name": "baseguard", "version": self.tool_version},
            "title": self.title,
            "framework": self.framework,
            "generatedAt": self.generated,
            "store": self.store,
            "audit": {"ok": self.audit_ok, "rows": self.audit_rows, "head": self.head},
            "thresholds": self.thresholds.to_dict(),
            "summary": self.counts,
            "articles": [a.to_dict() for a in self.articles],
            "evidence": [e.to_dict() for e in self.used_evidence()],
        }


def build_report(
    store: Store,
    framework: str,
    *,
    now: datetime | None = None,
    thresholds: Thresholds | None = None,
) -> ComplianceReport:
    """Measure the evidence in ``store`` on ``now`` and judge ``framework``'s articles."""
    if framework not in FRAMEWORKS:
        raise UsageError(
            f"unknown framework {framework!r}", hint=f"choose one of {', '.join(FRAMEWORKS)}"
        )
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    limits = thresholds or Thresholds()
    items = collect(store, moment, limits)
    audit = next(e for e in items if e.id == "audit")
    by_id = {e.id: e.status for e in items}
    results = []
    for article in articles_for(framework):
        status, reasons = article_status(article, by_id)
        results.append(ArticleResult(article, status, reasons))
    counts = {s: sum(1 for r in results if r.status == s) for s in (MET, PARTIAL, GAP)}
    return ComplianceReport(
        framework=framework,
        generated_at=moment,
        store=store.display_url,
        head=audit.facts.get("head"),
        audit_ok=bool(audit.facts.get("ok")),
        audit_rows=int(audit.facts.get("rows") or 0),
        thresholds=limits,
        articles=results,
        evidence=items,
        counts=counts,
    )


def render_json(report: ComplianceReport) -> str:
    """The report as indented JSON (stable order: deterministic for a given store and now)."""
    return json.dumps(report.to_dict(), indent=2, ensure_ascii=False) + "\n"


def render(report: ComplianceReport, fmt: str) -> str | bytes:
    """The report in ``fmt`` (see :data:`RENDERERS`): text, or bytes for PDF."""
    target = RENDERERS.get(fmt)
    if target is None:
        raise UsageError(
            f"unknown report format {fmt!r}", hint=f"choose one of {', '.join(RENDERERS)}"
        )
    module, _, name = target.partition(":")
    result: str | bytes = getattr(importlib.import_module(module), name)(report)
    return result


def cell(value: Any) -> str:
    """A fact or table value as text: lists joined, dicts as ``k: v``, None as ``-``."""
    if value is None or value == [] or value == {}:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list):
        return ", ".join(cell(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}: {cell(v)}" for k, v in value.items())
    return str(value)


__all__ = [
    "RENDERERS",
    "ArticleResult",
    "ComplianceReport",
    "Evidence",
    "Thresholds",
    "build_report",
    "cell",
    "render",
    "render_json",
]

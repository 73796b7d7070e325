"""What the catalog says about each use of an image: one verdict per use, with its reason.

The rules, in order (the first that applies wins):

1. no entry allows the reference (repository equal, tag allowed or digest pinned):
   ``not-in-catalog``;
2. the entry is retired: ``retired``;
3. the entry's end-of-life date is before the judging date: ``past-eol``;
4. the entry is only proposed: ``proposed`` (it does not count as approved);
5. a dev variant (shell, package manager) is used outside a build stage and the entry does
   not say ``dev_in_production: true``: ``dev-variant-in-production``;
6. the entry is deprecated: ``deprecated`` (still allowed, with a warning);
7. otherwise ``approved``.

A live exception whose pattern matches the reference turns any verdict but ``approved`` into
``excepted`` (shown as ``excepted-until-DATE``), keeping the verdict it covers. An expired
exception no longer counts; the reason says it expired.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any

from baseguard.catalog.model import Catalog, CatalogEntry, CatalogException, Match
from baseguard.errors import BaseguardError
from baseguard.inventory.model import ImageUse
from baseguard.refs import Reference, parse_reference


class Verdict(StrEnum):
    APPROVED = "approved"
    DEV_IN_PRODUCTION = "dev-variant-in-production"
    DEPRECATED = "deprecated"
    PAST_EOL = "past-eol"
    RETIRED = "retired"
    EXCEPTED = "excepted"
    PROPOSED = "proposed"
    NOT_IN_CATALOG = "not-in-catalog"


#: Worst first: an image's verdict is the worst of its uses'.
SEVERITY_ORDER = (
    Verdict.NOT_IN_CATALOG,
    Verdict.RETIRED,
    Verdict.PAST_EOL,
    Verdict.DEV_IN_PRODUCTION,
    Verdict.PROPOSED,
    Verdict.DEPRECATED,
    Verdict.EXCEPTED,
    Verdict.APPROVED,
)
#: Verdicts under which a use is allowed (deprecated: allowed, with a warning).
ALLOWED = frozenset({Verdict.APPROVED, Verdict.DEPRECATED, Verdict.EXCEPTED})
#: The role in which dev variants are allowed.
BUILD_ROLE = "build"


@dataclass(frozen=True)
class Judgement:
    """The verdict for one reference in one role, and why."""

    verdict: Verdict
    reason: str
    entry: str | None = None
    variant: str | None = None
    exception: str | None = None
    until: date | None = None
    covers: Verdict | None = None

    @property
    def label(self) -> str:
        """``excepted-until-2026-06-30``, ``past-EOL``, or the verdict itself."""
        if self.verdict is Verdict.EXCEPTED and self.until is not None:
            return f"excepted-until-{self.until.isoformat()}"
        if self.verdict is Verdict.PAST_EOL:
            return "past-EOL"
        return self.verdict.value

    @property
    def allowed(self) -> bool:
        return self.verdict in ALLOWED

    def to_dict(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict.value,
            "label": self.label,
            "allowed": self.allowed,
            "entry": self.entry,
            "variant": self.variant,
            "exception": self.exception,
            "until": self.until.isoformat() if self.until else None,
            "covers": self.covers.value if self.covers else None,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class UseVerdict:
    """A judgement tied to the use it is about."""

    use: ImageUse
    judgement: Judgement

    @property
    def verdict(self) -> Verdict:
        return self.judgement.verdict

    @property
    def file(self) -> str:
        """The file (or cluster object) the use was found in."""
        return self.use.location.file or str(self.use.location)


def judge(catalog: Catalog, reference: str, role: str, today: date) -> Judgement:
    """The verdict for ``reference`` used in ``role``, judged on ``today``."""
    try:
        ref: str | Reference = parse_reference(reference)  # once, for every lookup below
    except BaseguardError:
        ref = reference  # not a valid reference: every lookup misses, explain() says why
    match = catalog.match_detail(ref)
    base = _catalog_verdict(catalog, ref, role, today, match)
    if base.verdict is Verdict.APPROVED:
        return base
    exception = catalog.exception_for(ref, today)
    if exception is not None:
        return _excepted(exception, base)
    expired = catalog.expired_exception_for(ref, today)
    if expired is not None:
        return Judgement(
            base.verdict,
            f"{base.reason}; exception {expired.id} expired on {expired.expires}",
            entry=base.entry,
            variant=base.variant,
        )
    return base


def _excepted(exception: CatalogException, covered: Judgement) -> Judgement:
    return Judgement(
        Verdict.EXCEPTED,
        f"exception {exception.id} (approved by {exception.approver}) until "
        f"{exception.expires}: {exception.justification.rstrip('. ')}; "
        f"otherwise {covered.verdict.value}: {covered.reason}",
        entry=covered.entry,
        variant=covered.variant,
        exception=exception.id,
        until=exception.expires,
        covers=covered.verdict,
    )


def _catalog_verdict(
    catalog: Catalog, reference: str | Reference, role: str, today: date, match: Match | None
) -> Judgement:
    if match is None:
        return Judgement(Verdict.NOT_IN_CATALOG, catalog.explain(reference))
    entry, variant = match.entry, match.variant
    name = variant.name if variant else None
    what = f"entry {entry.id}" + (f" (variant {name})" if name else "")

    def verdict(v: Verdict, reason: str) -> Judgement:
        return Judgement(v, reason, entry=entry.id, variant=name)

    if entry.state == "retired":
        return verdict(Verdict.RETIRED, f"{what} was retired{_on(entry, 'retired')}{_repl(entry)}")
    if entry.past_eol(today):
        return verdict(
            Verdict.PAST_EOL, f"{what} reached its end of life on {entry.eol}{_repl(entry)}"
        )
    if entry.state == "proposed":
        return verdict(
            Verdict.PROPOSED,
            f"{what} is only proposed, not approved: it does not count as approved until "
            f"`baseguard catalog approve {entry.id}`",
        )
    if match.dev and role != BUILD_ROLE and not entry.dev_in_production:
        return verdict(
            Verdict.DEV_IN_PRODUCTION,
            f"{what} is a dev variant (shell or package manager), allowed only in build "
            f"stages; here it is used as {role}",
        )
    if entry.state == "deprecated":
        return verdict(
            Verdict.DEPRECATED, f"{what} is deprecated{_on(entry, 'deprecated')}{_repl(entry)}"
        )
    how = "pinned digest" if match.by == "digest" else "allowed tag"
    extra = ", dev variant in a build stage" if match.dev and role == BUILD_ROLE else ""
    return verdict(Verdict.APPROVED, f"{what} is approved ({how}{extra})")


def _on(entry: CatalogEntry, state: str) -> str:
    since = entry.lifecycle.since(state)
    return f" on {since}" if since else ""


def _repl(entry: CatalogEntry) -> str:
    return f"; replaced by {entry.replaced_by}" if entry.replaced_by else ""


def judge_use(catalog: Catalog, use: ImageUse, today: date) -> UseVerdict:
    return UseVerdict(use, judge(catalog, use.reference, use.role, today))


def worst(verdicts: Iterable[UseVerdict]) -> UseVerdict | None:
    """The most serious of ``verdicts`` (see :data:`SEVERITY_ORDER`), or None if empty."""
    items = list(verdicts)
    if not items:
        return None
    return min(items, key=lambda v: SEVERITY_ORDER.index(v.verdict))


@dataclass
class CatalogVerdicts:
    """Every use of an estate judged against a catalog on one date."""

    source: str | None
    date: date
    entries: int
    uses: list[UseVerdict]

    def counts(self) -> dict[str, dict[str, Any]]:
        """Uses and their files per verdict; every verdict present, worst first."""
        out: dict[str, dict[str, Any]] = {}
        for verdict in SEVERITY_ORDER:
            mine = [u for u in self.uses if u.verdict is verdict]
            out[verdict.value] = {"uses": len(mine), "files": sorted({u.file for u in mine})}
        return out

    def for_reference(self, reference: str) -> list[UseVerdict]:
        return [u for u in self.uses if u.use.reference == reference]

    def to_dict(self, build_only: Sequence[str] = ()) -> dict[str, Any]:
        allowed = sum(1 for u in self.uses if u.judgement.allowed)
        return {
            "file": self.source,
            "date": self.date.isoformat(),
            "entries": self.entries,
            "uses": len(self.uses),
            "allowedUses": allowed,
            "notAllowedUses": len(self.uses) - allowed,
            "byVerdict": self.counts(),
            "buildOnly": [
                {
                    "reference": ref,
                    "verdict": w.judgement.to_dict() if w else None,
                    "locations": [
                        {**u.use.to_dict(), "verdict": u.judgement.to_dict()}
                        for u in self.for_reference(ref)
                    ],
                }
                for ref in build_only
                for w in [worst(self.for_reference(ref))]
            ],
        }


def judge_uses(
    catalog: Catalog, uses: Iterable[ImageUse], today: date, source: str | None = None
) -> CatalogVerdicts:
    """Judge every use (build stages included) on ``today``."""
    return CatalogVerdicts(
        source=source,
        date=today,
        entries=len(catalog.entries),
        uses=[judge_use(catalog, u, today) for u in uses],
    )

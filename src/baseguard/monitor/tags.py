"""Follow catalog entries' tags to digests over time, by polling the registry.

For each entry that is not retired, every concrete tag it allows (its own and its
variants'; glob patterns such as ``3.12*`` are expanded with the registry's tag list) is
resolved to a manifest digest. When a tag points somewhere new, a ``monitor.tag`` audit
event records the observation: entry, tag, digest, the digest before, when it was seen and
the digest of the stored analysis (after analysing the new image when asked to). The
history of a tag is the fold of those events, oldest first; the patch-SLA clocks
(:mod:`baseguard.monitor.sla`) read it to learn when a fixed digest appeared.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING, Any, Protocol

from baseguard.monitor import events as ev

if TYPE_CHECKING:
    from baseguard.analysis.analyze import Analysis
    from baseguard.catalog.model import CatalogEntry
    from baseguard.refs import Reference
    from baseguard.store import Store

#: Tags a glob pattern may expand to (the registry lists them all; we follow at most this).
MAX_TAGS_PER_PATTERN = 100


class TagRegistry(Protocol):
    """What tag following needs from :class:`~baseguard.image.registry.RegistryClient`."""

    def get_manifest(self, ref: Reference) -> tuple[bytes, str, str]: ...

    def list_tags(self, repo: Reference | str, *, page_size: int | None = None) -> list[str]: ...


#: Analyse ``repository@digest`` and return the analysis (stored by the caller), or raise.
Analyzer = Callable[[str], "Analysis"]


@dataclass(frozen=True)
class TagObservation:
    """A tag seen pointing at a digest, from ``seen_at`` on."""

    entry_id: str
    repository: str
    tag: str
    digest: str
    seen_at: datetime
    previous: str | None = None
    #: The digest the stored analysis is kept under (the platform manifest's digest when
    #: the tag names an index); None while the image has not been analysed.
    analysis_digest: str | None = None
    variant: str | None = None

    @property
    def reference(self) -> str:
        return f"{self.repository}@{self.digest}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "entry": self.entry_id,
            "repository": self.repository,
            "tag": self.tag,
            "variant": self.variant,
            "digest": self.digest,
            "previous": self.previous,
            "analysisDigest": self.analysis_digest,
            "seenAt": self.seen_at.isoformat(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TagObservation:
        return cls(
            entry_id=str(data["entry"]),
            repository=str(data["repository"]),
            tag=str(data["tag"]),
            digest=str(data["digest"]),
            seen_at=ev.parse_time(str(data["seenAt"])),
            previous=data.get("previous"),
            analysis_digest=data.get("analysisDigest"),
            variant=data.get("variant"),
        )


#: (entry id, tag) -> observations, oldest first; a later observation of the same digest
#: (the analysis arrived) replaces the earlier one but keeps its ``seen_at``.
TagHistory = dict[tuple[str, str], list[TagObservation]]


def fold_history(observations: Iterable[TagObservation]) -> TagHistory:
    history: TagHistory = {}
    for obs in observations:
        line = history.setdefault((obs.entry_id, obs.tag), [])
        if line and line[-1].digest == obs.digest:
            first = line[-1]
            line[-1] = TagObservation(
                first.entry_id,
                first.repository,
                first.tag,
                first.digest,
                first.seen_at,
                first.previous,
                obs.analysis_digest or first.analysis_digest,
                first.variant,
            )
        else:
            line.append(obs)
    return history


def tag_history(store: Store) -> TagHistory:
    """Every tag's digests over time, from the ``monitor.tag`` events."""
    return fold_history(
        TagObservation.from_dict(e.data) for e in ev.events(store, [ev.TAG]) if "digest" in e.data
    )


@dataclass
class PollReport:
    """One polling round."""

    checked: int = 0
    changed: list[TagObservation] = field(default_factory=list)
    analysed: list[str] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "checked": self.checked,
            "changed": [o.to_dict() for o in self.changed],
            "analysed": list(self.analysed),
            "errors": [{"tag": t, "error": e} for t, e in self.errors],
        }


def followed_tags(entry: CatalogEntry, registry: TagRegistry) -> list[tuple[str, str | None]]:
    """``(tag, variant name)`` pairs an entry follows; globs expanded against the registry."""
    slots: list[tuple[Sequence[str], str | None]] = [(entry.tags, None)]
    slots += [(v.tags, v.name) for v in entry.variants]
    out: dict[str, str | None] = {}
    listed: list[str] | None = None
    for patterns, variant in slots:
        for pattern in patterns:
            if any(c in pattern for c in "*?"):
                if listed is None:
                    listed = sorted(registry.list_tags(entry.repository))
                matched = [t for t in listed if fnmatchcase(t, pattern)]
                for tag in matched[-MAX_TAGS_PER_PATTERN:]:
                    out.setdefault(tag, variant)
            else:
                out.setdefault(pattern, variant)
    return sorted(out.items())


def poll_tags(
    store: Store,
    registry: TagRegistry,
    entries: Iterable[CatalogEntry],
    *,
    now: datetime | None = None,
    analyzer: Analyzer | None = None,
    actor: str = ev.ACTOR,
    history: TagHistory | None = None,
) -> PollReport:
    """Resolve every followed tag; record a ``monitor.tag`` event for each that moved.

    With ``analyzer``, a digest the store has no analysis of is analysed and saved, and its
    observation names the analysis digest; an image that cannot be analysed is reported in
    ``errors`` and tried again on the next round.
    """
    from baseguard.refs import parse_reference

    moment = now or datetime.now(UTC)
    known = tag_history(store) if history is None else history
    report = PollReport()
    for entry in entries:
        if entry.state == "retired":
            continue
        try:
            tags = followed_tags(entry, registry)
        except Exception as exc:
            report.errors.append((entry.repository, _why(exc)))
            continue
        for tag, variant in tags:
            name = f"{entry.repository}:{tag}"
            report.checked += 1
            try:
                _, _, digest = registry.get_manifest(parse_reference(name))
            except Exception as exc:
                report.errors.append((name, _why(exc)))
                continue
            line = known.get((entry.id, tag), [])
            last = line[-1] if line else None
            if (
                last is not None
                and last.digest == digest
                and (last.analysis_digest or analyzer is None)
            ):
                continue
            analysis_digest = last.analysis_digest if last and last.digest == digest else None
            if analysis_digest is None and analyzer is not None:
                try:
                    analysis_digest = _ensure_analysis(
                        store, analyzer, f"{entry.repository}@{digest}", digest, actor
                    )
                    report.analysed.append(analysis_digest)
                except Exception as exc:
                    report.errors.append((name, _why(exc)))
                    if last is not None and last.digest == digest:
                        continue
            obs = TagObservation(
                entry_id=entry.id,
                repository=entry.repository,
                tag=tag,
                digest=digest,
                seen_at=last.seen_at if last is not None and last.digest == digest else moment,
                previous=last.digest
                if last is not None and last.digest != digest
                else (last.previous if last is not None else None),
                analysis_digest=analysis_digest,
                variant=variant,
            )
            store.record_event(ev.TAG, f"{entry.id}:{tag}", obs.to_dict(), actor)
            known.setdefault((entry.id, tag), []).append(obs)
            known[(entry.id, tag)] = fold_history(known[(entry.id, tag)])[(entry.id, tag)]
            if last is None or last.digest != digest:
                report.changed.append(obs)
    return report


def _ensure_analysis(
    store: Store, analyzer: Analyzer, reference: str, digest: str, actor: str
) -> str:
    """The digest of the stored analysis of ``reference``; analyse and save it if needed."""
    if store.load_analysis(digest) is not None:
        return digest
    analysis = analyzer(reference)
    store.save_analysis(analysis, actor)
    return analysis.image.manifest_digest or analysis.image.config_digest or digest


def current_digests(history: TagHistory) -> dict[tuple[str, str], TagObservation]:
    """The newest observation of every followed tag."""
    return {key: line[-1] for key, line in history.items() if line}


def _why(exc: Exception) -> str:
    message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    return str(message)

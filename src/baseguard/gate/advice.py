"""What to use instead: the catalog replacement for a judged image, when the catalog knows one.

A retired, past-EOL or deprecated entry names its successor with ``replaced_by``; the chain is
followed to the first approved entry (a successor may itself have been deprecated since). A dev
variant used in production is replaced by the same entry's runtime image.
"""

from __future__ import annotations

from dataclasses import dataclass

from baseguard.catalog.model import Catalog, CatalogEntry, is_glob
from baseguard.catalog.verdicts import Judgement, Verdict

#: Longest ``replaced_by`` chain followed (a catalog cannot loop, but stay bounded anyway).
MAX_CHAIN = 16
_SUCCESSOR_VERDICTS = frozenset({Verdict.RETIRED, Verdict.PAST_EOL, Verdict.DEPRECATED})


@dataclass(frozen=True)
class Replacement:
    """A catalog entry to move to, and a reference it allows (None when it pins nothing plain)."""

    entry: str
    reference: str | None

    def text(self) -> str:
        """``docker.io/library/alpine:3.22 (catalog entry alpine-3.22)``."""
        if self.reference:
            return f"{self.reference} (catalog entry {self.entry})"
        return f"catalog entry {self.entry}"

    def to_dict(self) -> dict[str, str | None]:
        return {"entry": self.entry, "reference": self.reference}


def example_reference(entry: CatalogEntry, *, runtime_only: bool = True) -> str | None:
    """A reference ``entry`` allows: its first plain tag, else first digest, else first glob.

    With ``runtime_only`` dev variants are skipped (a replacement must run in production).
    """
    slots = [
        (tags, digests)
        for variant, tags, digests in entry.slots()
        if not (runtime_only and variant is not None and variant.dev)
    ]
    for tags, _ in slots:
        plain = [t for t in tags if not is_glob(t)]
        if plain:
            return f"{entry.repository}:{plain[0]}"
    for _, digests in slots:
        if digests:
            return f"{entry.repository}@{digests[0]}"
    for tags, _ in slots:
        if tags:
            return f"{entry.repository}:{tags[0]}"
    return None


def successor(catalog: Catalog, entry: CatalogEntry) -> CatalogEntry | None:
    """The entry ``entry.replaced_by`` leads to: the first approved one on the chain, else the
    last one reached."""
    found: CatalogEntry | None = None
    current = entry
    seen = {entry.id}
    for _ in range(MAX_CHAIN):
        if current.replaced_by is None or current.replaced_by in seen:
            break
        nxt = catalog.get(current.replaced_by)
        if nxt is None:
            break
        found, current = nxt, nxt
        seen.add(nxt.id)
        if nxt.state == "approved":
            break
    return found


def replacement_for(catalog: Catalog, judgement: Judgement) -> Replacement | None:
    """The catalog's replacement for an image judged ``judgement``, or None if it has none."""
    if judgement.entry is None:
        return None
    entry = catalog.get(judgement.entry)
    if entry is None:
        return None
    verdict = judgement.covers if judgement.verdict is Verdict.EXCEPTED else judgement.verdict
    if verdict in _SUCCESSOR_VERDICTS:
        target = successor(catalog, entry)
        if target is not None:
            return Replacement(target.id, example_reference(target))
        return None
    if verdict is Verdict.DEV_IN_PRODUCTION:
        reference = example_reference(entry)
        if reference is not None:
            return Replacement(entry.id, reference)
    return None

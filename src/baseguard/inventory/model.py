"""What an inventory is: every place an image reference is used, normalised and counted."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

#: Roles of a use. ``base``: the final stage of a Dockerfile; ``build``: an earlier stage,
#: ``COPY --from`` or ``RUN --mount=from``; ``runtime``/``init``/``ephemeral``: what a
#: compose service or a Kubernetes container runs; ``image``: an image stored in a registry.
ROLES = ("base", "build", "runtime", "init", "ephemeral", "image")
#: Roles whose images run (and so are scanned); ``build`` images are judged, not scanned.
RUNNING_ROLES = frozenset({"base", "runtime", "init", "ephemeral", "image"})


@dataclass(frozen=True, slots=True)
class Location:
    """Where a reference was found: a file and line, and/or a Kubernetes object."""

    file: str | None = None
    line: int | None = None
    namespace: str | None = None
    kind: str | None = None
    name: str | None = None
    container: str | None = None

    def __str__(self) -> str:
        parts = []
        if self.file:
            parts.append(f"{self.file}:{self.line}" if self.line else self.file)
        if self.kind:
            obj = "/".join(p for p in (self.namespace, self.kind, self.name) if p)
            parts.append(f"{obj}[{self.container}]" if self.container else obj)
        return " ".join(parts) or "?"

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__slots__ if getattr(self, k) is not None}


@dataclass(frozen=True, slots=True)
class ImageUse:
    """One use of an image reference."""

    reference: str
    raw: str
    role: str
    source: str
    location: Location
    platform: str | None = None
    digest: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "reference": self.reference,
            "raw": self.raw,
            "role": self.role,
            "source": self.source,
            "location": self.location.to_dict(),
        }
        if self.platform:
            out["platform"] = self.platform
        if self.digest:
            out["digest"] = self.digest
        return out


@dataclass(frozen=True, slots=True)
class InventoryIssue:
    """A file or object that could not be read completely; the rest is still inventoried."""

    path: str
    message: str
    line: int | None = None

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        return f"{where}: {self.message}"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"path": self.path, "message": self.message}
        if self.line:
            out["line"] = self.line
        return out


@dataclass
class Inventory:
    uses: list[ImageUse] = field(default_factory=list)
    issues: list[InventoryIssue] = field(default_factory=list)
    files_scanned: int = 0
    sources: list[str] = field(default_factory=list)

    def extend(self, uses: list[ImageUse], issues: list[InventoryIssue]) -> None:
        self.uses.extend(uses)
        self.issues.extend(issues)

    def finish(self) -> Inventory:
        """Deduplicate and sort, for deterministic output."""
        unique = {
            (u.reference, u.role, u.source, u.location, u.platform, u.digest): u for u in self.uses
        }
        self.uses = sorted(unique.values(), key=lambda u: (u.reference, str(u.location), u.role))
        self.issues = sorted(set(self.issues), key=lambda i: (i.path, i.line or 0, i.message))
        return self

    def counts(self) -> Counter[str]:
        return Counter(u.reference for u in self.uses)

    def references(self) -> list[str]:
        return sorted(self.counts())

    def to_dict(self) -> dict[str, Any]:
        by_ref: dict[str, list[ImageUse]] = {}
        for use in self.uses:
            by_ref.setdefault(use.reference, []).append(use)
        images = [
            {
                "reference": ref,
                "uses": len(uses),
                "roles": sorted({u.role for u in uses}),
                "locations": [u.to_dict() for u in uses],
            }
            for ref, uses in sorted(by_ref.items())
        ]
        return {
            "images": images,
            "issues": [i.to_dict() for i in self.issues],
            "filesScanned": self.files_scanned,
            "sources": sorted(set(self.sources)),
        }

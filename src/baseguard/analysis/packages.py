"""Packages found in an image: the one model every cataloger yields and every SBOM carries."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from packageurl import PackageURL


@dataclass(slots=True)
class Package:
    """One installed package.

    ``layer`` is the digest of the layer that introduced it (the layer that last wrote the
    file it was found in); ``locations`` are image paths (``/``-prefixed) where it was found.
    ``depends`` holds the names of packages this one depends on, as the package database says
    (used for SBOM relationships; unresolvable names are simply not linked).
    """

    name: str
    version: str
    type: str
    purl: str
    source_name: str | None = None
    source_version: str | None = None
    licenses: list[str] = field(default_factory=list)
    architecture: str | None = None
    layer: str | None = None
    locations: list[str] = field(default_factory=list)
    cataloger: str = ""
    depends: list[str] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, str, str, str]:
        """A stable sort and identity key."""
        return (self.type, self.name, self.version, self.locations[0] if self.locations else "")

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "type": self.type,
            "purl": self.purl,
            "sourceName": self.source_name,
            "sourceVersion": self.source_version,
            "licenses": list(self.licenses),
            "architecture": self.architecture,
            "layer": self.layer,
            "locations": list(self.locations),
            "cataloger": self.cataloger,
            "depends": list(self.depends),
            "metadata": dict(sorted(self.metadata.items())),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Package:
        return cls(
            name=str(data["name"]),
            version=str(data.get("version", "")),
            type=str(data["type"]),
            purl=str(data.get("purl", "")),
            source_name=data.get("sourceName"),
            source_version=data.get("sourceVersion"),
            licenses=list(data.get("licenses") or []),
            architecture=data.get("architecture"),
            layer=data.get("layer"),
            locations=list(data.get("locations") or []),
            cataloger=str(data.get("cataloger", "")),
            depends=list(data.get("depends") or []),
            metadata=dict(data.get("metadata") or {}),
        )


def make_purl(
    type_: str,
    name: str,
    version: str,
    *,
    namespace: str | None = None,
    qualifiers: dict[str, str] | None = None,
    subpath: str | None = None,
) -> str:
    """A canonical purl string (qualifiers sorted, empty ones dropped)."""
    quals = {k: v for k, v in sorted((qualifiers or {}).items()) if v}
    return str(
        PackageURL(
            type=type_,
            namespace=namespace or None,
            name=name,
            version=version or None,
            qualifiers=quals or None,
            subpath=subpath,
        ).to_string()
    )


@dataclass(slots=True)
class CatalogIssue:
    """A file a cataloger could not read; the scan goes on (unless ``--strict``)."""

    cataloger: str
    path: str
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"cataloger": self.cataloger, "path": self.path, "message": self.message}

    def __str__(self) -> str:
        return f"{self.cataloger}: {self.path}: {self.message}"


def sort_packages(packages: list[Package]) -> list[Package]:
    return sorted(packages, key=lambda p: p.key)

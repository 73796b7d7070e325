"""The cataloger interface: each cataloger is declared by the paths it reads.

A cataloger names the small files it needs (``capture``: glob patterns whose bytes are kept
while the layers are indexed, so there is no second pass) and turns them into packages. A
file it cannot parse becomes a :class:`CatalogIssue` and the scan goes on; with ``strict``
the analysis fails instead.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import ClassVar

from baseguard.analysis.catalogers.langutil import image_path
from baseguard.analysis.distro import Distro
from baseguard.analysis.packages import CatalogIssue, Package, sort_packages
from baseguard.image.fs import FileType, ImageFS, Inspector

#: Problems listed per database file; the rest are counted (a hostile file cannot flood
#: the report).
MAX_PROBLEMS = 20


@dataclass
class CatalogContext:
    """What a cataloger may need besides the files: the distro (for purl qualifiers)."""

    distro: Distro
    architecture: str | None = None


@dataclass
class CatalogResult:
    packages: list[Package] = field(default_factory=list)
    issues: list[CatalogIssue] = field(default_factory=list)


class Cataloger(ABC):
    """Finds one kind of package in an image's files."""

    #: Registry key and the ``cataloger`` value of the packages it yields.
    name: ClassVar[str]
    #: Glob patterns (ImageFS.glob syntax, ``**`` spans directories) of files whose bytes
    #: must be captured while indexing.
    capture: ClassVar[tuple[str, ...]] = ()

    def inspector(self) -> Inspector | None:
        """An inspector to run while layers are indexed (None: this cataloger needs none).

        Called once per analysis, before indexing; what it gathers is used by
        :meth:`catalog` of the same instance.
        """
        return None

    @abstractmethod
    def catalog(self, fs: ImageFS, ctx: CatalogContext) -> CatalogResult:
        """Return the packages found (and the files that could not be read)."""

    def issue(self, path: str, message: str) -> CatalogIssue:
        return CatalogIssue(self.name, image_path(path), message)


class DatabaseCataloger(Cataloger):
    """A cataloger of a package manager's one database file.

    ``capture`` lists the paths (no globs) the database may have, in the order the package
    manager tries them: the first that exists is read, even when several spellings exist.
    """

    def catalog(self, fs: ImageFS, ctx: CatalogContext) -> CatalogResult:
        result = CatalogResult()
        found = read_first(fs, self.capture)
        if found is not None:
            self._catalog_db(fs, ctx, *found, result)
        result.packages = sort_packages(result.packages)
        return result

    @abstractmethod
    def _catalog_db(
        self, fs: ImageFS, ctx: CatalogContext, path: str, data: bytes, result: CatalogResult
    ) -> None:
        """Add the packages of the database at ``path`` (and its problems) to ``result``."""


def all_capture_patterns(catalogers: Iterable[Cataloger]) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for cataloger in catalogers:
        for pattern in cataloger.capture:
            seen.setdefault(pattern, None)
    return tuple(seen)


def read_first(fs: ImageFS, paths: Iterable[str]) -> tuple[str, bytes] | None:
    """The first of ``paths`` that is a regular file (links followed), with its bytes: a
    package manager reads one database even when several spellings exist."""
    for path in paths:
        data = fs.read_optional(path)
        if data is not None:
            return path, data
    return None


def distro_qualifier(distro: Distro) -> str | None:
    """``<id>-<version_id>`` (or codename) as used in the purl ``distro`` qualifier."""
    if not distro.id:
        return None
    release = distro.version_id or distro.codename
    return f"{distro.id}-{release}" if release else distro.id


def earliest_layer(fs: ImageFS, paths: list[str], limit: int = 256) -> str | None:
    """The digest of the lowest layer that wrote any of ``paths`` still in the image.

    ``None`` when the image has no layer digests (a root directory) or none of the paths
    exist. At most ``limit`` paths are looked up; a hit in the bottom layer ends early.
    """
    digests = fs.layer_digests
    if not digests:
        return None
    best = len(digests)
    entries = fs.entries
    for path in paths[:limit]:
        path = path.lstrip("/")
        entry = entries.get(path)
        if entry is None:
            # Resolve only under a symlinked top directory (usrmerge: bin -> usr/bin);
            # anything else missing was removed or never installed (nodocs).
            top = entries.get(path.split("/", 1)[0])
            if top is None or top.type is not FileType.SYMLINK:
                continue
            entry = fs.get(path)
        if entry is None or entry.type is FileType.DIRECTORY or entry.layer < 0:
            continue
        if entry.layer < best:
            best = entry.layer
            if best == 0:
                break
    return digests[best] if best < len(digests) else None

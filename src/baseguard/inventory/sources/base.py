"""The inventory-source interface: a file kind, recognised by name or content, read into uses."""

from __future__ import annotations

import fnmatch
import functools
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from baseguard.errors import InvalidReferenceError
from baseguard.inventory.model import ImageUse, InventoryIssue
from baseguard.refs import parse_reference

#: Files larger than this are reported, not read.
MAX_FILE_BYTES = 8 << 20


@dataclass
class ScanContext:
    """Options that change what a file means: build-arg overrides, the root for names."""

    build_args: dict[str, str] = field(default_factory=dict)
    root: Path | None = None

    def display(self, path: Path) -> str:
        """``path`` relative to the inventoried root (as the user will look for it)."""
        if self.root is not None:
            for resolve in (False, True):
                candidate = path.resolve() if resolve else path
                root = self.root.resolve() if resolve else self.root
                try:
                    return str(candidate.relative_to(root)) or path.name
                except ValueError:
                    continue
        return str(path)


@dataclass
class FileResult:
    uses: list[ImageUse] = field(default_factory=list)
    issues: list[InventoryIssue] = field(default_factory=list)


class InventorySource(ABC):
    """Reads one kind of file (Dockerfile, compose, Kubernetes manifests)."""

    name: ClassVar[str]
    #: ``fnmatch`` patterns of the file names this source reads whatever their content.
    name_patterns: ClassVar[tuple[str, ...]] = ()

    def claims_name(self, path: Path) -> bool:
        """True if the file name alone says this source reads it (no need to open it)."""
        return any(fnmatch.fnmatchcase(path.name, p) for p in self.name_patterns)

    def claims(self, path: Path, head: bytes) -> bool:
        """True if this source reads ``path`` (``head`` is its first few KB); by default, by
        its name alone."""
        return self.claims_name(path)

    @abstractmethod
    def scan(self, path: Path, text: str, ctx: ScanContext) -> FileResult:
        """The uses (and problems) found in one file's text."""


@functools.lru_cache(maxsize=8192)
def normalise(raw: str) -> str | None:
    """The normalised form of an image reference, or None if it is not a valid one."""
    try:
        return str(parse_reference(raw))
    except InvalidReferenceError:
        return None


def read_text(path: Path, display: str) -> tuple[str | None, InventoryIssue | None]:
    """A file's text, or an issue saying why it cannot be read (too big, binary, unreadable)."""
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            return None, InventoryIssue(
                display, f"file is {size} bytes, larger than the {MAX_FILE_BYTES} byte limit"
            )
        data = path.read_bytes()
    except OSError as exc:
        return None, InventoryIssue(display, f"cannot read: {exc.strerror or exc}")
    if b"\0" in data[:8192]:
        return None, InventoryIssue(display, "binary file, not text")
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError:
        return data.decode("latin-1"), None

"""Walk paths and inventory every file a source claims; one bad file never stops the rest."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from baseguard.errors import UsageError
from baseguard.inventory.model import Inventory, InventoryIssue
from baseguard.inventory.sources import FILE_SOURCES
from baseguard.inventory.sources.base import InventorySource, ScanContext, read_text

SKIP_DIRS = frozenset(
    {
        ".git",
        ".hg",
        ".svn",
        "node_modules",
        ".venv",
        "venv",
        "__pycache__",
        ".tox",
        ".mypy_cache",
        ".ruff_cache",
        ".pytest_cache",
    }
)
#: How much of a .yaml/.yml/.json file is read to tell whether it is a Kubernetes manifest
#: (its apiVersion and kind), past a long comment header or annotations.
HEAD_BYTES = 64 * 1024
#: Only these files are opened to look at their content (Kubernetes manifests).
CONTENT_SUFFIXES = frozenset({".yaml", ".yml", ".json"})


def _walk(top: str) -> Iterator[str]:
    """Regular files under ``top``, sorted, never through a symlink (dirent types, no stat)."""
    try:
        with os.scandir(top) as it:
            entries = sorted(it, key=lambda e: e.name)
    except OSError:
        return
    for entry in entries:
        if entry.is_symlink():
            continue
        if entry.is_dir(follow_symlinks=False):
            if entry.name not in SKIP_DIRS:
                yield from _walk(entry.path)
        elif entry.is_file(follow_symlinks=False):
            yield entry.path


#: Said of a file named on the command line that no source reads.
NOT_RECOGNISED = (
    "not a Dockerfile, compose file or Kubernetes manifest (by its name or its first "
    f"{HEAD_BYTES // 1024} KiB); nothing was read from it"
)


def iter_files(paths: Iterable[Path]) -> Iterator[tuple[Path, Path, bool]]:
    """(file, root, named) triples under each path, ``named`` when the path is the file
    itself; symlinks are not followed out of the tree."""
    for top in paths:
        if not top.exists():
            raise UsageError(f"{top}: no such file or directory")
        if top.is_file():
            yield top, top.parent, True
            continue
        for path in _walk(str(top)):
            yield Path(path), top, False


def _claim(path: Path, sources: list[InventorySource]) -> InventorySource | OSError | None:
    """The source that reads ``path``; the error if its first bytes could not be read."""
    for source in sources:
        if source.claims_name(path):
            return source
    if path.suffix.lower() not in CONTENT_SUFFIXES:
        return None
    try:
        with path.open("rb") as fh:
            head = fh.read(HEAD_BYTES)
    except OSError as exc:
        return exc
    for source in sources:
        if source.claims(path, head):
            return source
    return None


def inventory_paths(
    paths: Iterable[Path], *, build_args: dict[str, str] | None = None
) -> Inventory:
    """Inventory every Dockerfile, compose file and Kubernetes manifest under ``paths``."""
    sources = [cls() for cls in FILE_SOURCES.values()]
    result = Inventory()
    for path, root, named in iter_files(paths):
        source = _claim(path, sources)
        if source is None or isinstance(source, OSError):
            if named:  # the user asked for this file: say why it gave nothing
                said = (
                    NOT_RECOGNISED
                    if source is None
                    else f"cannot read: {source.strerror or source}"
                )
                result.issues.append(InventoryIssue(ScanContext(root=root).display(path), said))
            continue
        ctx = ScanContext(build_args=dict(build_args or {}), root=root)
        display = ctx.display(path)
        result.files_scanned += 1
        result.sources.append(source.name)
        text, issue = read_text(path, display)
        if issue is not None or text is None:
            result.issues.append(issue or InventoryIssue(display, "unreadable"))
            continue
        try:
            found = source.scan(path, text, ctx)
        except RecursionError:
            result.issues.append(InventoryIssue(display, "nested too deeply to read"))
            continue
        result.extend(found.uses, found.issues)
    return result.finish()

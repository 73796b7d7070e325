"""Helpers shared by the language catalogers (python, npm, golang, java).

Finding candidate files walks the merged index once with a cheap substring test before any
regex; reading them goes through :meth:`ImageFS.read_many` (captured files cost nothing,
the rest one streaming pass per layer), in batches whose total size is bounded so that a
big image never holds all its binaries in memory at once.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from baseguard.image.fs import FileEntry, FileType, ImageFS

#: Bytes of file content held in memory at once by :func:`read_in_batches`.
DEFAULT_BATCH_BYTES = 256 << 20


def image_path(path: str) -> str:
    """An index path (``usr/bin/x``) as users see it (``/usr/bin/x``)."""
    return path if path.startswith("/") else f"/{path}"


def find_files(fs: ImageFS, regex: re.Pattern[str], needles: tuple[str, ...] = ()) -> list[str]:
    """Sorted paths of regular files matching ``regex`` (``search``), pre-filtered by
    ``needles`` (at least one must occur in the path) so most paths never reach the regex."""
    out = []
    for path, entry in fs.entries.items():
        if entry.type is not FileType.REGULAR:
            continue
        if needles and not any(n in path for n in needles):
            continue
        if regex.search(path):
            out.append(path)
    return sorted(out)


def batches(
    entries: Iterable[FileEntry], max_batch_bytes: int = DEFAULT_BATCH_BYTES
) -> Iterator[list[FileEntry]]:
    """Group entries (in the given order) so each group's total size stays under the cap;
    an entry bigger than the cap forms a group on its own."""
    group: list[FileEntry] = []
    total = 0
    for entry in entries:
        if group and total + entry.size > max_batch_bytes:
            yield group
            group, total = [], 0
        group.append(entry)
        total += entry.size
    if group:
        yield group


def read_in_batches(
    fs: ImageFS,
    entries: list[FileEntry],
    *,
    limit: int,
    max_batch_bytes: int = DEFAULT_BATCH_BYTES,
) -> Iterator[tuple[FileEntry, bytes]]:
    """Yield ``(entry, content)`` for each entry, reading one batch with one ``read_many``.

    Entries are ordered by (layer, offset) first so that each batch touches few layers and
    reads forward through them. A file that cannot be read is simply not yielded.
    """
    ordered = sorted(entries, key=lambda e: (e.layer, e.location, e.path))
    for group in batches(ordered, max_batch_bytes):
        got = fs.read_many([e.path for e in group], limit)
        for entry in group:
            data = got.get(entry.path)
            if data is not None:
                yield entry, data
        del got

"""A read-only, merged view of an image's files, built from an index, never extracted.

:class:`ImageFS` holds one :class:`FileEntry` per path (the result of applying every layer,
or of walking a root directory) and reads file bytes only when asked, through a
:class:`ContentReader`. Paths are image-relative POSIX paths without a leading slash
(``etc/os-release``); the root itself is ``""``. Symlinks are resolved inside the image root
only, like a chroot: absolute targets start again at the image root, ``..`` stops at the
root, depth is bounded and cycles are reported.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from baseguard.errors import LayerError

MAX_SYMLINK_HOPS = 40


class FileType(StrEnum):
    REGULAR = "file"
    DIRECTORY = "dir"
    SYMLINK = "symlink"
    CHAR_DEVICE = "char"
    BLOCK_DEVICE = "block"
    FIFO = "fifo"


@dataclass(slots=True)
class FileEntry:
    """One path in the merged view, as the last layer that touched it left it.

    ``location`` is backend-specific (for layers: the member's data offset in the
    uncompressed tar stream); ``layer`` is the 0-based index of the layer that wrote it
    (-1 for a directory that exists only because a child does).
    """

    path: str
    type: FileType
    mode: int = 0o644
    uid: int = 0
    gid: int = 0
    size: int = 0
    linkname: str = ""
    layer: int = -1
    location: int = -1
    mtime: int = 0

    @property
    def is_setuid(self) -> bool:
        return self.type is FileType.REGULAR and bool(self.mode & 0o4000)

    @property
    def is_setgid(self) -> bool:
        return self.type is FileType.REGULAR and bool(self.mode & 0o2000)


class ContentReader(Protocol):
    """Fetches the bytes of regular files in the index."""

    def read(self, entry: FileEntry, limit: int) -> bytes:
        """Return up to ``limit`` bytes of ``entry``'s content."""
        ...

    def read_many(self, entries: list[FileEntry], limit: int) -> dict[str, bytes]:
        """Read several entries at once (one pass per layer); keyed by entry path."""
        ...


class Inspector(Protocol):
    """Looks at some files' bytes while the layers stream past, so nobody reads them twice.

    ``wants`` sees each regular member as it is indexed (its ``layer`` and ``location`` are
    final; its path is as the tar names it); ``inspect`` then gets its whole content, once.
    A later layer may still replace or delete the file: keep results keyed by
    ``(entry.layer, entry.location)`` and look them up from the final index.
    """

    def wants(self, entry: FileEntry) -> bool: ...

    def inspect(self, entry: FileEntry, data: bytes) -> None: ...


class MemoryReader:
    """Content held in memory: for tests and for files captured while indexing."""

    def __init__(self, contents: dict[str, bytes] | None = None) -> None:
        self.contents: dict[str, bytes] = dict(contents or {})

    def read(self, entry: FileEntry, limit: int) -> bytes:
        return self.contents.get(entry.path, b"")[:limit]

    def read_many(self, entries: list[FileEntry], limit: int) -> dict[str, bytes]:
        return {e.path: self.read(e, limit) for e in entries}


def clean_path(name: str) -> str | None:
    """Normalise a tar member or link name to an image-relative path.

    Returns ``None`` when the name climbs above the root (``../x``, ``a/../../x``); a
    leading ``/`` or ``./`` is dropped, as container runtimes do.
    """
    name = name.replace("\\", "/") if "\\" in name and "/" not in name else name
    parts: list[str] = []
    for part in name.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if not parts:
                return None
            parts.pop()
            continue
        parts.append(part)
    return "/".join(parts)


class SymlinkLoopError(LayerError):
    """A symlink chain loops or is deeper than the hop limit."""


@dataclass
class ImageFS:
    """The merged file index of one image, with lazy content reads."""

    entries: dict[str, FileEntry]
    reader: ContentReader = field(default_factory=MemoryReader)
    warnings: list[str] = field(default_factory=list)
    #: Files whose bytes were captured while indexing (path -> bytes); read before the reader.
    captured: dict[str, bytes] = field(default_factory=dict)
    #: Digests of the layers, bottom first, for reporting which layer wrote a file.
    layer_digests: list[str] = field(default_factory=list)
    uncompressed_size: int = 0

    # -- lookup ---------------------------------------------------------------------------

    def get(self, path: str) -> FileEntry | None:
        """The entry at ``path`` without following a final symlink (parents are resolved).

        ``None`` when it is missing or a parent's symlink chain loops.
        """
        cleaned = clean_path(path)
        if cleaned is not None and ".." not in path.split("/"):
            hit = self.entries.get(cleaned)
            if hit is not None or cleaned == "":
                return hit
        try:
            real = self.resolve(path, follow_final=False)
        except SymlinkLoopError:
            return None
        return None if real is None else self.entries.get(real)

    def resolve(self, path: str, *, follow_final: bool = True) -> str | None:
        """Resolve ``path`` inside the image root; ``None`` if a component does not exist.

        Raises :class:`SymlinkLoopError` when a chain loops or exceeds the hop limit.
        """
        # Components are walked one by one (not cleaned lexically first) so that ``..``
        # applies after a symlinked directory is resolved, and stops at the root.
        pending = [p for p in path.split("/") if p][::-1]
        done: list[str] = []
        hops = 0
        while pending:
            part = pending.pop()
            if part == ".":
                continue
            if part == "..":
                if done:
                    done.pop()
                continue
            candidate = "/".join([*done, part])
            entry = self.entries.get(candidate)
            if entry is None:
                return None
            if entry.type is FileType.SYMLINK and (pending or follow_final):
                hops += 1
                if hops > MAX_SYMLINK_HOPS:
                    raise SymlinkLoopError(
                        f"symlink chain at /{path.lstrip('/')} loops or is deeper than "
                        f"{MAX_SYMLINK_HOPS} hops (last link /{candidate} -> {entry.linkname})",
                        hint="the image is malformed; the path is treated as missing",
                    )
                target = entry.linkname
                if not target:
                    # An empty target names nothing (Linux refuses to create one).
                    return None
                if target.startswith("/"):
                    done = []
                pending.extend(p for p in reversed(target.split("/")) if p)
                continue
            done.append(part)
        return "/".join(done)

    def lookup(self, path: str) -> FileEntry | None:
        """The entry at ``path`` after following symlinks; ``None`` if missing or looping."""
        try:
            real = self.resolve(path)
        except SymlinkLoopError:
            return None
        if real is None:
            return None
        return self.entries.get(real)

    def exists(self, path: str) -> bool:
        return self.lookup(path) is not None

    def is_file(self, path: str) -> bool:
        entry = self.lookup(path)
        return entry is not None and entry.type is FileType.REGULAR

    def symlink_target(self, path: str) -> str | None:
        """Where the symlink at ``path`` finally points, as a resolved image path."""
        entry = self.get(path)
        if entry is None or entry.type is not FileType.SYMLINK:
            return None
        try:
            return self.resolve(entry.path)
        except SymlinkLoopError:
            return None

    # -- iteration --------------------------------------------------------------------------

    def __iter__(self) -> Iterator[FileEntry]:
        return iter(self.entries.values())

    def __len__(self) -> int:
        return len(self.entries)

    def glob(self, pattern: str) -> list[str]:
        """Paths (no symlink following) matching a shell pattern; ``**`` spans directories."""
        regex = glob_regex(pattern)
        return sorted(p for p in self.entries if regex.fullmatch(p))

    def listdir(self, path: str) -> list[str]:
        """Names directly under directory ``path`` (resolved)."""
        real = self.resolve(path)
        if real is None:
            return []
        prefix = f"{real}/" if real else ""
        names = {
            p[len(prefix) :].split("/", 1)[0]
            for p in self.entries
            if p.startswith(prefix) and p != real
        }
        return sorted(names)

    # -- content ----------------------------------------------------------------------------

    def read_bytes(self, path: str, limit: int = 64 << 20) -> bytes:
        """The content of the regular file at ``path`` (symlinks followed), up to ``limit``.

        Raises :class:`FileNotFoundError` if there is no such regular file.
        """
        entry = self.lookup(path)
        if entry is None or entry.type is not FileType.REGULAR:
            raise FileNotFoundError(path)
        if entry.path in self.captured:
            return self.captured[entry.path][:limit]
        return self.reader.read(entry, limit)

    def read_text(self, path: str, limit: int = 64 << 20) -> str:
        return self.read_bytes(path, limit).decode("utf-8", errors="replace")

    def read_optional(self, path: str, limit: int = 64 << 20) -> bytes | None:
        """Like :meth:`read_bytes`, but ``None`` when the file is missing."""
        try:
            return self.read_bytes(path, limit)
        except FileNotFoundError:
            return None

    def read_many(self, paths: Iterable[str], limit: int = 64 << 20) -> dict[str, bytes]:
        """Read several files in as few passes as possible; keyed by the path asked for."""
        wanted: dict[str, FileEntry] = {}
        out: dict[str, bytes] = {}
        for path in paths:
            entry = self.lookup(path)
            if entry is None or entry.type is not FileType.REGULAR:
                continue
            if entry.path in self.captured:
                out[path] = self.captured[entry.path][:limit]
            else:
                wanted[path] = entry
        if wanted:
            got = self.reader.read_many(list({e.path: e for e in wanted.values()}.values()), limit)
            for path, entry in wanted.items():
                if entry.path in got:
                    out[path] = got[entry.path]
        return out

    def layer_of(self, path: str) -> str | None:
        """The digest of the layer that last wrote ``path``."""
        entry = self.get(path)
        if entry is None or not (0 <= entry.layer < len(self.layer_digests)):
            return None
        return self.layer_digests[entry.layer]


def glob_regex(pattern: str) -> re.Pattern[str]:
    """Compile a shell pattern over image paths (no leading ``/``) to a regex for ``fullmatch``.

    ``*``, ``?`` and ``[...]`` stay within one path component; ``**`` as a whole component
    spans zero or more directories (``etc/**/os-release`` matches ``etc/os-release``), and
    anywhere else it spans any characters.
    """
    parts = pattern.lstrip("/").split("/")
    out: list[str] = []
    last = len(parts) - 1
    for i, part in enumerate(parts):
        if part == "**":
            out.append(".*" if i == last else "(?:[^/]*/)*")
        else:
            out.append(_component_regex(part) + ("" if i == last else "/"))
    return re.compile("".join(out), re.S)


def _component_regex(part: str) -> str:
    """Translate one path component of a shell pattern (like fnmatch, but never crossing /)."""
    out: list[str] = []
    i, n = 0, len(part)
    while i < n:
        c = part[i]
        i += 1
        if c == "*":
            if i < n and part[i] == "*":
                out.append(".*")
                while i < n and part[i] == "*":
                    i += 1
            else:
                out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            j = i
            if j < n and part[j] == "!":
                j += 1
            if j < n and part[j] == "]":
                j += 1
            while j < n and part[j] != "]":
                j += 1
            if j >= n:
                out.append("\\[")
                continue
            body = part[i:j].replace("\\", "\\\\")
            i = j + 1
            if body.startswith("!"):
                out.append(f"[^/{body[1:]}]")
            else:
                out.append(f"[{body}]")
        else:
            out.append(re.escape(c))
    return "".join(out)


#: Former private name, kept for callers that used it.

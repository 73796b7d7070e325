"""A root filesystem directory on the host as an :class:`~baseguard.image.fs.ImageFS`.

The directory is walked with ``lstat`` only: host symlinks are recorded as symlinks and
resolved inside the image root by :meth:`ImageFS.resolve`, never by the host. File bytes
are read by :class:`DirReader`, which opens every path component relative to the root with
``O_NOFOLLOW``, so a symlink placed (or swapped in) on the host can never lead a read to a
file outside the root. Other filesystems mounted below the root are not descended into.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterable
from pathlib import Path

from baseguard.errors import ImageError, LayerError, LimitExceededError
from baseguard.image.fs import ContentReader, FileEntry, FileType, ImageFS
from baseguard.image.layers import Limits, compile_capture

#: Detailed warnings kept per rule; further ones are counted in one summary line.
WARNINGS_PER_RULE = 20

_O_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_O_FILE = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_SPECIAL = {
    stat.S_IFCHR: FileType.CHAR_DEVICE,
    stat.S_IFBLK: FileType.BLOCK_DEVICE,
    stat.S_IFIFO: FileType.FIFO,
}


class DirReader(ContentReader):
    """Reads regular files under ``root``, refusing to follow any symlink on the way."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def read(self, entry: FileEntry, limit: int) -> bytes:
        """Up to ``limit`` bytes of ``entry``; :class:`LayerError` if it is not a plain file."""
        if entry.type is not FileType.REGULAR:
            return b""
        try:
            fd = open_beneath(self.root, entry.path)
        except OSError as exc:
            raise LayerError(
                f"{self.root}: cannot read /{entry.path}: {exc.strerror or exc} "
                "(a symlink or a non-regular file is never followed on the host)",
                hint="the directory changed since it was indexed; index it again",
            ) from None
        try:
            return _read_fd(fd, limit)
        finally:
            os.close(fd)

    def read_many(self, entries: list[FileEntry], limit: int) -> dict[str, bytes]:
        """Several files, keyed by entry path."""
        return {e.path: self.read(e, limit) for e in entries if e.type is FileType.REGULAR}


def open_beneath(root: Path, path: str) -> int:
    """Open the regular file ``root/path`` read-only, each component with ``O_NOFOLLOW``.

    Raises :class:`OSError` if a component is a symlink, is missing, or the final component
    is not a regular file (``ELOOP``, ``ENOENT``, ``EINVAL``).
    """
    parts = path.split("/")
    if any(p in ("", ".", "..") for p in parts):
        raise OSError(22, "not a clean image path", path)
    fd = os.open(root, _O_DIR)
    try:
        for part in parts[:-1]:
            nfd = os.open(part, _O_DIR, dir_fd=fd)
            os.close(fd)
            fd = nfd
        ffd = os.open(parts[-1], _O_FILE, dir_fd=fd)
    finally:
        os.close(fd)
    if not stat.S_ISREG(os.fstat(ffd).st_mode):
        os.close(ffd)
        raise OSError(22, "not a regular file", path)
    return ffd


def _read_fd(fd: int, limit: int) -> bytes:
    parts = []
    left = limit
    while left > 0:
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            break
        parts.append(chunk)
        left -= len(chunk)
    return b"".join(parts)


def build_fs_from_dir(
    root: Path,
    *,
    limits: Limits | None = None,
    capture: Iterable[str] = (),
) -> ImageFS:
    """Index the directory ``root`` as a one-layer image (every entry has ``layer`` 0).

    Symlinks are recorded, not followed; devices and fifos are recorded, never opened;
    sockets are skipped. ``limits.max_files`` caps the entry count and
    ``limits.max_uncompressed_bytes`` the total size of regular files.
    """
    limits = limits or Limits()
    if not os.path.isdir(root):
        raise ImageError(f"{root}: not a directory", hint="give the root of an unpacked image")
    real_root = Path(os.path.realpath(root))
    rx = compile_capture(capture)
    walker = _Walker(real_root, limits, rx)
    walker.walk()
    entries = dict(sorted(walker.entries.items()))
    return ImageFS(
        entries=entries,
        reader=DirReader(real_root),
        warnings=walker.finish_warnings(),
        captured=walker.captured,
        layer_digests=[],
        uncompressed_size=walker.total_bytes,
    )


class _Walker:
    def __init__(self, root: Path, limits: Limits, rx: re.Pattern[str] | None) -> None:
        self.root = root
        self.limits = limits
        self.rx = rx
        self.entries: dict[str, FileEntry] = {}
        self.captured: dict[str, bytes] = {}
        self.captured_total = 0
        self.total_bytes = 0
        self.warnings: list[str] = []
        self.rule_counts: dict[str, int] = {}
        self.device = os.lstat(root).st_dev

    def warn(self, rule: str, path: str, message: str) -> None:
        count = self.rule_counts.get(rule, 0) + 1
        self.rule_counts[rule] = count
        if count <= WARNINGS_PER_RULE:
            self.warnings.append(f"{self.root}: /{path}: {message}")

    def finish_warnings(self) -> list[str]:
        for rule, count in self.rule_counts.items():
            if count > WARNINGS_PER_RULE:
                self.warnings.append(
                    f"{self.root}: {count - WARNINGS_PER_RULE} more entries broke the same "
                    f"rule ({rule})"
                )
        return self.warnings

    def walk(self) -> None:
        limits = self.limits
        stack: list[tuple[str, str]] = [("", str(self.root))]
        while stack:
            rel, host = stack.pop()
            try:
                it = os.scandir(host)
            except OSError as exc:
                self.warn("unreadable", rel, f"directory cannot be listed ({exc.strerror})")
                continue
            with it:
                for de in it:
                    path = f"{rel}/{de.name}" if rel else de.name
                    if len(self.entries) >= limits.max_files:
                        raise LimitExceededError(
                            f"{self.root}: the directory holds more than {limits.max_files} "
                            f"files (stopped at /{path}) (limit max_files = {limits.max_files})",
                            hint=f"if the directory is legitimate, raise Limits.max_files "
                            f"(now {limits.max_files})",
                        )
                    try:
                        st = de.stat(follow_symlinks=False)
                    except OSError as exc:
                        self.warn("unreadable", path, f"cannot be examined ({exc.strerror})")
                        continue
                    self._entry(path, de.path, st, stack)

    def _entry(
        self, path: str, host: str, st: os.stat_result, stack: list[tuple[str, str]]
    ) -> None:
        fmt = stat.S_IFMT(st.st_mode)
        linkname = ""
        size = 0
        if fmt == stat.S_IFDIR:
            ftype = FileType.DIRECTORY
            if st.st_dev != self.device:
                self.warn("mount", path, "another filesystem is mounted here; not descended")
            else:
                stack.append((path, host))
        elif fmt == stat.S_IFREG:
            ftype = FileType.REGULAR
            size = st.st_size
            self.total_bytes += size
            limit = self.limits.max_uncompressed_bytes
            if self.total_bytes > limit:
                raise LimitExceededError(
                    f"{self.root}: regular files add up to more than {limit} bytes "
                    f"(at /{path}) (limit max_uncompressed_bytes = {limit})",
                    hint=f"if the directory is legitimate, raise "
                    f"Limits.max_uncompressed_bytes (now {limit})",
                )
        elif fmt == stat.S_IFLNK:
            ftype = FileType.SYMLINK
            try:
                linkname = os.readlink(host)
            except OSError as exc:
                self.warn("unreadable", path, f"symlink cannot be read ({exc.strerror})")
                return
        elif fmt in _SPECIAL:
            ftype = _SPECIAL[fmt]
            self.warn("device", path, f"{ftype.value} special file recorded, never read")
        else:
            self.warn("type", path, "socket or unknown file type; skipped")
            return
        self.entries[path] = FileEntry(
            path,
            ftype,
            stat.S_IMODE(st.st_mode),
            st.st_uid,
            st.st_gid,
            size,
            linkname,
            0,
            -1,
            int(st.st_mtime),
        )
        if ftype is FileType.REGULAR and self.rx is not None and self.rx.fullmatch(path):
            self._capture(path, size)

    def _capture(self, path: str, size: int) -> None:
        limits = self.limits
        if size > limits.max_capture_file:
            self.warn(
                "capture",
                path,
                f"{size} bytes is more than max_capture_file ({limits.max_capture_file}); "
                "not captured, read lazily instead",
            )
            return
        if self.captured_total + size > limits.max_capture_total:
            self.warn(
                "capture",
                path,
                f"captured files would exceed max_capture_total ({limits.max_capture_total}); "
                "not captured, read lazily instead",
            )
            return
        try:
            fd = open_beneath(self.root, path)
        except OSError as exc:
            self.warn("unreadable", path, f"cannot be opened safely ({exc.strerror})")
            return
        try:
            data = _read_fd(fd, limits.max_capture_file)
        finally:
            os.close(fd)
        self.captured[path] = data
        self.captured_total += len(data)

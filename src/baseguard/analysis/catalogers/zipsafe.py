"""Reading untrusted zip archives (jar, war, ear) in memory, within limits.

Nothing is ever extracted to disk. Members are read one at a time, only when asked for,
and every read is charged to a :class:`ZipBudget` shared by an archive and the archives
nested in it, so a zip bomb (a huge uncompressed size, a suspicious compression ratio, a
member count in the millions, or nesting without end) costs at most the budget and ends
in a :class:`ZipLimitError` that names the limit. Member names that would escape an
extraction root (``../../x``, ``/etc/x``, ``C:\\x``) are never used as paths.
"""

from __future__ import annotations

import io
import lzma
import struct
import zipfile
import zlib
from dataclasses import dataclass


@dataclass(frozen=True)
class ZipLimits:
    """Caps for one top-level archive, nested archives included."""

    #: Entries in one zip's central directory.
    max_members: int = 100_000
    #: Uncompressed bytes of one member read into memory.
    max_member_bytes: int = 64 << 20
    #: Uncompressed bytes read from a top-level archive and everything nested in it.
    max_total_bytes: int = 256 << 20
    #: Uncompressed/compressed ratio above which a member is refused as a bomb...
    max_ratio: int = 100
    #: ...when it is bigger than this (small members compress very well legitimately).
    ratio_floor: int = 1 << 20
    #: Archives inside archives: the top level is depth 0.
    max_depth: int = 4
    #: Bytes of one zip's central directory (zipfile builds an object per entry in it,
    #: whatever count the end record declares; 16 MiB is ~140k entries of real jars).
    max_central_directory: int = 16 << 20


class ZipLimitError(Exception):
    """A member or archive is over a limit, or looks like a zip bomb."""


class ZipBudgetError(ZipLimitError):
    """The top-level archive's budget of uncompressed bytes is spent: stop reading it."""


class ZipReadError(Exception):
    """The archive or a member cannot be read (corrupt, encrypted, unknown method)."""


class ZipBudget:
    """Uncompressed bytes still allowed for one top-level archive."""

    def __init__(self, limits: ZipLimits) -> None:
        self.limits = limits
        self.used = 0

    def charge(self, n: int, what: str) -> None:
        if self.used + n > self.limits.max_total_bytes:
            raise ZipBudgetError(
                f"{what}: reading it would take the archive past "
                f"{self.limits.max_total_bytes} uncompressed bytes (max_total_bytes)"
            )
        self.used += n


def is_safe_name(name: str) -> bool:
    """False for member names that climb out of, or start outside, an extraction root."""
    if not name or "\x00" in name:
        return False
    norm = name.replace("\\", "/")
    if norm.startswith("/") or (len(norm) > 1 and norm[1] == ":"):
        return False
    return ".." not in norm.split("/")


_EOCD = b"PK\x05\x06"
_ZIP64_LOCATOR = b"PK\x06\x07"
_ZIP64_EOCD = b"PK\x06\x06"


def central_directory(data: bytes) -> tuple[int, int] | None:
    """(entry count, central directory size) from the end records, before zipfile reads
    anything; ``None`` when there is no end record (zipfile then reports the archive)."""
    at = data.rfind(_EOCD, max(0, len(data) - 22 - 0xFFFF))
    if at < 0 or at + 22 > len(data):
        return None
    entries, cd_size = struct.unpack_from("<HI", data, at + 10)
    loc = at - 20
    if loc >= 0 and data[loc : loc + 4] == _ZIP64_LOCATOR:
        (rec,) = struct.unpack_from("<Q", data, loc + 8)
        if rec + 56 <= len(data) and data[rec : rec + 4] == _ZIP64_EOCD:
            entries64, cd_size64 = struct.unpack_from("<QQ", data, rec + 32)
            entries, cd_size = max(entries, entries64), max(cd_size, cd_size64)
    return entries, cd_size


class SafeZip:
    """An in-memory zip whose members are read under :class:`ZipLimits`."""

    def __init__(self, data: bytes, budget: ZipBudget) -> None:
        self.budget = budget
        self.limits = budget.limits
        declared = central_directory(data)
        if declared is not None:
            entries, cd_size = declared
            if entries > self.limits.max_members:
                raise ZipLimitError(
                    f"{entries} entries is more than {self.limits.max_members} (max_members)"
                )
            if cd_size > self.limits.max_central_directory:
                raise ZipLimitError(
                    f"a central directory of {cd_size} bytes is more than "
                    f"{self.limits.max_central_directory} (max_central_directory)"
                )
        try:
            self._zip = zipfile.ZipFile(io.BytesIO(data))
        except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError) as exc:
            raise ZipReadError(f"not a readable zip archive: {exc}") from None
        infos = self._zip.infolist()
        if len(infos) > self.limits.max_members:
            raise ZipLimitError(
                f"{len(infos)} entries is more than {self.limits.max_members} (max_members)"
            )
        self.members = [i for i in infos if not i.is_dir() and is_safe_name(i.filename)]
        self.unsafe_names = [i.filename for i in infos if not is_safe_name(i.filename)]

    def read(self, info: zipfile.ZipInfo, max_bytes: int | None = None) -> bytes:
        """The member's bytes, checked against every limit before and while reading."""
        cap = min(max_bytes or self.limits.max_member_bytes, self.limits.max_member_bytes)
        name = info.filename
        if info.flag_bits & 0x1:
            raise ZipReadError(f"{name}: encrypted member")
        if info.file_size > cap:
            raise ZipLimitError(f"{name}: {info.file_size} bytes is more than {cap}")
        if (
            info.file_size > self.limits.ratio_floor
            and info.file_size > self.limits.max_ratio * max(info.compress_size, 1)
        ):
            raise ZipLimitError(
                f"{name}: compression ratio {info.file_size // max(info.compress_size, 1)}:1 "
                f"is more than {self.limits.max_ratio}:1 (a zip bomb?)"
            )
        self.budget.charge(info.file_size, name)
        try:
            with self._zip.open(info) as fh:
                # The declared size bounds what zipfile returns; read one byte more to be sure.
                data = fh.read(cap + 1)
        except (
            zipfile.BadZipFile,
            NotImplementedError,
            RuntimeError,
            ValueError,
            OSError,
            EOFError,
            zlib.error,
            lzma.LZMAError,
        ) as exc:
            raise ZipReadError(f"{name}: {exc}") from None
        if len(data) > cap:
            raise ZipLimitError(f"{name}: inflates past {cap} bytes")
        return data

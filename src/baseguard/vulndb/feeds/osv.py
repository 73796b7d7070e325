"""OSV records: per-ecosystem ``all.zip`` dumps, loose ``.json``/``.yaml`` files, or
``.tar.gz`` archives of loose files (such as a snapshot of pypa/advisory-database).

Archives are streamed one member at a time and never extracted. Zip members are capped in
size (:data:`~baseguard.vulndb.feeds.base.MAX_RECORD_BYTES`, whatever the member claims),
in number and in total decompressed bytes, so a zip bomb costs a skipped record or a clear
error, never the machine.
"""

from __future__ import annotations

import bz2
import json
import lzma
import os
import struct
import tarfile
import zipfile
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any, NamedTuple, cast

from baseguard.vulndb import cvss
from baseguard.vulndb.feeds.base import (
    MAX_RECORD_BYTES,
    AdvisoryFeed,
    MalformedRecord,
    Source,
    iso_string,
    load_document,
    maybe_gunzip,
    read_capped,
)
from baseguard.vulndb.model import (
    FIXED,
    INTRODUCED,
    LAST_AFFECTED,
    LIMIT,
    Advisory,
    Affected,
    Range,
    label_for_word,
)
from baseguard.vulndb.names import normalize_ecosystem
from baseguard.vulndb.store import VulnDbError

RECORD_SUFFIXES = (".json", ".yaml", ".yml")
ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar", ".tar.xz", ".tar.bz2")
#: Members one zip may have, and bytes all its members may decompress to.
MAX_MEMBERS = 5_000_000
MAX_TOTAL_BYTES = 32 * 1024**3
#: Keep ``database_specific`` values up to this size (JSON characters), and this much in all.
MAX_DB_SPECIFIC_VALUE = 1024
MAX_DB_SPECIFIC_TOTAL = 4096
MAX_REFERENCES = 64
MAX_SUMMARY = 240

_EVENT_KINDS = (INTRODUCED, FIXED, LAST_AFFECTED, LIMIT)
_KEPT_RANGES = ("ECOSYSTEM", "SEMVER")

Progress = Callable[[int, int | None], None]
_JSON = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)
_DAMAGED = (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError)


def _strings(value: Any) -> list[str]:
    """The non-empty strings of a list (numbers, which YAML or sloppy JSON may give for a
    version, as strings); anything else is ignored."""
    if type(value) is not list:
        return []
    out = [v for v in value if type(v) is str and v]
    if len(out) != len(value):
        out = [
            v if type(v) is str else str(v)
            for v in value
            if (type(v) is str and v) or (type(v) in (int, float))
        ]
    return out


def _size(item: Any) -> int:
    """About how many JSON characters ``item`` takes (exact enough to keep things small)."""
    if isinstance(item, str):
        return len(item) + 2
    if item is None or isinstance(item, bool | int | float):
        return 6
    try:
        return len(_JSON.encode(item))
    except (TypeError, ValueError, RecursionError):
        return MAX_DB_SPECIFIC_TOTAL + 1


def _small_dict(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        return {}
    kept: dict[str, Any] = {}
    total = 0
    for key, item in value.items():
        size = _size(item)
        if size > MAX_DB_SPECIFIC_VALUE or total + size > MAX_DB_SPECIFIC_TOTAL:
            continue
        kept[str(key)] = item
        total += size
    return kept


def _summary(doc: dict[str, Any]) -> str:
    text = doc.get("summary")
    if not isinstance(text, str) or not text.strip():
        details = doc.get("details")
        text = details.strip().split("\n", 1)[0] if isinstance(details, str) else ""
    text = " ".join(text.split())
    return text if len(text) <= MAX_SUMMARY else text[: MAX_SUMMARY - 1] + "…"


def _severity_entries(value: Any) -> list[tuple[str, str]]:
    entries: list[tuple[str, str]] = []
    if not isinstance(value, list):
        return entries
    for item in value:
        if isinstance(item, dict) and isinstance(item.get("type"), str) and item.get("score"):
            entries.append((item["type"], str(item["score"])))
    return entries


def _label(severity: list[tuple[str, str]], score: float | None, *words: Any) -> str | None:
    if score is not None:
        return cvss.label_for_score(score)
    for word in words:
        label = label_for_word(word)
        if label:
            return label
    for kind, value in severity:
        if not kind.startswith("CVSS"):
            label = label_for_word(value)
            if label:
                return label
    return None


def _affected(entry: Any) -> Affected | None:
    if not isinstance(entry, dict):
        raise MalformedRecord("an 'affected' entry is not an object")
    package = entry.get("package")
    if not isinstance(package, dict):
        return None
    ecosystem, name = package.get("ecosystem"), package.get("name")
    if not isinstance(ecosystem, str) or not isinstance(name, str) or not ecosystem or not name:
        return None
    ranges: list[Range] = []
    for raw in entry.get("ranges") or []:
        if not isinstance(raw, dict) or raw.get("type") not in _KEPT_RANGES:
            continue
        events: list[tuple[str, str]] = []
        for event in raw.get("events") or []:
            if not isinstance(event, dict):
                raise MalformedRecord("a range event is not an object")
            for kind, value in event.items():
                if kind in _EVENT_KINDS and value is not None:
                    text = value if type(value) is str else str(value)
                    if text:
                        events.append((kind, text))
        if events:
            ranges.append(Range(str(raw["type"]), events))
    versions = _strings(entry.get("versions"))
    if not ranges and not versions:
        return None  # GIT-only (or empty) entries cannot be matched by version
    severity = _severity_entries(entry.get("severity"))
    specific = entry.get("ecosystem_specific")
    label = None
    if severity or specific:
        specific = specific if isinstance(specific, dict) else {}
        label = _label(
            severity, cvss.best_score(severity), specific.get("severity"), specific.get("urgency")
        )
    return Affected(
        ecosystem=normalize_ecosystem(ecosystem),
        package=name,
        ranges=ranges,
        versions=versions,
        severity=label,
    )


def osv_to_advisory(doc: Any, source: str = "osv") -> Advisory:
    """Turn one OSV record into an :class:`Advisory`, or raise :class:`MalformedRecord`.

    GIT ranges are dropped; ``upstream`` ids are kept in ``database_specific["upstream"]``.
    """
    if not isinstance(doc, dict):
        raise MalformedRecord("not an OSV record (not an object)")
    vuln_id = doc.get("id")
    if not isinstance(vuln_id, str) or not vuln_id.strip():
        raise MalformedRecord("not an OSV record (no 'id')")
    affected_raw = doc.get("affected") or []
    if not isinstance(affected_raw, list):
        raise MalformedRecord("'affected' is not a list")
    affected = [a for a in (_affected(e) for e in affected_raw) if a is not None]
    severity = _severity_entries(doc.get("severity"))
    score = cvss.best_score(severity)
    specific = _small_dict(doc.get("database_specific"))
    upstream = _strings(doc.get("upstream"))
    if upstream:
        specific["upstream"] = upstream
    label = _label(severity, score, specific.get("severity"))
    urls: dict[str, None] = {}
    refs = doc.get("references")
    if type(refs) is list:
        for ref in refs:
            url = ref.get("url") if type(ref) is dict else None
            if type(url) is str:
                urls[url] = None
                if len(urls) >= MAX_REFERENCES:
                    break
    return Advisory(
        id=vuln_id.strip(),
        source=source,
        aliases=[a for a in dict.fromkeys(_strings(doc.get("aliases"))) if a != vuln_id],
        summary=_summary(doc),
        published=iso_string(doc.get("published")),
        modified=iso_string(doc.get("modified")),
        withdrawn=iso_string(doc.get("withdrawn")),
        severity=severity,
        cvss_score=score,
        severity_label=label or "UNKNOWN",
        affected=affected,
        references=list(urls),
        database_specific=specific,
    )


def _hidden(relpath: str) -> bool:
    return any(part.startswith(".") for part in relpath.replace("\\", "/").split("/") if part)


class OsvFeed(AdvisoryFeed):
    """OSV dumps and records, one source per ``osv/<Ecosystem>/`` directory or file."""

    name = "osv"

    def __init__(self, progress: Progress | None = None) -> None:
        super().__init__()
        self.progress = progress
        self._done = 0

    def iter_advisories(self, source: Source) -> Iterator[Advisory]:
        path = source.path
        if path.is_dir():
            yield from self._directory(path)
        elif path.is_file():
            yield from self._file(path, path.name)
        else:
            raise VulnDbError(f"OSV source {path} does not exist")

    def _tick(self, total: int | None = None) -> None:
        self._done += 1
        if self.progress is not None and (self._done % 500 == 0 or self._done == total):
            self.progress(self._done, total)

    def _record(self, data: bytes, where: str) -> Iterator[Advisory]:
        try:
            advisory = osv_to_advisory(load_document(data, where))
        except MalformedRecord as exc:
            self.stats.skip(where, str(exc))
            return
        self.stats.records += 1
        yield advisory

    def _directory(self, root: Path) -> Iterator[Advisory]:
        files: list[tuple[str, Path]] = []
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for filename in sorted(filenames):
                if filename.startswith("."):
                    continue
                full = Path(dirpath) / filename
                files.append((full.relative_to(root).as_posix(), full))
        files.sort()
        for relpath, full in files:
            yield from self._file(full, relpath, total=len(files))

    def _file(self, path: Path, where: str, total: int | None = None) -> Iterator[Advisory]:
        lowered = path.name.lower()
        if lowered.endswith(".zip"):
            yield from self._zip(path)
        elif lowered.endswith(ARCHIVE_SUFFIXES):
            yield from self._tar(path)
        elif lowered.endswith(RECORD_SUFFIXES):
            try:
                with path.open("rb") as fh:
                    data = read_capped(fh, MAX_RECORD_BYTES, where)
            except MalformedRecord as exc:
                self.stats.skip(where, str(exc))
                return
            except OSError as exc:
                raise VulnDbError(f"cannot read OSV record {path}: {exc}") from exc
            yield from self._record(data, where)
            self._tick(total)

    def _zip(self, path: Path) -> Iterator[Advisory]:
        try:
            raw = path.open("rb")
            directory = path.open("rb")
        except OSError as exc:
            raise VulnDbError(f"cannot read {path}: {exc}") from exc
        with raw, directory:
            try:
                count, entries = zip_entries(directory, MAX_MEMBERS)
            except zipfile.BadZipFile as exc:
                raise VulnDbError(
                    f"{path} is not a readable zip archive: {exc}",
                    hint="download the file again; an interrupted download leaves a broken zip",
                ) from exc
            total = 0
            self._done = 0
            try:
                for entry in entries:
                    where = f"{path.name}:{entry.name}"
                    if (
                        entry.name.endswith("/")
                        or _hidden(entry.name)
                        or not entry.name.lower().endswith(RECORD_SUFFIXES)
                    ):
                        self._tick(count)
                        continue
                    if entry.file_size > MAX_RECORD_BYTES:
                        self.stats.skip(where, f"declares {entry.file_size} bytes, over the limit")
                        self._tick(count)
                        continue
                    try:
                        data = read_zip_member(raw, entry, MAX_RECORD_BYTES)
                    except MalformedRecord as exc:
                        self.stats.skip(where, f"{exc} (zip bomb?)")
                        self._tick(count)
                        continue
                    total += len(data)
                    if total > MAX_TOTAL_BYTES:
                        raise VulnDbError(
                            f"{path} decompresses to more than {MAX_TOTAL_BYTES} bytes; refusing it"
                        )
                    yield from self._record(data, where)
                    self._tick(count)
            except _DAMAGED as exc:
                raise VulnDbError(
                    f"{path}: the archive is damaged ({exc})", hint="download the file again"
                ) from exc

    def _tar(self, path: Path) -> Iterator[Advisory]:
        try:
            with path.open("rb") as raw, _decompressed(raw) as stream:
                with tarfile.open(fileobj=stream, mode="r|") as archive:
                    yield from self._tar_members(path, archive)
                # A truncated compressed stream can look like a short tar: reading to the
                # end makes the decompressor say so.
                while stream.read(1 << 20):
                    pass
        except (tarfile.TarError, EOFError, zlib.error, OSError, lzma.LZMAError) as exc:
            raise VulnDbError(
                f"{path} is not a readable tar archive: {exc}",
                hint="download the file again; an interrupted download leaves a broken archive",
            ) from exc

    def _tar_members(self, path: Path, archive: tarfile.TarFile) -> Iterator[Advisory]:
        total = 0
        for member in archive:
            name = member.name
            where = f"{path.name}:{name}"
            if not member.isreg() or _hidden(name):
                continue
            if not name.lower().endswith(RECORD_SUFFIXES):
                continue
            if member.size > MAX_RECORD_BYTES:
                self.stats.skip(where, f"is {member.size} bytes, over the limit")
                continue
            stream: IO[bytes] | None = archive.extractfile(member)
            if stream is None:
                continue
            data = stream.read()
            if len(data) != member.size:
                raise VulnDbError(f"{where}: the archive ends inside this member")
            total += len(data)
            if total > MAX_TOTAL_BYTES:
                raise VulnDbError(f"{path} holds more than {MAX_TOTAL_BYTES} bytes of records")
            yield from self._record(data, where)
            self._tick()


def _decompressed(raw: IO[bytes]) -> IO[bytes]:
    """``raw`` (a seekable file) unwrapped from gzip, xz or bzip2 when it is compressed."""
    magic = raw.read(6)
    raw.seek(0)
    if magic.startswith(b"\xfd7zXZ"):
        return cast(IO[bytes], lzma.open(raw, "rb"))
    if magic.startswith(b"BZh"):
        return cast(IO[bytes], bz2.open(raw, "rb"))
    return maybe_gunzip(raw)


class ZipEntry(NamedTuple):
    """What reading a member needs from its central directory record."""

    name: str
    header_offset: int
    compress_size: int
    file_size: int
    crc: int
    method: int
    flags: int


_EOCD = struct.Struct("<4s4H2LH")
_EOCD64_LOCATOR = struct.Struct("<4sLQL")
_EOCD64 = struct.Struct("<4sQ2H2L4Q")
_CENTRAL = struct.Struct("<4s4B4HL2L5H2L")


def zip_entries(stream: IO[bytes], max_members: int) -> tuple[int, Iterator[ZipEntry]]:
    """(member count, members in directory order), reading the central directory one
    record at a time: a dump with hundreds of thousands of members costs no memory (the
    ``zipfile`` module keeps a ``ZipInfo`` per member, about 600 bytes each).

    Handles zip64; raises :class:`zipfile.BadZipFile` on anything malformed.
    """
    stream.seek(0, os.SEEK_END)
    size = stream.tell()
    tail_size = min(size, 65536 + _EOCD.size)
    stream.seek(size - tail_size)
    tail = stream.read(tail_size)
    pos = tail.rfind(b"PK\x05\x06")
    if pos < 0 or len(tail) - pos < _EOCD.size:
        raise zipfile.BadZipFile("no end-of-central-directory record (truncated?)")
    _, _, _, _, count, cd_size, cd_offset, _ = _EOCD.unpack_from(tail, pos)
    if count == 0xFFFF or cd_size == 0xFFFFFFFF or cd_offset == 0xFFFFFFFF:
        locator = pos - _EOCD64_LOCATOR.size
        if locator < 0 or tail[locator : locator + 4] != b"PK\x06\x07":
            raise zipfile.BadZipFile("zip64 end-of-central-directory locator missing")
        _, _, record_offset, _ = _EOCD64_LOCATOR.unpack_from(tail, locator)
        stream.seek(record_offset)
        record = stream.read(_EOCD64.size)
        if len(record) != _EOCD64.size or record[:4] != b"PK\x06\x06":
            raise zipfile.BadZipFile("zip64 end-of-central-directory record missing")
        fields = _EOCD64.unpack(record)
        count, cd_size, cd_offset = fields[7], fields[8], fields[9]
    if count > max_members:
        raise zipfile.BadZipFile(f"{count} members, more than the limit of {max_members}")
    if cd_offset + cd_size > size:
        raise zipfile.BadZipFile("the central directory lies past the end of the file")

    def entries() -> Iterator[ZipEntry]:
        stream.seek(cd_offset)
        for _ in range(count):
            fixed = stream.read(_CENTRAL.size)
            if len(fixed) != _CENTRAL.size or fixed[:4] != b"PK\x01\x02":
                raise zipfile.BadZipFile("bad central directory record")
            fields = _CENTRAL.unpack(fixed)
            flags, method = fields[5], fields[6]
            crc, compress_size, file_size = fields[9], fields[10], fields[11]
            name_length, extra_length, comment_length = fields[12], fields[13], fields[14]
            header_offset = fields[18]
            variable = stream.read(name_length + extra_length + comment_length)
            if len(variable) != name_length + extra_length + comment_length:
                raise zipfile.BadZipFile("truncated central directory")
            raw_name = variable[:name_length]
            name = raw_name.decode("utf-8" if flags & 0x800 else "cp437", errors="replace")
            if 0xFFFFFFFF in (compress_size, file_size, header_offset):
                extra = variable[name_length : name_length + extra_length]
                file_size, compress_size, header_offset = _zip64_sizes(
                    extra, file_size, compress_size, header_offset
                )
            yield ZipEntry(name, header_offset, compress_size, file_size, crc, method, flags)

    return count, entries()


def _zip64_sizes(extra: bytes, file_size: int, compress_size: int, offset: int) -> tuple[int, ...]:
    pos = 0
    while pos + 4 <= len(extra):
        kind, length = struct.unpack_from("<HH", extra, pos)
        body = extra[pos + 4 : pos + 4 + length]
        if kind == 0x0001:
            values = list(struct.unpack_from(f"<{len(body) // 8}Q", body))
            if file_size == 0xFFFFFFFF and values:
                file_size = values.pop(0)
            if compress_size == 0xFFFFFFFF and values:
                compress_size = values.pop(0)
            if offset == 0xFFFFFFFF and values:
                offset = values.pop(0)
            break
        pos += 4 + length
    return file_size, compress_size, offset


def read_zip_member(raw: IO[bytes], entry: ZipEntry, limit: int) -> bytes:
    """One member's bytes, inflating at most ``limit`` bytes whatever the member claims.

    Stored and deflated members (what OSV dumps use) are read straight from the file, which
    is also several times faster than ``ZipFile.open`` for hundreds of thousands of small
    members. Raises :class:`MalformedRecord` past ``limit`` and :class:`zipfile.BadZipFile`
    when the member is encrypted, uses another method, or its sizes or CRC do not match.
    """
    if entry.flags & 0x1:
        raise zipfile.BadZipFile(f"{entry.name} is encrypted")
    if entry.method not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise zipfile.BadZipFile(f"{entry.name} uses compression method {entry.method}")
    if entry.compress_size > limit + 65536:
        raise MalformedRecord(f"compressed size {entry.compress_size} is over the limit")
    raw.seek(entry.header_offset)
    header = raw.read(30)
    if len(header) != 30 or header[:4] != b"PK\x03\x04":
        raise zipfile.BadZipFile(f"bad local file header for {entry.name}")
    name_length, extra_length = struct.unpack("<HH", header[26:30])
    raw.seek(name_length + extra_length, os.SEEK_CUR)
    compressed = raw.read(entry.compress_size)
    if len(compressed) != entry.compress_size:
        raise zipfile.BadZipFile(f"{entry.name} is truncated")
    if entry.method == zipfile.ZIP_STORED:
        data = compressed
    else:
        inflater = zlib.decompressobj(-15)
        data = inflater.decompress(compressed, limit + 1)
        if len(data) > limit or inflater.unconsumed_tail:
            raise MalformedRecord(f"inflates to more than {limit} bytes")
    if len(data) != entry.file_size:
        raise zipfile.BadZipFile(
            f"{entry.name} inflates to {len(data)} bytes, the directory says {entry.file_size}"
        )
    if zlib.crc32(data) != entry.crc:
        raise zipfile.BadZipFile(f"Bad CRC-32 for file {entry.name!r}")
    return data

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
from typing import IO, Any, cast

from baseguard.vulndb import cvss
from baseguard.vulndb.feeds.base import (
    MAX_RECORD_BYTES,
    AdvisoryFeed,
    MalformedRecord,
    Source,
    iso_string,
    load_document,
    maybe_gunzip,
    normalize_ecosystem,
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
)
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
    if not isinstance(value, list):
        return []
    return [str(v) for v in value if isinstance(v, str | int | float) and str(v)]


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
        label = cvss.label_for_word(word)
        if label:
            return label
    for kind, value in severity:
        if not kind.startswith("CVSS"):
            label = cvss.label_for_word(value)
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
                if kind in _EVENT_KINDS and value is not None and str(value) != "":
                    events.append((kind, str(value)))
        if events:
            ranges.append(Range(str(raw["type"]), events))
    versions = _strings(entry.get("versions"))
    if not ranges and not versions:
        return None  # GIT-only (or empty) entries cannot be matched by version
    severity = _severity_entries(entry.get("severity"))
    specific = entry.get("ecosystem_specific")
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
    references: list[str] = []
    for ref in doc.get("references") or []:
        url = ref.get("url") if isinstance(ref, dict) else None
        if isinstance(url, str) and url not in references:
            references.append(url)
            if len(references) >= MAX_REFERENCES:
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
        references=references,
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
            archive = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError, ValueError) as exc:
            raise VulnDbError(
                f"{path} is not a readable zip archive: {exc}",
                hint="download the file again; an interrupted download leaves a broken zip",
            ) from exc
        with archive, path.open("rb") as raw:
            infos = [i for i in archive.infolist() if not i.is_dir()]
            if len(infos) > MAX_MEMBERS:
                raise VulnDbError(
                    f"{path} has {len(infos)} members, more than the limit of {MAX_MEMBERS}"
                )
            infos.sort(key=lambda i: i.header_offset)  # read the file front to back
            total = 0
            count = len(infos)
            self._done = 0
            for info in infos:
                where = f"{path.name}:{info.filename}"
                if _hidden(info.filename) or not info.filename.lower().endswith(RECORD_SUFFIXES):
                    self._tick(count)
                    continue
                if info.file_size > MAX_RECORD_BYTES:
                    self.stats.skip(where, f"declares {info.file_size} bytes, over the limit")
                    self._tick(count)
                    continue
                try:
                    data = read_zip_member(archive, raw, info, MAX_RECORD_BYTES)
                except MalformedRecord as exc:
                    self.stats.skip(where, f"{exc} (zip bomb?)")
                    self._tick(count)
                    continue
                except _DAMAGED as exc:
                    raise VulnDbError(
                        f"{where}: the archive is damaged ({exc})",
                        hint="download the file again",
                    ) from exc
                total += len(data)
                if total > MAX_TOTAL_BYTES:
                    raise VulnDbError(
                        f"{path} decompresses to more than {MAX_TOTAL_BYTES} bytes; refusing it"
                    )
                yield from self._record(data, where)
                self._tick(count)

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


def read_zip_member(
    archive: zipfile.ZipFile, raw: IO[bytes], info: zipfile.ZipInfo, limit: int
) -> bytes:
    """One member's bytes, inflating at most ``limit`` bytes whatever the member claims.

    Stored and deflated members (all that OSV dumps use) are read straight from ``raw``,
    which is several times faster than ``ZipFile.open`` for hundreds of thousands of small
    members; anything else goes through ``zipfile``. Raises :class:`MalformedRecord` past
    ``limit`` and :class:`zipfile.BadZipFile` when sizes or the CRC do not match.
    """
    if info.flag_bits & 0x1:
        raise zipfile.BadZipFile("encrypted member")
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        with archive.open(info) as member:
            return read_capped(member, limit, info.filename)
    if info.compress_size > limit + 65536:
        raise MalformedRecord(f"compressed size {info.compress_size} is over the limit")
    raw.seek(info.header_offset)
    header = raw.read(30)
    if len(header) != 30 or header[:4] != b"PK\x03\x04":
        raise zipfile.BadZipFile("bad local file header")
    name_length, extra_length = struct.unpack("<HH", header[26:30])
    raw.seek(name_length + extra_length, os.SEEK_CUR)
    compressed = raw.read(info.compress_size)
    if len(compressed) != info.compress_size:
        raise zipfile.BadZipFile("member data is truncated")
    if info.compress_type == zipfile.ZIP_STORED:
        data = compressed
    else:
        inflater = zlib.decompressobj(-15)
        data = inflater.decompress(compressed, limit + 1)
        if len(data) > limit or inflater.unconsumed_tail:
            raise MalformedRecord(f"inflates to more than {limit} bytes")
    if len(data) != info.file_size:
        raise zipfile.BadZipFile(
            f"inflates to {len(data)} bytes, the directory says {info.file_size}"
        )
    if zlib.crc32(data) != info.CRC:
        raise zipfile.BadZipFile(f"Bad CRC-32 for file {info.filename!r}")
    return data

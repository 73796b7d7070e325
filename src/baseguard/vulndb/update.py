"""Building, exporting and importing the vulnerability database.

:func:`update_db` reads every source of the mirror layout (downloaded first, or from a
directory), writes a new database beside the old one and swaps it in only when every
source was read. A source that cannot be read fails the update and leaves the old database
as it was; records that cannot be read are counted, skipped and reported.

:func:`export_db` writes one ``.tar.gz`` holding ``manifest.json`` (sha256, size, build
time, schema version) and ``vulndb.sqlite``; :func:`import_db` checks all of it before
swapping the database in.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import shutil
import sqlite3
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from baseguard import newfile
from baseguard.errors import UsageError
from baseguard.vulndb import sources as src
from baseguard.vulndb.feeds import FEEDS
from baseguard.vulndb.feeds.base import AdvisoryFeed, Source
from baseguard.vulndb.feeds.epss import EpssFeed
from baseguard.vulndb.feeds.kev import KevFeed
from baseguard.vulndb.feeds.osv import OsvFeed
from baseguard.vulndb.store import (
    DB_FILENAME,
    SCHEMA_VERSION,
    TEMP_PREFIX,
    TEMP_SUFFIX,
    DbBuilder,
    SourceInfo,
    VulnDB,
    VulnDbError,
    VulnDbMissingError,
    default_db_path,
    format_time,
    parse_time,
)

#: (label, done, total) - downloads count bytes, imports count records.
Progress = Callable[[str, int, int | None], None]

EXPORT_FORMAT = "baseguard-vulndb-export"
MANIFEST = "manifest.json"
#: Temporary build files older than this are leftovers of a killed update.
STALE_TEMP_SECONDS = 24 * 3600


@dataclass
class SourceReport:
    """How one source went."""

    name: str
    feed: str
    location: str
    records: int
    skipped: int
    problems: list[str] = field(default_factory=list)
    sha256: str | None = None


@dataclass
class UpdateResult:
    """What :func:`update_db` built."""

    path: Path
    built_at: datetime
    sources: list[SourceReport]
    #: Feeds carried over unchanged from the previous database (``--only``).
    kept: list[str]
    advisories: int
    seconds: float
    #: Feeds the previous database had and this one lacks (an update without ``--only``
    #: from a mirror that holds only some feeds replaces the whole database).
    dropped: list[str] = field(default_factory=list)

    @property
    def skipped(self) -> int:
        return sum(s.skipped for s in self.sources)


def _check_only(only: Iterable[str] | None) -> set[str] | None:
    if only is None:
        return None
    chosen = {o.strip() for item in only for o in item.split(",") if o.strip()}
    unknown = sorted(chosen - set(FEEDS))
    if unknown:
        raise UsageError(
            f"unknown source {', '.join(unknown)}",
            hint=f"choose from: {', '.join(FEEDS)}",
        )
    return chosen or None


def _remove_stale_temps(directory: Path) -> None:
    cutoff = time.time() - STALE_TEMP_SECONDS
    if not directory.is_dir():
        return
    for leftover in directory.iterdir():
        name = leftover.name
        if name.startswith(TEMP_PREFIX) or name.startswith(".vulndb-download-"):
            with contextlib.suppress(OSError):
                if leftover.lstat().st_mtime < cutoff:
                    if leftover.is_dir():
                        shutil.rmtree(leftover, ignore_errors=True)
                    else:
                        leftover.unlink()


def update_db(
    *,
    db_path: Path | None = None,
    mirror: str | None = None,
    from_dir: Path | None = None,
    only: Iterable[str] | None = None,
    progress: Progress | None = None,
    now: datetime | None = None,
    client: Any = None,
) -> UpdateResult:
    """Build the database from the public feeds, a mirror URL or a mirror directory.

    ``only`` limits the update to some feeds (``osv``, ``alpine``, ``wolfi``,
    ``chainguard``, ``debian``, ``kev``, ``epss``); the other feeds are copied unchanged
    from the current database when there is one.
    """
    started = time.monotonic()
    if mirror and from_dir:
        raise UsageError("--mirror and --from cannot be used together")
    if mirror and not mirror.startswith(("http://", "https://")):
        raise UsageError(
            f"--mirror takes an http:// or https:// URL, not {mirror!r}",
            hint="use --from DIR for a directory",
        )
    chosen = _check_only(only)
    target = Path(db_path) if db_path is not None else default_db_path()
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise VulnDbError(f"cannot create {target.parent}: {exc}") from exc
    _remove_stale_temps(target.parent)

    download_dir: Path | None = None
    try:
        fetched_at: dict[str, datetime] = {}
        if from_dir is not None:
            root = Path(from_dir)
            found = src.discover(root)
        else:
            download_dir = Path(tempfile.mkdtemp(prefix=".vulndb-download-", dir=target.parent))
            http = client if client is not None else src.make_client()
            try:
                remotes = (
                    src.mirror_remotes(mirror, client=http, only=chosen)
                    if mirror
                    else src.default_remotes(chosen)
                )
                fetched = src.fetch(remotes, download_dir, client=http, progress=progress)
            finally:
                if client is None:
                    http.close()
            fetched_at = fetched.fetched_at
            root = download_dir
            found = src.discover(root, fetched.locations)
        if chosen is not None:
            found = [s for s in found if s.feed in chosen]
        if not found:
            where = from_dir or mirror or "the public feeds"
            raise VulnDbError(
                f"no feed files found in {where}"
                + (f" for {', '.join(sorted(chosen))}" if chosen else ""),
                hint="see docs/db.md for the mirror layout (osv/<Ecosystem>/all.zip, "
                "alpine/v3.20/main.json, debian/tracker.json, kev.json, epss.csv …)",
            )
        dropped = sorted(_feeds_of(target) - {s.feed for s in found}) if chosen is None else []
        built_at = now or datetime.now(UTC)
        reports: list[SourceReport] = []
        kept: list[str] = []
        with DbBuilder(target) as builder:
            if chosen is not None and target.is_file():
                try:
                    VulnDB.open(target).close()
                except VulnDbMissingError:
                    pass
                else:
                    kept = sorted(builder.copy_feeds_from(target, set(FEEDS) - chosen))
            for source in found:
                stamp = _fetched_at(source, root, fetched_at, built_at)
                reports.append(_import_source(builder, source, stamp, progress))
            builder.commit(built_at)
            total = _count(target)
    finally:
        if download_dir is not None:
            shutil.rmtree(download_dir, ignore_errors=True)
    return UpdateResult(
        path=target,
        built_at=built_at,
        sources=reports,
        kept=kept,
        advisories=total,
        seconds=time.monotonic() - started,
        dropped=dropped,
    )


def _feeds_of(path: Path) -> set[str]:
    """The feeds the database at ``path`` holds (none when there is no usable one)."""
    if not path.is_file():
        return set()
    try:
        with VulnDB.open(path) as db:
            return {s.feed for s in db.status().sources}
    except VulnDbError:
        return set()


def _fetched_at(
    source: Source, root: Path, times: dict[str, datetime], default: datetime
) -> datetime:
    """When the files of ``source`` were downloaded (the latest of them), else ``default``."""
    try:
        rel = source.path.relative_to(root).as_posix()
    except ValueError:
        return default
    stamps = [t for p, t in times.items() if p == rel or p.startswith(rel + "/")]
    return max(stamps) if stamps else default


def _count(path: Path) -> int:
    with VulnDB.open(path) as db:
        return db.status().advisories


def _import_source(
    builder: DbBuilder, source: Source, fetched_at: datetime, progress: Progress | None
) -> SourceReport:
    feed_type = FEEDS[source.feed]
    label = f"import {source.name}"

    def tick(done: int, total: int | None) -> None:
        if progress is not None:
            progress(label, done, total)

    digest = src.source_sha256(source.path)
    if feed_type is OsvFeed:
        feed: Any = OsvFeed(progress=tick)
    else:
        feed = feed_type()
    if isinstance(feed, AdvisoryFeed):
        builder.add_advisories(source.feed, feed.iter_advisories(source))
    elif isinstance(feed, KevFeed):
        builder.add_kev(feed.iter_entries(source))
    elif isinstance(feed, EpssFeed):
        builder.add_epss(feed.iter_scores(source))
    else:  # pragma: no cover - a registry entry without a known table
        raise VulnDbError(f"feed {source.feed} has no importer")
    stats = feed.stats
    tick(stats.records, stats.records)
    builder.add_source(
        SourceInfo(
            name=source.name,
            location=source.location,
            fetched_at=fetched_at,
            records=stats.records,
            sha256=digest,
            feed=source.feed,
            skipped=stats.skipped,
        )
    )
    return SourceReport(
        name=source.name,
        feed=source.feed,
        location=source.location,
        records=stats.records,
        skipped=stats.skipped,
        problems=list(stats.problems),
        sha256=digest,
    )


# -- export / import -------------------------------------------------------------------------


def _atomic_target(path: Path) -> tuple[Path, IO[bytes]]:
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise VulnDbError(f"cannot write {path}: directory {parent} does not exist")
    fd, tmp = newfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=parent)
    return Path(tmp), os.fdopen(fd, "wb")


def export_db(
    out: Path, *, db_path: Path | None = None, now: datetime | None = None
) -> dict[str, Any]:
    """Write the database and a manifest (sha256, size, build time) to one ``.tar.gz``."""
    from isal import igzip

    source = Path(db_path) if db_path is not None else default_db_path()
    with VulnDB.open(source) as db:
        status = db.status()
    with source.open("rb") as fh:  # one handle: a concurrent update cannot mix two files
        size = os.fstat(fh.fileno()).st_size
        digest = hashlib.sha256()
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
        manifest = {
            "format": EXPORT_FORMAT,
            "version": 1,
            "schema_version": status.schema_version,
            "built_at": format_time(status.built_at),
            "exported_at": format_time(now or datetime.now(UTC)),
            "advisories": status.advisories,
            "file": DB_FILENAME,
            "size": size,
            "sha256": digest.hexdigest(),
        }
        fh.seek(0)
        tmp, out_fh = _atomic_target(out)
        try:
            with (
                out_fh,
                igzip.open(out_fh, "wb", compresslevel=1) as gz,  # type: ignore[no-untyped-call]
                tarfile.open(fileobj=gz, mode="w|", format=tarfile.PAX_FORMAT) as tar,
            ):
                data = json.dumps(manifest, indent=2, sort_keys=True).encode()
                info = tarfile.TarInfo(MANIFEST)
                info.size = len(data)
                info.mtime = int(status.built_at.timestamp())
                info.mode = 0o644
                tar.addfile(info, io.BytesIO(data))
                info = tarfile.TarInfo(DB_FILENAME)
                info.size = size
                info.mtime = int(status.built_at.timestamp())
                info.mode = 0o644
                tar.addfile(info, fh)
            os.replace(tmp, out)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise VulnDbError(f"cannot write {out}: {exc}") from exc
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    return manifest


def import_db(file: Path, *, db_path: Path | None = None) -> dict[str, Any]:
    """Verify an export (manifest, size, sha256, schema, build time) and swap it in."""
    target = Path(db_path) if db_path is not None else default_db_path()
    if not Path(file).is_file():
        raise VulnDbError(
            f"{file} is a directory, not an export file"
            if Path(file).is_dir()
            else f"{file} does not exist",
            hint="give the .tar.gz that `baseguard db export` wrote",
        )
    if target.is_dir():
        raise VulnDbError(
            f"cannot install the database at {target}: it is a directory",
            hint="give --db the database file's path, not its directory",
        )
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise VulnDbError(f"cannot create {target.parent}: {exc}") from exc

    def refuse(why: str) -> VulnDbError:
        return VulnDbError(
            f"refusing {file}: {why}",
            hint="export it again with `baseguard db export`; the current database is unchanged",
        )

    fd, tmp_name = newfile.mkstemp(prefix=TEMP_PREFIX, suffix=TEMP_SUFFIX, dir=target.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            manifest = _read_export(Path(file), out, refuse)
        try:
            conn = sqlite3.connect(f"{tmp.resolve().as_uri()}?mode=ro", uri=True)
            try:
                meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
            finally:
                conn.close()
        except sqlite3.Error as exc:
            raise refuse(f"the database inside is not readable ({exc})") from exc
        if meta.get("schema_version") != str(SCHEMA_VERSION):
            raise refuse(
                f"schema version {meta.get('schema_version')}; this baseguard reads "
                f"{SCHEMA_VERSION}"
            )
        if "built_at" not in meta or parse_time(meta["built_at"]) != parse_time(
            str(manifest["built_at"])
        ):
            raise refuse("the build time in the manifest does not match the database")
        try:
            os.replace(tmp, target)
        except OSError as exc:
            raise VulnDbError(
                f"cannot install the database at {target}: {exc.strerror or exc}",
                hint="the current database is unchanged",
            ) from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return manifest


def _read_export(
    file: Path, out: IO[bytes], refuse: Callable[[str], VulnDbError]
) -> dict[str, Any]:
    manifest: dict[str, Any] | None = None
    got_db = False
    try:
        with tarfile.open(file, mode="r|*") as tar:
            for member in tar:
                if member.name == MANIFEST and manifest is None and not got_db:
                    if not member.isreg() or member.size > 1 << 20:
                        raise refuse("manifest.json is not a small regular file")
                    stream = tar.extractfile(member)
                    assert stream is not None
                    try:
                        manifest = json.loads(stream.read())
                    except ValueError as exc:
                        raise refuse(f"manifest.json is not JSON ({exc})") from exc
                    if not isinstance(manifest, dict) or manifest.get("format") != EXPORT_FORMAT:
                        raise refuse("it is not a baseguard database export")
                    for key in ("sha256", "size", "built_at", "schema_version"):
                        if key not in manifest:
                            raise refuse(f"the manifest has no {key!r}")
                elif member.name == DB_FILENAME and manifest is not None and not got_db:
                    if not member.isreg():
                        raise refuse(f"{DB_FILENAME} is not a regular file")
                    if member.size != manifest["size"]:
                        raise refuse(
                            f"{DB_FILENAME} is {member.size} bytes, the manifest says "
                            f"{manifest['size']}"
                        )
                    stream = tar.extractfile(member)
                    assert stream is not None
                    digest = hashlib.sha256()
                    while block := stream.read(1 << 20):
                        digest.update(block)
                        out.write(block)
                    if digest.hexdigest() != manifest["sha256"]:
                        raise refuse(
                            f"checksum mismatch: {DB_FILENAME} hashes to {digest.hexdigest()}, "
                            f"the manifest says {manifest['sha256']} (tampered or damaged)"
                        )
                    got_db = True
                else:
                    raise refuse(f"unexpected member {member.name!r}")
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise refuse(f"not a readable export archive ({exc})") from exc
    if manifest is None or not got_db:
        raise refuse(f"it lacks {MANIFEST} or {DB_FILENAME}")
    return manifest

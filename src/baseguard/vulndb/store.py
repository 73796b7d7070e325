"""The vulnerability database: one SQLite file, built aside and swapped in atomically.

Layout (``SCHEMA_VERSION`` 1):

* ``advisories(rowid, id, source, feed, withdrawn, data)`` - one row per (advisory id,
  source); ``data`` is the compact JSON of :class:`~baseguard.vulndb.model.Advisory`,
  zstd-compressed. Records of the same id from one source (a GHSA in several OSV ecosystem
  dumps, a CVE under several Debian source packages) are merged into one row.
* ``affected_index(ecosystem, package, advisory)`` - the lookup index: normalised
  ecosystem and package name (see :func:`~baseguard.vulndb.names.normalize_package`)
  to the advisory's rowid.
* ``kev(cve, data)`` and ``epss(cve, score, percentile)`` - enrichment.
* ``meta(key, value)`` - schema version, build time, counts; ``sources(...)`` - provenance.

Readers open the file read-only (:class:`VulnDB`); writers use :class:`DbBuilder`, which
writes a temporary file beside the target and ``os.replace``-s it only on success.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any

import platformdirs
import zstandard

from baseguard import newfile
from baseguard.errors import BaseguardError
from baseguard.vulndb.model import Advisory, Affected, severity_rank
from baseguard.vulndb.names import normalize_ecosystem, normalize_package

SCHEMA_VERSION = 1
DB_ENV = "BASEGUARD_VULNDB"
CACHE_ENV = "BASEGUARD_CACHE_DIR"
DB_FILENAME = "vulndb.sqlite"
#: Temporary files a build leaves beside the target while it runs.
TEMP_PREFIX = ".vulndb-build-"
TEMP_SUFFIX = ".tmp"
#: Names per ``IN (...)`` query.
CHUNK = 500
STALE_AFTER = timedelta(days=7)

UPDATE_HINT = "run `baseguard db update` (or `baseguard db import FILE` on an air-gapped host)"


class VulnDbError(BaseguardError):
    """The vulnerability database or one of its feeds could not be built, read or written."""


class VulnDbMissingError(VulnDbError):
    """There is no usable vulnerability database at the expected path."""

    def __init__(self, message: str, hint: str | None = UPDATE_HINT) -> None:
        super().__init__(message, hint)


def default_db_path() -> Path:
    """``$BASEGUARD_VULNDB`` if set; else ``<cache dir>/vulndb/vulndb.sqlite``.

    The cache dir is ``$BASEGUARD_CACHE_DIR`` or ``platformdirs.user_cache_dir("baseguard")``,
    the same directory the blob cache uses.
    """
    override = os.environ.get(DB_ENV)
    if override:
        return Path(override).expanduser()
    cache = os.environ.get(CACHE_ENV)
    root = Path(cache).expanduser() if cache else Path(platformdirs.user_cache_dir("baseguard"))
    return root / "vulndb" / DB_FILENAME


@dataclass
class SourceInfo:
    """Where one source's data came from, when, and how many records it gave."""

    name: str
    location: str
    fetched_at: datetime
    records: int
    sha256: str | None
    feed: str = ""
    skipped: int = 0


@dataclass
class DbStatus:
    """What ``baseguard db status`` shows."""

    path: Path
    built_at: datetime
    schema_version: int
    sources: list[SourceInfo]
    #: Advisories per ecosystem (an advisory counts once per ecosystem it names).
    counts: dict[str, int]
    advisories: int
    #: Advisories per feed (osv, alpine, wolfi, chainguard, debian) and rows of kev, epss.
    feeds: dict[str, int] = field(default_factory=dict)
    size: int = 0

    def age(self, now: datetime | None = None) -> timedelta:
        return (now or datetime.now(UTC)) - self.built_at

    def is_stale(self, now: datetime | None = None) -> bool:
        return self.age(now) > STALE_AFTER

    def to_dict(self, now: datetime | None = None) -> dict[str, Any]:
        age = self.age(now)
        return {
            "path": str(self.path),
            "built_at": format_time(self.built_at),
            "age_seconds": int(age.total_seconds()),
            "stale": self.is_stale(now),
            "schema_version": self.schema_version,
            "size": self.size,
            "advisories": self.advisories,
            "feeds": dict(sorted(self.feeds.items())),
            "ecosystems": dict(sorted(self.counts.items())),
            "sources": [
                {
                    "name": s.name,
                    "feed": s.feed,
                    "location": s.location,
                    "fetched_at": format_time(s.fetched_at),
                    "records": s.records,
                    "skipped": s.skipped,
                    "sha256": s.sha256,
                }
                for s in self.sources
            ],
        }


def format_time(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


#: A preset dictionary of what advisory JSON is made of. Records are small (about a
#: kilobyte), so a shared dictionary saves a third of the space over plain compression.
#: Changing it changes the file format: bump SCHEMA_VERSION.
ZDICT = (
    b'"database_specific":{"cwe_ids":["CWE-79"],"github_reviewed":true,"github_reviewed_at":"'
    b'"severity":"MODERATE","nvd_published_at":"2023-"},"references":["https://nvd.nist.gov/'
    b'vuln/detail/CVE-2023-","https://github.com/advisories/GHSA-","https://github.com/'
    b'/security/advisories/GHSA-","/commit/","/pull/","/issues/"],'
    b'{"ecosystem":"PyPI","package":"","ranges":[{"type":"ECOSYSTEM","events":[{"introduced":'
    b'"0"},{"fixed":"1.'
    b'"}]}],"versions":["0.1","0.2","1.0.0","1.0.1","1.1.0","2.0.0"],"not_affected":false,'
    b'"severity":null}'
    b'{"id":"CVE-2023-","source":"osv","aliases":["GHSA-","PYSEC-2023-","CVE-2022-"],'
    b'"summary":"","published":"2023-01-01T00:00:00Z","modified":"2024-01-01T00:00:00Z",'
    b'"withdrawn":null,"severity":[["CVSS_V3","CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"]],'
    b'"cvss_score":9.8,"severity_label":"CRITICAL","affected":['
)
CODEC = "json+zstd-dict1"
_ZSTD_DICT = zstandard.ZstdCompressionDict(ZDICT, dict_type=zstandard.DICT_TYPE_RAWCONTENT)
_JSON = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)
_local = threading.local()


def _codecs() -> tuple[Any, Any]:
    """Per-thread zstd (de)compressors: they are not safe to share between threads."""
    pair = getattr(_local, "codecs", None)
    if pair is None:
        pair = _local.codecs = (
            zstandard.ZstdCompressor(level=3, dict_data=_ZSTD_DICT),
            zstandard.ZstdDecompressor(dict_data=_ZSTD_DICT),
        )
    return pair


def encode_advisory(advisory: Advisory) -> bytes:
    """Compact JSON, zstd-compressed with :data:`ZDICT`: what ``advisories.data`` holds."""
    data: bytes = _codecs()[0].compress(_JSON.encode(advisory.to_dict()).encode("utf-8"))
    return data


def decode_advisory(data: bytes) -> Advisory:
    return Advisory.from_dict(json.loads(_codecs()[1].decompress(data)))


def _chunks(items: list[str], size: int = CHUNK) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE sources (
    name TEXT PRIMARY KEY, feed TEXT NOT NULL, location TEXT NOT NULL,
    fetched_at TEXT NOT NULL, records INTEGER NOT NULL, skipped INTEGER NOT NULL,
    sha256 TEXT
);
CREATE TABLE advisories (
    rowid INTEGER PRIMARY KEY, id TEXT NOT NULL, source TEXT NOT NULL, feed TEXT NOT NULL,
    withdrawn INTEGER NOT NULL, data BLOB NOT NULL, UNIQUE (id, source)
);
CREATE TABLE affected_index (
    ecosystem TEXT NOT NULL, package TEXT NOT NULL, advisory INTEGER NOT NULL,
    PRIMARY KEY (ecosystem, package, advisory)
) WITHOUT ROWID;
CREATE TABLE kev (cve TEXT PRIMARY KEY, data TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE epss (cve TEXT PRIMARY KEY, score REAL NOT NULL, percentile REAL NOT NULL)
    WITHOUT ROWID;
"""


class VulnDB:
    """Read-only access to a built database: the API the matcher uses."""

    def __init__(self, path: Path, conn: sqlite3.Connection, meta: dict[str, str]) -> None:
        self.path = path
        self._conn = conn
        self._meta = meta

    @classmethod
    def open(cls, path: Path | None = None) -> VulnDB:
        """Open the database at ``path`` (default :func:`default_db_path`) read-only.

        Raises :class:`VulnDbMissingError` when the file is absent, not a baseguard database,
        corrupt, or of another schema version.
        """
        target = Path(path) if path is not None else default_db_path()
        if target.is_dir():
            raise VulnDbMissingError(
                f"{target} is a directory, not a vulnerability database",
                hint="give the database file's path (--db or $BASEGUARD_VULNDB), not a directory",
            )
        if not target.is_file():
            raise VulnDbMissingError(f"no vulnerability database at {target}")
        try:
            conn = sqlite3.connect(
                f"{target.resolve().as_uri()}?mode=ro", uri=True, check_same_thread=False
            )
        except sqlite3.Error as exc:
            raise VulnDbMissingError(f"cannot open vulnerability database {target}: {exc}") from exc
        try:
            meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
        except sqlite3.Error as exc:
            conn.close()
            raise VulnDbMissingError(
                f"{target} is not a usable vulnerability database ({exc})"
            ) from exc
        try:
            version = int(meta.get("schema_version", "0"))
            parse_time(meta["built_at"])
        except (KeyError, ValueError) as exc:
            conn.close()
            raise VulnDbMissingError(f"{target} is missing its build metadata") from exc
        codec = meta.get("codec", "")
        if version != SCHEMA_VERSION or codec != CODEC:
            conn.close()
            raise VulnDbMissingError(
                f"{target} has schema version {version} ({codec or 'no codec'}); this "
                f"baseguard reads version {SCHEMA_VERSION} ({CODEC})"
            )
        return cls(target, conn, meta)

    # -- lookups -------------------------------------------------------------------------

    def advisories_for(
        self, ecosystem: str, names: Iterable[str]
    ) -> dict[str, list[tuple[Advisory, Affected]]]:
        """Advisories naming each package of ``ecosystem``, keyed by the names as given.

        Every requested name is a key (an empty list when nothing names it). Names and the
        ecosystem are normalised the way the index is (PEP 503 for PyPI, ``Alpine:3.20`` ->
        ``Alpine:v3.20``), so callers may pass them as found. Each pair holds one
        :class:`Affected` entry of the advisory for that ecosystem and package; an advisory
        with two entries for the package gives two pairs. Withdrawn advisories are left out.
        """
        eco = normalize_ecosystem(ecosystem)
        wanted: dict[str, list[str]] = {}
        result: dict[str, list[tuple[Advisory, Affected]]] = {}
        for name in names:
            if name in result:
                continue
            result[name] = []
            wanted.setdefault(normalize_package(eco, name), []).append(name)
        decoded: dict[int, Advisory] = {}
        keys = list(wanted)
        for chunk in _chunks(keys):
            marks = ",".join("?" * len(chunk))
            rows = self._query(
                "SELECT i.package, a.rowid, a.data FROM affected_index i "
                "JOIN advisories a ON a.rowid = i.advisory "
                f"WHERE i.ecosystem = ? AND i.package IN ({marks}) AND a.withdrawn = 0 "
                "ORDER BY i.package, a.id, a.source",
                [eco, *chunk],
            )
            for package, rowid, data in rows:
                advisory = decoded.get(rowid)
                if advisory is None:
                    advisory = decoded[rowid] = decode_advisory(data)
                for affected in advisory.affected:
                    if affected.ecosystem != eco:
                        continue
                    if normalize_package(eco, affected.package) != package:
                        continue
                    for name in wanted[package]:
                        result[name].append((advisory, affected))
        return result

    def advisory(self, advisory_id: str) -> list[Advisory]:
        """Every source's record of ``advisory_id`` (withdrawn ones included)."""
        rows = self._query(
            "SELECT data FROM advisories WHERE id = ? ORDER BY source", [advisory_id]
        )
        return [decode_advisory(data) for (data,) in rows]

    def ecosystems(self) -> set[str]:
        """The ecosystems the database has advisories for (``Alpine:v3.20``, ``PyPI`` …)."""
        return set(self._counts())

    def kev(self, ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        """CISA KEV entries for the given CVE ids that are in the catalog."""
        out: dict[str, dict[str, Any]] = {}
        for chunk in _chunks(_unique(ids)):
            marks = ",".join("?" * len(chunk))
            for cve, data in self._query(
                f"SELECT cve, data FROM kev WHERE cve IN ({marks})", chunk
            ):
                out[cve] = json.loads(data)
        return out

    def epss(self, ids: Iterable[str]) -> dict[str, tuple[float, float]]:
        """EPSS (score, percentile) for the given CVE ids that have one."""
        out: dict[str, tuple[float, float]] = {}
        for chunk in _chunks(_unique(ids)):
            marks = ",".join("?" * len(chunk))
            for cve, score, percentile in self._query(
                f"SELECT cve, score, percentile FROM epss WHERE cve IN ({marks})", chunk
            ):
                out[cve] = (float(score), float(percentile))
        return out

    # -- status --------------------------------------------------------------------------

    def built_at(self) -> datetime:
        return parse_time(self._meta["built_at"])

    def age(self, now: datetime | None = None) -> timedelta:
        """How long ago the database was built."""
        return (now or datetime.now(UTC)) - self.built_at()

    def status(self) -> DbStatus:
        sources = [
            SourceInfo(
                name=name,
                location=location,
                fetched_at=parse_time(fetched_at),
                records=int(records),
                sha256=sha256,
                feed=feed,
                skipped=int(skipped),
            )
            for name, feed, location, fetched_at, records, skipped, sha256 in self._query(
                "SELECT name, feed, location, fetched_at, records, skipped, sha256 "
                "FROM sources ORDER BY name",
                [],
            )
        ]
        try:
            size = self.path.stat().st_size
        except OSError:
            size = 0
        return DbStatus(
            path=self.path,
            built_at=self.built_at(),
            schema_version=int(self._meta["schema_version"]),
            sources=sources,
            counts=self._counts(),
            advisories=int(self._meta.get("advisories", "0")),
            feeds={k: int(v) for k, v in json.loads(self._meta.get("feeds", "{}")).items()},
            size=size,
        )

    def _counts(self) -> dict[str, int]:
        return {k: int(v) for k, v in json.loads(self._meta.get("ecosystems", "{}")).items()}

    def _query(self, sql: str, params: list[Any]) -> list[Any]:
        try:
            return self._conn.execute(sql, params).fetchall()
        except sqlite3.DatabaseError as exc:
            raise VulnDbMissingError(
                f"vulnerability database {self.path} cannot be read: {exc}"
            ) from exc

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> VulnDB:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _merge(old: Advisory, new: Advisory) -> list[Affected]:
    """Fold ``new`` into ``old`` (same id and source); return the Affected entries added."""
    seen = [a.to_dict() for a in old.affected]
    added: list[Affected] = []
    for affected in new.affected:
        as_dict = affected.to_dict()
        if as_dict not in seen:
            seen.append(as_dict)
            old.affected.append(affected)
            added.append(affected)
    old.aliases = _unique([*old.aliases, *new.aliases])
    old.references = _unique([*old.references, *new.references])
    for kind_vector in new.severity:
        if kind_vector not in old.severity:
            old.severity.append(kind_vector)
    if new.cvss_score is not None and (old.cvss_score is None or new.cvss_score > old.cvss_score):
        old.cvss_score = new.cvss_score
    if severity_rank(new.severity_label) > severity_rank(old.severity_label):
        old.severity_label = new.severity_label
    old.summary = old.summary or new.summary
    old.published = old.published or new.published
    if new.modified and (old.modified is None or new.modified > old.modified):
        old.modified = new.modified
    for key, value in new.database_specific.items():
        old.database_specific.setdefault(key, value)
    return added


class DbBuilder:
    """Builds a database in a temporary file beside ``target``; :meth:`commit` swaps it in.

    Used as a context manager: leaving the block with an exception (or without calling
    :meth:`commit`) deletes the temporary file, so the database at ``target`` is either the
    old one or the complete new one.
    """

    def __init__(self, target: Path) -> None:
        self.target = target
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = newfile.mkstemp(prefix=TEMP_PREFIX, suffix=TEMP_SUFFIX, dir=target.parent)
        except OSError as exc:
            raise VulnDbError(f"cannot create a database beside {target}: {exc}") from exc
        os.close(fd)
        self.temp = Path(tmp)
        self._conn: sqlite3.Connection | None = sqlite3.connect(
            self.temp.resolve().as_uri(), uri=True, isolation_level=None
        )
        conn = self._conn
        conn.execute("PRAGMA journal_mode=OFF")
        conn.execute("PRAGMA synchronous=OFF")
        # 32 MiB: as fast as larger caches here, and a 128 MiB cache grew the process past
        # 300 MB on a 520,000-advisory import (benchmarks/vulndb_import.py).
        conn.execute("PRAGMA cache_size=-32768")
        conn.execute("PRAGMA temp_store=MEMORY")
        conn.execute("PRAGMA page_size=8192")
        conn.executescript(SCHEMA)
        conn.execute("BEGIN")
        self._index_rows: list[tuple[str, str, int]] = []
        self._pending: list[tuple[int, str, Advisory, bytes]] = []
        self._next_rowid = 1

    @property
    def conn(self) -> sqlite3.Connection:
        if self._conn is None:
            raise VulnDbError(f"database build {self.temp} is already closed")
        return self._conn

    # -- writing -------------------------------------------------------------------------

    def add_advisories(self, feed: str, advisories: Iterable[Advisory]) -> int:
        """Insert advisories (merging repeats of an id from one source); return how many
        records were read."""
        count = 0
        for advisory in advisories:
            self.add_advisory(feed, advisory)
            count += 1
        return count

    def add_advisory(self, feed: str, advisory: Advisory) -> None:
        """Queue one advisory; rows are written in batches (see :meth:`_flush_advisories`)."""
        self._pending.append((self._next_rowid, feed, advisory, encode_advisory(advisory)))
        self._next_rowid += 1
        if len(self._pending) >= 2000:
            self._flush_advisories()

    def _flush_advisories(self) -> None:
        """Insert the queued advisories with their pre-assigned rowids in one statement; a
        rowid that did not make it in collided with an (id, source) already stored, and is
        merged into that row instead."""
        pending, self._pending = self._pending, []
        if not pending:
            return
        conn = self.conn
        conn.executemany(
            "INSERT INTO advisories (rowid, id, source, feed, withdrawn, data) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id, source) DO NOTHING",
            [
                (rowid, adv.id, adv.source, feed, 1 if adv.withdrawn else 0, data)
                for rowid, feed, adv, data in pending
            ],
        )
        stored = {
            rowid
            for (rowid,) in conn.execute(
                "SELECT rowid FROM advisories WHERE rowid BETWEEN ? AND ?",
                (pending[0][0], pending[-1][0]),
            )
        }
        for rowid, _, advisory, _ in pending:
            if rowid in stored:
                self._index(rowid, advisory.affected)
            else:
                self._merge(advisory)

    def _merge(self, advisory: Advisory) -> None:
        conn = self.conn
        rowid, data = conn.execute(
            "SELECT rowid, data FROM advisories WHERE id = ? AND source = ?",
            (advisory.id, advisory.source),
        ).fetchone()
        existing = decode_advisory(data)
        added = _merge(existing, advisory)
        conn.execute(
            "UPDATE advisories SET data = ? WHERE rowid = ?", (encode_advisory(existing), rowid)
        )
        self._index(rowid, added)

    def _index(self, rowid: int, affected: Iterable[Affected]) -> None:
        for entry in affected:
            self._index_rows.append(
                (entry.ecosystem, normalize_package(entry.ecosystem, entry.package), rowid)
            )
        if len(self._index_rows) >= 5000:
            self._flush_index()

    def _flush_index(self) -> None:
        if self._index_rows:
            self.conn.executemany(
                "INSERT OR IGNORE INTO affected_index (ecosystem, package, advisory) "
                "VALUES (?, ?, ?)",
                self._index_rows,
            )
            self._index_rows = []

    def add_kev(self, rows: Iterable[tuple[str, dict[str, Any]]]) -> int:
        count = 0
        for cve, data in rows:
            self.conn.execute(
                "INSERT OR REPLACE INTO kev (cve, data) VALUES (?, ?)",
                (cve, json.dumps(data, separators=(",", ":"), sort_keys=True)),
            )
            count += 1
        return count

    def add_epss(self, rows: Iterable[tuple[str, float, float]]) -> int:
        count = 0
        batch: list[tuple[str, float, float]] = []
        for row in rows:
            batch.append(row)
            count += 1
            if len(batch) >= 5000:
                self._epss_batch(batch)
                batch = []
        self._epss_batch(batch)
        return count

    def _epss_batch(self, batch: list[tuple[str, float, float]]) -> None:
        if batch:
            self.conn.executemany(
                "INSERT OR REPLACE INTO epss (cve, score, percentile) VALUES (?, ?, ?)", batch
            )

    def add_source(self, info: SourceInfo) -> None:
        self.conn.execute(
            "INSERT OR REPLACE INTO sources "
            "(name, feed, location, fetched_at, records, skipped, sha256) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                info.name,
                info.feed,
                info.location,
                format_time(info.fetched_at),
                info.records,
                info.skipped,
                info.sha256,
            ),
        )

    def copy_feeds_from(self, old: Path, feeds: set[str]) -> set[str]:
        """Copy the rows of ``feeds`` (advisory feeds, ``kev``, ``epss``) from the database
        at ``old``; return the feeds it actually held. Must run before any other insert so
        that advisory rowids are kept."""
        if not feeds:
            return set()
        conn = self.conn
        self._flush_advisories()
        self._flush_index()
        conn.execute("COMMIT")
        conn.execute("ATTACH DATABASE ? AS old", (f"{old.resolve().as_uri()}?mode=ro",))
        try:
            conn.execute("BEGIN")
            marks = ",".join("?" * len(feeds))
            names = sorted(feeds)
            conn.execute(
                "INSERT INTO advisories SELECT rowid, id, source, feed, withdrawn, data "
                f"FROM old.advisories WHERE feed IN ({marks})",
                names,
            )
            conn.execute(
                "INSERT INTO affected_index SELECT i.ecosystem, i.package, i.advisory "
                "FROM old.affected_index i JOIN old.advisories a ON a.rowid = i.advisory "
                f"WHERE a.feed IN ({marks})",
                names,
            )
            if "kev" in feeds:
                conn.execute("INSERT INTO kev SELECT * FROM old.kev")
            if "epss" in feeds:
                conn.execute("INSERT INTO epss SELECT * FROM old.epss")
            conn.execute(
                f"INSERT INTO sources SELECT * FROM old.sources WHERE feed IN ({marks})",
                names,
            )
            held = {
                feed for (feed,) in conn.execute("SELECT DISTINCT feed FROM sources").fetchall()
            }
            conn.execute("COMMIT")
        except sqlite3.DatabaseError as exc:
            raise VulnDbError(f"cannot copy feeds from {old}: {exc}") from exc
        finally:
            conn.execute("DETACH DATABASE old")
        conn.execute("BEGIN")
        top = conn.execute("SELECT MAX(rowid) FROM advisories").fetchone()[0]
        self._next_rowid = max(self._next_rowid, (top or 0) + 1)
        return held & feeds

    # -- finishing -----------------------------------------------------------------------

    def commit(self, built_at: datetime) -> Path:
        """Write the metadata, close the file and move it over the target atomically."""
        conn = self.conn
        self._flush_advisories()
        self._flush_index()
        ecosystems = dict(
            conn.execute(
                "SELECT ecosystem, COUNT(DISTINCT advisory) FROM affected_index "
                "GROUP BY ecosystem ORDER BY ecosystem"
            ).fetchall()
        )
        feeds = dict(
            conn.execute(
                "SELECT feed, COUNT(*) FROM advisories GROUP BY feed ORDER BY feed"
            ).fetchall()
        )
        feeds["kev"] = conn.execute("SELECT COUNT(*) FROM kev").fetchone()[0]
        feeds["epss"] = conn.execute("SELECT COUNT(*) FROM epss").fetchone()[0]
        total = conn.execute("SELECT COUNT(*) FROM advisories").fetchone()[0]
        meta = {
            "schema_version": str(SCHEMA_VERSION),
            "built_at": format_time(built_at),
            "advisories": str(total),
            "ecosystems": json.dumps(ecosystems, sort_keys=True),
            "feeds": json.dumps(feeds, sort_keys=True),
            "codec": CODEC,
        }
        conn.executemany("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", meta.items())
        conn.execute("COMMIT")
        conn.execute("ANALYZE")
        conn.close()
        self._conn = None
        try:
            os.replace(self.temp, self.target)
        except OSError as exc:
            self.abort()
            raise VulnDbError(f"cannot move the new database to {self.target}: {exc}") from exc
        return self.target

    def abort(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(sqlite3.Error):
                self._conn.close()
            self._conn = None
        with contextlib.suppress(FileNotFoundError):
            self.temp.unlink()

    def __enter__(self) -> DbBuilder:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._conn is not None or self.temp.exists():
            self.abort()

"""Write rpm header blobs and the ndb / Berkeley DB hash containers, from the format facts.

These writers exist so tests can build hostile or unusual databases byte by byte (rpm 4.18
on Debian cannot write ndb or bdb). They are written from the layouts in rpm's
``lib/header.c`` and ``lib/backend/ndb/rpmpkg.c`` and libdb's ``db_page.h``, not from the
readers under test; the real-tool fixtures in data/rpm/ anchor both.
"""

from __future__ import annotations

import gzip
import sqlite3
import struct
import zlib
from pathlib import Path

from baseguard.analysis.catalogers.rpmdb import header as tags

DATA = Path(__file__).parent / "data" / "rpm"

_INT = {tags.CHAR: ("B", 1), tags.INT8: ("B", 1), tags.INT16: ("H", 2), tags.INT32: ("I", 4)}


def build_header(entries: list[tuple[int, int, object]]) -> bytes:
    """``(tag, type, value)`` -> a header blob (il, dl, big-endian index, data store)."""
    store = bytearray()
    index = bytearray()
    for tag, type_, value in entries:
        if type_ in _INT:
            code, size = _INT[type_]
            store.extend(b"\0" * (-len(store) % size))
            assert isinstance(value, list)
            offset, count = len(store), len(value)
            store.extend(struct.pack(f">{count}{code}", *value))
        elif type_ in (tags.STRING, tags.I18NSTRING):
            offset, count = len(store), 1
            store.extend(str(value).encode() + b"\0")
        elif type_ == tags.STRING_ARRAY:
            assert isinstance(value, list)
            offset, count = len(store), len(value)
            for item in value:
                store.extend(str(item).encode() + b"\0")
        else:
            assert isinstance(value, bytes)
            offset, count = len(store), len(value)
            store.extend(value)
        index.extend(struct.pack(">iIiI", tag, type_, offset, count))
    return struct.pack(">II", len(entries), len(store)) + bytes(index) + bytes(store)


def package_header(
    name: str,
    version: str,
    release: str,
    *,
    arch: str = "x86_64",
    epoch: int | None = None,
    license: str = "MIT",
    source_rpm: str | None = None,
    requires: list[str] | None = None,
    provides: list[str] | None = None,
    files: list[str] | None = None,
) -> bytes:
    """A header with the tags rpm writes for an installed package (files split as rpm does)."""
    entries: list[tuple[int, int, object]] = [
        (tags.NAME, tags.STRING, name),
        (tags.VERSION, tags.STRING, version),
        (tags.RELEASE, tags.STRING, release),
    ]
    if epoch is not None:
        entries.append((tags.EPOCH, tags.INT32, [epoch]))
    entries += [
        (tags.LICENSE, tags.STRING, license),
        (tags.ARCH, tags.STRING, arch),
        (tags.SOURCERPM, tags.STRING, source_rpm or f"{name}-{version}-{release}.src.rpm"),
        (tags.PROVIDENAME, tags.STRING_ARRAY, provides or [name]),
    ]
    if requires:
        entries.append((tags.REQUIRENAME, tags.STRING_ARRAY, requires))
    if files:
        dirs: list[str] = []
        indexes: list[int] = []
        bases: list[str] = []
        for path in files:
            head, _, base = path.rpartition("/")
            directory = head + "/"
            if directory not in dirs:
                dirs.append(directory)
            indexes.append(dirs.index(directory))
            bases.append(base)
        entries += [
            (tags.DIRINDEXES, tags.INT32, indexes),
            (tags.BASENAMES, tags.STRING_ARRAY, bases),
            (tags.DIRNAMES, tags.STRING_ARRAY, dirs),
        ]
    return build_header(entries)


def build_ndb(blobs: list[bytes]) -> bytes:
    """An ndb ``Packages.db`` holding ``blobs`` as packages 1, 2, …"""
    page = 4096
    slot_pages = (len(blobs) + 2 + 255) // 256
    out = bytearray(slot_pages * page)
    struct.pack_into("<4sIIII", out, 0, b"RpmP", 0, 1, slot_pages, len(blobs) + 1)
    for offset in range(32, slot_pages * page, 16):
        struct.pack_into("<4sIII", out, offset, b"Slot", 0, 0, 0)
    for i, blob in enumerate(blobs):
        pkgidx = i + 1
        blkoff = len(out) // 16
        blkcnt = (16 + len(blob) + 12 + 15) // 16
        body = bytearray(struct.pack("<4sIII", b"BlbS", pkgidx, 0, len(blob)) + blob)
        body.extend(b"\0" * (blkcnt * 16 - 12 - len(body)))
        body.extend(struct.pack("<II4s", zlib.adler32(bytes(body)), len(blob), b"BlbE"))
        out.extend(body)
        struct.pack_into("<4sIII", out, 32 + 16 * i, b"Slot", pkgidx, blkoff, blkcnt)
    return bytes(out)


def bdb_page(
    page_size: int, pgno: int, ptype: int, *, next_pgno: int = 0, entries: int = 0, hf: int = 0
) -> bytearray:
    """An empty page with its 26-byte header filled in (little-endian)."""
    page = bytearray(page_size)
    struct.pack_into("<IIIHHBB", page, 8, pgno, 0, next_pgno, entries, hf, 0, ptype)
    return page


def build_bdb(
    items: list[tuple[bytes, bytes]], *, page_size: int = 512, inline_limit: int = 64
) -> bytes:
    """A little-endian Berkeley DB hash file: one hash page of key/value items; values longer
    than ``inline_limit`` go to overflow chains."""
    pages: list[bytearray] = [bytearray(page_size)]
    hash_page = bdb_page(page_size, 1, 13, entries=2 * len(items))
    pages.append(hash_page)
    top = page_size
    offsets: list[int] = []

    def put(item: bytes) -> None:
        nonlocal top
        top -= len(item)
        hash_page[top : top + len(item)] = item
        offsets.append(top)

    for key, value in items:
        put(b"\x01" + key)
        if len(value) <= inline_limit:
            put(b"\x01" + value)
            continue
        first = len(pages)
        chunk = page_size - 26
        parts = [value[i : i + chunk] for i in range(0, len(value), chunk)]
        for n, part in enumerate(parts):
            pgno = first + n
            nxt = pgno + 1 if n + 1 < len(parts) else 0
            page = bdb_page(page_size, pgno, 7, next_pgno=nxt, hf=len(part))
            page[26 : 26 + len(part)] = part
            pages.append(page)
        put(struct.pack("<B3xII", 3, first, len(value)))
    struct.pack_into(f"<{len(offsets)}H", hash_page, 26, *offsets)
    meta = pages[0]
    struct.pack_into("<IIIIBB", meta, 8, 0, 0x061561, 9, page_size, 0, 8)
    struct.pack_into("<I", meta, 32, len(pages) - 1)
    return b"".join(bytes(p) for p in pages)


def sqlite_fixture_bytes() -> bytes:
    """The rpm-written ``rpmdb.sqlite`` fixture (WAL mode, as rpm leaves it)."""
    return gzip.decompress((DATA / "rpmdb.sqlite.gz").read_bytes())


def fixture_blobs(tmp: Path) -> list[bytes]:
    """The header blobs of the rpm-written fixture, read with sqlite3 from a temp file."""
    path = tmp / "rpmdb.sqlite"
    path.write_bytes(sqlite_fixture_bytes())
    conn = sqlite3.connect(path)
    try:
        return [bytes(b) for (b,) in conn.execute("SELECT blob FROM Packages ORDER BY hnum")]
    finally:
        conn.close()


def expected_rows() -> set[tuple[str, str, str, str, str]]:
    """What ``rpm -qa`` printed for the fixture: name, EVR, arch, source RPM, license."""
    rows = set()
    for line in (DATA / "expected.tsv").read_text().splitlines():
        name, evr, arch, srpm, license_ = line.split("\t")
        rows.add((name, evr, arch, srpm, license_))
    return rows

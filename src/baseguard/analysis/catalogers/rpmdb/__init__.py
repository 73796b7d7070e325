"""Readers for the three rpm database backends, and the header blobs they all store.

:func:`read_rpmdb` tells the format from the file's first bytes (SQLite, ndb, Berkeley DB
hash) and returns the raw header blobs plus per-record problems; :func:`parse_header`
(in :mod:`.header`) decodes a blob. No libdb, librpm or third-party reader is needed.
"""

from __future__ import annotations

import struct

from baseguard.analysis.catalogers.rpmdb.errors import RpmdbError
from baseguard.analysis.catalogers.rpmdb.header import HeaderError, RpmHeader, parse_header

__all__ = [
    "HeaderError",
    "RpmHeader",
    "RpmdbError",
    "detect_format",
    "parse_header",
    "read_rpmdb",
]


def detect_format(data: bytes) -> str | None:
    """``sqlite``, ``ndb``, ``bdb`` or ``None``, from the magic numbers."""
    if data.startswith(b"SQLite format 3\x00"):
        return "sqlite"
    if data.startswith(b"RpmP"):
        return "ndb"
    if len(data) >= 16:
        (magic_le,) = struct.unpack_from("<I", data, 12)
        (magic_be,) = struct.unpack_from(">I", data, 12)
        if 0x061561 in (magic_le, magic_be) or 0x053162 in (magic_le, magic_be):
            return "bdb"
    return None


def read_rpmdb(data: bytes) -> tuple[str, list[bytes], list[str]]:
    """``(format, header blobs, problems)`` for an rpm database file of any backend.

    Raises :class:`RpmdbError` when the file is not a readable rpm database.
    """
    kind = detect_format(data)
    if kind == "sqlite":
        from baseguard.analysis.catalogers.rpmdb.sqlite import read_sqlite

        blobs, errors = read_sqlite(data)
    elif kind == "ndb":
        from baseguard.analysis.catalogers.rpmdb.ndb import read_ndb

        blobs, errors = read_ndb(data)
    elif kind == "bdb":
        from baseguard.analysis.catalogers.rpmdb.bdb import read_bdb

        blobs, errors = read_bdb(data)
    else:
        raise RpmdbError("not an rpm database: neither SQLite, ndb nor Berkeley DB")
    return kind, blobs, errors

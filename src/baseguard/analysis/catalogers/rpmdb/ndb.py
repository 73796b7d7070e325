"""rpm's "ndb" package database (``Packages.db``, SUSE and rpm >= 4.16 with ``ndb``).

Layout facts (rpm ``lib/backend/ndb/rpmpkg.c``), all little-endian uint32:

* A 32-byte header: magic ``RpmP``, version 0, generation, number of slot pages, next
  package index.
* ``slotnpages`` pages of 4096 bytes hold 16-byte slots (the header takes the first two):
  magic ``Slot``, package index, block offset, block count. A slot with block offset 0 is
  free. Blocks are 16 bytes; blobs live after the slot pages.
* A blob: head (magic ``BlbS``, package index, timestamp, length), the header blob, zero
  padding, and a 12-byte tail (Adler-32 of head + blob + padding, length, magic ``BlbE``);
  the whole takes exactly ``ceil((16 + length + 12) / 16)`` blocks.

A bad header or slot page makes the file unreadable (rpm itself refuses it); a bad blob
is reported and the other packages are still returned.
"""

from __future__ import annotations

import struct
import zlib

from baseguard.analysis.catalogers.rpmdb.errors import RpmdbError

HEADER_MAGIC = b"RpmP"
SLOT_MAGIC = b"Slot"
BLOB_HEAD_MAGIC = b"BlbS"
BLOB_TAIL_MAGIC = b"BlbE"
PAGE_SIZE = 4096
SLOT_SIZE = 16
BLK_SIZE = 16
BLOB_HEAD = 16
BLOB_TAIL = 12
HEADER_SIZE = 32

_SLOT = struct.Struct("<4sIII")
_HEAD = struct.Struct("<4sIII")
_TAIL = struct.Struct("<II4s")


def read_ndb(data: bytes) -> tuple[list[bytes], list[str]]:
    """The header blobs of an ndb ``Packages.db``, and what went wrong with some of them.

    Raises :class:`RpmdbError` when the header or slot pages are unreadable.
    """
    if len(data) < HEADER_SIZE or data[:4] != HEADER_MAGIC:
        raise RpmdbError("not an rpm ndb database (no RpmP magic)")
    version, _generation, slot_pages = struct.unpack_from("<III", data, 4)
    if version != 0:
        raise RpmdbError(f"ndb version {version} is not supported (only 0)")
    if slot_pages == 0 or slot_pages * PAGE_SIZE > len(data):
        raise RpmdbError(
            f"{slot_pages} slot pages do not fit in a file of {len(data)} bytes: truncated"
        )
    file_blocks = len(data) // BLK_SIZE
    first_blob_block = slot_pages * (PAGE_SIZE // BLK_SIZE)
    blobs: list[bytes] = []
    errors: list[str] = []
    for offset in range(HEADER_SIZE, slot_pages * PAGE_SIZE, SLOT_SIZE):
        magic, pkgidx, blkoff, blkcnt = _SLOT.unpack_from(data, offset)
        if magic != SLOT_MAGIC:
            raise RpmdbError(f"slot at byte {offset} has no Slot magic: corrupt slot page")
        if blkoff == 0:
            continue
        if not pkgidx or not blkcnt or blkoff < first_blob_block:
            errors.append(f"slot at byte {offset}: bad entry (package {pkgidx})")
            continue
        if blkoff + blkcnt > file_blocks:
            errors.append(f"package {pkgidx}: blob runs past the end of the file (truncated)")
            continue
        try:
            blobs.append(_blob(data, pkgidx, blkoff, blkcnt))
        except RpmdbError as exc:
            errors.append(f"package {pkgidx}: {exc}")
    return blobs, errors


def _blob(data: bytes, pkgidx: int, blkoff: int, blkcnt: int) -> bytes:
    start = blkoff * BLK_SIZE
    end = start + blkcnt * BLK_SIZE
    magic, idx, _stamp, length = _HEAD.unpack_from(data, start)
    if magic != BLOB_HEAD_MAGIC:
        raise RpmdbError("blob has no BlbS magic")
    if idx != pkgidx:
        raise RpmdbError(f"blob belongs to package {idx}")
    if blkcnt != (BLOB_HEAD + length + BLOB_TAIL + BLK_SIZE - 1) // BLK_SIZE:
        raise RpmdbError(f"blob length {length} does not match its {blkcnt} blocks")
    checksum, tail_length, tail_magic = _TAIL.unpack_from(data, end - BLOB_TAIL)
    if tail_magic != BLOB_TAIL_MAGIC or tail_length != length:
        raise RpmdbError("blob tail is damaged")
    if zlib.adler32(data[start : end - BLOB_TAIL]) != checksum:
        raise RpmdbError("blob checksum (Adler-32) does not match")
    return data[start + BLOB_HEAD : start + BLOB_HEAD + length]

"""The legacy rpm database: a Berkeley DB *hash* file (``var/lib/rpm/Packages``).

Layout facts (libdb ``db_page.h``), all we need to read the values without libdb:

* Page 0 is the hash metadata page: magic ``0x061561`` at byte 12 (its byte order tells the
  file's byte order), page size at 20, encryption algorithm at 24 (must be 0), page type at
  25 (8 = hash metadata), last page number at 32.
* Every page starts with a 26-byte header: page number at 8, next page at 16, entry count
  at 20, ``hf_offset`` at 22 (on overflow pages: the bytes of data on the page), type at 25.
* Hash pages (type 13, or 2 for the unsorted pages of old releases) hold an array of 2-byte
  item offsets after the header: keys at even positions, values at odd ones. An item's
  first byte is its kind: 1 = data inline (up to the previous item's offset), 3 = "off
  page": the value lives in a chain of overflow pages (type 7) starting at the page number
  at item+4, with its total length at item+8.

Each value of rpm's ``Packages`` is one header blob keyed by its instance number; key 0
holds rpm's bookkeeping and is skipped. Work is bounded: pages are read once in order,
overflow chains stop at a page seen before, and the bytes gathered from chains may not
exceed the file's size (a chain shared by many items cannot multiply the work).
"""

from __future__ import annotations

import struct

from baseguard.analysis.catalogers.rpmdb.errors import RpmdbError

HASH_MAGIC = 0x061561
BTREE_MAGIC = 0x053162
VALID_PAGE_SIZES = frozenset(1 << n for n in range(9, 17))
PAGE_HEADER = 26

P_HASH_UNSORTED = 2
P_OVERFLOW = 7
P_HASHMETA = 8
P_HASH = 13

H_KEYDATA = 1
H_OFFPAGE = 3

_ZERO_KEY = b"\0\0\0\0"


def read_bdb(data: bytes) -> tuple[list[bytes], list[str]]:
    """The values of a Berkeley DB hash file, and what went wrong reading some of them.

    Raises :class:`RpmdbError` when the file is not a readable hash database at all.
    """
    if len(data) < 512:
        raise RpmdbError(f"{len(data)} bytes is too short for a Berkeley DB metadata page")
    (magic_le,) = struct.unpack_from("<I", data, 12)
    (magic_be,) = struct.unpack_from(">I", data, 12)
    if HASH_MAGIC in (magic_le, magic_be):
        order = "<" if magic_le == HASH_MAGIC else ">"
    elif BTREE_MAGIC in (magic_le, magic_be):
        raise RpmdbError("a Berkeley DB btree file, not the hash database rpm uses")
    else:
        raise RpmdbError(f"not a Berkeley DB hash file (magic 0x{magic_le:08x})")
    page_size = struct.unpack_from(order + "I", data, 20)[0]
    if page_size not in VALID_PAGE_SIZES:
        raise RpmdbError(f"unexpected page size {page_size}")
    if data[24] != 0:
        raise RpmdbError(f"encrypted database (algorithm {data[24]}) cannot be read")
    if data[25] != P_HASHMETA:
        raise RpmdbError(f"page 0 has type {data[25]}, not hash metadata (8)")
    last_pgno = struct.unpack_from(order + "I", data, 32)[0]
    available = len(data) // page_size
    errors: list[str] = []
    if last_pgno + 1 > available:
        errors.append(
            f"metadata names {last_pgno + 1} pages but the file holds {available}: truncated"
        )
    npages = min(last_pgno + 1, available)
    reader = _Reader(data, order, page_size, npages)
    values: list[bytes] = []
    for pgno in range(1, npages):
        base = pgno * page_size
        ptype = data[base + 25]
        if ptype not in (P_HASH, P_HASH_UNSORTED):
            continue
        try:
            reader.page_values(base, values)
        except RpmdbError as exc:
            errors.append(f"page {pgno}: {exc}")
    return values, errors


class _Reader:
    def __init__(self, data: bytes, order: str, page_size: int, npages: int) -> None:
        self.data = data
        self.order = order
        self.page_size = page_size
        self.npages = npages
        self.budget = len(data)  # bytes that overflow chains may still yield

    def page_values(self, base: int, out: list[bytes]) -> None:
        data, order, ps = self.data, self.order, self.page_size
        nentries = struct.unpack_from(order + "H", data, base + 20)[0]
        if nentries % 2:
            raise RpmdbError(f"{nentries} items: keys and values must come in pairs")
        if PAGE_HEADER + 2 * nentries > ps:
            raise RpmdbError(f"{nentries} items cannot fit in a {ps}-byte page")
        offsets = struct.unpack_from(f"{order}{nentries}H", data, base + PAGE_HEADER)
        for i in range(1, nentries, 2):
            # An item ends where the one before it in the index starts (libdb LEN_HITEM).
            key_end = offsets[i - 2] if i >= 2 else ps
            key_off, val_off = offsets[i - 1], offsets[i]
            if not PAGE_HEADER <= val_off < key_off < key_end <= ps:
                raise RpmdbError(f"item offsets out of order (key {key_off}, value {val_off})")
            kind = data[base + val_off]
            if data[base + key_off] == H_KEYDATA and (
                data[base + key_off + 1 : base + key_end] == _ZERO_KEY
            ):
                continue  # rpm's bookkeeping record
            if kind == H_KEYDATA:
                out.append(data[base + val_off + 1 : base + key_off])
            elif kind == H_OFFPAGE:
                if val_off + 12 > ps:
                    raise RpmdbError("off-page item runs past the page end")
                pgno, length = struct.unpack_from(order + "II", data, base + val_off + 4)
                out.append(self.chain(pgno, length))
            # Duplicate sets (kinds 2 and 4) are not used by rpm's Packages database.

    def chain(self, pgno: int, length: int) -> bytes:
        """The bytes of an overflow chain starting at ``pgno``, ``length`` in all."""
        data, order, ps = self.data, self.order, self.page_size
        if length > self.budget:
            raise RpmdbError(
                f"overflow value of {length} bytes exceeds what the file can hold "
                "(chains reused or lengths forged)"
            )
        parts: list[bytes] = []
        got = 0
        seen: set[int] = set()
        while got < length:
            if pgno == 0 or pgno >= self.npages:
                raise RpmdbError(f"overflow chain points to page {pgno} outside the file")
            if pgno in seen:
                raise RpmdbError(f"overflow chain loops back to page {pgno}")
            seen.add(pgno)
            base = pgno * ps
            if data[base + 25] != P_OVERFLOW:
                raise RpmdbError(f"overflow chain reaches page {pgno} of type {data[base + 25]}")
            next_pgno = struct.unpack_from(order + "I", data, base + 16)[0]
            used = struct.unpack_from(order + "H", data, base + 22)[0]
            used = min(used, ps - PAGE_HEADER, length - got)
            parts.append(data[base + PAGE_HEADER : base + PAGE_HEADER + used])
            got += used
            if used == 0:
                raise RpmdbError(f"overflow page {pgno} holds no data")
            if got < length:
                pgno = next_pgno
        self.budget -= got
        return b"".join(parts)

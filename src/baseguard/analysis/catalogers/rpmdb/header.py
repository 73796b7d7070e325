"""RPM header blobs, as every rpm database backend stores them (``headerExport`` layout).

A blob is ``il`` (uint32, big-endian: number of index entries), ``dl`` (uint32: size of the
data store), ``il`` index entries of 16 bytes (tag, type, offset into the store, count, all
big-endian) and the ``dl``-byte data store. The first entry is usually a region tag (63,
HEADERIMMUTABLE) describing the signed part; entries after the region ("dribble" entries)
override earlier ones, so a later entry for the same tag wins here too.

Only the tags asked for are decoded; every offset, count and string terminator is checked
against the store's bounds, so a hostile blob costs at most one pass over its bytes.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

# Tags (rpmtag.h).
NAME = 1000
VERSION = 1001
RELEASE = 1002
EPOCH = 1003
SIZE = 1009
VENDOR = 1011
LICENSE = 1014
ARCH = 1022
OLDFILENAMES = 1027
SOURCERPM = 1044
PROVIDENAME = 1047
REQUIRENAME = 1049
DIRINDEXES = 1116
BASENAMES = 1117
DIRNAMES = 1118
MODULARITYLABEL = 5096

#: What the rpm cataloger reads.
PACKAGE_TAGS = frozenset(
    {
        NAME,
        VERSION,
        RELEASE,
        EPOCH,
        SIZE,
        VENDOR,
        LICENSE,
        ARCH,
        OLDFILENAMES,
        SOURCERPM,
        PROVIDENAME,
        REQUIRENAME,
        DIRINDEXES,
        BASENAMES,
        DIRNAMES,
        MODULARITYLABEL,
    }
)

#: The file list tags: decoded only when a caller needs the files (layers, file requires).
FILE_TAGS = frozenset({OLDFILENAMES, DIRINDEXES, BASENAMES, DIRNAMES})

# Types (rpmtag.h: rpmTagType).
CHAR, INT8, INT16, INT32, INT64, STRING, BIN, STRING_ARRAY, I18NSTRING = range(1, 10)

#: rpm's own limits (header.c: HEADER_TAGS_MAX, HEADER_DATA_MAX).
MAX_TAGS = 0xFFFF
MAX_DATA = 0x0FFFFFFF

_PREAMBLE = struct.Struct(">II")
_ENTRY = struct.Struct(">iIiI")
_INT_FORMATS = {INT8: ("B", 1), CHAR: ("B", 1), INT16: ("H", 2), INT32: ("I", 4), INT64: ("Q", 8)}


class HeaderError(ValueError):
    """A header blob that does not hold together (message says what is wrong)."""


@dataclass(slots=True)
class RpmHeader:
    """The decoded tags of one header (only those asked for), by value kind.

    STRING and I18NSTRING values are stored as one-element lists; a tag that appears
    twice keeps its last value.
    """

    texts: dict[int, list[str]] = field(default_factory=dict)
    numbers: dict[int, list[int]] = field(default_factory=dict)
    binary: dict[int, bytes] = field(default_factory=dict)

    def string(self, tag: int) -> str | None:
        """A STRING/I18NSTRING tag (first element of an array), ``None`` when absent."""
        values = self.texts.get(tag)
        return values[0] if values else None

    def strings(self, tag: int) -> list[str]:
        return self.texts.get(tag, [])

    def ints(self, tag: int) -> list[int]:
        return self.numbers.get(tag, [])

    def int(self, tag: int) -> int | None:
        values = self.numbers.get(tag)
        return values[0] if values else None

    def files(self) -> list[str]:
        """Installed file paths (``/usr/bin/x``): DIRNAMES[DIRINDEXES[i]] + BASENAMES[i].

        Old headers (rpm < 4.0) list full paths in OLDFILENAMES instead. Indexes outside
        DIRNAMES are skipped.
        """
        basenames = self.strings(BASENAMES)
        if not basenames:
            return self.strings(OLDFILENAMES)
        dirnames = self.strings(DIRNAMES)
        indexes = self.ints(DIRINDEXES)
        ndirs = len(dirnames)
        return [
            dirnames[i] + base
            for base, i in zip(basenames, indexes, strict=False)
            if 0 <= i < ndirs
        ]


def parse_header(blob: bytes, wanted: frozenset[int] | None = PACKAGE_TAGS) -> RpmHeader:
    """Decode the ``wanted`` tags (all when ``None``) of one header blob.

    Raises :class:`HeaderError` naming the first inconsistency (truncated blob, offset or
    count outside the data store, unterminated string).
    """
    if len(blob) < _PREAMBLE.size:
        raise HeaderError(f"header blob is {len(blob)} bytes, shorter than its 8-byte preamble")
    il, dl = _PREAMBLE.unpack_from(blob, 0)
    if not 1 <= il <= MAX_TAGS:
        raise HeaderError(f"header claims {il} index entries (1..{MAX_TAGS} allowed)")
    if dl > MAX_DATA:
        raise HeaderError(f"header claims a {dl}-byte data store (at most {MAX_DATA})")
    start = _PREAMBLE.size + _ENTRY.size * il
    end = start + dl
    if end > len(blob):
        raise HeaderError(
            f"header blob is {len(blob)} bytes but its {il} entries and {dl}-byte store need {end}"
        )
    header = RpmHeader()
    texts, numbers, binary = header.texts, header.numbers, header.binary
    for tag, type_, offset, count in _ENTRY.iter_unpack(blob[_PREAMBLE.size : start]):
        if wanted is not None and tag not in wanted:
            continue
        if not 0 <= offset < dl:
            raise HeaderError(f"tag {tag}: offset {offset} is outside the {dl}-byte store")
        pos = start + offset
        numbers.pop(tag, None)
        texts.pop(tag, None)
        binary.pop(tag, None)
        if type_ in (STRING, I18NSTRING):
            nul = blob.find(b"\0", pos, end)
            if nul < 0:
                raise HeaderError(f"tag {tag}: string is not terminated inside the store")
            texts[tag] = [blob[pos:nul].decode("utf-8", "replace")]
        elif type_ == STRING_ARRAY:
            if count > end - pos:
                raise HeaderError(f"tag {tag}: {count} strings cannot fit in the store")
            parts = blob[pos:end].split(b"\0", count)
            if len(parts) <= count:
                raise HeaderError(f"tag {tag}: fewer than {count} terminated strings")
            del parts[count]
            texts[tag] = [p.decode("utf-8", "replace") for p in parts]
        elif type_ in _INT_FORMATS:
            code, size = _INT_FORMATS[type_]
            if count > (end - pos) // size:
                raise HeaderError(f"tag {tag}: {count} integers run past the store")
            numbers[tag] = list(struct.unpack_from(f">{count}{code}", blob, pos))
        elif type_ == BIN:
            if count > end - pos:
                raise HeaderError(f"tag {tag}: {count} bytes run past the store")
            binary[tag] = blob[pos : pos + count]
        # Unknown types are ignored: nothing the cataloger needs uses them.
    return header

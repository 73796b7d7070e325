"""What every feed shares: the plug-in interfaces, name normalisation and safe parsing.

A feed turns one *source* (a file or directory in the mirror layout, see ``docs/db.md``)
into :class:`~baseguard.vulndb.model.Advisory` records (or KEV / EPSS rows). Feeds never
write to the database and never print: a record they cannot read is counted in
:class:`FeedStats` and skipped; a source they cannot read at all raises
:class:`~baseguard.vulndb.store.VulnDbError`, which fails the whole update.

Feed input is untrusted: JSON and YAML documents are size-capped before parsing, YAML is
parsed with ``safe_load`` semantics and its node count is bounded (alias bombs), and
nesting deeper than Python's recursion limit is a skipped record, not a crash.
"""

from __future__ import annotations

import codecs
import json
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import IO, Any, ClassVar, cast

import yaml

from baseguard.vulndb.model import Advisory
from baseguard.vulndb.store import VulnDbError

#: Largest single record (an OSV file, a zip member) read into memory.
MAX_RECORD_BYTES = 32 * 1024 * 1024
#: Largest whole-file document (a secdb file, the KEV catalog).
MAX_DOCUMENT_BYTES = 256 * 1024 * 1024
#: Nodes a YAML document may expand to (guards against alias "billion laughs").
MAX_YAML_NODES = 2_000_000
#: Problems remembered per source for the warning summary.
MAX_PROBLEMS = 20


class MalformedRecord(Exception):
    """One record cannot be used; the feed counts and skips it."""


@dataclass(frozen=True)
class Source:
    """One input of a feed: a file or a directory, and where it came from."""

    feed: str
    #: Stable name, e.g. ``osv/PyPI``, ``alpine/v3.20/main``, ``kev``.
    name: str
    path: Path
    #: URL or path recorded as provenance.
    location: str


@dataclass
class FeedStats:
    """How a source went: records produced, records skipped and why."""

    records: int = 0
    skipped: int = 0
    problems: list[str] = field(default_factory=list)

    def skip(self, where: str, why: str) -> None:
        """Count a record that was left out, and remember why."""
        self.skipped += 1
        self.note(where, why)

    def note(self, where: str, why: str) -> None:
        """Remember something odd that did not cost a record."""
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(f"{where}: {why}")


class Feed(ABC):
    """A plug-in feed. Subclasses set ``name`` and implement one iterator method."""

    name: ClassVar[str]

    def __init__(self) -> None:
        self.stats = FeedStats()


class AdvisoryFeed(Feed):
    """A feed of advisories (OSV, secdb, Debian tracker)."""

    @abstractmethod
    def iter_advisories(self, source: Source) -> Iterator[Advisory]:
        """Yield the advisories in ``source``; count and skip malformed records."""


# -- safe parsing --------------------------------------------------------------------------


class _StringLoader(yaml.CSafeLoader if hasattr(yaml, "CSafeLoader") else yaml.SafeLoader):  # type: ignore[misc]
    """Safe YAML where every scalar stays a string, except null and booleans.

    Versions such as ``1.10`` or ``2`` must not become numbers, and timestamps must not
    become datetimes: OSV and secdb are string-typed.
    """


_StringLoader.yaml_implicit_resolvers = {
    first: [
        (tag, regexp)
        for tag, regexp in resolvers
        if tag in ("tag:yaml.org,2002:null", "tag:yaml.org,2002:bool", "tag:yaml.org,2002:merge")
    ]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _count_nodes(value: Any, limit: int) -> None:
    """Walk ``value`` and fail once more than ``limit`` nodes are seen (shared aliases count
    each time they are reached, which is what makes an alias bomb expensive)."""
    budget = limit
    stack = [value]
    while stack:
        item = stack.pop()
        budget -= 1
        if budget < 0:
            raise MalformedRecord(f"YAML expands to more than {limit} nodes (alias bomb?)")
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def load_yaml(data: bytes, *, max_bytes: int = MAX_RECORD_BYTES) -> Any:
    """Parse one YAML document safely, or raise :class:`MalformedRecord`."""
    if len(data) > max_bytes:
        raise MalformedRecord(f"document is {len(data)} bytes, over the {max_bytes} limit")
    try:
        value = yaml.load(data, Loader=_StringLoader)
    except yaml.YAMLError as exc:
        raise MalformedRecord(f"invalid YAML: {_one_line(exc)}") from None
    except RecursionError:
        raise MalformedRecord("YAML nested too deeply") from None
    _count_nodes(value, MAX_YAML_NODES)
    return value


def load_json(data: bytes, *, max_bytes: int = MAX_RECORD_BYTES) -> Any:
    """Parse one JSON document, or raise :class:`MalformedRecord`."""
    if len(data) > max_bytes:
        raise MalformedRecord(f"document is {len(data)} bytes, over the {max_bytes} limit")
    try:
        return json.loads(data)
    except RecursionError:
        raise MalformedRecord("JSON nested too deeply") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedRecord(f"invalid JSON: {_one_line(exc)}") from None


def load_document(data: bytes, name: str, *, max_bytes: int = MAX_RECORD_BYTES) -> Any:
    """JSON or YAML by file name (``.yaml``/``.yml`` are YAML; anything else JSON)."""
    if name.endswith((".yaml", ".yml")):
        return load_yaml(data, max_bytes=max_bytes)
    return load_json(data, max_bytes=max_bytes)


def read_capped(stream: IO[bytes], limit: int, where: str) -> bytes:
    """Read all of ``stream`` but fail with :class:`MalformedRecord` past ``limit`` bytes."""
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise MalformedRecord(f"{where} is larger than the {limit}-byte limit")
    return data


def maybe_gunzip(raw: IO[bytes]) -> IO[bytes]:
    """``raw`` itself, or a gunzipping reader over it when it starts with the gzip magic.
    ``raw`` must be seekable."""
    magic = raw.read(2)
    raw.seek(0)
    if magic != b"\x1f\x8b":
        return raw
    from isal import igzip

    return cast(IO[bytes], igzip.open(raw, "rb"))  # type: ignore[no-untyped-call]


def read_source_file(path: Path, limit: int = MAX_DOCUMENT_BYTES) -> bytes:
    """A whole source file, transparently gunzipped when it is gzip, capped at ``limit``."""
    try:
        with path.open("rb") as raw, maybe_gunzip(raw) as stream:
            data = stream.read(limit + 1)
    except (OSError, EOFError) as exc:
        raise VulnDbError(f"cannot read {path}: {exc}") from exc
    if len(data) > limit:
        raise VulnDbError(
            f"{path} is larger than the {limit}-byte limit for one document",
            hint="check that the mirror serves the right file",
        )
    return data


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:200]


def iso_string(value: Any) -> str | None:
    """A timestamp as an ISO string (YAML may hand datetimes over), or None."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def iter_json_object(
    stream: IO[bytes],
    where: str,
    *,
    max_item_bytes: int = MAX_DOCUMENT_BYTES,
    chunk_size: int = 1 << 20,
) -> Iterator[tuple[str, Any]]:
    """Stream the ``key: value`` pairs of a top-level JSON object, one value in memory at a
    time (the Debian tracker's JSON is tens of megabytes).

    A syntax error, or a value larger than ``max_item_bytes`` or nested too deeply, raises
    :class:`~baseguard.vulndb.store.VulnDbError` naming ``where``: once the stream is out of
    step there is no safe way to resynchronise.
    """
    decoder = json.JSONDecoder()
    reader = codecs.getincrementaldecoder("utf-8")()
    buf = ""
    pos = 0
    eof = False
    chunk = max(1, chunk_size)

    def fill(minimum: int = 1) -> bool:
        nonlocal buf, pos, eof
        if eof:
            return False
        wanted = max(chunk, minimum)
        data = stream.read(wanted)
        if not data:
            eof = True
            buf = buf[pos:] + reader.decode(b"", final=True)
            pos = 0
            return False
        buf = buf[pos:] + reader.decode(data)
        pos = 0
        return True

    def skip_ws() -> None:
        nonlocal pos
        while True:
            while pos < len(buf) and buf[pos] in " \t\r\n":
                pos += 1
            if pos < len(buf) or not fill():
                return

    def fail(why: str) -> VulnDbError:
        return VulnDbError(f"{where}: {why}", hint="the file is not the JSON object expected")

    def decode_next() -> Any:
        nonlocal pos
        while True:
            try:
                value, end = decoder.raw_decode(buf, pos)
            except RecursionError:
                raise fail("a value is nested too deeply") from None
            except json.JSONDecodeError as exc:
                if eof:
                    raise fail(f"invalid JSON ({exc.msg} at character {exc.pos})") from None
                if len(buf) - pos > max_item_bytes:
                    raise fail(f"one value is larger than {max_item_bytes} bytes") from None
                fill(len(buf) - pos)
                continue
            # A number or literal at the end of the buffer may continue in the next chunk.
            if end >= len(buf) and not eof:
                fill(len(buf) - pos)
                continue
            pos = end
            return value

    try:
        skip_ws()
        if pos >= len(buf) or buf[pos] != "{":
            raise fail("expected a JSON object")
        pos += 1
        skip_ws()
        if pos < len(buf) and buf[pos] == "}":
            return
        while True:
            skip_ws()
            key = decode_next()
            if not isinstance(key, str):
                raise fail("expected a string key")
            skip_ws()
            if pos >= len(buf) or buf[pos] != ":":
                raise fail(f"expected ':' after key {key!r}")
            pos += 1
            skip_ws()
            value = decode_next()
            yield key, value
            skip_ws()
            if pos < len(buf) and buf[pos] == ",":
                pos += 1
                continue
            if pos < len(buf) and buf[pos] == "}":
                return
            if pos >= len(buf):
                raise fail("the file ends before the object is closed (truncated?)")
            raise fail(f"expected ',' or '}}' after the value of {key!r}")
    except UnicodeDecodeError as exc:
        raise fail(f"not UTF-8 ({exc.reason})") from None
    except OSError as exc:
        raise VulnDbError(f"cannot read {where}: {exc}") from exc

"""The safe, lazy view of an image's layers: one streaming pass per layer, nothing extracted.

:func:`build_fs` reads each layer blob once, bottom first, through a decompressor chosen by
magic bytes (gzip, zstd or plain tar; see :mod:`baseguard.image.blobstream`), hashing the
compressed bytes (checked against the layer digest) and the uncompressed ones (checked
against the config's diff_id). Tar headers,
parsed by the strict :mod:`baseguard.image.tarscan` (data is skipped, not copied), become
:class:`~baseguard.image.fs.FileEntry` records; OCI whiteouts, hard links and implied
directories are applied to one merged index. An image's layers are read at once, one per
thread and up to one per CPU, and merged in order on the caller's thread; on machines with
CPUs to spare, a single big layer is inflated on a worker thread while the caller's thread
parses (see :class:`~baseguard.image.blobstream.Pump`). The index, warnings and errors are
the same either way. File bytes are not kept, except those matching ``capture`` patterns:
everything else is read later by :class:`~baseguard.image.readback.LayerReader`, which
re-streams a layer up to a recorded offset. Nothing is ever written to disk.

Layers are untrusted. Names that climb out of the root are skipped, absolute names are made
relative, devices are recorded but never read, limits on uncompressed bytes and file counts
are checked while streaming (a decompression bomb stops early), and every neutralised
member leaves a warning naming the image, layer, member and rule.
"""

from __future__ import annotations

import contextlib
import functools
import re
import threading
import zlib
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any, NoReturn

from baseguard.errors import (
    DigestMismatchError,
    ImageError,
    LayerError,
    LimitExceededError,
    UsageError,
)
from baseguard.image import blobstream
from baseguard.image.blobstream import (
    GZIP,
    INFLATE_ERROR,
    TAR,
    ZSTD,
    Cancelled,
    Corrupt,
    Pump,
    Source,
    claimed_compression,
    detect_compression,
    open_decoder,
    usable_cpus,
    use_thread,
)
from baseguard.image.fs import (
    FileEntry,
    FileType,
    ImageFS,
    Inspector,
    SymlinkLoopError,
    clean_path,
    glob_regex,
)
from baseguard.image.model import Image, Layer, hasher_for, validate_digest
from baseguard.image.readback import LayerReader
from baseguard.image.tarscan import (
    AREGTYPE,
    BLKTYPE,
    CHRTYPE,
    CONTTYPE,
    DIRTYPE,
    FIFOTYPE,
    GNU_SPARSE,
    LNKTYPE,
    MAX_META,
    REGTYPE,
    SYMTYPE,
    TarFormatError,
    TarMember,
    TarScanner,
)

#: Largest pax / GNU long-name header accepted (refused before it is read).
MAX_META_HEADER = MAX_META
#: Detailed warnings kept per layer and rule; further ones are counted in one summary line.
WARNINGS_PER_RULE = 20
#: Most layers indexed at once (one thread each), when the image has several. On the
#: 2-vCPU VM, build_fs of the 5-layer 638 MB benchmark image took 1.97 s one layer at a
#: time and 1.45 s two at once (inflating and hashing release the GIL; parsing does not).
MAX_LAYER_WORKERS = 4
#: Force the number of layers indexed at once (1: one after the other); None decides.
LAYER_WORKERS: int | None = None
#: Seconds between progress reports while layers are indexed at once.
PROGRESS_POLL = 0.1

_REGULAR_TYPES = frozenset({REGTYPE, AREGTYPE, CONTTYPE, GNU_SPARSE})
_DEVICE_TYPES = {
    CHRTYPE: FileType.CHAR_DEVICE,
    BLKTYPE: FileType.BLOCK_DEVICE,
    FIFOTYPE: FileType.FIFO,
}

ProgressFn = Callable[[int, int], None]


@dataclass
class Limits:
    """Caps that keep a hostile image from exhausting time or memory; generous by default.

    ``max_uncompressed_bytes`` and ``max_files`` count across all layers (a file count is one
    per tar member). A captured file larger than ``max_capture_file``, or one that would take
    the captured total past ``max_capture_total``, is not captured (a warning says so) and
    stays readable lazily. (With layers read at once, which files miss out when the total
    runs short depends on timing; what analysis reads from them does not.)
    """

    max_uncompressed_bytes: int = 32 << 30
    max_files: int = 2_000_000
    max_capture_file: int = 64 << 20
    max_capture_total: int = 512 << 20

    def __post_init__(self) -> None:
        for name, value in vars(self).items():
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise UsageError(
                    f"Limits.{name} must be a positive whole number, not {value!r}",
                    hint="leave it out for the default; a limit of 0 would refuse every image",
                )


def compile_capture(patterns: Iterable[str]) -> re.Pattern[str] | None:
    """One regex matching any of ``patterns`` (ImageFS.glob semantics), or ``None``."""
    parts = [f"(?:{glob_regex(p).pattern})" for p in patterns if p]
    return re.compile("|".join(parts), re.S) if parts else None


def _layer_workers(layers: int) -> int:
    """How many layers to index at once: one per usable CPU, at most MAX_LAYER_WORKERS."""
    if LAYER_WORKERS is not None:
        return max(1, min(LAYER_WORKERS, layers))
    return max(1, min(usable_cpus(), MAX_LAYER_WORKERS, layers))


# -- indexing ----------------------------------------------------------------------------------


@dataclass
class _Scan:
    """What one layer's tar stream said, before it is merged into the index."""

    records: list[FileEntry] = field(default_factory=list)
    #: record index -> hard link target (cleaned path)
    links: dict[int, str] = field(default_factory=dict)
    #: record index -> captured bytes
    grabbed: dict[int, bytes] = field(default_factory=dict)
    grabbed_total: int = 0
    whiteouts: list[str] = field(default_factory=list)
    opaques: list[str] = field(default_factory=list)
    absolute: int = 0
    first_absolute: str = ""
    #: Uncompressed bytes of the lower layers, as last seen (they may still be growing).
    bytes_below: int = 0


def _short(digest: str) -> str:
    algo, _, hexpart = digest.partition(":")
    return f"{algo}:{hexpart[:12]}"


def _clean_name(name: str) -> str | None:
    """:func:`clean_path` of a member name, with a fast path for names already clean.

    A name (after a leading ``./``) with no empty, ``.`` or ``..`` component and no
    backslash is its own cleaned form; anything else goes through :func:`clean_path`.
    """
    cand = name[2:] if name[:2] == "./" else name
    if (
        cand
        and cand[0] not in "./"
        and cand[-1] != "/"
        and "/." not in cand
        and "//" not in cand
        and "\\" not in cand
    ):
        return cand
    return clean_path(name)


def _is_utf8(name: str) -> bool:
    if name.isascii():
        return True
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class _Tally:
    """A running total shared by the threads that index one image's layers."""

    __slots__ = ("_lock", "value")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.value = 0

    def add(self, n: int) -> int:
        """Add ``n`` (may be negative); return the new total."""
        with self._lock:
            self.value += n
            return self.value

    def take(self, n: int, limit: int) -> bool:
        """Add ``n`` only if the total stays within ``limit``; whether it did."""
        with self._lock:
            if self.value + n > limit:
                return False
            self.value += n
            return True


class _Counts:
    """Uncompressed bytes and tar members per layer, for limits that span the layers.

    Slot ``k`` is written only by the thread reading layer ``k``. A limit is exceeded at
    layer ``k`` when the layers up to ``k`` pass it, as when they are read one by one: a
    reader sees lower layers still in progress as smaller than they will be (so it never
    fails too early), and :meth:`_Indexer.merge_layer` checks the final sums in order.
    """

    def __init__(self, layers: int) -> None:
        self.bytes = [0] * layers
        self.files = [0] * layers
        #: Where the members of each layer say their data ends (a truncated bomb says more
        #: than it has).
        self.declared = [0] * layers

    def add_bytes(self, k: int, n: int) -> int:
        """Count ``n`` more bytes of layer ``k``; return the bytes of layers 0..k so far."""
        self.bytes[k] += n
        return sum(self.bytes[: k + 1])

    def bytes_below(self, k: int) -> int:
        return sum(self.bytes[:k])

    def files_below(self, k: int) -> int:
        return sum(self.files[:k])


@dataclass
class _Log:
    """One layer's warnings, and how often each rule fired (the first few are kept)."""

    lines: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)


class _Progress:
    """Compressed bytes read per layer, reported as one total on the caller's thread.

    Readers call it with their layer's count; with ``immediate`` (one layer at a time, on
    the caller's thread) it reports at once, otherwise the caller reports with :meth:`flush`
    while it waits for the reader threads.
    """

    def __init__(self, report: ProgressFn, total: int, layers: int, *, immediate: bool) -> None:
        self._report = report
        self._total = total
        self._immediate = immediate
        # One slot per layer from the start: readers only replace values, so the caller can
        # sum them while they write.
        self._done = [0] * layers
        self._last = -1

    def __call__(self, layer: int, done: int) -> None:
        self._done[layer] = done
        if self._immediate:
            self.flush()

    def flush(self) -> None:
        done = sum(self._done)
        if done != self._last:
            self._last = done
            self._report(done, self._total)


class _Indexer:
    """Merges layers, bottom first, into one index; holds the state shared across layers.

    :meth:`scan_layer` reads one layer into a :class:`_Scan` and may run on several threads
    at once (one layer each); the counters it shares are :class:`_Tally` objects. The index
    itself is only touched by :meth:`merge_layer`, on one thread, in layer order.
    """

    def __init__(
        self,
        image: Image,
        limits: Limits,
        capture: re.Pattern[str] | None,
        inspectors: Sequence[Inspector] = (),
    ) -> None:
        self.image = image
        self.limits = limits
        self.capture = capture
        self.inspectors = tuple(inspectors)
        self.entries: dict[str, FileEntry] = {}
        self.children: dict[str, set[str]] = {}
        self.captured: dict[str, bytes] = {}
        #: Bytes in ``captured`` (changed by :meth:`merge_layer` only).
        self.captured_total = 0
        #: Bytes grabbed by scans not applied yet (so that captures stay within their limit).
        self.reserved = _Tally()
        self.warnings: list[str] = []
        self.counts = _Counts(len(image.layers))
        self.stop = threading.Event()
        self.fs = ImageFS(entries=self.entries)
        self._logs: dict[int, _Log] = {}

    # -- messages --------------------------------------------------------------------------

    def _where(self, layer: Layer) -> str:
        return f"{self.image.reference}: layer {layer.index} ({layer.digest})"

    def warn(self, layer: Layer, rule: str, message: str) -> None:
        log = self._logs.get(layer.index)
        if log is None:
            log = self._logs.setdefault(layer.index, _Log())
        count = log.counts.get(rule, 0) + 1
        log.counts[rule] = count
        if count <= WARNINGS_PER_RULE:
            log.lines.append(
                f"{self.image.reference}: layer {layer.index} ({_short(layer.digest)}): {message}"
            )

    def warn_member(self, layer: Layer, name: str, rule: str, message: str) -> None:
        self.warn(layer, rule, f"member {name!r}: {message}")

    def _flush_warnings(self, layer: Layer) -> None:
        log = self._logs.pop(layer.index, None)
        if log is None:
            return
        self.warnings.extend(log.lines)
        for rule, count in log.counts.items():
            if count > WARNINGS_PER_RULE:
                self.warnings.append(
                    f"{self.image.reference}: layer {layer.index} ({_short(layer.digest)}): "
                    f"{count - WARNINGS_PER_RULE} more members broke the same rule ({rule})"
                )

    def _limit_error(self, layer: Layer, what: str, name: str, value: int) -> LimitExceededError:
        return LimitExceededError(
            f"{self._where(layer)}: {what} (limit {name} = {value})",
            hint=f"if the image is legitimate, raise Limits.{name} (now {value})",
        )

    # -- one layer ---------------------------------------------------------------------------

    def scan_layer(
        self,
        layer: Layer,
        blob_size: int = -1,
        progress: Callable[[int, int], None] | None = None,
        *,
        threaded: bool | None = None,
    ) -> tuple[str, _Scan]:
        """Stream and verify one layer; return its compression kind and what it holds.

        Safe to run for several layers at once. ``progress(layer index, compressed bytes
        read)``; ``threaded`` forces the inflating worker thread on or off (None: decide by
        size and CPUs).
        """
        if self.image.blobs is None:
            raise ImageError(f"{self.image.reference}: the image has no blob store to read from")
        validate_digest(layer.digest)
        if layer.diff_id:
            validate_digest(layer.diff_id)
        with self.image.blobs.open_blob(layer.digest) as fh:
            head = fh.read(4) or b""
            kind = detect_compression(head)
            claimed = claimed_compression(layer.media_type)
            # Plain "tar" is often a source's default guess, so only a claimed compression
            # that the bytes contradict is worth a warning.
            if claimed in (GZIP, ZSTD) and claimed != kind:
                self.warn(
                    layer,
                    "media-type",
                    f"media type {layer.media_type} says {claimed} but the content is {kind}; "
                    f"read as {kind}",
                )
            digest_hasher = hasher_for(layer.digest)
            src = Source(fh, head, digest_hasher)
            diff_hasher = None
            same_stream = False
            if layer.diff_id:
                same_stream = kind == TAR and (
                    layer.diff_id.partition(":")[0] == layer.digest.partition(":")[0]
                )
                if not same_stream:
                    diff_hasher = hasher_for(layer.diff_id)
            limit = self.limits.max_uncompressed_bytes

            def exceeded(count: int) -> LimitExceededError:
                return self._limit_error(
                    layer,
                    f"the layers decompress to more than {limit} bytes (stopped after "
                    f"{count} bytes)",
                    "max_uncompressed_bytes",
                    limit,
                )

            report = None if progress is None else functools.partial(progress, layer.index)
            pump = Pump(
                open_decoder(kind, src),
                src,
                functools.partial(self.counts.add_bytes, layer.index),
                limit,
                exceeded,
                diff_hasher,
                report,
                threaded=use_thread(blob_size) if threaded is None else threaded,
                stop=self.stop,
            )
            try:
                try:
                    pump.start()
                    scan = self._scan(layer, pump)
                    pump.drain()
                finally:
                    pump.close()
                src.drain()
            except (LayerError, Cancelled):
                raise
            except (Corrupt, TarFormatError, zlib.error, INFLATE_ERROR) as exc:
                self._corrupt(layer, src, str(exc) or type(exc).__name__)
            except OSError as exc:
                raise LayerError(
                    f"{self._where(layer)}: cannot read the layer blob: {exc}",
                    hint="check that the image's blob files are readable and complete",
                ) from exc
        self._check_digest(layer, src.hasher)
        if layer.diff_id:
            got = src.hasher if same_stream else diff_hasher
            self._check_diff_id(layer, got)
        if progress is not None:
            progress(layer.index, src.count)
        return kind, scan

    def merge_layer(self, layer: Layer, scanned: Callable[[], tuple[str, _Scan]]) -> str:
        """Merge the layer ``scanned()`` returns into the index; return its compression.

        Called in layer order on one thread, once every lower layer is merged. A limit that
        the layers up to this one pass is the error, even if its reader (which, running
        beside lower layers, saw them unfinished) failed later for another reason or not
        at all: as if the layers had been read one by one.
        """
        try:
            kind, scan = scanned()
        except LimitExceededError:
            raise
        except Exception:
            self._check_limits(layer)
            raise
        self._check_limits(layer)
        self._apply(layer, scan)
        self.reserved.add(-scan.grabbed_total)
        self._flush_warnings(layer)
        return kind

    def _check_limits(self, layer: Layer) -> None:
        counts = self.counts
        k = layer.index
        files = sum(counts.files[: k + 1])
        if files > self.limits.max_files:
            raise self._limit_error(
                layer,
                f"the layers up to this one hold {files} files",
                "max_files",
                self.limits.max_files,
            )
        used = counts.bytes_below(k) + max(counts.bytes[k], counts.declared[k])
        limit = self.limits.max_uncompressed_bytes
        if used > limit:
            raise self._limit_error(
                layer,
                f"the layers up to this one decompress to {used} bytes",
                "max_uncompressed_bytes",
                limit,
            )

    def _corrupt(self, layer: Layer, src: Source, detail: str) -> NoReturn:
        """Raise for a damaged layer: a digest mismatch if the blob was altered, else corrupt."""
        with contextlib.suppress(OSError):
            src.drain()
        actual = f"{layer.digest.partition(':')[0]}:{src.hasher.hexdigest()}"
        if actual != layer.digest:
            raise DigestMismatchError(
                f"{self._where(layer)}: content does not match its digest (got {actual}); "
                f"the layer is also truncated or corrupt: {detail}",
                hint="the blob is damaged or was tampered with; fetch it again from the source",
            )
        raise LayerError(
            f"{self._where(layer)}: truncated or corrupt: {detail}",
            hint="the layer blob itself is damaged; report it to the image publisher",
        )

    def _check_digest(self, layer: Layer, hasher: Any) -> None:
        actual = f"{layer.digest.partition(':')[0]}:{hasher.hexdigest()}"
        if actual != layer.digest:
            raise DigestMismatchError(
                f"{self._where(layer)}: content does not match its digest (got {actual})",
                hint="the blob is damaged or was tampered with; fetch it again from the source",
            )

    def _check_diff_id(self, layer: Layer, hasher: Any) -> None:
        assert layer.diff_id is not None
        actual = f"{layer.diff_id.partition(':')[0]}:{hasher.hexdigest()}"
        if actual != layer.diff_id:
            raise DigestMismatchError(
                f"{self._where(layer)}: uncompressed content does not match the diff_id "
                f"{layer.diff_id} in the image config (got {actual})",
                hint="the image config and its layers disagree; do not trust this image",
            )

    def _scan(self, layer: Layer, pump: Pump) -> _Scan:
        scan = _Scan()
        scanner = TarScanner(pump.next_chunk, max_meta=MAX_META_HEADER)
        max_files = self.limits.max_files
        counts = self.counts
        k = layer.index
        below = counts.files_below(k)
        scan.bytes_below = counts.bytes_below(k)
        files = counts.files
        member = self._member
        for n, ti in enumerate(scanner, 1):
            files[k] = n
            if n + below > max_files:
                below = counts.files_below(k)
            if n + below > max_files:
                raise self._limit_error(
                    layer,
                    f"the layers hold more than {max_files} files (stopped at member {ti.name!r})",
                    "max_files",
                    max_files,
                )
            member(layer, scanner, ti, scan)
        if scanner.end_reason == "empty":
            self.warn(layer, "no-eof", "the tar stream has no end-of-archive marker")
        if scan.absolute:
            self.warn(
                layer,
                "absolute",
                f"{scan.absolute} member name(s) were absolute (first: {scan.first_absolute!r}); "
                "the leading / was stripped, as container runtimes do",
            )
        return scan

    def _member(self, layer: Layer, scanner: TarScanner, ti: TarMember, scan: _Scan) -> None:
        name = ti.name
        if "\x00" in name:
            self.warn_member(layer, name, "nul", "name contains a NUL byte; skipped")
            return
        path = _clean_name(name)
        if path is None:
            self.warn_member(
                layer, name, "escape", "name climbs out of the image root with '..'; skipped"
            )
            return
        if name[:1] == "/":
            if not scan.absolute:
                scan.first_absolute = name
            scan.absolute += 1
        if not path:
            return  # the root directory itself
        if not name.isascii() and not _is_utf8(name):
            self.warn_member(
                layer, name, "utf8", "name is not valid UTF-8; kept with its raw bytes escaped"
            )
        base = path[path.rfind("/") + 1 :]
        if base[:4] == ".wh.":
            self._whiteout(layer, name, path, base, scan)
            return

        t = ti.type
        linkname = ""
        location = -1
        size = 0
        link_target: str | None = None
        if t in _REGULAR_TYPES:
            ftype = FileType.REGULAR
            size = ti.size
            # Lower layers' bytes, this one's up to here, and what the member declares.
            limit = self.limits.max_uncompressed_bytes
            end = ti.offset_data + size
            declared = self.counts.declared
            if end > declared[layer.index]:
                declared[layer.index] = end
            if scan.bytes_below + end > limit:
                scan.bytes_below = self.counts.bytes_below(layer.index)
            if scan.bytes_below + end > limit:
                raise self._limit_error(
                    layer,
                    f"member {name!r} declares {size} bytes, past the uncompressed budget",
                    "max_uncompressed_bytes",
                    limit,
                )
            if ti.sparse:
                self.warn_member(layer, name, "sparse", "sparse file; its content is not read")
            else:
                location = ti.offset_data
        elif t == DIRTYPE:
            ftype = FileType.DIRECTORY
        elif t == SYMTYPE:
            ftype = FileType.SYMLINK
            linkname = ti.linkname
            if "\x00" in linkname:
                self.warn_member(layer, name, "nul", "link target contains a NUL byte; skipped")
                return
        elif t == LNKTYPE:
            ftype = FileType.REGULAR
            link_target = clean_path(ti.linkname)
            if not link_target or "\x00" in ti.linkname:
                self.warn_member(
                    layer,
                    name,
                    "hardlink",
                    f"hard link to {ti.linkname!r} points outside the image root; skipped",
                )
                return
        elif t in _DEVICE_TYPES:
            ftype = _DEVICE_TYPES[t]
            self.warn_member(
                layer, name, "device", f"{ftype.value} special file recorded, never read"
            )
        else:
            self.warn_member(layer, name, "type", f"unsupported tar member type {t!r}; skipped")
            return

        entry = FileEntry(
            path,
            ftype,
            ti.mode & 0o7777,
            ti.uid,
            ti.gid,
            size,
            linkname,
            layer.index,
            location,
            ti.mtime,
        )
        idx = len(scan.records)
        scan.records.append(entry)
        if link_target is not None:
            scan.links[idx] = link_target
        elif location >= 0:
            if self.capture is not None and self.capture.fullmatch(path):
                self._grab(layer, scanner, ti, scan, idx)
            if self.inspectors:
                self._inspect(layer, scanner, ti, scan, idx, entry)

    def _whiteout(self, layer: Layer, name: str, path: str, base: str, scan: _Scan) -> None:
        parent = path[: len(path) - len(base)].rstrip("/")
        if base == ".wh..wh..opq":
            scan.opaques.append(parent)
            return
        if base.startswith(".wh..wh."):
            return  # AUFS bookkeeping (.wh..wh.plnk, .wh..wh.aufs): not content
        target = base[4:]
        if target in ("", ".", ".."):
            self.warn_member(layer, name, "whiteout", "whiteout names no file; ignored")
            return
        scan.whiteouts.append(f"{parent}/{target}" if parent else target)

    def _grab(
        self, layer: Layer, scanner: TarScanner, ti: TarMember, scan: _Scan, idx: int
    ) -> None:
        size = ti.size
        if size > self.limits.max_capture_file:
            self.warn_member(
                layer,
                ti.name,
                "capture",
                f"{size} bytes is more than max_capture_file "
                f"({self.limits.max_capture_file}); not captured, read lazily instead",
            )
            return
        room = self.limits.max_capture_total - self.captured_total
        if not self.reserved.take(size, room):
            self.warn_member(
                layer,
                ti.name,
                "capture",
                f"captured files would exceed max_capture_total "
                f"({self.limits.max_capture_total}); not captured, read lazily instead",
            )
            return
        data = scanner.read_data(size)
        if len(data) != size:
            raise Corrupt(f"member {ti.name!r} ends early (truncated)")
        scan.grabbed[idx] = data
        scan.grabbed_total += size

    def _inspect(
        self,
        layer: Layer,
        scanner: TarScanner,
        ti: TarMember,
        scan: _Scan,
        idx: int,
        entry: FileEntry,
    ) -> None:
        wanting = [i for i in self.inspectors if i.wants(entry)]
        if not wanting or ti.size > self.limits.max_capture_file:
            return
        data = scan.grabbed.get(idx)
        if data is None:
            data = scanner.read_data(ti.size)
            if len(data) != ti.size:
                raise Corrupt(f"member {ti.name!r} ends early (truncated)")
        for inspector in wanting:
            inspector.inspect(entry, data)

    # -- merging -----------------------------------------------------------------------------

    def _apply(self, layer: Layer, scan: _Scan) -> None:
        """Whiteouts first (they only hide lower layers), then this layer's members in order."""
        entries = self.entries
        for opaque in scan.opaques:
            real = self._locate(opaque)
            if real is None:
                continue
            entry = entries.get(real)
            if real == "" or (entry is not None and entry.type is FileType.DIRECTORY):
                self._drop_children(real)
        for whiteout in scan.whiteouts:
            real = self._locate(whiteout)
            if real:
                self._remove(real)

        captured = self.captured
        rx = self.capture
        links = scan.links
        grabbed = scan.grabbed
        children = self.children
        for idx, rec in enumerate(scan.records):
            raw = rec.path
            path = self._locate(raw, make_parents=True)
            if path is None:
                self.warn_member(
                    layer,
                    raw,
                    "parent",
                    "its parent is not a directory (a file, a dangling link or a loop); skipped",
                )
                continue
            if path != raw:
                rec.path = path
            data: bytes | None = None
            target = links.get(idx)
            if target is not None:
                tentry = entries.get(target)
                if tentry is None:
                    located = self._locate(target)
                    tentry = entries.get(located) if located is not None else None
                if tentry is None or tentry.type is FileType.DIRECTORY:
                    what = "is not in the image" if tentry is None else "is a directory"
                    self.warn_member(
                        layer, raw, "hardlink", f"hard link target {target!r} {what}; skipped"
                    )
                    continue
                rec.type = tentry.type
                rec.size = tentry.size
                rec.linkname = tentry.linkname
                rec.layer = tentry.layer
                rec.location = tentry.location
                if rx is not None and tentry.path in captured and rx.fullmatch(path):
                    data = captured[tentry.path]
            elif idx in grabbed:
                data = grabbed[idx]
                if path != raw and rx is not None and not rx.fullmatch(path):
                    data = None
            old = entries.get(path)
            if old is None:
                parent = path[: max(path.rfind("/"), 0)]
                kids = children.get(parent)
                if kids is None:
                    children[parent] = {path}
                else:
                    kids.add(path)
            elif old.type is FileType.DIRECTORY and rec.type is not FileType.DIRECTORY:
                self._drop_children(path)
            entries[path] = rec
            if captured:
                stale = captured.pop(path, None)
                if stale is not None:
                    self.captured_total -= len(stale)
            if data is not None:
                captured[path] = data
                self.captured_total += len(data)

    def _locate(self, path: str, *, make_parents: bool = False) -> str | None:
        """The indexed path ``path`` names, with its parent resolved inside the root; with
        ``make_parents``, where a member lands (missing parents made)."""
        slash = path.rfind("/")
        if slash < 0:
            return path
        parent = path[:slash]
        pentry = self.entries.get(parent)
        if pentry is not None and pentry.type is FileType.DIRECTORY:
            return path
        if make_parents:
            real = self._ensure_dir(parent)
        else:
            try:
                real = self.fs.resolve(parent)
            except SymlinkLoopError:
                return None
        if real is None:
            return None
        base = path[slash + 1 :]
        return f"{real}/{base}" if real else base

    def _ensure_dir(self, dirpath: str) -> str | None:
        done = ""
        entries = self.entries
        for comp in dirpath.split("/"):
            cand = f"{done}/{comp}" if done else comp
            entry = entries.get(cand)
            if entry is None:
                self._add(cand, FileEntry(cand, FileType.DIRECTORY, 0o755))
                done = cand
            elif entry.type is FileType.DIRECTORY:
                done = cand
            elif entry.type is FileType.SYMLINK:
                try:
                    real = self.fs.resolve(cand)
                except SymlinkLoopError:
                    return None
                if real is None:
                    return None
                if real:
                    target = entries.get(real)
                    if target is None or target.type is not FileType.DIRECTORY:
                        return None
                done = real
            else:
                return None
        return done

    def _add(self, path: str, entry: FileEntry) -> None:
        self.entries[path] = entry
        parent = path[: max(path.rfind("/"), 0)]
        self.children.setdefault(parent, set()).add(path)

    def _remove(self, path: str) -> None:
        if self.entries.pop(path, None) is None:
            return
        kids = self.children.get(path[: max(path.rfind("/"), 0)])
        if kids is not None:
            kids.discard(path)
        stale = self.captured.pop(path, None)
        if stale is not None:
            self.captured_total -= len(stale)
        self._drop_children(path)

    def _drop_children(self, path: str) -> None:
        """Remove everything below ``path`` (not ``path`` itself); O(size of the subtree)."""
        entries = self.entries
        children = self.children
        captured = self.captured
        stack = [path]
        while stack:
            kids = children.pop(stack.pop(), None)
            if not kids:
                continue
            for kid in kids:
                entries.pop(kid, None)
                stale = captured.pop(kid, None)
                if stale is not None:
                    self.captured_total -= len(stale)
                stack.append(kid)


def build_fs(
    image: Image,
    *,
    limits: Limits | None = None,
    capture: Iterable[str] = (),
    progress: Callable[[int, int], None] | None = None,
    inspectors: Sequence[Inspector] = (),
) -> ImageFS:
    """Index every layer of ``image`` (bottom first) into a merged, lazily read ImageFS.

    Each blob is read once, verified against its digest (and diff_id when the config has
    one), and never extracted. Files matching the ``capture`` patterns are kept in
    ``ImageFS.captured`` so analysis needs no second pass; ``inspectors`` see the bytes of the
    files they want as they stream past (see :class:`Inspector`). ``progress(done, total)`` is
    called with compressed bytes read so far. Raises :class:`LayerError` (corrupt or unsafe
    layer), :class:`LimitExceededError` and :class:`DigestMismatchError`, naming the layer.
    An image without blobs but with a root directory is indexed from that directory.
    """
    limits = limits or Limits()
    if image.blobs is None:
        if image.root_dir is not None:
            from baseguard.image.rootfs import build_fs_from_dir

            return build_fs_from_dir(image.root_dir, limits=limits, capture=capture)
        raise ImageError(f"{image.reference}: the image has no layers to read")
    indexer = _Indexer(image, limits, compile_capture(capture), inspectors)
    blobs = image.blobs
    sizes = []
    for layer in image.layers:
        size = layer.descriptor.size
        sizes.append(size if size >= 0 else blobs.blob_size(layer.digest))
    workers = _layer_workers(len(image.layers))
    report = None
    if progress is not None:
        report = _Progress(progress, sum(sizes), len(sizes), immediate=workers <= 1)
    kinds: list[str] = []
    if workers <= 1:
        for layer, size in zip(image.layers, sizes, strict=True):
            kinds.append(
                indexer.merge_layer(
                    layer, functools.partial(indexer.scan_layer, layer, size, report)
                )
            )
    else:
        # Layers are read and parsed at once, one per thread (inflating and hashing release
        # the GIL), and merged here in order; the first failing layer's error is raised.
        # Each reads inline: no inflating thread of its own unless THREADED forces one.
        with ThreadPoolExecutor(workers, thread_name_prefix="baseguard-layer") as pool:
            forced = blobstream.THREADED is True
            futures = [
                pool.submit(indexer.scan_layer, layer, size, report, threaded=forced)
                for layer, size in zip(image.layers, sizes, strict=True)
            ]
            try:
                for layer, future in zip(image.layers, futures, strict=True):
                    if report is not None:
                        while not wait([future], PROGRESS_POLL).done:
                            report.flush()
                        report.flush()
                    kinds.append(indexer.merge_layer(layer, future.result))
            except BaseException:
                indexer.stop.set()
                for future in futures:
                    future.cancel()
                raise
    return ImageFS(
        entries=indexer.entries,
        reader=LayerReader(image, kinds),
        warnings=indexer.warnings,
        captured=indexer.captured,
        layer_digests=[layer.digest for layer in image.layers],
        uncompressed_size=sum(indexer.counts.bytes),
    )

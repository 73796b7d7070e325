"""The uncompressed stream of one layer blob: sniffing, decompressing, hashing, budgets.

A layer blob is read once, through a decoder chosen by its magic bytes (gzip with ISA-L,
zstd, or plain tar), hashed as it is read (for the layer digest). :class:`Pump` hands the
uncompressed bytes on in chunks, counting them against a byte budget and hashing them for
the diff_id; with CPUs to spare it inflates on a worker thread while the caller parses.
:mod:`baseguard.image.layers` indexes what comes out; :mod:`baseguard.image.readback`
streams a layer again to read files back.
"""

from __future__ import annotations

import os
import threading
import zlib
from collections import deque
from collections.abc import Callable, Generator
from typing import IO, Any, cast

import zstandard

# ISA-L's inflate is 2-3x faster than zlib's on big layers (0.27 s vs 0.66 s for a 204 MB
# Debian root), with the same API.
from isal import isal_zlib as _inflate

from baseguard.errors import LimitExceededError
from baseguard.image.archive import GZIP_MAGIC, compression_of

INFLATE_ERROR = cast("type[Exception]", _inflate.error)

GZIP = "gzip"
ZSTD = "zstd"
TAR = "tar"

#: Compressed bytes read from a blob at a time.
READ_CHUNK = 1 << 16
#: Most bytes one zlib call may produce (gzip expands at most ~1032:1, and this caps it).
GZIP_OUT_CHUNK = 1 << 18
#: Compressed bytes fed to zstd per call. zstd's API has no output cap and an RLE block
#: turns 4 bytes into 128 KiB, so small feeds bound one call's output (here to 64 MiB).
ZSTD_FEED = 2048
PROGRESS_STEP = 1 << 20
#: Uncompressed output smaller than this is gathered into one chunk before it is handed
#: on (zstd yields a few KiB per call; gzip's pieces, up to GZIP_OUT_CHUNK, go as they are).
PIPE_MIN_CHUNK = 1 << 16
#: Chunks that may wait between the inflating and the indexing thread: bounds how far
#: decompression runs ahead (memory, and bytes read past a point where indexing stops).
PIPE_DEPTH = 3
#: Inflate one layer on a worker thread (overlapping tar parsing) only with at least this
#: many usable CPUs. Measured on a 2-vCPU VM whose two sha256 threads ran at 2.1x the
#: throughput of one: the thread still did not pay for the one 204 MB bookworm layer
#: (build_fs 0.68 s against 0.60 s inline): the worker (read, hash, inflate) is the longer
#: side, and it waits for the GIL after every call. Images with several layers gain more
#: from indexing layers at once (see layers.MAX_LAYER_WORKERS).
PIPELINE_MIN_CPUS = 4
#: ... and only for blobs at least this big (a thread is not worth starting for less).
PIPELINE_MIN_BLOB = 4 << 20
#: Force the worker thread on (True) or off (False) whatever the CPUs; None decides.
THREADED: bool | None = None


def detect_compression(head: bytes) -> str:
    """``gzip``, ``zstd`` or ``tar``, from a blob's first bytes (media types can lie)."""
    kind = compression_of(head)
    return TAR if kind == "none" else kind


def claimed_compression(media_type: str) -> str | None:
    mt = media_type.lower()
    if mt.endswith(("+gzip", ".gzip", "tar.gz")):
        return GZIP
    if mt.endswith(("+zstd", ".zstd")):
        return ZSTD
    if mt.endswith((".tar", "rootfs.diff.tar")):
        return TAR
    return None


# -- streams -----------------------------------------------------------------------------------


class Cancelled(Exception):
    """Another layer failed first: this one stops early (its result is never used)."""


class Corrupt(Exception):
    """The compressed or tar stream is damaged; becomes a LayerError naming the layer."""


class Source:
    """The raw blob, optionally hashed as it is read; ``count`` is the bytes read so far."""

    __slots__ = ("_fh", "_head", "count", "hasher")

    def __init__(self, fh: IO[bytes], head: bytes = b"", hasher: Any = None) -> None:
        self._fh = fh
        self._head = head
        self.hasher = hasher
        self.count = 0

    def read(self, n: int) -> bytes:
        if self._head:
            data, self._head = self._head[:n], self._head[n:]
        else:
            data = self._fh.read(n) or b""
        if data:
            if self.hasher is not None:
                self.hasher.update(data)
            self.count += len(data)
        return data

    def drain(self) -> None:
        while self.read(READ_CHUNK):
            pass


class _PlainDecoder:
    """An uncompressed tar: the source itself."""

    def __init__(self, src: Source) -> None:
        self.src = src

    def read(self, n: int) -> bytes:
        return self.src.read(n)


class _BufferedDecoder:
    """Serves decompressed chunks made by :meth:`_fill` in reads of at most ``n`` bytes."""

    def __init__(self, src: Source) -> None:
        self.src = src
        self.buf = b""
        self.pos = 0
        self.done = False

    def read(self, n: int) -> bytes:
        while self.pos >= len(self.buf):
            if self.done:
                return b""
            self.buf = self._fill()
            self.pos = 0
        start = self.pos
        self.pos = start + n
        if start == 0 and n >= len(self.buf):
            return self.buf
        return self.buf[start : start + n]

    def _fill(self) -> bytes:  # pragma: no cover - abstract
        raise NotImplementedError


class _GzipDecoder(_BufferedDecoder):
    """gzip, including multi-member files and zero padding after the last member."""

    def __init__(self, src: Source) -> None:
        super().__init__(src)
        self.d = _inflate.decompressobj(31)
        self.pending = b""

    def _fill(self) -> bytes:
        while True:
            if self.d.eof:
                if not self._next_member():
                    self.done = True
                    return b""
                continue
            data = self.pending or self.d.unconsumed_tail
            self.pending = b""
            if not data:
                data = self.src.read(READ_CHUNK)
                if not data:
                    raise Corrupt("the gzip stream ends early (truncated)")
            try:
                out = self.d.decompress(data, GZIP_OUT_CHUNK)
            except (zlib.error, INFLATE_ERROR) as exc:
                raise Corrupt(f"invalid gzip data ({exc})") from None
            if self.d.eof:
                self.pending = self.d.unused_data
            if out:
                return out

    def _next_member(self) -> bool:
        rest = self.pending.lstrip(b"\0")
        self.pending = b""
        while len(rest) < 2:
            more = self.src.read(READ_CHUNK)
            if not more:
                if rest:
                    raise Corrupt("trailing garbage after the gzip data")
                return False
            rest = (rest + more).lstrip(b"\0")
        if rest[:2] != GZIP_MAGIC:
            raise Corrupt("trailing garbage after the gzip data")
        self.d = _inflate.decompressobj(31)
        self.pending = rest
        return True


class _ZstdDecoder(_BufferedDecoder):
    """zstd, frame after frame, fed in small pieces so one call's output stays bounded."""

    def __init__(self, src: Source) -> None:
        super().__init__(src)
        self.dctx = zstandard.ZstdDecompressor()
        self.d = self.dctx.decompressobj()
        self.inbuf = memoryview(b"")

    def _fill(self) -> bytes:
        while True:
            if self.d.eof:
                rest = self.d.unused_data + bytes(self.inbuf)
                while not rest:
                    rest = self.src.read(READ_CHUNK)
                    if not rest:
                        self.done = True
                        return b""
                self.d = self.dctx.decompressobj()
                self.inbuf = memoryview(rest)
                continue
            if not self.inbuf:
                more = self.src.read(READ_CHUNK)
                if not more:
                    raise Corrupt("the zstd stream ends early (truncated)")
                self.inbuf = memoryview(more)
            piece = self.inbuf[:ZSTD_FEED]
            self.inbuf = self.inbuf[ZSTD_FEED:]
            try:
                out = self.d.decompress(piece)
            except zstandard.ZstdError as exc:
                raise Corrupt(f"invalid zstd data ({exc})") from None
            if out:
                return out


Decoder = _PlainDecoder | _GzipDecoder | _ZstdDecoder


def open_decoder(kind: str, src: Source) -> Decoder:
    if kind == GZIP:
        return _GzipDecoder(src)
    if kind == ZSTD:
        return _ZstdDecoder(src)
    return _PlainDecoder(src)


class _Pipe:
    """A bounded hand-off between one producer and one consumer thread; closable.

    :meth:`put` blocks while ``depth`` items wait and returns False once the pipe is
    closed (the producer then stops); :meth:`close` drops waiting items and wakes it.
    """

    __slots__ = ("_closed", "_cond", "_depth", "_items")

    def __init__(self, depth: int) -> None:
        self._items: deque[object] = deque()
        self._cond = threading.Condition(threading.Lock())
        self._depth = depth
        self._closed = False

    def put(self, item: object) -> bool:
        with self._cond:
            while len(self._items) >= self._depth and not self._closed:
                self._cond.wait()
            if self._closed:
                return False
            self._items.append(item)
            self._cond.notify()
            return True

    def get(self) -> object:
        with self._cond:
            while not self._items:
                self._cond.wait()
            item = self._items.popleft()
            self._cond.notify()
            return item

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._items.clear()
            self._cond.notify_all()


_END = object()


class Pump:
    """The uncompressed stream of one layer blob, in chunks, with its limits and hashes.

    The producing side reads the blob (hashing it for the layer digest), decompresses it
    and counts the output with ``account`` (which returns the total to check against
    ``limit``); the consuming side takes chunks in order with :meth:`next_chunk`, which
    hashes them for the diff_id and reports progress.
    With ``threaded`` the producing side runs on a worker thread and hands chunks through a
    small bounded :class:`_Pipe`, so decompression and hashing (which release the GIL)
    overlap tar parsing; otherwise it runs inline, one chunk per call. Either way an error
    while producing (damaged data, the budget exceeded, a failed read) reaches the caller
    in stream order, after the chunks before it, and ends production; :meth:`close` stops
    the worker wherever it is and joins it. Always call :meth:`close`.
    """

    def __init__(
        self,
        dec: Decoder,
        src: Source,
        account: Callable[[int], int],
        limit: int,
        exceeded: Callable[[int], LimitExceededError],
        hasher: Any,
        report: Callable[[int], None] | None,
        *,
        threaded: bool,
        stop: threading.Event | None = None,
    ) -> None:
        self._dec = dec
        self._src = src
        self._account = account
        self._limit = limit
        self._exceeded = exceeded
        self._stop = stop
        self.hasher = hasher
        self._report = report
        self._next_report = PROGRESS_STEP
        self._chunks = self._produce()
        self._pipe: _Pipe | None = None
        self._thread: threading.Thread | None = None
        if threaded:
            self._pipe = _Pipe(PIPE_DEPTH)
            self._thread = threading.Thread(target=self._run, name="baseguard-inflate", daemon=True)
        self._done = False
        #: Uncompressed bytes handed to the caller so far.
        self.count = 0

    def start(self) -> None:
        if self._thread is not None:
            self._thread.start()

    def _produce(self) -> Generator[tuple[bytes, int], None, None]:
        """(chunk, compressed bytes read so far) until the stream ends; raises its errors."""
        dec = self._dec
        src = self._src
        account = self._account
        limit = self._limit
        stop = self._stop
        while True:
            if stop is not None and stop.is_set():
                raise Cancelled
            data = dec.read(GZIP_OUT_CHUNK)
            if data and len(data) < PIPE_MIN_CHUNK:
                parts = [data]
                size = len(data)
                while size < PIPE_MIN_CHUNK:
                    more = dec.read(GZIP_OUT_CHUNK)
                    if not more:
                        break
                    parts.append(more)
                    size += len(more)
                data = b"".join(parts)
            if not data:
                return
            total = account(len(data))
            if total > limit:
                raise self._exceeded(total)
            yield data, src.count

    def _run(self) -> None:
        pipe = self._pipe
        assert pipe is not None
        try:
            for item in self._chunks:
                if not pipe.put(item):
                    return
            pipe.put(_END)
        except BaseException as exc:  # every failure, even MemoryError, goes to the caller
            pipe.put(exc)

    def next_chunk(self) -> bytes:
        """The next chunk of the uncompressed stream; ``b""`` at its end. Raises its errors."""
        if self._done:
            return b""
        if self._pipe is None:
            try:
                item: object = next(self._chunks)
            except StopIteration:
                item = _END
            except BaseException:
                self._done = True
                raise
        else:
            item = self._pipe.get()
            if isinstance(item, BaseException):
                self._done = True
                raise item
        if item is _END:
            self._done = True
            return b""
        data, compressed = cast("tuple[bytes, int]", item)
        if self.hasher is not None:
            self.hasher.update(data)
        self.count += len(data)
        if self._report is not None and compressed >= self._next_report:
            self._next_report = compressed + PROGRESS_STEP
            self._report(compressed)
        return data

    def drain(self) -> None:
        """Take (and hash) the rest of the stream, past the end of the tar archive."""
        while self.next_chunk():
            pass

    def close(self) -> None:
        """Stop producing (dropping what was made) and wait for the worker; idempotent."""
        self._done = True
        if self._pipe is not None:
            self._pipe.close()
        if self._thread is not None and self._thread.ident is not None:
            self._thread.join()
        self._chunks.close()


def usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        return os.cpu_count() or 1


def use_thread(blob_size: int) -> bool:
    """Whether to inflate a layer of ``blob_size`` compressed bytes on a worker thread."""
    if THREADED is not None:
        return THREADED
    if blob_size < PIPELINE_MIN_BLOB:
        return False
    return usable_cpus() >= PIPELINE_MIN_CPUS


def read_exact(read: Callable[[int], bytes], n: int) -> bytes:
    parts = []
    while n > 0:
        chunk = read(min(n, 1 << 20))
        if not chunk:
            break
        parts.append(chunk)
        n -= len(chunk)
    return b"".join(parts)


def skip(dec: Decoder, n: int) -> None:
    while n > 0:
        chunk = dec.read(min(n, 1 << 20))
        if not chunk:
            raise Corrupt("the stream ends before a file's recorded offset")
        n -= len(chunk)

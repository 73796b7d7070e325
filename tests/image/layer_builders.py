"""Craft layer tarballs and in-memory images for the layer and rootfs tests.

Everything here is built in memory: :class:`TarBuilder` writes tar streams member by member
(including the hostile ones), :class:`MemoryBlobStore` holds blobs by digest and counts how
many bytes were read from them, and :func:`make_image` wraps layers as an
:class:`~baseguard.image.model.Image`. The bomb builders produce huge uncompressed streams
that stay small in memory and on disk.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import struct
import tarfile
import zlib
from collections.abc import Sequence
from typing import IO

import zstandard

from baseguard.errors import ImageNotFoundError
from baseguard.image.model import Descriptor, Image, ImageConfig, Layer

MEDIA_TYPES = {
    "gzip": "application/vnd.oci.image.layer.v1.tar+gzip",
    "zstd": "application/vnd.oci.image.layer.v1.tar+zstd",
    "tar": "application/vnd.oci.image.layer.v1.tar",
}
REFERENCE = "registry.example/team/app:1.0"


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class CountingBytesIO(io.BytesIO):
    """A BytesIO that remembers how many bytes were read from it."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.bytes_read = 0

    def read(self, size: int | None = -1) -> bytes:
        data = super().read(size)
        self.bytes_read += len(data)
        return data


class MemoryBlobStore:
    """Blobs by digest in memory; ``open_blob`` gives a fresh seekable BytesIO each time."""

    def __init__(self) -> None:
        self.blobs: dict[str, bytes] = {}
        self.opened: list[CountingBytesIO] = []

    def add(self, data: bytes, digest: str | None = None) -> str:
        """Store ``data`` under its sha256 digest (or under ``digest``, to fake a mismatch)."""
        digest = digest or sha256(data)
        self.blobs[digest] = data
        return digest

    def open_blob(self, digest: str) -> IO[bytes]:
        try:
            data = self.blobs[digest]
        except KeyError:
            raise ImageNotFoundError(f"blob {digest} not found") from None
        fh = CountingBytesIO(data)
        self.opened.append(fh)
        return fh

    def blob_size(self, digest: str) -> int:
        return len(self.blobs[digest])

    @property
    def bytes_read(self) -> int:
        return sum(fh.bytes_read for fh in self.opened)


class TarBuilder:
    """Writes a tar stream member by member; every method returns ``self`` for chaining."""

    def __init__(self, fmt: int = tarfile.PAX_FORMAT) -> None:
        self._buf = io.BytesIO()
        # Kept open across calls on purpose; build() closes it.
        self._tar = tarfile.open(  # noqa: SIM115
            fileobj=self._buf,
            mode="w",
            format=fmt,
            encoding="utf-8",
            errors="surrogateescape",
        )

    def _info(
        self, name: str, kind: bytes, mode: int, uid: int = 0, gid: int = 0
    ) -> tarfile.TarInfo:
        ti = tarfile.TarInfo(name)
        ti.type = kind
        ti.mode = mode
        ti.uid = uid
        ti.gid = gid
        ti.mtime = 1_700_000_000
        return ti

    def file(
        self, name: str, data: bytes = b"", *, mode: int = 0o644, uid: int = 0, gid: int = 0
    ) -> TarBuilder:
        ti = self._info(name, tarfile.REGTYPE, mode, uid, gid)
        ti.size = len(data)
        self._tar.addfile(ti, io.BytesIO(data))
        return self

    def dir(self, name: str, *, mode: int = 0o755, uid: int = 0, gid: int = 0) -> TarBuilder:
        self._tar.addfile(self._info(name, tarfile.DIRTYPE, mode, uid, gid))
        return self

    def symlink(self, name: str, target: str) -> TarBuilder:
        ti = self._info(name, tarfile.SYMTYPE, 0o777)
        ti.linkname = target
        self._tar.addfile(ti)
        return self

    def hardlink(self, name: str, target: str, *, mode: int = 0o644) -> TarBuilder:
        ti = self._info(name, tarfile.LNKTYPE, mode)
        ti.linkname = target
        self._tar.addfile(ti)
        return self

    def whiteout(self, path: str) -> TarBuilder:
        """Delete ``path`` from lower layers (``dir/.wh.name``)."""
        head, _, base = path.rstrip("/").rpartition("/")
        return self.file(f"{head}/.wh.{base}" if head else f".wh.{base}")

    def opaque(self, dirpath: str) -> TarBuilder:
        """Hide everything lower layers put in ``dirpath`` (``dir/.wh..wh..opq``)."""
        dirpath = dirpath.strip("/")
        return self.file(f"{dirpath}/.wh..wh..opq" if dirpath else ".wh..wh..opq")

    def device(self, name: str, kind: str = "char", major: int = 1, minor: int = 3) -> TarBuilder:
        ti = self._info(name, tarfile.CHRTYPE if kind == "char" else tarfile.BLKTYPE, 0o666)
        ti.devmajor = major
        ti.devminor = minor
        self._tar.addfile(ti)
        return self

    def fifo(self, name: str) -> TarBuilder:
        self._tar.addfile(self._info(name, tarfile.FIFOTYPE, 0o644))
        return self

    def member(self, ti: tarfile.TarInfo, data: bytes | None = None) -> TarBuilder:
        """Add a hand-made TarInfo as it is (for hostile headers)."""
        self._tar.addfile(ti, io.BytesIO(data) if data is not None else None)
        return self

    def build(self) -> bytes:
        self._tar.close()
        return self._buf.getvalue()


def compress(data: bytes, kind: str) -> bytes:
    """``data`` as a gzip, zstd or plain (``tar``) blob."""
    if kind == "gzip":
        return gzip.compress(data, mtime=0)
    if kind == "zstd":
        return zstandard.ZstdCompressor().compress(data)
    if kind == "tar":
        return data
    raise ValueError(kind)


def make_image(
    *tars: bytes,
    compression: str | Sequence[str] = "gzip",
    reference: str = REFERENCE,
    diff_ids: bool = True,
    store: MemoryBlobStore | None = None,
) -> tuple[Image, MemoryBlobStore]:
    """An Image whose layers are ``tars`` (bottom first), compressed and stored in memory."""
    store = store or MemoryBlobStore()
    kinds = [compression] * len(tars) if isinstance(compression, str) else list(compression)
    blobs = [compress(tar, kind) for tar, kind in zip(tars, kinds, strict=True)]
    image = image_from_blobs(
        blobs,
        media_types=[MEDIA_TYPES[k] for k in kinds],
        diff_ids=[sha256(t) for t in tars] if diff_ids else None,
        reference=reference,
        store=store,
    )
    return image, store


def image_from_blobs(
    blobs: Sequence[bytes],
    *,
    media_types: Sequence[str] | None = None,
    diff_ids: Sequence[str | None] | None = None,
    digests: Sequence[str] | None = None,
    reference: str = REFERENCE,
    store: MemoryBlobStore | None = None,
) -> Image:
    """An Image over raw layer blobs; ``digests`` overrides the true ones (to lie)."""
    store = store if store is not None else MemoryBlobStore()
    layers = []
    for i, blob in enumerate(blobs):
        digest = store.add(blob, digests[i] if digests else None)
        media = media_types[i] if media_types else MEDIA_TYPES["gzip"]
        diff_id = diff_ids[i] if diff_ids else None
        layers.append(Layer(i, Descriptor(media, digest, len(blob)), diff_id))
    return Image(
        reference=reference,
        source="memory",
        config=ImageConfig(os="linux", architecture="amd64"),
        layers=layers,
        blobs=store,
    )


def tar_header(name: str, size: int, kind: bytes = tarfile.REGTYPE) -> bytes:
    """One ustar header block (or GNU base-256 size for sizes past 8 GiB), no data."""
    ti = tarfile.TarInfo(name)
    ti.size = size
    ti.type = kind
    ti.mtime = 0
    if size < 8 << 30:
        return ti.tobuf(tarfile.USTAR_FORMAT, encoding="utf-8", errors="surrogateescape")
    return ti.tobuf(tarfile.GNU_FORMAT, encoding="utf-8", errors="surrogateescape")


def gzip_zeros_after(prefix: bytes, zeros: int, chunk: int = 1 << 20) -> bytes:
    """gzip of ``prefix`` followed by ``zeros`` zero bytes, never holding the zeros at once.

    After a full flush, deflate's output for the same input is the same block, so the zero
    chunk is compressed once and repeated; the CRC is computed chunk by chunk.
    """
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    parts = [comp.compress(prefix) + comp.flush(zlib.Z_FULL_FLUSH)]
    crc = zlib.crc32(prefix)
    count, rest = divmod(zeros, chunk)
    zero = bytes(chunk)
    if count:
        block = comp.compress(zero) + comp.flush(zlib.Z_FULL_FLUSH)
        again = comp.compress(zero) + comp.flush(zlib.Z_FULL_FLUSH)
        assert block == again, "deflate did not repeat itself after a full flush"
        parts.append(block * count)
        for _ in range(count):
            crc = zlib.crc32(zero, crc)
    if rest:
        parts.append(comp.compress(bytes(rest)))
        crc = zlib.crc32(bytes(rest), crc)
    parts.append(comp.flush())
    total = len(prefix) + zeros
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
    return header + b"".join(parts) + struct.pack("<II", crc & 0xFFFFFFFF, total & 0xFFFFFFFF)


def zstd_zeros_after(prefix: bytes, zeros: int, chunk: int = 1 << 20) -> bytes:
    """zstd of ``prefix`` followed by ``zeros`` zero bytes, compressed as a stream."""
    comp = zstandard.ZstdCompressor(level=3).compressobj()
    parts = [comp.compress(prefix)]
    zero = bytes(chunk)
    count, rest = divmod(zeros, chunk)
    for _ in range(count):
        parts.append(comp.compress(zero))
    parts.append(comp.compress(bytes(rest)))
    parts.append(comp.flush())
    return b"".join(parts)


def many_members_tar(count: int) -> bytes:
    """A plain tar of ``count`` empty regular files ``m/0000000``…, built header by header."""
    template = bytearray(tar_header("m/0000000", 0))
    template[148:156] = b" " * 8
    base = sum(template) - sum(template[0:9])
    out = []
    for i in range(count):
        name = b"m/%07d" % i
        template[0:9] = name
        template[148:156] = b"%06o\x00 " % (base + sum(name))
        out.append(bytes(template))
    out.append(bytes(1024))
    return b"".join(out)

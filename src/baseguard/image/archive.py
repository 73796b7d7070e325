"""Tar archives holding images: random access to members, and ``docker save`` archives.

A tar is indexed once (names → data offsets) and members are read through bounded views of
the file; nothing is extracted. A compressed tar (gzip or zstd) is first decompressed into the
image's scratch directory, with a cap on its size, because tar members cannot be reached at
random inside a compressed stream.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import re
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, cast

from baseguard.errors import DigestMismatchError, ImageError, LimitExceededError
from baseguard.image.fs import clean_path
from baseguard.image.model import (
    DOCKER_CONFIG,
    Descriptor,
    Image,
    ImageConfig,
    Layer,
    load_json,
    sha256_stream,
)

GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
#: Cap on the decompressed size of a compressed archive (a decompression-bomb guard).
DEFAULT_MAX_ARCHIVE_BYTES = 64 << 30
MAX_JSON = 16 << 20


def compression_of(head: bytes) -> str:
    """``gzip``, ``zstd`` or ``none`` from a file's first bytes."""
    if head.startswith(GZIP_MAGIC):
        return "gzip"
    if head.startswith(ZSTD_MAGIC):
        return "zstd"
    return "none"


def sniff(path: Path) -> str:
    with path.open("rb") as fh:
        return compression_of(fh.read(4))


class FileSlice(io.RawIOBase):
    """A read-only, seekable view of ``size`` bytes at ``offset`` in a file."""

    def __init__(self, path: Path, offset: int, size: int) -> None:
        super().__init__()
        self._fh = path.open("rb")
        self._offset = offset
        self._size = size
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        remaining = self._size - self._pos
        if remaining <= 0:
            return 0
        view = memoryview(buffer)
        want = min(len(view), remaining)
        self._fh.seek(self._offset + self._pos)
        n = self._fh.readinto(view[:want])
        self._pos += n
        return n

    def seek(self, pos: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        self._pos = max(0, base + pos)
        return self._pos

    def tell(self) -> int:
        return self._pos

    def close(self) -> None:
        self._fh.close()
        super().close()


def decompress_to(src: Path, dest: Path, kind: str, max_bytes: int, what: str) -> None:
    """Decompress ``src`` into ``dest``, refusing to write more than ``max_bytes``."""
    written = 0
    try:
        with src.open("rb") as raw, dest.open("wb") as out:
            stream: IO[bytes]
            if kind == "gzip":
                stream = cast(IO[bytes], gzip.GzipFile(fileobj=raw))
            else:
                import zstandard

                stream = zstandard.ZstdDecompressor().stream_reader(raw)
            while chunk := stream.read(1 << 20):
                written += len(chunk)
                if written > max_bytes:
                    raise LimitExceededError(
                        f"{what}: decompresses to more than {max_bytes} bytes",
                        hint="this looks like a decompression bomb; raise the limit with "
                        "--max-bytes if the archive is genuine",
                    )
                out.write(chunk)
    except (OSError, EOFError, ValueError) as exc:
        dest.unlink(missing_ok=True)
        raise ImageError(f"{what}: truncated or corrupt {kind} data ({exc})") from exc
    except BaseException:
        dest.unlink(missing_ok=True)
        raise


class TarMembers:
    """Random access to the regular files of a tar, by normalised member name."""

    def __init__(
        self,
        path: Path,
        what: str,
        scratch: Path,
        max_bytes: int = DEFAULT_MAX_ARCHIVE_BYTES,
    ) -> None:
        self.what = what
        kind = sniff(path)
        if kind != "none":
            plain = scratch / "archive.tar"
            decompress_to(path, plain, kind, max_bytes, what)
            path = plain
        self.path = path
        self._index: dict[str, tuple[int, int]] = {}
        try:
            with tarfile.open(path, mode="r:") as tar:
                for info in tar:
                    name = clean_path(info.name)
                    if name is None or not info.isreg():
                        continue
                    self._index[name] = (info.offset_data, info.size)
        except (tarfile.TarError, OSError, EOFError) as exc:
            raise ImageError(
                f"{what}: not a readable tar archive ({exc})",
                hint="the file is truncated, corrupt, or not an image archive",
            ) from exc

    def names(self) -> Iterator[str]:
        return iter(self._index)

    def has(self, name: str) -> bool:
        return name in self._index

    def size(self, name: str) -> int:
        return self._index[name][1]

    def open(self, name: str) -> IO[bytes]:
        try:
            offset, size = self._index[name]
        except KeyError:
            raise ImageError(f"{self.what}: {name} is missing from the archive") from None
        return cast(IO[bytes], io.BufferedReader(FileSlice(self.path, offset, size)))

    def read(self, name: str, limit: int = MAX_JSON) -> bytes:
        if self.size(name) > limit:
            raise ImageError(f"{self.what}: {name} is larger than {limit} bytes")
        with self.open(name) as fh:
            return fh.read()


class ArchiveBlobs:
    """Blob store over a ``docker save`` archive: digest → member name."""

    def __init__(self, members: TarMembers, names: dict[str, str]) -> None:
        self.members = members
        self.names = names

    def open_blob(self, digest: str) -> IO[bytes]:
        return self.members.open(self._name(digest))

    def blob_size(self, digest: str) -> int:
        return self.members.size(self._name(digest))

    def _name(self, digest: str) -> str:
        try:
            return self.names[digest]
        except KeyError:
            raise ImageError(f"{self.members.what}: no layer {digest} in the archive") from None


def _digest_from_name(name: str) -> str | None:
    m = re.fullmatch(r"blobs/sha256/([0-9a-f]{64})", name)
    return f"sha256:{m.group(1)}" if m else None


def _sha256_of_member(members: TarMembers, name: str) -> str:
    with members.open(name) as fh:
        return sha256_stream(fh)[0]


def describe_docker_entries(entries: list[dict[str, Any]]) -> list[str]:
    out = []
    for i, e in enumerate(entries):
        tags = e.get("RepoTags") or []
        out.append(f"@{i} ({', '.join(tags) or 'untagged'})")
    return out


def open_docker_archive(members: TarMembers, *, selector: str | None, reference: str) -> Image:
    """Open one image of a ``docker save`` archive (``manifest.json`` format).

    ``selector`` is ``None`` (the only image), ``@N`` (the N-th) or a ``name:tag`` in RepoTags.
    """
    if not members.has("manifest.json"):
        raise ImageError(
            f"{reference}: not a docker-archive (no manifest.json in the tar)",
            hint="docker-archive: expects the output of `docker save`",
        )
    entries = load_json(members.read("manifest.json"), f"{reference}: manifest.json")
    if (
        not isinstance(entries, list)
        or not entries
        or not all(isinstance(e, dict) for e in entries)
    ):
        raise ImageError(f"{reference}: manifest.json is not a non-empty list of images")
    entry = _select_entry(entries, selector, reference)
    config_name = clean_path(str(entry.get("Config", "")))
    if not config_name or not members.has(config_name):
        raise ImageError(f"{reference}: config {entry.get('Config')!r} is missing from the tar")
    config_bytes = members.read(config_name)
    config_digest = f"sha256:{hashlib.sha256(config_bytes).hexdigest()}"
    named = re.search(r"([0-9a-f]{64})(?:\.json)?$", config_name)
    if named and f"sha256:{named.group(1)}" != config_digest:
        raise DigestMismatchError(
            f"{reference}: config {config_name} does not match its name (content is "
            f"{config_digest})",
            hint="the archive is corrupt or has been tampered with",
        )
    config = ImageConfig.from_json(load_json(config_bytes, f"{reference}: config"))
    layer_names = entry.get("Layers") or []
    if not isinstance(layer_names, list):
        raise ImageError(f"{reference}: manifest.json 'Layers' is not a list")
    sources = entry.get("LayerSources") or {}
    layers: list[Layer] = []
    names: dict[str, str] = {}
    for i, raw_name in enumerate(layer_names):
        name = clean_path(str(raw_name))
        if not name or not members.has(name):
            raise ImageError(f"{reference}: layer {raw_name!r} is missing from the tar")
        diff_id = config.diff_ids[i] if i < len(config.diff_ids) else None
        digest = _digest_from_name(name)
        if digest is None:
            with members.open(name) as fh:
                kind = compression_of(fh.read(4))
            digest = diff_id if kind == "none" and diff_id else _sha256_of_member(members, name)
        src = sources.get(digest) if isinstance(sources, dict) else None
        media_type = (src or {}).get("mediaType") or "application/vnd.docker.image.rootfs.diff.tar"
        names[digest] = name
        layers.append(Layer(i, Descriptor(str(media_type), digest, members.size(name)), diff_id))
    tags = entry.get("RepoTags") or []
    return Image(
        reference=reference,
        source="docker-archive",
        config=config,
        layers=layers,
        blobs=ArchiveBlobs(members, names),
        name=tags[0] if tags else None,
        config_digest=config_digest,
        manifest={"mediaType": DOCKER_CONFIG, "docker-archive": entry},
    )


def _select_entry(
    entries: list[dict[str, Any]], selector: str | None, reference: str
) -> dict[str, Any]:
    available = ", ".join(describe_docker_entries(entries))
    if selector is None:
        if len(entries) == 1:
            return entries[0]
        raise ImageError(
            f"{reference}: the archive holds {len(entries)} images",
            hint=f"choose one with docker-archive:FILE:NAME:TAG or :@N; images: {available}",
        )
    if selector.startswith("@"):
        try:
            return entries[int(selector[1:])]
        except (ValueError, IndexError):
            raise ImageError(
                f"{reference}: no image {selector} in the archive",
                hint=f"images: {available}",
            ) from None
    wanted = (
        {selector, f"{selector}:latest"} if ":" not in selector.rsplit("/", 1)[-1] else {selector}
    )
    for e in entries:
        for tag in e.get("RepoTags") or []:
            short = tag.removeprefix("docker.io/").removeprefix("library/")
            if tag in wanted or short in wanted:
                return e
    raise ImageError(
        f"{reference}: no image tagged {selector!r} in the archive", hint=f"images: {available}"
    )


def looks_like_tar(path: Path) -> bool:
    """True for a tar (possibly gzip/zstd-compressed) by its magic bytes or ustar marker."""
    with path.open("rb") as fh:
        head = fh.read(512)
    if compression_of(head) != "none":
        return True
    return len(head) == 512 and head[257:262] == b"ustar"


_IMAGE_TOP = re.compile(
    r"^(?:blobs|manifest\.json|repositories|index\.json|oci-layout|"
    r"[0-9a-f]{64}(?:\.json)?)$"
)


def classify_tar(path: Path) -> str:
    """Tell an image archive from a root filesystem tarball by its member names.

    Returns ``docker-archive``, ``oci-archive`` or ``rootfs``. Stops at the first member that
    decides it, so a rootfs tarball is classified after reading a few headers.
    """
    seen: set[str] = set()
    try:
        with tarfile.open(path, mode="r|*") as tar:
            for info in tar:
                name = clean_path(info.name)
                if not name:
                    continue
                top = name.split("/", 1)[0]
                if not _IMAGE_TOP.match(top):
                    return "rootfs"
                seen.add(top)
                if "manifest.json" in seen:
                    return "docker-archive"
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise ImageError(
            f"{path}: not a readable tar archive ({exc})",
            hint="the file is truncated, corrupt, or not an image archive",
        ) from exc
    if "index.json" in seen:
        return "oci-archive"
    if not seen:
        raise ImageError(f"{path}: the tar archive is empty")
    return "rootfs"

"""Reading files back from layer blobs, after indexing: one streaming pass per layer."""

from __future__ import annotations

from collections.abc import Sequence

from baseguard.errors import ImageError, LayerError
from baseguard.image.blobstream import (
    TAR,
    Corrupt,
    Source,
    detect_compression,
    open_decoder,
    read_exact,
    skip,
)
from baseguard.image.fs import ContentReader, FileEntry, FileType
from baseguard.image.model import Image, Layer


class LayerReader(ContentReader):
    """Reads regular files' bytes back from layer blobs, one streaming pass per layer.

    Plain tar layers are read by seeking; compressed ones are decompressed from the start
    and discarded up to each file's offset, so reading many files of one layer in one
    :meth:`read_many` call costs one pass.
    """

    def __init__(self, image: Image, compressions: Sequence[str] | None = None) -> None:
        self.image = image
        self.compressions = list(compressions) if compressions is not None else None

    def read(self, entry: FileEntry, limit: int) -> bytes:
        """Up to ``limit`` bytes of ``entry``'s content."""
        return self.read_many([entry], limit).get(entry.path, b"")

    def read_many(self, entries: list[FileEntry], limit: int) -> dict[str, bytes]:
        """Several files, keyed by entry path; layers are visited once each, offsets in order."""
        out: dict[str, bytes] = {}
        by_layer: dict[int, dict[int, list[FileEntry]]] = {}
        nlayers = len(self.image.layers)
        for entry in entries:
            if entry.type is not FileType.REGULAR:
                continue
            if entry.location < 0 or not 0 <= entry.layer < nlayers or limit <= 0:
                out[entry.path] = b""
                continue
            by_layer.setdefault(entry.layer, {}).setdefault(entry.location, []).append(entry)
        for index in sorted(by_layer):
            self._read_layer(self.image.layers[index], by_layer[index], limit, out)
        return out

    def _read_layer(
        self,
        layer: Layer,
        wanted: dict[int, list[FileEntry]],
        limit: int,
        out: dict[str, bytes],
    ) -> None:
        blobs = self.image.blobs
        if blobs is None:
            raise ImageError(f"{self.image.reference}: the image has no blob store to read from")
        where = f"{self.image.reference}: layer {layer.index} ({layer.digest})"
        with blobs.open_blob(layer.digest) as fh:
            head = fh.read(4) or b""
            kind = (
                self.compressions[layer.index]
                if self.compressions is not None and layer.index < len(self.compressions)
                else detect_compression(head)
            )
            src = Source(fh, head)
            dec = open_decoder(kind, src)
            pos = 0
            try:
                for location in sorted(wanted):
                    group = wanted[location]
                    want = max(min(e.size, limit) for e in group)
                    if kind == TAR:
                        fh.seek(location)
                        data = read_exact(fh.read, want)
                    else:
                        skip(dec, location - pos)
                        data = read_exact(dec.read, want)
                        pos = location + len(data)
                    if len(data) < want:
                        raise Corrupt(f"file {group[0].path!r} ends early (truncated)")
                    for e in group:
                        out[e.path] = data[: min(e.size, limit)]
            except Corrupt as exc:
                raise LayerError(
                    f"{where}: truncated or corrupt while reading file contents: {exc}",
                    hint="the blob changed since it was indexed, or is damaged",
                ) from None

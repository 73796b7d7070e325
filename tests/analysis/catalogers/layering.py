"""Give an in-memory test ImageFS layers: which layer wrote each path."""

from __future__ import annotations

from baseguard.image.fs import ImageFS

DIGESTS = [f"sha256:{n:02x}" + "0" * 62 for n in range(8)]


def with_layers(fs: ImageFS, layers: dict[str, int], count: int, default: int = 0) -> ImageFS:
    """Mark every non-directory path as written by layer ``default`` except those in
    ``layers``; the image gets ``count`` layer digests (``DIGESTS[:count]``)."""
    for path, entry in fs.entries.items():
        if entry.type.value != "dir":
            entry.layer = layers.get(path, default)
    fs.layer_digests = DIGESTS[:count]
    return fs

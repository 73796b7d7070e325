"""Shared bits of the language cataloger tests: run one cataloger, build layered images."""

from __future__ import annotations

import io
import tarfile
from collections.abc import Mapping
from pathlib import Path

from baseguard.analysis.catalogers.base import CatalogContext, Cataloger, CatalogResult
from baseguard.analysis.distro import Distro
from baseguard.image.fs import ImageFS
from baseguard.image.layers import build_fs as index_layers
from baseguard.image.layers import compile_capture
from baseguard.image.source import open_image
from baseguard.image.write import write_oci_layout


def run(cataloger: Cataloger, fs: ImageFS) -> CatalogResult:
    return cataloger.catalog(fs, CatalogContext(distro=Distro.from_dict({})))


def by_name(result: CatalogResult) -> dict[str, list[object]]:
    out: dict[str, list[object]] = {}
    for p in result.packages:
        out.setdefault(p.name, []).append(p)
    return out


def captures(cataloger: Cataloger, path: str) -> bool:
    """Whether the cataloger's capture globs keep ``path`` while indexing."""
    rx = compile_capture(cataloger.capture)
    return rx is not None and rx.fullmatch(path) is not None


def tar_layer(dest: Path, files: Mapping[str, bytes | tuple[bytes, int]]) -> Path:
    """A tar layer of regular files (``bytes`` is mode 0644, ``(bytes, mode)`` otherwise)."""
    with tarfile.open(dest, "w") as tar:
        for name, spec in files.items():
            data, mode = spec if isinstance(spec, tuple) else (spec, 0o644)
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = mode
            tar.addfile(info, io.BytesIO(data))
    return dest


class IndexedImage:
    """An OCI layout written from layer tarballs and indexed like a real scan would."""

    def __init__(self, tmp: Path, layers: list[Path], capture: tuple[str, ...]) -> None:
        write_oci_layout(tmp / "layout", layers)
        self.image = open_image(f"oci:{tmp / 'layout'}")
        self.fs = index_layers(self.image, capture=capture)

    def close(self) -> None:
        self.image.close()

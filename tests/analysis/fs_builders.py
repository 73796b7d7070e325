"""Build small in-memory :class:`ImageFS` trees (and images) for analysis tests.

A tree is a dict of image paths to specs::

    build_fs({
        "bin/busybox": exe(b"..."),
        "bin/sh": link("/bin/busybox"),
        "etc/os-release": 'ID=alpine\\n',       # str/bytes: a 0644 regular file
        "tmp": Dir(0o1777),
        "bin/wget": hardlink("bin/busybox"),
    })

Parent directories are created implicitly (0755, layer -1, as the layer merger does).
:func:`fs_from_tar` indexes a real root-filesystem tarball the same way, reading tar
headers itself so the tests do not depend on ``image/layers.py``.
"""

from __future__ import annotations

import tarfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from baseguard.image.fs import FileEntry, FileType, ImageFS, MemoryReader, clean_path
from baseguard.image.model import Descriptor, Image, ImageConfig, Layer


@dataclass(frozen=True)
class File:
    content: bytes = b""
    mode: int = 0o644
    uid: int = 0
    gid: int = 0


@dataclass(frozen=True)
class Dir:
    mode: int = 0o755
    uid: int = 0
    gid: int = 0


@dataclass(frozen=True)
class Link:
    target: str


@dataclass(frozen=True)
class HardLink:
    target: str


@dataclass(frozen=True)
class Special:
    type: FileType
    mode: int = 0o666


Spec = File | Dir | Link | HardLink | Special | str | bytes


def exe(content: bytes | str = b"\x7fELF", mode: int = 0o755) -> File:
    """An executable regular file."""
    return File(content.encode() if isinstance(content, str) else content, mode)


def link(target: str) -> Link:
    return Link(target)


def hardlink(target: str) -> HardLink:
    return HardLink(target)


def _add_parents(entries: dict[str, FileEntry], path: str) -> None:
    parts = path.split("/")[:-1]
    for i in range(1, len(parts) + 1):
        parent = "/".join(parts[:i])
        if parent not in entries:
            entries[parent] = FileEntry(parent, FileType.DIRECTORY, mode=0o755)


def build_fs(tree: Mapping[str, Spec], *, uncompressed_size: int | None = None) -> ImageFS:
    """An :class:`ImageFS` holding exactly ``tree`` (plus implicit parent directories)."""
    entries: dict[str, FileEntry] = {}
    contents: dict[str, bytes] = {}
    hardlinks: list[tuple[str, str]] = []
    for raw, spec in tree.items():
        path = clean_path(raw)
        assert path, f"bad test path {raw!r}"
        _add_parents(entries, path)
        if isinstance(spec, str | bytes):
            spec = File(spec.encode() if isinstance(spec, str) else spec)
        if isinstance(spec, File):
            entries[path] = FileEntry(
                path, FileType.REGULAR, spec.mode, spec.uid, spec.gid, len(spec.content)
            )
            contents[path] = spec.content
        elif isinstance(spec, Dir):
            entries[path] = FileEntry(path, FileType.DIRECTORY, spec.mode, spec.uid, spec.gid)
        elif isinstance(spec, Link):
            entries[path] = FileEntry(path, FileType.SYMLINK, 0o777, linkname=spec.target)
        elif isinstance(spec, HardLink):
            hardlinks.append((path, spec.target))
        else:
            entries[path] = FileEntry(path, spec.type, spec.mode)
    for path, target in hardlinks:
        source = entries[clean_path(target) or ""]
        entries[path] = FileEntry(
            path,
            FileType.REGULAR,
            source.mode,
            source.uid,
            source.gid,
            source.size,
            linkname=source.path,
            layer=source.layer,
            location=source.location,
        )
        contents[path] = contents.get(source.path, b"")
    size = sum(e.size for e in entries.values() if e.type is FileType.REGULAR)
    return ImageFS(
        entries=entries,
        reader=MemoryReader(contents),
        uncompressed_size=size if uncompressed_size is None else uncompressed_size,
    )


def fs_from_tar(path: Path) -> ImageFS:
    """Index a root-filesystem tarball (one layer) into an in-memory :class:`ImageFS`."""
    entries: dict[str, FileEntry] = {}
    contents: dict[str, bytes] = {}
    total = 0
    with tarfile.open(path, "r:*") as tar:
        for member in tar:
            name = clean_path(member.name)
            if not name:
                continue
            _add_parents(entries, name)
            mode = member.mode & 0o7777
            uid, gid = member.uid, member.gid
            if member.isreg():
                entries[name] = FileEntry(
                    name,
                    FileType.REGULAR,
                    size=member.size,
                    location=member.offset_data,
                    mtime=int(member.mtime),
                    mode=mode,
                    uid=uid,
                    gid=gid,
                    layer=0,
                )
                fh = tar.extractfile(member)
                contents[name] = fh.read() if fh is not None else b""
                total += member.size
            elif member.isdir():
                entries[name] = FileEntry(name, FileType.DIRECTORY, mode, uid, gid, layer=0)
            elif member.issym():
                entries[name] = FileEntry(
                    name,
                    FileType.SYMLINK,
                    mode,
                    uid,
                    gid,
                    linkname=member.linkname,
                    layer=0,
                )
            elif member.islnk():
                target = entries.get(clean_path(member.linkname) or "")
                if target is None:
                    continue
                entries[name] = FileEntry(
                    name,
                    FileType.REGULAR,
                    mode,
                    uid,
                    gid,
                    target.size,
                    linkname=target.path,
                    layer=0,
                    location=target.location,
                )
                contents[name] = contents.get(target.path, b"")
    return ImageFS(entries=entries, reader=MemoryReader(contents), uncompressed_size=total)


LAYER_DIGEST = "sha256:" + "ab" * 32


def make_image(
    *,
    user: str = "",
    env: list[str] | None = None,
    entrypoint: list[str] | None = None,
    cmd: list[str] | None = None,
    working_dir: str = "",
    labels: dict[str, str] | None = None,
    exposed_ports: list[str] | None = None,
    created: datetime | None = None,
    architecture: str = "amd64",
    variant: str | None = None,
    layer_sizes: tuple[int, ...] = (1000,),
    annotations: dict[str, str] | None = None,
) -> Image:
    """An :class:`Image` with the given config and fake layers (no blobs)."""
    config = ImageConfig(
        architecture=architecture,
        os="linux",
        variant=variant,
        user=user,
        entrypoint=list(entrypoint or []),
        cmd=list(cmd or []),
        env=list(env or []),
        working_dir=working_dir,
        labels=dict(labels or {}),
        exposed_ports=list(exposed_ports or []),
        created=created,
    )
    layers = [
        Layer(
            index=i,
            descriptor=Descriptor(
                "application/vnd.oci.image.layer.v1.tar+gzip",
                "sha256:" + f"{i:02x}" * 32,
                size,
            ),
        )
        for i, size in enumerate(layer_sizes)
    ]
    return Image(
        reference="example.test/app:1",
        source="test",
        config=config,
        layers=layers,
        blobs=None,
        annotations=dict(annotations or {}),
    )

"""Rebuild examples/images: the bundled image store the demo and the offline assessment use.

One OCI layout holding three real images, each tagged with its full reference name:

* ``docker.io/library/alpine:3.20``: Alpine's official 3.20.3 x86_64 minirootfs;
* ``docker.io/library/alpine:3.10``: Alpine's official 3.10.9 x86_64 minirootfs (end of life);
* ``registry.example.com/base/static-debian12:2025.11``: an in-house "static" base built the
  way distroless builds its images: the files of Debian bookworm's ``base-files``,
  ``ca-certificates`` and ``tzdata`` packages, one ``var/lib/dpkg/status.d`` entry per
  package, a ``nonroot`` user, no shell and no package manager.

OpenSSL's libraries are removed from the Alpine roots to keep the repository small (they are
most of a minirootfs's bytes); every other file is byte-for-byte the official one.

    python examples/make_example_images.py ../shared/realdata

Deterministic: the same inputs give the same digests.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import lzma
import shutil
import sys
import tarfile
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parent / "images"
DROP = (
    "lib/libcrypto.so",
    "lib/libssl.so",
    "usr/lib/ossl-modules/",
    "usr/lib/engines-3/",
    "usr/lib/engines-1.1/",
)
DEBS = ("base-files", "ca-certificates", "tzdata")


def _blob(data: bytes) -> dict[str, Any]:
    digest = hashlib.sha256(data).hexdigest()
    (OUT / "blobs" / "sha256" / digest).write_bytes(data)
    return {"digest": f"sha256:{digest}", "size": len(data)}


def _tar(entries: list[tuple[tarfile.TarInfo, bytes | None]]) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for info, data in entries:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return raw.getvalue()


def alpine_layer(tarball: Path) -> bytes:
    entries: list[tuple[tarfile.TarInfo, bytes | None]] = []
    with tarfile.open(tarball, "r:gz") as tin:
        for info in tin:
            if info.name.removeprefix("./").startswith(DROP):
                continue
            fh = tin.extractfile(info) if info.isreg() else None
            entries.append((info, fh.read() if fh else None))
    return _tar(entries)


def _ar_members(deb: Path) -> dict[str, bytes]:
    data = deb.read_bytes()
    if not data.startswith(b"!<arch>\n"):
        raise SystemExit(f"{deb}: not a .deb (ar) archive")
    pos, out = 8, {}
    while pos + 60 <= len(data):
        header = data[pos : pos + 60]
        name = header[:16].decode().strip().rstrip("/")
        size = int(header[48:58].decode().strip())
        out[name] = data[pos + 60 : pos + 60 + size]
        pos += 60 + size + (size & 1)
    return out


def _unxz_tar(data: bytes) -> tarfile.TarFile:
    return tarfile.open(fileobj=io.BytesIO(lzma.decompress(data)), mode="r:")


def static_debian_layer(debs_dir: Path) -> bytes:
    files: dict[str, tuple[tarfile.TarInfo, bytes | None]] = {}
    status: list[tuple[str, bytes]] = []
    for name in DEBS:
        deb = next(debs_dir.glob(f"{name}_*.deb"))
        members = _ar_members(deb)
        with _unxz_tar(members["data.tar.xz"]) as data:
            for info in data:
                fh = data.extractfile(info) if info.isreg() else None
                files[info.name] = (info, fh.read() if fh else None)
        with _unxz_tar(members["control.tar.xz"]) as control:
            fh = control.extractfile("./control")
            assert fh is not None
            status.append((name, fh.read()))

    def add(
        name: str, data: bytes | None, mode: int = 0o644, kind: bytes = tarfile.REGTYPE
    ) -> None:
        info = tarfile.TarInfo(name)
        info.type, info.mode, info.mtime = kind, mode, 1735689600
        info.size = len(data) if data is not None else 0
        files[name] = (info, data)

    add("./var/lib/dpkg/status.d", None, 0o755, tarfile.DIRTYPE)
    for name, control in status:
        add(f"./var/lib/dpkg/status.d/{name}", control)
    add(
        "./etc/passwd",
        b"root:x:0:0:root:/root:/sbin/nologin\n"
        b"nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n",
    )
    add("./etc/group", b"root:x:0:\nnonroot:x:65532:\n")
    add("./home/nonroot", None, 0o700, tarfile.DIRTYPE)
    add("./tmp", None, 0o1777, tarfile.DIRTYPE)
    return _tar([files[k] for k in sorted(files)])


def main(realdata: Path) -> None:
    minirootfs = realdata / "images" / "alpine-minirootfs"
    images = [
        (
            "docker.io/library/alpine:3.20",
            alpine_layer(minirootfs / "alpine-minirootfs-3.20.3-x86_64.tar.gz"),
            "2024-09-06T00:00:00Z",
            {"Cmd": ["/bin/sh"]},
        ),
        (
            "docker.io/library/alpine:3.10",
            alpine_layer(minirootfs / "alpine-minirootfs-3.10.9-x86_64.tar.gz"),
            "2021-04-14T00:00:00Z",
            {"Cmd": ["/bin/sh"]},
        ),
        (
            "registry.example.com/base/static-debian12:2025.11",
            static_debian_layer(realdata / "debian" / "debs"),
            "2026-11-15T00:00:00Z",
            {"User": "65532", "Env": ["SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt"]},
        ),
    ]
    if OUT.exists():
        shutil.rmtree(OUT)
    (OUT / "blobs" / "sha256").mkdir(parents=True)
    manifests = []
    for ref, layer, created, config in images:
        compressed = gzip.compress(layer, compresslevel=9, mtime=0)
        layer_desc = _blob(compressed)
        config_doc = {
            "created": created,
            "architecture": "amd64",
            "os": "linux",
            "config": config,
            "rootfs": {
                "type": "layers",
                "diff_ids": [f"sha256:{hashlib.sha256(layer).hexdigest()}"],
            },
        }
        config_desc = _blob(json.dumps(config_doc, sort_keys=True).encode())
        manifest = {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **config_desc},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", **layer_desc}],
        }
        manifests.append(
            {
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                **_blob(json.dumps(manifest, sort_keys=True).encode()),
                "platform": {"architecture": "amd64", "os": "linux"},
                "annotations": {"org.opencontainers.image.ref.name": ref},
            }
        )
        print(f"{ref}: {len(compressed)} bytes")
    index = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": manifests,
    }
    (OUT / "index.json").write_text(json.dumps(index, sort_keys=True, indent=1))
    (OUT / "oci-layout").write_text(json.dumps({"imageLayoutVersion": "1.0.0"}))


if __name__ == "__main__":
    main(Path(sys.argv[1]))

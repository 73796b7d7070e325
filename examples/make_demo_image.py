"""Rebuild examples/alpine-3.20-mini: the bundled demo image (an OCI layout).

It is Alpine's official 3.20.3 x86_64 minirootfs with OpenSSL's libraries removed to keep
the repository small (about 1.3 MB instead of 3.5 MB). Everything else is byte-for-byte the
official tarball: busybox and its applet links, apk, musl, /etc, the apk database.

    python examples/make_demo_image.py \
        ../shared/realdata/images/alpine-minirootfs/alpine-minirootfs-3.20.3-x86_64.tar.gz

The output is deterministic: the same input gives the same digests.
"""

from __future__ import annotations

import gzip
import io
import sys
import tarfile
import tempfile
from pathlib import Path

from baseguard.image.write import write_oci_layout

DROP = ("lib/libcrypto.so", "lib/libssl.so", "usr/lib/ossl-modules/", "usr/lib/engines-3/")
CREATED = "2024-09-06T00:00:00Z"  # Alpine 3.20.3's release date
OUT = Path(__file__).resolve().parent / "alpine-3.20-mini"


def main(src: Path) -> None:
    raw = io.BytesIO()
    with (
        tarfile.open(src, "r:gz") as tin,
        tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tout,
    ):
        for info in tin:
            if info.name.removeprefix("./").startswith(DROP):
                continue
            tout.addfile(info, tin.extractfile(info) if info.isreg() else None)
    with tempfile.TemporaryDirectory() as tmp:
        layer = Path(tmp) / "layer.tar.gz"
        layer.write_bytes(gzip.compress(raw.getvalue(), compresslevel=9, mtime=0))
        digest = write_oci_layout(
            OUT,
            [layer],
            tag="3.20.3",
            created=CREATED,
            config={
                "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
                "Cmd": ["/bin/sh"],
                "Labels": {"org.opencontainers.image.title": "alpine-3.20-mini (baseguard demo)"},
            },
        )
    print(f"wrote {OUT} (manifest {digest})")


if __name__ == "__main__":
    main(Path(sys.argv[1]))

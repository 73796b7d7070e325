"""Re-match 10,000 stored analyses after a feed update: wall time and peak memory.

    .venv/bin/python benchmarks/rematch.py [--analyses 10000] [--db URL] [--json out.json]

1. Builds a vulnerability database from the real feeds of ../shared/realdata (Alpine secdb
   v3.3-v3.20, the pypa advisory-database snapshot, Debian tracker fixtures, Wolfi and
   Chainguard secdb, KEV, EPSS), arranged as the tests arrange them.
2. Stores N analyses of realistic package sets: Alpine 3.20 images (apk packages named and
   versioned from the secdb, 15-60 each), Debian 12 images (deb packages from the tracker
   data plus 150-300 common ones) and Python application images (Debian base + 20-80 PyPI
   packages pinned to versions that advisories name), in a 4:3:3 mix; each gets its
   baseline scan (a first re-match).
3. Adds a feed update (40 new PyPI advisories and 20 Alpine secfixes on popular packages)
   and rebuilds the database, then times ``rematch_all`` over every analysis: a new scan and
   a ``monitor.diff`` event for each changed image, nothing for the others.

Reports the time, analyses per second, the changed images and findings, and the peak
memory (RSS of the process from ``resource.getrusage``, and the Python heap peak of the
timed step from ``tracemalloc`` in a second, untimed pass when ``--trace-memory``).
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from baseguard.analysis.analyze import Analysis, ImageIdentity  # noqa: E402
from baseguard.analysis.distro import Distro  # noqa: E402
from baseguard.analysis.packages import Package, make_purl  # noqa: E402
from baseguard.monitor.rematch import rematch_all  # noqa: E402
from baseguard.store import open_store  # noqa: E402
from baseguard.vulndb.store import VulnDB  # noqa: E402
from baseguard.vulndb.update import update_db  # noqa: E402

T0 = datetime(2026, 3, 1, tzinfo=UTC)

PYPI = {
    "requests": ["2.19.0", "2.25.1", "2.28.0", "2.31.0"],
    "urllib3": ["1.24.1", "1.26.5", "1.26.17", "2.0.6"],
    "django": ["2.2.0", "3.2.10", "4.1.0", "4.2.7"],
    "flask": ["0.12.2", "1.0.0", "2.2.0", "3.0.0"],
    "jinja2": ["2.10", "2.11.2", "3.1.2"],
    "pyyaml": ["3.13", "5.3", "5.4.1", "6.0.1"],
    "cryptography": ["2.3", "3.3.1", "39.0.0", "41.0.4"],
    "pillow": ["6.2.0", "8.1.0", "9.0.0", "10.0.0"],
    "numpy": ["1.16.0", "1.21.0", "1.26.0"],
    "werkzeug": ["0.15.3", "2.2.2", "3.0.0"],
    "setuptools": ["50.0.0", "65.5.0", "68.0.0"],
    "certifi": ["2019.11.28", "2022.9.24", "2023.7.22"],
    "idna": ["2.8", "3.4", "3.6"],
    "lxml": ["4.6.2", "4.9.1", "5.1.0"],
    "sqlalchemy": ["1.2.0", "1.4.40", "2.0.20"],
    "aiohttp": ["3.7.4", "3.8.5", "3.9.0"],
    "paramiko": ["2.4.1", "2.10.1", "3.4.0"],
    "tornado": ["5.1", "6.3.2", "6.4"],
    "twisted": ["19.10.0", "22.4.0", "23.10.0"],
    "pyjwt": ["1.7.1", "2.4.0", "2.8.0"],
    "babel": ["2.8.0", "2.9.1", "2.12.1"],
    "gunicorn": ["19.9.0", "20.1.0", "21.2.0"],
    "markdown": ["3.1", "3.4", "3.5"],
    "pip": ["19.2", "21.1", "23.3"],
    "wheel": ["0.37.0", "0.38.0", "0.41.0"],
    "protobuf": ["3.15.0", "3.20.1", "4.24.0"],
    "grpcio": ["1.40.0", "1.53.0", "1.59.0"],
    "scipy": ["1.5.0", "1.10.0", "1.11.3"],
    "pandas": ["1.1.0", "1.5.3", "2.1.1"],
    "click": ["7.0", "8.1.3", "8.1.7"],
}
DEB_COMMON = [
    "adduser",
    "apt",
    "base-files",
    "base-passwd",
    "bash",
    "bsdutils",
    "coreutils",
    "dash",
    "debconf",
    "debian-archive-keyring",
    "debianutils",
    "diffutils",
    "dpkg",
    "e2fsprogs",
    "findutils",
    "gcc-12-base",
    "gpgv",
    "grep",
    "gzip",
    "hostname",
    "init-system-helpers",
    "libacl1",
    "libapt-pkg6.0",
    "libattr1",
    "libaudit1",
    "libblkid1",
    "libbz2-1.0",
    "libc-bin",
    "libc6",
    "libcap-ng0",
    "libcap2",
    "libcom-err2",
    "libcrypt1",
    "libdb5.3",
    "libdebconfclient0",
    "libext2fs2",
    "libffi8",
    "libgcc-s1",
    "libgcrypt20",
    "libgmp10",
    "libgnutls30",
    "libgpg-error0",
    "libhogweed6",
    "libidn2-0",
    "liblz4-1",
    "liblzma5",
    "libmd0",
    "libmount1",
    "libnettle8",
    "libp11-kit0",
    "libpam-modules",
    "libpam0g",
    "libpcre2-8-0",
    "libseccomp2",
    "libselinux1",
    "libsemanage2",
    "libsepol2",
    "libsmartcols1",
    "libss2",
    "libssl3",
    "libstdc++6",
    "libsystemd0",
    "libtasn1-6",
    "libtinfo6",
    "libudev1",
    "libunistring2",
    "libuuid1",
    "libxxhash0",
    "libzstd1",
    "login",
    "logsave",
    "mawk",
    "mount",
    "ncurses-base",
    "ncurses-bin",
    "passwd",
    "perl-base",
    "sed",
    "sysvinit-utils",
    "tar",
    "tzdata",
    "usr-is-merged",
    "util-linux",
    "zlib1g",
    "openssl",
    "curl",
    "libcurl4",
    "git",
    "python3.11",
    "libpython3.11",
    "libsqlite3-0",
    "libexpat1",
    "libxml2",
    "libgssapi-krb5-2",
    "libkrb5-3",
]


def real_mirror(root: Path) -> Path:
    sys.path.insert(0, str(ROOT))
    from tests.vulndb.feed_builders import real_mirror as arrange

    return arrange(root)


def alpine_pool(mirror: Path) -> list[tuple[str, list[str]]]:
    pool: list[tuple[str, list[str]]] = []
    for repo in ("main", "community"):
        path = mirror / "alpine" / "v3.20" / f"{repo}.json"
        if not path.exists():
            path = mirror / "alpine" / "v3.19" / f"{repo}.json"
        if not path.exists():
            continue
        for item in json.loads(path.read_text()).get("packages") or []:
            pkg = item.get("pkg") or {}
            versions = [v for v in (pkg.get("secfixes") or {}) if v != "0"]
            if pkg.get("name") and versions:
                pool.append((pkg["name"], versions))
    if not pool:
        pool = [("busybox", ["1.36.1-r0", "1.36.1-r29"]), ("openssl", ["3.3.0-r0", "3.3.2-r0"])]
    return pool


def debian_pool(mirror: Path) -> list[tuple[str, str]]:
    tracker = json.loads((mirror / "debian" / "tracker.json").read_text())
    out: list[tuple[str, str]] = []
    for source, cves in tracker.items():
        for info in cves.values():
            release = (info.get("releases") or {}).get("bookworm") or {}
            fixed = release.get("fixed_version")
            if fixed and fixed != "0":
                out.append((source, fixed))
                break
    return out


def _identity(n: int, reference: str) -> ImageIdentity:
    return ImageIdentity(
        reference=reference,
        source="registry",
        name=reference,
        manifest_digest=f"sha256:{n:064x}",
        index_digest=None,
        config_digest=f"sha256:{n + 10**9:064x}",
        layer_digests=[f"sha256:{n + 2 * 10**9:064x}"],
        platform="linux/amd64",
    )


def make_analysis(
    n: int,
    rng: random.Random,
    alpine: list[tuple[str, list[str]]],
    debian: list[tuple[str, str]],
) -> Analysis:
    kind = n % 10
    packages: list[Package] = []
    if kind < 4:  # Alpine 3.20
        distro = Distro(id="alpine", version_id="3.20.3", source="etc/os-release")
        for name, versions in rng.sample(alpine, min(len(alpine), rng.randint(15, 60))):
            version = rng.choice(versions)
            packages.append(
                Package(
                    name=name,
                    version=version,
                    type="apk",
                    purl=make_purl("apk", name, version, namespace="alpine"),
                    source_name=name,
                    locations=["/lib/apk/db/installed"],
                )
            )
        reference = f"registry.example/team{n % 50}/svc{n}:1.{n % 7}"
    else:
        distro = Distro(id="debian", version_id="12", codename="bookworm", source="etc/os-release")
        chosen = rng.sample(debian, min(len(debian), 20))
        for name, fixed in chosen:
            base = fixed.rsplit("+deb12u", 1)[0] if "+deb12u" in fixed else fixed
            version = base if rng.random() < 0.5 else fixed
            packages.append(_deb(name, version))
        for name in rng.sample(DEB_COMMON, rng.randint(60, len(DEB_COMMON))):
            packages.append(_deb(name, "1.0-1"))
        if kind >= 7:
            for name in rng.sample(list(PYPI), rng.randint(10, len(PYPI))):
                version = rng.choice(PYPI[name])
                packages.append(
                    Package(
                        name=name,
                        version=version,
                        type="pypi",
                        purl=make_purl("pypi", name, version),
                        locations=[f"/app/.venv/lib/python3.11/site-packages/{name}.dist-info"],
                    )
                )
        reference = f"registry.example/team{n % 50}/app{n}:2.{n % 5}"
    return Analysis(
        image=_identity(n, reference),
        distro=distro,
        facts=None,
        packages=packages,
        analyzed_at=T0,
    )


def _deb(name: str, version: str) -> Package:
    return Package(
        name=name,
        version=version,
        type="deb",
        purl=make_purl(
            "deb", name, version, namespace="debian", qualifiers={"distro": "debian-12"}
        ),
        source_name=name,
        source_version=version,
        locations=["/var/lib/dpkg/status"],
    )


def feed_update(mirror: Path, alpine: list[tuple[str, list[str]]], rng: random.Random) -> None:
    """New advisories: 40 PyPI records on the pool's packages, 20 Alpine secfixes."""
    folder = mirror / "osv" / "PyPI-update"
    folder.mkdir(parents=True, exist_ok=True)
    names = sorted(PYPI)
    for i in range(40):
        name = names[i % len(names)]
        fixed = sorted(PYPI[name])[-1 if i % 2 else 1]
        (folder / f"BG-2026-{i:04d}.json").write_text(
            json.dumps(
                {
                    "id": f"BG-2026-{i:04d}",
                    "modified": "2026-03-01T00:00:00Z",
                    "aliases": [f"CVE-2026-{50000 + i}"],
                    "summary": f"benchmark advisory {i} in {name}",
                    "affected": [
                        {
                            "package": {"ecosystem": "PyPI", "name": name},
                            "ranges": [
                                {
                                    "type": "ECOSYSTEM",
                                    "events": [{"introduced": "0"}, {"fixed": fixed}],
                                }
                            ],
                        }
                    ],
                    "database_specific": {"severity": "CRITICAL" if i % 4 == 0 else "HIGH"},
                }
            )
        )
    path = mirror / "alpine" / "v3.20" / "main.json"
    if path.exists():
        if path.is_symlink():
            data = json.loads(path.read_text())
            path.unlink()
        else:
            data = json.loads(path.read_text())
        for i, (name, versions) in enumerate(rng.sample(alpine, min(20, len(alpine)))):
            high = sorted(versions)[-1]
            data["packages"].append(
                {"pkg": {"name": name, "secfixes": {high + "9": [f"CVE-2026-{60000 + i}"]}}}
            )
        path.write_text(json.dumps(data))


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--analyses", type=int, default=10_000)
    parser.add_argument("--db", help="store URL (default: a SQLite file in a temp dir)")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--keep", action="store_true", help="keep the temp dir")
    parser.add_argument("--trace-memory", action="store_true")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bg-rematch-"))
    rng = random.Random(20260301)
    try:
        mirror = real_mirror(work / "mirror")
        vulndb = work / "vulndb.sqlite"
        t = time.monotonic()
        update_db(db_path=vulndb, from_dir=mirror, now=T0)
        build_s = time.monotonic() - t
        alpine, debian = alpine_pool(mirror), debian_pool(mirror)
        url = args.db or f"sqlite:///{work / 'store.sqlite'}"
        store = open_store(url)
        t = time.monotonic()
        packages = 0
        for n in range(1, args.analyses + 1):
            analysis = make_analysis(n, rng, alpine, debian)
            packages += len(analysis.packages)
            store.save_analysis(analysis, "benchmark")
            if n % 1000 == 0:
                print(f"  stored {n} analyses ({time.monotonic() - t:.0f}s)", flush=True)
        store_s = time.monotonic() - t
        with VulnDB.open(vulndb) as db:
            baseline = rematch_all(store, db, now=T0)
        print(
            f"baseline: {baseline.saved} first scans in {baseline.seconds:.1f}s",
            flush=True,
        )
        feed_update(mirror, alpine, rng)
        t = time.monotonic()
        update_db(db_path=vulndb, from_dir=mirror, now=T0 + timedelta(days=1))
        update_s = time.monotonic() - t
        rss_before = peak_rss_mib()
        with VulnDB.open(vulndb) as db:
            report = rematch_all(store, db, now=T0 + timedelta(days=1))
        rss_after = peak_rss_mib()
        heap_peak = None
        if args.trace_memory:
            with VulnDB.open(vulndb) as db:
                traced = rematch_all(
                    store, db, now=T0 + timedelta(days=1), measure_memory=True, record=False
                )
            heap_peak = (traced.peak_bytes or 0) / 2**20
        totals = report.totals()
        result: dict[str, Any] = {
            "analyses": report.analyses,
            "packages": packages,
            "store": store.display_url,
            "db_build_seconds": round(build_s, 1),
            "store_fill_seconds": round(store_s, 1),
            "baseline_seconds": round(baseline.seconds, 1),
            "db_update_seconds": round(update_s, 1),
            "rematch_seconds": round(report.seconds, 1),
            "analyses_per_second": round(report.analyses / report.seconds, 1),
            "changed_images": len(report.changed),
            "unchanged_images": report.unchanged,
            "failed": len(report.failed),
            "changes": totals,
            "peak_rss_mib": round(max(rss_before, rss_after), 1),
            "rss_grew_during_rematch_mib": round(rss_after - rss_before, 1),
            "heap_peak_mib": round(heap_peak, 1) if heap_peak is not None else None,
            "target_seconds": 300,
            "within_target": report.seconds < 300,
        }
        store.close()
        print(json.dumps(result, indent=2))
        if args.json:
            args.json.write_text(json.dumps(result, indent=2) + "\n")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

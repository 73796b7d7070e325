"""Import a synthetic OSV dump of >= 500,000 advisories with the real importer.

Generates (once, cached in benchmarks/.cache/vulndb-osv-<N>/) a realistic dump in the mirror
layout: ``osv/<Ecosystem>/all.zip`` for npm, PyPI, Go, Maven, crates.io, RubyGems, NuGet,
Packagist, Debian, Ubuntu and Alpine, with OSV-shaped ids (GHSA, MAL, PYSEC, GO, RUSTSEC,
DEBIAN-CVE, UBUNTU-CVE, ALPINE-CVE), CVE/GHSA aliases, ECOSYSTEM/SEMVER/GIT ranges,
``versions`` lists, CVSS v3/v4 vectors, references, ``database_specific`` and 1% of GHSA
records repeated in a second ecosystem (as OSV's per-ecosystem dumps do). Then runs

    python -m baseguard.cli.main -q db update --from <dump> --db <file>

as a separate process and prints its wall time, the database size and the process's peak
memory (targets: < 2 min, < 500 MB), and the time of one ``advisories_for`` call for 1,000
package names. Run:

    .venv/bin/python benchmarks/vulndb_import.py [--count 520000] [--lookups 5]

``build_benchmark_db()`` is importable for other benchmarks (the scan benchmark) that need
the same database.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import statistics
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
CACHE = HERE / ".cache"
DEFAULT_COUNT = 520_000
#: Bump when the generated records change, so that cached dumps are rebuilt.
GENERATOR_VERSION = 2

#: Share of advisories per ecosystem (roughly osv.dev's proportions, MAL records included).
SHARES = {
    "npm": 0.38,
    "PyPI": 0.06,
    "Go": 0.04,
    "Maven": 0.05,
    "crates.io": 0.02,
    "RubyGems": 0.02,
    "NuGet": 0.01,
    "Packagist": 0.03,
    "Debian": 0.15,
    "Ubuntu": 0.14,
    "Alpine": 0.10,
}
SYLLABLES = [
    "ab",
    "ac",
    "ad",
    "al",
    "am",
    "an",
    "ar",
    "as",
    "at",
    "ba",
    "be",
    "bi",
    "bo",
    "bu",
    "ca",
    "ce",
    "ci",
    "co",
    "cu",
    "da",
    "de",
    "di",
    "do",
    "du",
    "el",
    "en",
    "er",
    "es",
    "et",
    "fa",
    "fe",
    "fi",
    "fo",
    "fu",
    "ga",
    "ge",
    "gi",
    "go",
    "gu",
    "ha",
    "he",
    "hi",
    "ho",
    "hu",
    "ja",
    "jo",
    "ka",
    "ke",
    "ki",
    "ko",
    "la",
    "le",
    "li",
    "lo",
    "lu",
    "ma",
    "me",
    "mi",
    "mo",
    "mu",
    "na",
    "ne",
    "ni",
    "no",
    "nu",
    "pa",
    "pe",
    "pi",
    "po",
    "pu",
    "ra",
    "re",
    "ri",
    "ro",
    "ru",
    "sa",
    "se",
    "si",
    "so",
    "su",
    "ta",
    "te",
    "ti",
    "to",
    "tu",
    "va",
    "ve",
    "vi",
    "vo",
    "za",
    "ze",
    "zi",
    "zo",
]
WORDS = [
    "a",
    "an",
    "the",
    "in",
    "of",
    "to",
    "via",
    "when",
    "with",
    "before",
    "after",
    "allows",
    "attackers",
    "remote",
    "local",
    "crafted",
    "request",
    "header",
    "buffer",
    "overflow",
    "heap",
    "use-after-free",
    "denial",
    "service",
    "memory",
    "corruption",
    "injection",
    "cross-site",
    "scripting",
    "prototype",
    "pollution",
    "path",
    "traversal",
    "regular",
    "expression",
    "deserialization",
    "untrusted",
    "data",
    "authentication",
    "bypass",
    "privilege",
    "escalation",
    "certificate",
    "validation",
    "improper",
    "input",
    "leads",
    "could",
    "cause",
    "crash",
    "arbitrary",
    "code",
    "execution",
    "sensitive",
    "information",
    "disclosure",
    "integer",
    "parsing",
    "function",
    "module",
    "library",
    "version",
    "versions",
]
CVSS3 = {
    "AV": "NALP",
    "AC": "LH",
    "PR": "NLH",
    "UI": "NR",
    "S": "UC",
    "C": "NLH",
    "I": "NLH",
    "A": "NLH",
}
CVSS4 = {
    "AV": "NALP",
    "AC": "LH",
    "AT": "NP",
    "PR": "NLH",
    "UI": "NPA",
    "VC": "HLN",
    "VI": "HLN",
    "VA": "HLN",
    "SC": "HLN",
    "SI": "HLN",
    "SA": "HLN",
}
DEBIAN_RELEASES = ("10", "11", "12", "13")
UBUNTU_RELEASES = ("20.04:LTS", "22.04:LTS", "24.04:LTS", "24.10")
ALPINE_RELEASES = tuple(f"v3.{n}" for n in range(14, 23))


class Generator:
    """Deterministic, OSV-shaped records."""

    def __init__(self, seed: int = 20250601) -> None:
        self.rng = random.Random(seed)
        self.pools: dict[str, list[str]] = {}
        self.counter = 0
        self.v3_pool: list[str] = []
        self.v4_pool: list[str] = []

    def word(self, syllables: int) -> str:
        return "".join(self.rng.choice(SYLLABLES) for _ in range(syllables))

    def pool(self, ecosystem: str) -> list[str]:
        if ecosystem not in self.pools:
            size = {"npm": 60000, "PyPI": 9000, "Maven": 9000, "Go": 6000}.get(ecosystem, 4000)
            names: set[str] = set()
            while len(names) < size:
                names.add(self.package_name(ecosystem))
            self.pools[ecosystem] = sorted(names)
        return self.pools[ecosystem]

    def package_name(self, ecosystem: str) -> str:
        r = self.rng
        base = self.word(r.randint(2, 4))
        if ecosystem == "npm":
            return f"@{self.word(2)}/{base}" if r.random() < 0.3 else f"{base}-{self.word(2)}"
        if ecosystem == "Maven":
            return f"org.{self.word(2)}.{self.word(2)}:{base}-{self.word(2)}"
        if ecosystem == "Go":
            return f"github.com/{self.word(2)}/{base}"
        if ecosystem == "Packagist":
            return f"{self.word(2)}/{base}"
        if ecosystem in ("Debian", "Ubuntu", "Alpine"):
            return f"lib{base}" if r.random() < 0.4 else base
        if ecosystem == "PyPI":
            return f"{base}-{self.word(2)}" if r.random() < 0.4 else base.capitalize()
        return base

    def version(self, ecosystem: str) -> str:
        r = self.rng
        core = f"{r.randint(0, 12)}.{r.randint(0, 30)}.{r.randint(0, 40)}"
        if ecosystem == "Debian":
            return f"{core}-{r.randint(1, 9)}+deb{r.choice(DEBIAN_RELEASES)}u{r.randint(1, 5)}"
        if ecosystem == "Ubuntu":
            return f"{core}-{r.randint(1, 9)}ubuntu{r.randint(0, 5)}.{r.randint(1, 9)}"
        if ecosystem == "Alpine":
            return f"{core}-r{r.randint(0, 12)}"
        return core

    def text(self, low: int, high: int) -> str:
        words = [self.rng.choice(WORDS) for _ in range(self.rng.randint(low, high))]
        return " ".join(words).capitalize() + "."

    def cvss3(self) -> str:
        """One of about 1,200 distinct v3.1 vectors, the most common ones most often (GHSA
        and NVD use a few thousand distinct vectors between them, not every combination)."""
        if not self.v3_pool:
            while len(self.v3_pool) < 1200:
                metrics = "/".join(f"{k}:{self.rng.choice(v)}" for k, v in CVSS3.items())
                self.v3_pool.append(f"CVSS:3.1/{metrics}")
        return self.v3_pool[min(int(self.rng.expovariate(1 / 120)), 1199)]

    def cvss4(self) -> str:
        """One of about 400 distinct v4.0 vectors, skewed like :meth:`cvss3`."""
        if not self.v4_pool:
            while len(self.v4_pool) < 400:
                metrics = "/".join(f"{k}:{self.rng.choice(v)}" for k, v in CVSS4.items())
                self.v4_pool.append(f"CVSS:4.0/{metrics}")
        return self.v4_pool[min(int(self.rng.expovariate(1 / 40)), 399)]

    def ghsa(self) -> str:
        alphabet = "23456789cfghjmpqrvwx"
        return "GHSA-" + "-".join(
            "".join(self.rng.choice(alphabet) for _ in range(4)) for _ in range(3)
        )

    def cve(self) -> str:
        return f"CVE-{self.rng.randint(2014, 2025)}-{self.rng.randint(1000, 59999)}"

    def record(self, ecosystem: str) -> dict[str, Any]:
        r = self.rng
        self.counter += 1
        n = self.counter
        year = r.randint(2016, 2025)
        cve = self.cve()
        aliases: list[str] = []
        specific: dict[str, Any] = {}
        if ecosystem in ("npm", "Maven", "NuGet", "Packagist", "RubyGems") and r.random() < 0.25:
            vuln_id = f"MAL-{year}-{n}" if ecosystem == "npm" else self.ghsa()
        elif ecosystem in ("npm", "Maven", "NuGet", "Packagist", "RubyGems"):
            vuln_id = self.ghsa()
            aliases = [cve]
        elif ecosystem == "PyPI":
            vuln_id = f"PYSEC-{year}-{n}" if r.random() < 0.5 else self.ghsa()
            aliases = [cve, self.ghsa()] if vuln_id.startswith("PYSEC") else [cve]
        elif ecosystem == "Go":
            vuln_id = f"GO-{year}-{n}"
            aliases = [cve, self.ghsa()]
        elif ecosystem == "crates.io":
            vuln_id = f"RUSTSEC-{year}-{n}"
            aliases = [cve]
        elif ecosystem == "Debian":
            vuln_id = r.choice((f"DEBIAN-{cve}-{n}", f"DSA-{n}-1", f"DLA-{n}-1"))
            aliases = [] if vuln_id.startswith("DEBIAN") else [cve]
        elif ecosystem == "Ubuntu":
            vuln_id = f"UBUNTU-{cve}-{n}"
            aliases = [cve]
        else:
            vuln_id = f"ALPINE-{cve}-{n}"
            aliases = [cve]
        if vuln_id.startswith("GHSA"):
            specific = {
                "cwe_ids": [f"CWE-{r.randint(20, 1000)}" for _ in range(r.randint(0, 2))],
                "github_reviewed": r.random() < 0.8,
                "github_reviewed_at": f"{year}-0{r.randint(1, 9)}-1{r.randint(0, 9)}T00:00:00Z",
                "nvd_published_at": None,
                "severity": r.choice(("LOW", "MODERATE", "HIGH", "CRITICAL")),
            }
        affected = [self.affected(ecosystem) for _ in range(1 if r.random() < 0.85 else 2)]
        severity = []
        roll = r.random()
        if roll < 0.55:
            severity.append({"type": "CVSS_V3", "score": self.cvss3()})
        elif roll < 0.63:
            severity.append({"type": "CVSS_V4", "score": self.cvss4()})
        if ecosystem == "Ubuntu":
            severity.append({"type": "Ubuntu", "score": r.choice(("low", "medium", "high"))})
        references = [
            {"type": "ADVISORY", "url": f"https://nvd.nist.gov/vuln/detail/{cve}"},
            *(
                {
                    "type": "WEB",
                    "url": f"https://github.com/{self.word(2)}/{self.word(3)}/"
                    f"commit/{r.getrandbits(160):040x}",
                }
                for _ in range(r.randint(0, 5))
            ),
        ]
        record: dict[str, Any] = {
            "schema_version": "1.6.0",
            "id": vuln_id,
            "modified": f"{year + 1 if year < 2025 else year}-0{r.randint(1, 9)}-"
            f"1{r.randint(0, 9)}T1{r.randint(0, 9)}:00:00Z",
            "published": f"{year}-0{r.randint(1, 9)}-1{r.randint(0, 9)}T00:00:00Z",
            "aliases": aliases,
            "summary": self.text(4, 12),
            "details": self.text(40, 180),
            "affected": affected,
            "severity": severity,
            "references": references,
        }
        if specific:
            record["database_specific"] = specific
        if r.random() < 0.005:
            record["withdrawn"] = f"{year}-12-01T00:00:00Z"
        return record

    def affected(self, ecosystem: str) -> dict[str, Any]:
        r = self.rng
        name = r.choice(self.pool(ecosystem))
        if ecosystem == "Debian":
            eco = f"Debian:{r.choice(DEBIAN_RELEASES)}"
        elif ecosystem == "Ubuntu":
            eco = f"Ubuntu:{r.choice(UBUNTU_RELEASES)}"
        elif ecosystem == "Alpine":
            eco = f"Alpine:{r.choice(ALPINE_RELEASES)}"
        else:
            eco = ecosystem
        kind = "SEMVER" if ecosystem in ("npm", "Go", "crates.io") else "ECOSYSTEM"
        events: list[dict[str, str]] = [
            {"introduced": "0" if r.random() < 0.6 else self.version(ecosystem)}
        ]
        if r.random() < 0.9:
            events.append({"fixed": self.version(ecosystem)})
        elif r.random() < 0.5:
            events.append({"last_affected": self.version(ecosystem)})
        ranges: list[dict[str, Any]] = [{"type": kind, "events": events}]
        if r.random() < 0.2:
            ranges.append(
                {
                    "type": "GIT",
                    "repo": f"https://github.com/{self.word(2)}/{name.split('/')[-1]}",
                    "events": [{"introduced": "0"}, {"fixed": f"{r.getrandbits(160):040x}"}],
                }
            )
        entry: dict[str, Any] = {
            "package": {"ecosystem": eco, "name": name, "purl": f"pkg:generic/{name}"},
            "ranges": ranges,
        }
        if ecosystem in ("PyPI", "Debian", "Ubuntu", "Alpine") and r.random() < 0.7:
            entry["versions"] = sorted({self.version(ecosystem) for _ in range(r.randint(3, 40))})
        if ecosystem == "Go":
            entry["ecosystem_specific"] = {
                "imports": [{"path": name, "symbols": [self.word(3).capitalize()]}]
            }
        return entry


def generate_dump(root: Path, count: int) -> Path:
    """Write ``osv/<Ecosystem>/all.zip`` for ``count`` advisories under ``root`` (cached)."""
    marker = root / "complete.json"
    wanted = {"count": count, "generator": GENERATOR_VERSION}
    if marker.is_file() and json.loads(marker.read_text()) == wanted:
        return root
    gen = Generator()
    started = time.perf_counter()
    repeated: list[dict[str, Any]] = []
    for ecosystem, share in SHARES.items():
        path = root / "osv" / ecosystem / "all.zip"
        path.parent.mkdir(parents=True, exist_ok=True)
        n = round(count * share)
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as out:
            for _ in range(n):
                record = gen.record(ecosystem)
                out.writestr(f"{record['id']}.json", json.dumps(record, indent=1))
                if record["id"].startswith("GHSA") and gen.rng.random() < 0.01:
                    repeated.append(record)
            if ecosystem == "Maven":  # GHSA records that name npm and Maven packages
                for record in repeated[: len(repeated) // 2]:
                    both = dict(record)
                    both["affected"] = [*record["affected"], gen.affected("Maven")]
                    out.writestr(f"{record['id']}.json", json.dumps(both, indent=1))
        print(f"  {ecosystem}: {n} records, {path.stat().st_size / 1e6:.0f} MB", flush=True)
    marker.write_text(json.dumps(wanted))
    print(f"generated in {time.perf_counter() - started:.0f} s", flush=True)
    return root


def run_import(dump: Path, db: Path) -> tuple[float, float, int]:
    """Run the real ``db update --from`` in a child process.

    Returns (wall seconds, CPU seconds, peak RSS bytes) of that process.
    """
    db.unlink(missing_ok=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "baseguard.cli.main",
            "-q",
            "db",
            "update",
            "--from",
            str(dump),
            "--db",
            str(db),
        ],
        capture_output=True,
        text=True,
    )
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"import failed ({result.returncode}):\n{result.stderr}")
    if result.stderr.strip():
        print(result.stderr.strip())
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return elapsed, cpu, after.ru_maxrss * 1024


def build_benchmark_db(count: int = DEFAULT_COUNT) -> Path:
    """The benchmark database (built once and cached): for other benchmarks."""
    dump = generate_dump(CACHE / f"vulndb-osv-{count}", count)
    db = CACHE / f"vulndb-{count}.sqlite"
    if not db.is_file() or db.stat().st_mtime < (dump / "complete.json").stat().st_mtime:
        run_import(dump, db)
    return db


def time_lookups(db_path: Path, runs: int) -> None:
    from baseguard.vulndb.store import VulnDB

    with VulnDB.open(db_path) as db:
        names = [
            row[0]
            for row in db._conn.execute(
                "SELECT DISTINCT package FROM affected_index WHERE ecosystem = 'npm' LIMIT 900"
            )
        ]
        names += [f"absent-package-{n}" for n in range(1000 - len(names))]
        mixed = [
            (
                eco,
                [
                    r[0]
                    for r in db._conn.execute(
                        "SELECT DISTINCT package FROM affected_index WHERE ecosystem = ? LIMIT 125",
                        (eco,),
                    )
                ],
            )
            for eco in (
                "PyPI",
                "Maven",
                "Go",
                "Debian:12",
                "Ubuntu:22.04",
                "Alpine:v3.20",
                "crates.io",
                "Packagist",
            )
        ]
        for label, call in (
            ("1,000 npm names in one call", lambda: [db.advisories_for("npm", names)]),
            (
                "1,000 names over 8 ecosystems (8 calls)",
                lambda: [db.advisories_for(eco, group) for eco, group in mixed],
            ),
        ):
            times = []
            found = 0
            for _ in range(runs):
                started = time.perf_counter()
                results = call()
                times.append(time.perf_counter() - started)
                found = sum(len(v) for result in results for v in result.values())
            print(
                f"lookup {label}: median {statistics.median(times) * 1000:.0f} ms "
                f"(min {min(times) * 1000:.0f} ms, {found} advisory/package pairs)"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=DEFAULT_COUNT)
    parser.add_argument("--lookups", type=int, default=5, help="runs of the lookup timing")
    args = parser.parse_args()
    dump = generate_dump(CACHE / f"vulndb-osv-{args.count}", args.count)
    zips = sorted(dump.glob("osv/*/all.zip"))
    print(
        f"dump: {len(zips)} ecosystems, {sum(z.stat().st_size for z in zips) / 1e6:.0f} MB zipped"
    )
    db = CACHE / f"vulndb-{args.count}.sqlite"
    seconds, cpu, peak = run_import(dump, db)
    from baseguard.vulndb.store import VulnDB

    with VulnDB.open(db) as opened:
        status = opened.status()
    print(
        f"import: {seconds:.1f} s wall, {cpu:.1f} s CPU for {status.advisories} advisories "
        "(target < 120 s)"
    )
    print(f"database size: {db.stat().st_size / 1e6:.0f} MB")
    print(f"peak memory of the import process: {peak / 1e6:.0f} MB (target < 500 MB)")
    time_lookups(db, args.lookups)


if __name__ == "__main__":
    main()

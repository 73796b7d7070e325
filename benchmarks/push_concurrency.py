"""100 concurrent uploads into the store, and a check that nothing was lost.

    .venv/bin/python benchmarks/push_concurrency.py [--uploads 100] [--processes 10]
        [--findings 200] [--backend sqlite|postgresql|both] [--json out.json]

It measures the store side of a push (what ``POST /api/analyses`` does once the upload is
parsed, see src/baseguard/server/uploads.py): ``Store.save_analysis`` then
``Store.save_scan`` of the same digest, from ``--uploads`` concurrent writers
(``--processes`` service processes, each one ``Store`` and its connection pool shared by
``uploads / processes`` request threads, all started together behind a barrier). Then it
checks: one analysis and one scan per upload, every finding row present, the audit chain
intact with exactly two events per upload. Each process's pool holds up to 15 connections
(SQLAlchemy's 5 + 10 overflow): 3 processes stay under the test server's
``max_connections=60``. PostgreSQL is the test server of
tests/store/pgserver.py (initdb in a temp dir) when ``--backend`` asks for it.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import statistics
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _upload(store: Any, n: int, findings: int, barrier: Any, out: Any) -> None:
    from tests.store.builders import make_analysis, make_scan

    analysis = make_analysis(f"sha256:{n:064x}", packages=100, reference=f"app{n}:1")
    scan = make_scan(findings, 5, reference=f"app{n}:1")
    barrier.wait()
    started = time.monotonic()
    try:
        store.save_analysis(analysis, f"ci-{n}")
        store.save_scan(f"sha256:{n:064x}", scan, f"ci-{n}")
    except Exception as exc:
        out.put((n, None, f"{type(exc).__name__}: {exc}"))
        return
    out.put((n, time.monotonic() - started, None))


def _process(url: str, ids: list[int], findings: int, barrier: Any, out: Any) -> None:
    """One service process: one Store (one connection pool) shared by its request threads."""
    from baseguard.store import open_store

    with open_store(url) as store:
        threads = [
            threading.Thread(target=_upload, args=(store, n, findings, barrier, out)) for n in ids
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()


def run(url: str, uploads: int, processes: int, findings: int) -> dict[str, Any]:
    from baseguard.store import open_store

    open_store(url).close()  # schema first: the writers measure uploads, not migrations
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(uploads)
    out = ctx.Queue()
    groups = [list(range(1 + i, uploads + 1, processes)) for i in range(processes)]
    started = time.monotonic()
    procs = [ctx.Process(target=_process, args=(url, g, findings, barrier, out)) for g in groups]
    for p in procs:
        p.start()
    answers = [out.get(timeout=600) for _ in range(uploads)]
    for p in procs:
        p.join()
    wall = time.monotonic() - started
    latencies = [a[1] for a in answers if a[1] is not None]
    errors = [a[2] for a in answers if a[2] is not None]
    failed = [p.exitcode for p in procs if p.exitcode != 0] + errors
    with open_store(url) as store:
        counts = store.counts()
        report = store.verify_audit()
        missing = [
            n
            for n in range(1, uploads + 1)
            if (scan := store.latest_scan(f"sha256:{n:064x}")) is None
            or len(scan["findings"]) != findings
            or store.load_analysis(f"sha256:{n:064x}") is None
        ]
    lost = bool(failed or missing or not report.ok)
    lost = lost or counts["analyses"] != uploads or counts["scans"] != uploads
    lost = lost or counts["findings"] != uploads * (findings + 5)
    lost = lost or counts["audit_log"] != 2 * uploads
    latencies.sort()
    return {
        "store": url.split("@")[-1],
        "uploads": uploads,
        "writers": f"{processes} processes x {uploads // processes} threads",
        "findings_per_scan": findings,
        "wall_seconds": round(wall, 2),
        "uploads_per_second": round(uploads / wall, 1),
        "latency_p50_s": round(statistics.median(latencies), 3),
        "latency_p95_s": round(latencies[int(0.95 * (len(latencies) - 1))], 3),
        "latency_max_s": round(latencies[-1], 3),
        "rows": counts,
        "audit_chain_ok": report.ok,
        "failed_writers": len(failed),
        "errors": errors[:5],
        "missing_uploads": missing,
        "nothing_lost": not lost,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--uploads", type=int, default=100)
    parser.add_argument("--processes", type=int, default=3)
    parser.add_argument("--findings", type=int, default=200)
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    results = []
    with ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bg-push-")))
        if args.backend in ("sqlite", "both"):
            url = f"sqlite:///{work / 'store.sqlite'}"
            results.append(run(url, args.uploads, args.processes, args.findings))
        if args.backend in ("postgresql", "both"):
            from tests.store.pgserver import Unavailable, postgres_server

            try:
                server = stack.enter_context(postgres_server())
            except Unavailable as exc:
                print(f"PostgreSQL skipped: {exc}", file=sys.stderr)
            else:
                url = server.create_database()
                results.append(run(url, args.uploads, args.processes, args.findings))
    print(json.dumps(results, indent=2))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    if not all(r["nothing_lost"] for r in results):
        sys.exit(1)


if __name__ == "__main__":
    main()

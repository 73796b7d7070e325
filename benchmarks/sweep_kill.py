"""A worker SIGKILLed in the middle of a sweep loses no job (and no job runs twice).

    .venv/bin/python benchmarks/sweep_kill.py [--digests 300] [--json out.json]

Starts ``redis-server`` on a free port (Debian's package), stores ``--digests`` analyses
and a vulnerability database, queues one scan per digest (the sweep), and starts two worker
processes (``python -m tests.monitor.qworker``, 2 threads each, 1 s heartbeat timeout).
When a third of the scans are saved, worker A is killed with SIGKILL and a replacement is
started. Reports the time, the jobs A was in the middle of (leased, not done), and checks
that every digest has exactly one scan, nothing is left unacknowledged or dead-lettered,
and the audit chain verifies.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import asdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.monitor.builders import (  # noqa: E402
    T0,
    build_db,
    osv_record,
    pypi_analysis,
    write_mirror,
)
from tests.store.builders import digest_of  # noqa: E402

from baseguard.monitor import tasks  # noqa: E402
from baseguard.monitor.tasks import QueueSettings, TaskQueue  # noqa: E402
from baseguard.store import open_store  # noqa: E402


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_worker(settings: QueueSettings, work: Path, name: str) -> subprocess.Popen[str]:
    config = {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(settings).items()}
    config["block_at"] = None
    config["threads"] = 2
    path = work / f"{name}.json"
    path.write_text(json.dumps(config))
    return subprocess.Popen(
        [sys.executable, "-m", "tests.monitor.qworker", str(path)],
        stdout=(work / f"{name}.out").open("w"),
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def scans(url: str) -> int:
    with open_store(url, migrate=False) as store:
        return store.counts()["scans"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--digests", type=int, default=300)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    binary = shutil.which("redis-server")
    if binary is None:
        sys.exit("needs redis-server (apt-get install redis-server)")
    work = Path(tempfile.mkdtemp(prefix="bg-sweep-"))
    port = free_port()
    redis_proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(work), "--save", ""],
        stdout=subprocess.DEVNULL,
    )
    workers: list[subprocess.Popen[str]] = []
    try:
        url = f"sqlite:///{work / 'store.sqlite'}"
        packages = [("requests", "2.25.0"), ("urllib3", "1.26.0"), ("flask", "1.0")]
        with open_store(url) as store:
            for n in range(1, args.digests + 1):
                store.save_analysis(pypi_analysis(digest_of(n), packages[: 1 + n % 3]), "ci")
        mirror = write_mirror(
            work / "m",
            [
                osv_record("GHSA-1", "requests", fixed="2.31.0"),
                osv_record("GHSA-2", "urllib3", fixed="1.26.18", severity="HIGH"),
            ],
        )
        settings = QueueSettings(
            broker_url=f"redis://127.0.0.1:{port}/0",
            store_url=url,
            vulndb_path=build_db(mirror, work / "v.sqlite", T0),
            namespace=f"bench{uuid.uuid4().hex[:8]}",
            heartbeat_timeout_ms=1000,
            maintenance_chance=tasks.MAINTENANCE_SCALE,
            lease_seconds=2.0,
            min_backoff_ms=100,
            max_backoff_ms=2000,
            max_retries=20,
        )
        for _ in range(100):
            try:
                queue = TaskQueue(settings)
                queue.redis.ping()
                break
            except Exception:
                time.sleep(0.05)
        started = time.monotonic()
        for n in range(1, args.digests + 1):
            queue.enqueue_scan(None, digest_of(n))
        workers = [start_worker(settings, work, "a"), start_worker(settings, work, "b")]
        while scans(url) < args.digests // 3:
            time.sleep(0.05)
        unfinished_at_kill = queue.unfinished()
        workers[0].send_signal(signal.SIGKILL)
        workers[0].wait()
        killed_at = time.monotonic()
        lines = (work / "a.out").read_text().split()
        stages: dict[str, list[str]] = {}
        for stage, digest in zip(lines[1::2], lines[2::2], strict=False):
            stages.setdefault(digest, []).append(stage)
        interrupted = sorted(d for d, s in stages.items() if "leased" in s and "done" not in s)
        workers.append(start_worker(settings, work, "c"))
        deadline = time.monotonic() + 600
        while queue.unfinished() and time.monotonic() < deadline:
            time.sleep(0.1)
        finished = time.monotonic()
        with open_store(url, migrate=False) as store:
            per_digest = [len(store.list_scans(digest_of(n))) for n in range(1, args.digests + 1)]
            audit_ok = store.verify_audit().ok
        result: dict[str, Any] = {
            "digests": args.digests,
            "workers": "2 processes x 2 threads, then 1 SIGKILLed and 1 started",
            "killed_after_scans": args.digests // 3,
            "messages_unacknowledged_at_kill": unfinished_at_kill,
            "jobs_interrupted_mid_run": len(interrupted),
            "seconds_total": round(finished - started, 2),
            "seconds_from_kill_to_done": round(finished - killed_at, 2),
            "digests_with_one_scan": sum(1 for c in per_digest if c == 1),
            "digests_without_scan": sum(1 for c in per_digest if c == 0),
            "digests_scanned_twice": sum(1 for c in per_digest if c > 1),
            "unfinished_messages": queue.unfinished(),
            "dead_lettered": queue.dead_lettered(),
            "audit_chain_ok": audit_ok,
        }
        result["no_job_lost"] = (
            result["digests_with_one_scan"] == args.digests
            and result["unfinished_messages"] == 0
            and result["dead_lettered"] == 0
            and audit_ok
        )
        queue.close()
        print(json.dumps(result, indent=2))
        if args.json:
            args.json.write_text(json.dumps(result, indent=2) + "\n")
        if not result["no_job_lost"]:
            sys.exit(1)
    finally:
        for proc in workers:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    proc.kill()
        redis_proc.terminate()
        redis_proc.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

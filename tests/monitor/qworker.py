"""A queue worker process for the crash tests: ``python -m tests.monitor.qworker CONFIG``.

CONFIG is a JSON file with the queue settings and ``block_at`` (a job stage at which the
worker prints the stage and then blocks forever, to be killed there) or null. Every stage
is printed as ``<stage> <digest>`` on stdout, flushed, so the test can follow the job
without sleeping.
"""

from __future__ import annotations

import json
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from baseguard.monitor import tasks


def main(config_path: str) -> None:
    config = json.loads(Path(config_path).read_text())
    block_at = config.pop("block_at", None)
    threads = int(config.pop("threads", 1))
    settings = tasks.QueueSettings(**config)
    if settings.vulndb_path is not None:
        settings.vulndb_path = Path(settings.vulndb_path)

    def hook(stage: str, digest: str) -> None:
        print(f"{stage} {digest}", flush=True)
        if stage == block_at:
            threading.Event().wait()

    tasks.HOOK = hook
    queue = tasks.TaskQueue(settings)
    stop = threading.Event()

    def handler(signum: int, frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    print("ready", flush=True)
    try:
        queue.run_worker(threads=threads, stop=stop, timeout_ms=100)
    finally:
        queue.close()


if __name__ == "__main__":
    main(sys.argv[1])

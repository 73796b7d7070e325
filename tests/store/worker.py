"""A second process for the store tests (run as ``python -m tests.store.worker``).

Modes:
  events URL N NAME        record N audit events
  scans URL N FINDINGS     save N scans of FINDINGS findings each
  crash URL FINDINGS STAGE start one save_scan and stop dead inside it at STAGE

Each worker opens the store, prints ``ready``, waits for a line on stdin (so that the test
can start several at the same moment), does its work and prints ``done``. ``crash`` prints
``inside`` from within the open transaction and then blocks until it is killed.
"""

from __future__ import annotations

import sys

from baseguard.store import open_store
from tests.store.builders import digest_of, make_scan


def main(argv: list[str]) -> int:
    mode, url = argv[0], argv[1]
    store = open_store(url)
    print("ready", flush=True)
    sys.stdin.readline()
    if mode == "events":
        count, name = int(argv[2]), argv[3]
        for i in range(count):
            store.record_event("test.event", f"{name}-{i}", {"worker": name, "i": i}, name)
    elif mode == "scans":
        count, findings = int(argv[2]), int(argv[3])
        scan = make_scan(findings)
        for i in range(count):
            store.save_scan(digest_of(i % 5), scan, f"worker-{i}")
    elif mode == "crash":
        findings, stage = int(argv[2]), argv[3]

        def hook(at: str) -> None:
            if at == stage:
                print("inside", flush=True)
                sys.stdin.readline()  # blocks until the test kills us
                raise SystemExit("not killed")

        store.fault_hook = hook
        store.save_scan(digest_of(99), make_scan(findings), "crasher")
    else:
        print(f"unknown mode {mode}", file=sys.stderr)
        return 2
    store.close()
    print("done", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Latency and throughput of `baseguard serve` POST /validate under a loopback load.

What runs: a generated catalog of 200 entries (approved, deprecated, retired, dev variants,
pinned digests, exceptions), `baseguard serve` as its own process (uvicorn; the audit log on a
SQLite store, as shipped), and two load generators on 127.0.0.1:

1. **open loop at a fixed rate** (default 500 requests/s for 20 s, after a 3 s warm-up): an
   asyncio client over persistent HTTP/1.1 connections sends request *i* at t0 + i/rate
   whether or not earlier answers came back, and measures each latency from the time the
   request was *due* (so a stalled server is not hidden by a stalled client: no coordinated
   omission). Reported: p50, p90, p99, p99.9, max, the achieved rate and errors.
2. **closed loop, as fast as it goes** (Debian's `wrk` with a Lua script POSTing the same
   AdmissionReviews, when `wrk` is installed): the throughput ceiling and wrk's latency
   distribution at that load.

Each request is one of ``--reviews`` Deployments (default 100; an init container and two
containers each, pinned by digest) whose images walk through the whole catalog: approved,
deprecated (allowed, warned), retired (denied, the replacement named), not in the catalog, or
covered by an exception. The webhook memoises judgements per loaded catalog; the warm-up pass
fills the memo as a cluster's steady state would (its hit counts are printed). The server's CPU
time (from /proc) and the machine's load average are printed, since other work on a shared
machine moves the tail.

    .venv/bin/python benchmarks/webhook_load.py [--rate 500] [--duration 20] [--entries 200]
        [--connections 16] [--tls] [--no-wrk] [--json out.json]

Target (issue 8): p99 < 10 ms at 500 requests/s with 200 catalog entries.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import shutil
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import yaml

READY_DEADLINE = 30.0


# --------------------------------------------------------------------------- inputs


def digest(seed: str) -> str:
    return "sha256:" + hashlib.sha256(seed.encode()).hexdigest()


def make_catalog(entries: int) -> dict[str, Any]:
    """``entries`` entries over 20 teams: mostly approved, every 10th deprecated (replaced by
    the next), every 25th retired, every 4th with a dev variant; 20 exceptions."""
    owner = {"team": "platform", "contact": "platform@example.com"}
    out = []
    for i in range(entries):
        state = "retired" if i % 25 == 7 else "deprecated" if i % 10 == 3 else "approved"
        entry: dict[str, Any] = {
            "id": f"svc-{i}",
            "provider": "internal",
            "repository": f"registry.example.com/team-{i % 20}/svc-{i}",
            "tags": [f"1.{i}", f"1.{i}.*"],
            "digests": [digest(f"svc-{i}")],
            "owner": owner,
            "patch_sla": {"critical": "24h", "high": "7d"},
            "lifecycle": {"state": state},
            "eol": "2030-01-01",
        }
        if i % 4 == 0:
            entry["variants"] = [{"name": "dev", "tags": [f"1.{i}-dev"], "dev": True}]
        if state != "approved" and i + 1 < entries:
            entry["replaced_by"] = f"svc-{i + 1}"
        out.append(entry)
    exceptions = [
        {
            "id": f"waiver-{k}",
            "pattern": f"registry.example.com/vendor-{k}/*",
            "justification": "vendor appliance",
            "approver": "ciso",
            "created": "2026-01-01",
            "expires": "2027-12-31",
        }
        for k in range(20)
    ]
    return {"version": 1, "entries": out, "exceptions": exceptions}


def image(i: int) -> str:
    return f"registry.example.com/team-{i % 20}/svc-{i}@{digest(f'svc-{i}')}"


def deployment_review(name: str, images: list[str]) -> bytes:
    """A Deployment CREATE as the API server sends it (init container + two containers)."""
    containers = [
        {
            "name": f"c{k}",
            "image": img,
            "resources": {},
            "terminationMessagePath": "/dev/termination-log",
            "terminationMessagePolicy": "File",
            "imagePullPolicy": "IfNotPresent",
        }
        for k, img in enumerate(images)
    ]
    gvk = {"group": "apps", "version": "v1", "kind": "Deployment"}
    gvr = {"group": "apps", "version": "v1", "resource": "deployments"}
    doc = {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": str(uuid.uuid4()),
            "kind": gvk,
            "resource": gvr,
            "requestKind": gvk,
            "requestResource": gvr,
            "name": name,
            "namespace": "shop",
            "operation": "CREATE",
            "userInfo": {"username": "system:serviceaccount:argocd:argocd-application-controller"},
            "object": {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": name, "namespace": "shop", "labels": {"app": name}},
                "spec": {
                    "replicas": 3,
                    "selector": {"matchLabels": {"app": name}},
                    "template": {
                        "metadata": {"labels": {"app": name}},
                        "spec": {
                            "initContainers": containers[:1],
                            "containers": containers[1:],
                            "restartPolicy": "Always",
                            "dnsPolicy": "ClusterFirst",
                        },
                    },
                },
            },
            "oldObject": None,
            "dryRun": False,
            "options": {"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions"},
        },
    }
    return json.dumps(doc).encode()


def bodies(entries: int, count: int) -> list[bytes]:
    """``count`` Deployments whose images walk through the whole catalog (three per review),
    every 7th with an image no entry allows and every 11th with an excepted vendor image."""
    out = []
    for k in range(count):
        images = [image((3 * k + j) % entries) for j in range(3)]
        if k % 7 == 6:
            images[2] = f"docker.io/library/nginx:1.27@{digest(f'nginx-{k}')}"
        if k % 11 == 10:
            images[1] = f"registry.example.com/vendor-{k % 20}/appliance@{digest(f'v-{k}')}"
        out.append(deployment_review(f"app-{k}", images))
    return out


# --------------------------------------------------------------------------- the server


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_server(work: Path, port: int, tls: bool) -> tuple[subprocess.Popen[bytes], str, Any]:
    cmd = [
        sys.executable,
        "-m",
        "baseguard.cli.main",
        "-q",
        "serve",
        "--catalog",
        str(work / "catalog.yaml"),
        "--port",
        str(port),
        "--db",
        f"sqlite:///{work / 'store.sqlite'}",
        "--log-level",
        "warning",
    ]
    client_ssl: Any = None
    if tls:
        import trustme

        ca = trustme.CA()
        cert = ca.issue_cert("127.0.0.1")
        cert.cert_chain_pems[0].write_to_path(str(work / "tls.crt"))
        cert.private_key_pem.write_to_path(str(work / "tls.key"))
        ca.cert_pem.write_to_path(str(work / "ca.pem"))
        cmd += ["--tls-cert", str(work / "tls.crt"), "--tls-key", str(work / "tls.key")]
        client_ssl = ssl.create_default_context(cafile=str(work / "ca.pem"))
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    scheme = "https" if tls else "http"
    url = f"{scheme}://127.0.0.1:{port}"
    import httpx

    deadline = time.monotonic() + READY_DEADLINE
    while True:
        if proc.poll() is not None:
            raise SystemExit(f"baseguard serve exited: {proc.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
        try:
            if httpx.get(f"{url}/readyz", verify=client_ssl or True, timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            proc.kill()
            raise SystemExit("baseguard serve did not become ready")
        time.sleep(0.05)
    return proc, url, client_ssl


def rewrite_catalog(work: Path, entries: int, every: float, stop: threading.Event) -> None:
    """Replace the catalog file every ``every`` seconds (as a ConfigMap update would)."""
    n = 0
    while not stop.wait(every):
        n += 1
        data = make_catalog(entries)
        data["entries"][0]["notes"] = f"revision {n}"
        tmp = work / "catalog.yaml.new"
        tmp.write_text(yaml.safe_dump(data, sort_keys=False))
        os.replace(tmp, work / "catalog.yaml")


# --------------------------------------------------------------------------- open loop


def request_bytes(body: bytes) -> bytes:
    head = (
        "POST /validate HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value)
    return status, await reader.readexactly(length)


async def open_loop(
    host: str,
    port: int,
    client_ssl: Any,
    payloads: list[bytes],
    rate: float,
    duration: float,
    connections: int,
) -> dict[str, Any]:
    """Send ``rate * duration`` requests on schedule; latency from each request's due time."""
    total = int(rate * duration)
    due_latency: list[float] = []
    service: list[float] = []
    errors: list[str] = []
    counter = iter(range(total))
    loop = asyncio.get_running_loop()
    start = loop.time() + 0.2

    async def worker() -> None:
        reader, writer = await asyncio.open_connection(host, port, ssl=client_ssl)
        try:
            for i in counter:
                due = start + i / rate
                wait = due - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                sent = loop.time()
                writer.write(payloads[i % len(payloads)])
                status, body = await read_response(reader)
                done = loop.time()
                if status != 200 or b'"allowed"' not in body:
                    errors.append(f"{status}: {body[:200]!r}")
                due_latency.append(done - due)
                service.append(done - sent)
        finally:
            writer.close()

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(connections)))
    elapsed = time.perf_counter() - t0 - 0.2
    return {
        "requests": len(due_latency),
        "errors": len(errors),
        "firstError": errors[0] if errors else None,
        "seconds": round(elapsed, 2),
        "achievedRate": round(len(due_latency) / elapsed, 1),
        "latencyMs": percentiles(due_latency),
        "serviceMs": percentiles(service),
    }


def percentiles(samples: list[float]) -> dict[str, float]:
    if not samples:
        return {}
    ordered = sorted(samples)

    def at(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 2)

    return {
        "p50": at(0.50),
        "p90": at(0.90),
        "p99": at(0.99),
        "p99.9": at(0.999),
        "max": round(ordered[-1] * 1000, 2),
        "mean": round(statistics.fmean(ordered) * 1000, 2),
    }


# --------------------------------------------------------------------------- wrk


WRK_LUA = """\
-- POST the AdmissionReviews in turn (one file each), keep-alive.
local bodies = {}
local n = 0
for _, path in ipairs({%s}) do
  local f = assert(io.open(path, "rb")); bodies[#bodies + 1] = f:read("*a"); f:close()
end
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
request = function()
  n = n %% #bodies + 1
  return wrk.format(nil, "/validate", nil, bodies[n])
end
"""


def run_wrk(url: str, work: Path, payloads: list[bytes], seconds: int, connections: int) -> Any:
    wrk = shutil.which("wrk")
    if wrk is None:
        return {"skipped": "wrk is not installed (apt-get install wrk)"}
    paths = []
    for k, body in enumerate(payloads):
        path = work / f"review-{k}.json"
        path.write_bytes(body.split(b"\r\n\r\n", 1)[1])
        paths.append(f'"{path}"')
    script = work / "post.lua"
    script.write_text(WRK_LUA % ", ".join(paths))
    cmd = [wrk, "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script), url]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60).stdout
    result: dict[str, Any] = {"command": " ".join([*cmd[:-2], "post.lua", url])}
    lines = out.splitlines()
    for i, line in enumerate(lines):
        words = line.split()
        if line.strip().startswith("Requests/sec:"):
            result["requestsPerSecond"] = float(words[1])
        if line.strip() == "Latency Distribution":
            for row in lines[i + 1 : i + 5]:
                q, value = row.split()
                result[f"p{q.rstrip('%')}"] = value
        if "Non-2xx or 3xx responses" in line:
            result["non2xx"] = int(words[-1])
        if "Socket errors" in line:
            result["socketErrors"] = line.split(":", 1)[1].strip()
    return result


# --------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=500.0)
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--entries", type=int, default=200)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--reviews", type=int, default=100, help="distinct Deployments sent")
    parser.add_argument("--wrk-seconds", type=int, default=10)
    parser.add_argument("--tls", action="store_true", help="HTTPS with a trustme CA")
    parser.add_argument("--no-wrk", action="store_true")
    parser.add_argument(
        "--reload-every",
        type=float,
        default=0.0,
        help="rewrite the catalog (atomically, one note changed) every N seconds of the "
        "fixed-rate run, to measure reloads under load",
    )
    parser.add_argument("--json", type=Path, help="write the figures here too")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="baseguard-webhook-"))
    (work / "catalog.yaml").write_text(yaml.safe_dump(make_catalog(args.entries), sort_keys=False))
    port = free_port()
    proc, url, client_ssl = start_server(work, port, args.tls)
    payloads = [request_bytes(b) for b in bodies(args.entries, args.reviews)]
    report: dict[str, Any] = {
        "entries": args.entries,
        "tls": args.tls,
        "cpus": os.cpu_count(),
        "loadBefore": [round(x, 2) for x in os.getloadavg()],
    }
    try:
        asyncio.run(open_loop("127.0.0.1", port, client_ssl, payloads, args.rate, args.warmup, 4))
        cpu0 = cpu_seconds(proc.pid)
        stop_reloads = threading.Event()
        reloader = None
        if args.reload_every > 0:
            reloader = threading.Thread(
                target=rewrite_catalog,
                args=(work, args.entries, args.reload_every, stop_reloads),
                daemon=True,
            )
            reloader.start()
        fixed = asyncio.run(
            open_loop(
                "127.0.0.1",
                port,
                client_ssl,
                payloads,
                args.rate,
                args.duration,
                args.connections,
            )
        )
        stop_reloads.set()
        if reloader is not None:
            reloader.join()
        fixed["serverCpuPercent"] = round(
            100 * (cpu_seconds(proc.pid) - cpu0) / max(fixed["seconds"], 1e-9), 1
        )
        report["openLoop"] = {
            "targetRate": args.rate,
            "reloadEvery": args.reload_every or None,
            **fixed,
        }
        if not args.no_wrk:
            cpu0 = cpu_seconds(proc.pid)
            wrk = run_wrk(url, work, payloads, args.wrk_seconds, args.connections)
            if "requestsPerSecond" in wrk:
                wrk["serverCpuPercent"] = round(
                    100 * (cpu_seconds(proc.pid) - cpu0) / args.wrk_seconds, 1
                )
            report["wrk"] = wrk
        import httpx

        ready = httpx.get(f"{url}/readyz", verify=client_ssl or True, timeout=5).json()
        report["audit"] = ready["audit"]
        report["judgements"] = ready["catalog"].get("judgements")
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        report["loadAfter"] = [round(x, 2) for x in os.getloadavg()]
        shutil.rmtree(work, ignore_errors=True)

    o = report["openLoop"]
    lat = o["latencyMs"]
    print(
        f"open loop: {o['requests']} requests at {o['achievedRate']}/s "
        f"(target {args.rate:.0f}/s, {args.connections} connections, "
        f"{'HTTPS' if args.tls else 'HTTP'}, {args.entries} catalog entries), "
        f"{o['errors']} errors"
    )
    print(
        f"  latency from due time: p50 {lat['p50']} ms, p90 {lat['p90']} ms, "
        f"p99 {lat['p99']} ms, p99.9 {lat['p99.9']} ms, max {lat['max']} ms "
        f"-> target p99 < 10 ms: {'MET' if lat['p99'] < 10 else 'MISSED'}"
    )
    reloads = f", catalog rewritten every {args.reload_every:g} s" if args.reload_every else ""
    print(f"  server CPU {o['serverCpuPercent']}% of one core{reloads}")
    wrk = report.get("wrk")
    if wrk and "requestsPerSecond" in wrk:
        print(
            f"wrk (closed loop, {args.connections} connections, {args.wrk_seconds} s): "
            f"{wrk['requestsPerSecond']:.0f} requests/s, p50 {wrk.get('p50')}, "
            f"p99 {wrk.get('p99')}, server CPU {wrk.get('serverCpuPercent')}%"
        )
    elif wrk:
        print(f"wrk: {wrk.get('skipped')}")
    audit = report["audit"]
    print(
        f"audit: {audit['decisionsWritten']} decisions in {audit['eventsWritten']} events, "
        f"{audit['dropped']} dropped, {audit['errors']} errors"
    )
    memo = report.get("judgements") or {}
    print(f"judgements: {memo.get('memoised')} computed, {memo.get('served')} served from the memo")
    print(
        f"machine: {report['cpus']} CPUs, load average before {report['loadBefore']}, "
        f"after {report['loadAfter']}"
    )
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()

"""`baseguard serve` as a process: HTTPS with a private CA, a decision, a clean stop, the audit."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import trustme

from tests.cli_runner import run_baseguard
from tests.gate.helpers import OTHER_DIGEST, pod_review, write_catalog
from tests.server.conftest import DEADLINE, ssl_context


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_serve_over_tls_decides_and_writes_the_audit_log(tmp_path: Path) -> None:
    catalog = write_catalog(tmp_path / "catalog.yaml")
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    cert.cert_chain_pems[0].write_to_path(str(tmp_path / "tls.crt"))
    cert.private_key_pem.write_to_path(str(tmp_path / "tls.key"))
    db = tmp_path / "store.sqlite"
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "baseguard.cli.main",
            "serve",
            "--catalog",
            str(catalog),
            "--tls-cert",
            str(tmp_path / "tls.crt"),
            "--tls-key",
            str(tmp_path / "tls.key"),
            "--port",
            str(port),
            "--db",
            f"sqlite:///{db}",
            "--failure-mode",
            "closed",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "POD_NAMESPACE": "guard"},
    )
    try:
        url = f"https://127.0.0.1:{port}"
        with httpx.Client(base_url=url, verify=ssl_context(ca), timeout=10) as client:
            deadline = time.monotonic() + DEADLINE
            while True:  # bounded readiness polling
                assert proc.poll() is None, proc.communicate()[1]
                try:
                    if client.get("/readyz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, "baseguard serve did not become ready"
                time.sleep(0.05)
            doc = pod_review(f"registry.io/org/legacy:1@{OTHER_DIGEST}", uid="cli-uid")
            answer = client.post("/validate", json=doc).json()["response"]
            exempt = client.post("/validate", json=pod_review("x:1", namespace="guard")).json()
    finally:
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=DEADLINE)
    # uvicorn shuts down gracefully, then re-raises SIGTERM so the exit status tells it.
    assert proc.returncode in (0, -signal.SIGTERM), stderr
    assert "Application shutdown complete" in stderr
    assert "Traceback" not in stderr
    assert answer["uid"] == "cli-uid"
    assert answer["allowed"] is False
    assert "retired" in answer["status"]["message"]
    assert exempt["response"]["allowed"] is True
    verify = run_baseguard("audit", "verify", "--db", str(db), cwd=tmp_path)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    log = run_baseguard("audit", "log", "--db", str(db), cwd=tmp_path)
    rows = json.loads(log.stdout)
    uids = [
        d["uid"] for r in rows if r["kind"] == "admission.decision" for d in r["data"]["decisions"]
    ]
    assert set(uids) == {"cli-uid", exempt["response"]["uid"]}


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--tls-cert", "tls.crt"], "--tls-cert and --tls-key go together"),
        (["--tls-cert", "nope.crt", "--tls-key", "nope.key"], "nope.crt: no such file"),
        (["--failure-mode", "maybe"], "maybe"),
    ],
)
def test_serve_usage_errors_exit_2(tmp_path: Path, args: list[str], words: str) -> None:
    write_catalog(tmp_path / "catalog.yaml")
    done = run_baseguard("serve", "--catalog", "catalog.yaml", *args, cwd=tmp_path)
    assert done.returncode == 2, done.stdout + done.stderr
    assert words in done.stderr
    assert "Traceback" not in done.stderr


def test_serve_refuses_a_catalog_path_that_does_not_exist(tmp_path: Path) -> None:
    done = run_baseguard("serve", "--catalog", "typo.yaml", cwd=tmp_path)
    assert done.returncode == 2
    assert "typo.yaml: no such file" in done.stderr

"""``baseguard push`` from real processes against a real uvicorn server (``baseguard serve``).

The server runs on 127.0.0.1 with a fresh SQLite store; pushes are separate processes;
100 concurrent uploads go through async httpx; every row and the audit chain are checked
in the store afterwards.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from baseguard.store import open_store
from baseguard.store.tokens import create_token
from tests.cli_runner import run_baseguard
from tests.store.builders import make_analysis

ROOT = Path(__file__).resolve().parents[2]
IMAGE = f"oci:{ROOT / 'examples' / 'images'}:docker.io/library/alpine:3.20"
CATALOG = ROOT / "examples" / "catalog.yaml"


@dataclass
class Service:
    url: str
    db: str
    tokens: dict[str, str]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    tmp = tmp_path_factory.mktemp("service")
    db = f"sqlite:///{tmp / 'store.db'}"
    with open_store(db) as store:
        tokens = {
            role: create_token(store, f"{role}-token", role, actor="test")
            for role in ("viewer", "uploader", "approver", "admin")
        }
    port = free_port()
    env = {**os.environ, "BASEGUARD_VULNDB": str(tmp / "no-vuln.db")}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "baseguard.cli.main",
            "serve",
            "--catalog",
            str(CATALOG),
            "--db",
            db,
            "--port",
            str(port),
            "--log-level",
            "info",
        ],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    assert proc.stderr is not None
    seen = []
    for line in proc.stderr:  # blocks until uvicorn says it is up (or the process dies)
        seen.append(line)
        if "Application startup complete" in line:
            break
    else:
        pytest.fail("the server did not start:\n" + "".join(seen))
    try:
        yield Service(f"http://127.0.0.1:{port}", db, tokens)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        proc.stderr.close()


def test_push_an_image_from_a_real_process(service: Service) -> None:
    run = run_baseguard(
        "push", IMAGE, "--server", service.url, env={"BASEGUARD_TOKEN": service.tokens["uploader"]}
    )
    assert run.returncode == 0, run.stderr
    assert "stored docker.io/library/alpine:3.20 (sha256:" in run.stdout
    with open_store(service.db) as store:
        stored = [r for r in store.list_analyses() if r[2] == "docker.io/library/alpine:3.20"]
        assert len(stored) == 1
        analysis = store.load_analysis(stored[0][1])
        assert analysis is not None and len(analysis.packages) > 10
        event = next(e for e in store.audit_events(limit=50) if e.subject == stored[0][1])
        assert (event.kind, event.actor) == ("analysis.save", "uploader-token")
        assert store.verify_audit().ok


def test_push_an_sbom_file_with_a_reference(service: Service, tmp_path: Path) -> None:
    bom = tmp_path / "bom.cdx.json"
    made = run_baseguard("sbom", IMAGE, "-o", "cyclonedx-json", "--file", str(bom))
    assert made.returncode == 0, made.stderr
    run = run_baseguard(
        "push",
        str(bom),
        "--server",
        service.url,
        "--token",
        service.tokens["admin"],
        "--reference",
        "registry.example.com/base/alpine:3.20",
    )
    assert run.returncode == 0, run.stderr
    with open_store(service.db) as store:
        refs = {r[2] for r in store.list_analyses()}
    assert "registry.example.com/base/alpine:3.20" in refs


def test_push_with_a_viewer_token_is_refused(service: Service) -> None:
    run = run_baseguard("push", IMAGE, "--server", service.url, "--token", service.tokens["viewer"])
    assert run.returncode == 2
    assert "403" in run.stderr and "uploader" in run.stderr


def test_push_with_a_wrong_token_is_refused(service: Service) -> None:
    run = run_baseguard("push", IMAGE, "--server", service.url, "--token", "bgt_wrong")
    assert run.returncode == 2
    assert "401" in run.stderr


def test_push_a_malformed_sbom_fails_locally(service: Service, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"bomFormat": "CycloneDX", "specVersion": 7}')
    run = run_baseguard(
        "push", str(bad), "--server", service.url, "--token", service.tokens["admin"]
    )
    assert run.returncode == 2
    assert "bad.json" in run.stderr


def test_push_to_no_server_exits_4(service: Service) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    run = run_baseguard("push", IMAGE, "--server", url, "--token", service.tokens["admin"])
    assert run.returncode == 4, run.stderr
    assert "cannot reach" in run.stderr


@pytest.mark.parametrize("digest", ["bogus", "sha256:" + "A" * 64, "sha256:abc", "md5:" + "0" * 32])
def test_a_malformed_digest_is_refused_before_any_work(digest: str) -> None:
    """``--digest`` went to the service as given: the image was analysed first and the upload
    then refused by the service (or, with no service listening, exit 4). Now it is a usage
    error naming the option; the port here has no server, so exit 2 shows nothing was sent."""
    url = f"http://127.0.0.1:{free_port()}"
    run = run_baseguard("push", IMAGE, "--server", url, "--token", "t", "--digest", digest)
    assert run.returncode == 2, run.stderr
    assert "Traceback" not in run.stderr
    assert "Invalid value for --digest" in run.stderr
    assert f"invalid digest {digest!r}" in run.stderr


def test_oversized_upload_to_the_real_server_is_413(service: Service) -> None:
    body = b" " * (32 * 1024 * 1024 + 1)
    response = httpx.post(
        f"{service.url}/api/analyses",
        content=body,
        headers={"Authorization": f"Bearer {service.tokens['uploader']}"},
        timeout=60,
    )
    assert response.status_code == 413
    assert response.headers["content-type"].startswith("application/problem+json")


def test_malformed_upload_to_the_real_server_is_422(service: Service) -> None:
    response = httpx.post(
        f"{service.url}/api/analyses",
        content=b'{"schemaVersion": "1", "image": 7}',
        headers={"Authorization": f"Bearer {service.tokens['uploader']}"},
    )
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["title"] == "Invalid upload"


def test_no_token_on_the_real_server_is_401(service: Service) -> None:
    response = httpx.get(f"{service.url}/api/analyses")
    assert response.status_code == 401


def test_100_concurrent_uploads_lose_nothing(service: Service) -> None:
    with open_store(service.db) as store:
        before = store.counts()
    digests = [f"sha256:{0xC0C0 * 1000 + i:064x}" for i in range(100)]

    async def upload_all() -> list[int]:
        headers = {"Authorization": f"Bearer {service.tokens['uploader']}"}
        limits = httpx.Limits(max_connections=100)
        async with httpx.AsyncClient(timeout=120, limits=limits) as client:

            async def one(i: int, digest: str) -> int:
                analysis = make_analysis(digest, packages=3, reference=f"reg.example/app{i}:1")
                response = await client.post(
                    f"{service.url}/api/analyses",
                    content=json.dumps(analysis.to_dict()),
                    headers=headers,
                )
                return response.status_code

            return await asyncio.gather(*(one(i, d) for i, d in enumerate(digests)))

    statuses = asyncio.run(upload_all())
    assert statuses == [201] * 100
    with open_store(service.db) as store:
        after = store.counts()
        assert after["analyses"] - before["analyses"] == 100
        assert after["audit_log"] - before["audit_log"] == 100
        stored = {d for _, d, _ in store.list_analyses()}
        assert set(digests) <= stored
        report = store.verify_audit()
        assert report.ok, report.to_dict()

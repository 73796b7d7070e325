"""Shared by the recommend, compare and fix tests: a test catalog, a DB built from the bundled
feed snapshot, and a way to run the real ``baseguard`` process. (No tests here.)

The test catalog is written for the bundled image store (examples/images: alpine 3.20,
alpine 3.10 and the distroless-style registry.example.com/base/static-debian12:2025.11):

- ``alpine-3.10`` is retired and names ``alpine-3.20`` as its replacement;
- ``alpine-3.20`` is approved, pins no digest (fix resolves it through the store);
- ``static-debian12`` is approved and pins the store image's digest; its ``debug`` (dev)
  variant is not in the store;
- python 3.12 / 3.13 and node 22 entries (not in the store) exercise runtime matching.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from tests.cli_runner import run_baseguard
from tests.conftest import PROJECT

ESTATE = PROJECT / "examples" / "estate"
IMAGES = PROJECT / "examples" / "images"
FEEDS = PROJECT / "examples" / "feeds"
STATIC = "registry.example.com/base/static-debian12:2025.11"
STATIC_DIGEST = "sha256:cb051005a6033cd1b08bdc7848a01d0b8be56ae489c2a0e6f320f71deb934d70"
ALPINE_320_DIGEST = "sha256:b69f37f02dba600142fd5f4825bb744861e113789464c3f0217be7244742d686"
ALPINE_310_DIGEST = "sha256:56a324c7d423ce912ecfed174f5dd26cce0e662c4bf06c32991cc2fa6fd0d47f"
#: Every test judges the catalog on this day (EOL dates and exceptions are date-dependent).
DAY = "2026-06-01"

_OWNER = "    owner: {team: platform, contact: platform@example.com}\n"
_SLA = "    patch_sla: {critical: 24h, high: 7d}\n"

CATALOG = (
    "version: 1\n"
    "entries:\n"
    "  - id: static-debian12\n"
    "    provider: internal\n"
    "    repository: registry.example.com/base/static-debian12\n"
    '    tags: ["2025.11"]\n'
    f'    digests: ["{STATIC_DIGEST}"]\n'
    "    variants:\n"
    '      - {name: debug, tags: ["2025.11-debug"], dev: true}\n'
    '    runtime: {name: static, version: "12", libc: glibc}\n'
    + _OWNER
    + _SLA
    + "    lifecycle: {state: approved}\n"
    "  - id: alpine-3.20\n"
    "    provider: docker-official\n"
    "    repository: docker.io/library/alpine\n"
    '    tags: ["3.20", "3.20.*"]\n'
    '    runtime: {name: alpine, version: "3.20", libc: musl}\n'
    + _OWNER
    + _SLA
    + "    lifecycle: {state: approved}\n"
    "  - id: alpine-3.10\n"
    "    provider: docker-official\n"
    "    repository: docker.io/library/alpine\n"
    '    tags: ["3.10"]\n'
    '    runtime: {name: alpine, version: "3.10", libc: musl}\n'
    + _OWNER
    + _SLA
    + "    lifecycle: {state: retired}\n"
    "    replaced_by: alpine-3.20\n"
    "  - id: python-3.12\n"
    "    provider: chainguard\n"
    "    repository: cgr.dev/chainguard/python\n"
    '    tags: ["3.12"]\n'
    "    variants:\n"
    '      - {name: dev, tags: ["3.12-dev"], dev: true}\n'
    '    runtime: {name: python, version: "3.12", libc: glibc}\n'
    + _OWNER
    + _SLA
    + "    lifecycle: {state: approved}\n"
    "  - id: python-3.13\n"
    "    provider: chainguard\n"
    "    repository: cgr.dev/chainguard/python\n"
    '    tags: ["3.13"]\n'
    '    runtime: {name: python, version: "3.13", libc: glibc}\n'
    + _OWNER
    + _SLA
    + "    lifecycle: {state: approved}\n"
    "  - id: node-22\n"
    "    provider: chainguard\n"
    "    repository: cgr.dev/chainguard/node\n"
    '    tags: ["22"]\n'
    "    variants:\n"
    '      - {name: dev, tags: ["22-dev"], dev: true}\n'
    '    runtime: {name: node, version: "22", libc: glibc}\n'
    + _OWNER
    + "    lifecycle: {state: proposed}\n"
)


def run(
    args: list[str], env: dict[str, str], cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """The real ``baseguard`` process, text output; scans need more than the default time."""
    return run_baseguard(*args, cwd=cwd, env=env, timeout=300)


def make_env(work: Path) -> dict[str, str]:
    """A vulnerability DB from the bundled feed snapshot and a private cache, under ``work``."""
    env = {
        "BASEGUARD_VULNDB": str(work / "vulndb.sqlite"),
        "BASEGUARD_CACHE_DIR": str(work / "cache"),
    }
    done = run(["-q", "db", "update", "--from", str(FEEDS)], env)
    assert done.returncode == 0, done.stderr
    return env


def write_catalog(directory: Path, text: str = CATALOG) -> Path:
    path = directory / "catalog.yaml"
    path.write_text(text)
    return path


def scan_json(env: dict[str, str], image: str, *extra: str) -> dict[str, Any]:
    """``baseguard scan`` of an image in the bundled store: the independent oracle."""
    done = run(["scan", f"oci:{IMAGES}:{image}", "-o", "json", *extra], env)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def analyze_json(env: dict[str, str], image: str) -> dict[str, Any]:
    """``baseguard analyze`` of an image in the bundled store."""
    done = run(["analyze", f"oci:{IMAGES}:{image}", "-o", "json"], env)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def assert_clean_failure(done: subprocess.CompletedProcess[str], code: int = 2) -> None:
    """Failed with ``code`` and one clear message, no traceback."""
    assert done.returncode == code, (done.returncode, done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    assert "error:" in done.stderr

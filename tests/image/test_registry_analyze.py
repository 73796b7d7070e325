"""`baseguard analyze` end to end against the real local registries, as a user runs it."""

from __future__ import annotations

import base64
import json
import subprocess
from pathlib import Path

import pytest

from tests.cli_runner import run_baseguard
from tests.image.conftest import RegistryServer

pytestmark = pytest.mark.registry


def run_cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Pulls from a registry: more time than run_baseguard's default."""
    return run_baseguard(*args, env=env, timeout=300)


def _env(tmp_path: Path, auths: dict[str, dict[str, str]] | None = None) -> dict[str, str]:
    config_dir = tmp_path / "docker"
    config_dir.mkdir(exist_ok=True)
    (config_dir / "config.json").write_text(json.dumps({"auths": auths or {}}))
    return {"DOCKER_CONFIG": str(config_dir), "BASEGUARD_CACHE_DIR": str(tmp_path / "cache")}


def test_analyze_from_plain_http_registry(plain_registry: RegistryServer, tmp_path: Path) -> None:
    result = run_cli(
        ["analyze", f"{plain_registry.host}/alpine:3.20.3", "-o", "json"], _env(tmp_path)
    )
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["image"]["source"] == "registry"
    assert doc["distro"]["id"] == "alpine" and doc["distro"]["version_id"] == "3.20.3"
    assert doc["facts"]["has_shell"] and doc["facts"]["runs_as_root"]
    assert doc["facts"]["architecture"] == "amd64"
    assert doc["image"]["indexDigest"].startswith("sha256:")
    # The blobs are now in the cache, keyed by digest.
    layer = doc["image"]["layers"][0].split(":")[1]
    assert (tmp_path / "cache" / "blobs" / "sha256" / layer).is_file()


def test_analyze_arm64_from_registry(plain_registry: RegistryServer, tmp_path: Path) -> None:
    result = run_cli(
        [
            "analyze",
            f"{plain_registry.host}/alpine:3.20.3",
            "--platform",
            "linux/arm64",
            "-o",
            "json",
        ],
        _env(tmp_path),
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["facts"]["architecture"].startswith("arm64")


def test_analyze_docker_schema2_image_from_registry(
    plain_registry: RegistryServer, tmp_path: Path
) -> None:
    result = run_cli(
        ["analyze", f"{plain_registry.host}/alpine:3.10", "-o", "json"], _env(tmp_path)
    )
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["distro"]["version_id"].startswith("3.10")


def test_analyze_over_tls_with_basic_auth_from_docker_config(
    tls_registry: RegistryServer, tmp_path: Path
) -> None:
    assert tls_registry.ca_file is not None
    token = base64.b64encode(f"{tls_registry.username}:{tls_registry.password}".encode())
    env = _env(tmp_path, {tls_registry.host: {"auth": token.decode()}})
    result = run_cli(
        [
            "analyze",
            f"{tls_registry.host}/alpine:3.20.3",
            "--ca-file",
            str(tls_registry.ca_file),
            "-o",
            "json",
        ],
        env,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["distro"]["id"] == "alpine"


def test_missing_credentials_is_exit_2_naming_the_registry(
    tls_registry: RegistryServer, tmp_path: Path
) -> None:
    assert tls_registry.ca_file is not None
    result = run_cli(
        ["analyze", f"{tls_registry.host}/alpine:3.20.3", "--ca-file", str(tls_registry.ca_file)],
        _env(tmp_path),
    )
    assert result.returncode == 2
    assert tls_registry.host in result.stderr
    assert "Traceback" not in result.stderr


def test_unknown_tag_is_exit_2_naming_the_reference(
    plain_registry: RegistryServer, tmp_path: Path
) -> None:
    result = run_cli(["analyze", f"{plain_registry.host}/alpine:9.99"], _env(tmp_path))
    assert result.returncode == 2
    assert "alpine:9.99" in result.stderr
    assert "Traceback" not in result.stderr

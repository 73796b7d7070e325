"""The `baseguard` command as a user runs it: a real process, real exit codes, real output."""

from __future__ import annotations

import gzip
import io
import json
import tarfile
from pathlib import Path

import pytest

from baseguard import __version__
from baseguard.image.write import write_oci_layout
from tests.cli_runner import run_baseguard
from tests.conftest import PROJECT, realdata_path

DEMO = f"{PROJECT / 'examples' / 'images'}:docker.io/library/alpine:3.20"


def test_version_prints_the_package_version() -> None:
    result = run_baseguard("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"baseguard {__version__}"


@pytest.mark.parametrize("args", [["--help"], ["analyze", "--help"]])
def test_help_of_the_program_and_of_analyze_in_a_real_process(args: list[str]) -> None:
    result = run_baseguard(*args)
    assert result.returncode == 0
    assert "Usage" in result.stdout
    if args[0] == "analyze":
        assert "docker-archive:FILE" in result.stdout
        assert "--platform" in result.stdout


def test_analyze_demo_image_as_json() -> None:
    result = run_baseguard("analyze", f"oci:{DEMO}", "-o", "json")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["distro"]["id"] == "alpine"
    assert doc["distro"]["version_id"] == "3.20.3"
    facts = doc["facts"]
    assert facts["runs_as_root"] is True
    assert facts["has_shell"] is True
    assert {s["name"] for s in facts["shells"]} >= {"sh", "busybox"}
    assert {p["name"] for p in facts["package_managers"]} >= {"apk"}
    assert {t["name"] for t in facts["network_tools"]} >= {"wget", "nc"}
    assert facts["layer_count"] == 1
    assert facts["architecture"] == "amd64"
    assert doc["image"]["source"] == "oci"
    assert doc["image"]["name"] == "docker.io/library/alpine:3.20"
    assert doc["image"]["manifestDigest"].startswith("sha256:")


def test_analyze_demo_image_as_table() -> None:
    result = run_baseguard("analyze", f"oci:{DEMO}", "-o", "table")
    assert result.returncode == 0, result.stderr
    assert "alpine 3.20.3" in result.stdout
    assert "busybox" in result.stdout


def test_json_is_the_default_when_piped() -> None:
    result = run_baseguard("analyze", f"oci:{DEMO}")
    assert result.returncode == 0
    assert json.loads(result.stdout)["distro"]["id"] == "alpine"


def test_output_file_is_written(tmp_path: Path) -> None:
    out = tmp_path / "facts.json"
    result = run_baseguard("analyze", f"oci:{DEMO}", "-o", "json", "--file", str(out))
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert json.loads(out.read_text())["facts"]["layer_count"] == 1


def test_missing_image_is_exit_2_with_one_clear_message(tmp_path: Path) -> None:
    out = tmp_path / "facts.json"
    result = run_baseguard("analyze", f"oci:{tmp_path / 'nowhere'}", "--file", str(out))
    assert result.returncode == 2
    assert "error:" in result.stderr and "nowhere" in result.stderr
    assert "Traceback" not in result.stderr
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


def test_a_bare_word_that_is_no_file_nor_reference_is_named_as_typed(tmp_path: Path) -> None:
    result = run_baseguard("analyze", "Nope", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith(
        "error: Nope: no such file or directory, and not an image reference either:"
    )


def test_a_bare_word_that_cannot_be_fetched_names_the_input_and_the_reference(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from baseguard.errors import RegistryError
    from baseguard.image.registry import RegistryClient
    from tests.cli_runner import invoke_baseguard

    def unreachable(self: RegistryClient, *args: object, **kwargs: object) -> None:
        raise RegistryError("cannot reach registry registry-1.docker.io", hint="check it")

    monkeypatch.setattr(RegistryClient, "open_image", unreachable)
    monkeypatch.chdir(tmp_path)
    result = invoke_baseguard("analyze", "nope")
    assert result.exit_code == 2
    assert (
        "nope: no such file or directory, and docker.io/library/nope:latest could not be "
        "fetched: cannot reach registry registry-1.docker.io"
    ) in " ".join(result.stderr.split())
    said = invoke_baseguard("analyze", "registry.example.com/nope")
    assert "no such file" not in said.stderr


def test_a_bare_word_whose_image_was_found_keeps_its_own_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from baseguard.errors import PlatformError
    from baseguard.image.registry import RegistryClient
    from tests.cli_runner import invoke_baseguard

    def no_such_platform(self: RegistryClient, *args: object, **kwargs: object) -> None:
        raise PlatformError("docker.io/library/alpine:latest has no linux/s390x image")

    monkeypatch.setattr(RegistryClient, "open_image", no_such_platform)
    monkeypatch.chdir(tmp_path)
    result = invoke_baseguard("analyze", "alpine")
    assert result.exit_code == 2
    said = " ".join(result.stderr.split())
    assert "error: docker.io/library/alpine:latest has no linux/s390x image" in said
    assert "no such file" not in said


def test_traceback_only_with_verbose(tmp_path: Path) -> None:
    result = run_baseguard("-v", "analyze", f"oci:{tmp_path / 'nowhere'}")
    assert result.returncode == 2
    assert "Traceback" in result.stderr


def test_bad_platform_is_a_usage_error() -> None:
    result = run_baseguard("analyze", f"oci:{DEMO}", "--platform", "amd64")
    assert result.returncode == 2
    assert "invalid platform" in result.stderr


def test_unknown_format_is_rejected_by_the_parser() -> None:
    result = run_baseguard("analyze", f"oci:{DEMO}", "-o", "yaml")
    assert result.returncode == 2
    assert "yaml" in result.stderr


def test_decompression_bomb_layer_is_refused_with_exit_2(tmp_path: Path) -> None:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        info = tarfile.TarInfo("zeros")
        info.size = 256 << 20
        tar.addfile(info, io.BytesIO(bytes(info.size)))
    layer = tmp_path / "bomb.tar.gz"
    layer.write_bytes(gzip.compress(raw.getvalue(), compresslevel=9))
    write_oci_layout(tmp_path / "bomb", [layer])
    result = run_baseguard("analyze", f"oci:{tmp_path / 'bomb'}", "--max-bytes", str(16 << 20))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "limit" in result.stderr.lower() or "more than" in result.stderr


def test_real_docker_archive_reports_alpine_310() -> None:
    archive = realdata_path("images", "docker-archive", "alpine-310.tar.gz")
    result = run_baseguard("analyze", f"docker-archive:{archive}", "-o", "json")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["distro"]["id"] == "alpine"
    assert doc["distro"]["version_id"].startswith("3.10")
    assert doc["facts"]["runs_as_root"] is True
    assert doc["facts"]["has_shell"] is True

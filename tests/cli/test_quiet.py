"""``-q`` drops progress bars and notes, never warnings: a warning says the result is less
complete than it looks, which a CI log must still show."""

from __future__ import annotations

from pathlib import Path

from tests.cli_runner import run_baseguard


def test_quiet_inventory_still_warns_about_a_file_it_could_not_read(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM alpine:3.20\n")
    (tmp_path / "garbage.bin").write_bytes(b"\x00\x01not a manifest")
    done = run_baseguard(
        "-q", "inventory", str(tmp_path / "Dockerfile"), str(tmp_path / "garbage.bin"), "-o", "json"
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr.startswith("warning: ")
    assert "garbage.bin: not a Dockerfile, compose file or Kubernetes manifest" in done.stderr
    assert "docker.io/library/alpine:3.20" in done.stdout


def test_quiet_is_documented_as_keeping_warnings() -> None:
    done = run_baseguard("--help")
    assert "warnings and errors are still printed" in " ".join(done.stdout.split())

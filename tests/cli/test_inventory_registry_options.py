"""``inventory --base/--platform/--insecure/--ca-file`` only mean something with ``--registry``.

``--base`` names a base image whose bottom layers recognise the registry images built on it;
the others say how registry images are pulled. Without ``--registry`` they were silently
ignored.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli_runner import run_baseguard


def test_base_without_registry_is_a_usage_error_naming_both_options(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM alpine:3.20\n")
    done = run_baseguard("inventory", str(tmp_path), "--base", "alpine:3.20", timeout=60)
    assert done.returncode == 2
    assert "--base needs --registry" in done.stderr
    assert "Traceback" not in done.stderr
    assert done.stdout == ""


def test_paths_alone_are_still_inventoried(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM alpine:3.20\n")
    done = run_baseguard("inventory", str(tmp_path), "-o", "json", timeout=60)
    assert done.returncode == 0
    assert "docker.io/library/alpine:3.20" in done.stdout


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        (["--platform", "linux/arm64"], "--platform needs --registry"),
        (["--insecure"], "--insecure needs --registry"),
        (["--insecure", "--base", "alpine:3.20"], "--base, --insecure need --registry"),
    ],
)
def test_pull_options_without_registry_are_a_usage_error(
    tmp_path: Path, extra: list[str], named: str
) -> None:
    (tmp_path / "Dockerfile").write_text("FROM alpine:3.20\n")
    done = run_baseguard("inventory", str(tmp_path), *extra, timeout=60)
    assert done.returncode == 2
    assert named in done.stderr
    assert "Traceback" not in done.stderr

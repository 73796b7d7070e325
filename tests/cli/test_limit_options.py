"""``--max-bytes`` and ``--max-files`` must be positive, checked when the command line is read.

They went into :class:`~baseguard.image.layers.Limits` as given: ``--max-bytes -5`` failed
the first file with "more than -5 bytes" and a hint to raise
``Limits.max_uncompressed_bytes``, naming neither the option nor the mistake.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli_runner import run_baseguard


@pytest.fixture
def rootfs(tmp_path: Path) -> Path:
    root = tmp_path / "rootfs"
    root.mkdir()
    (root / "a").write_text("a\n")
    (root / "b").write_text("b\n")
    return root


@pytest.mark.parametrize("command", ["analyze", "sbom", "scan"])
@pytest.mark.parametrize("option", ["--max-bytes", "--max-files"])
@pytest.mark.parametrize("value", ["0", "-5"])
def test_a_non_positive_limit_is_a_usage_error_naming_the_option(
    rootfs: Path, command: str, option: str, value: str
) -> None:
    done = run_baseguard(command, str(rootfs), option, value)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert f"Invalid value for '{option}'" in done.stderr
    assert "Limits." not in done.stderr


def test_a_positive_limit_still_applies(rootfs: Path) -> None:
    done = run_baseguard("analyze", str(rootfs), "--max-files", "1")
    assert done.returncode == 2, done.stderr
    assert "more than 1 files" in done.stderr

"""``--file`` (and the other output paths) pointing where no file can be written.

A directory, or a place the process may not create files in, is bad input: exit 2, a message
naming the path, and nothing half-written left behind — not an internal error.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from tests.cli_runner import run_baseguard
from tests.conftest import PROJECT

DEMO = f"oci:{PROJECT / 'examples' / 'images'}:docker.io/library/alpine:3.20"
ESTATE = str(PROJECT / "examples" / "estate")
CATALOG = str(PROJECT / "examples" / "catalog.yaml")


def _commands(out: str) -> list[list[str]]:
    return [
        ["analyze", DEMO, "-o", "json", "--file", out],
        ["inventory", ESTATE, "-o", "json", "--file", out],
        ["check", ESTATE, "-c", CATALOG, "-o", "json", "--file", out],
    ]


@pytest.mark.parametrize("index", range(3))
def test_file_that_is_a_directory_is_an_input_error(index: int, tmp_path: Path) -> None:
    target = tmp_path / "out"
    target.mkdir()
    done = run_baseguard(*_commands(str(target))[index])
    assert done.returncode == 2, done.stderr
    assert "internal error" not in done.stderr
    assert f"cannot write {target}: it is a directory" in done.stderr
    assert list(tmp_path.iterdir()) == [target]
    assert list(target.iterdir()) == []


def test_file_where_no_file_can_be_created_is_an_input_error() -> None:
    done = run_baseguard("analyze", DEMO, "-o", "json", "--file", "/proc/baseguard-out.json")
    assert done.returncode == 2, done.stderr
    assert "internal error" not in done.stderr
    assert "cannot write /proc/baseguard-out.json" in done.stderr


def test_catalog_init_where_no_file_can_be_created_is_an_input_error() -> None:
    done = run_baseguard("catalog", "init", "-c", "/proc/baseguard-catalog.yaml")
    assert done.returncode == 2, done.stderr
    assert "internal error" not in done.stderr
    assert "cannot write /proc/baseguard-catalog.yaml" in done.stderr


def test_policy_output_dir_that_is_a_file_is_an_input_error(tmp_path: Path) -> None:
    existing = tmp_path / "policies"
    existing.write_text("keep me\n", encoding="utf-8")
    done = run_baseguard("policy", "generate", "-e", "kyverno", "-c", CATALOG, "-o", str(existing))
    assert done.returncode == 2, done.stderr
    assert "internal error" not in done.stderr
    assert f"--output-dir {existing}: exists and is not a directory" in done.stderr
    assert existing.read_text(encoding="utf-8") == "keep me\n"


def test_a_written_file_gets_the_mode_of_any_new_file(tmp_path: Path) -> None:
    out = tmp_path / "inventory.json"
    done = run_baseguard("inventory", ESTATE, "-o", "json", "--file", str(out))
    assert done.returncode == 0, done.stderr
    umask = os.umask(0o022)
    os.umask(umask)
    assert stat.S_IMODE(out.stat().st_mode) == 0o644 & ~umask  # not mkstemp's 0600
    assert [p.name for p in tmp_path.iterdir()] == ["inventory.json"]

"""A CA bundle option that names no usable bundle is a usage error, not an internal one.

``--ca-file`` (every command that reaches a registry) and ``push --server-ca`` were handed to
the TLS library as given: a missing file, a directory or a file with no certificate came back
as an internal error (exit 3) from the first connection. The check is the registry
client's own (``baseguard.image.registry.ca_context``), so its message is the library's.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli_runner import run_baseguard


def _bad(tmp_path: Path, kind: str) -> tuple[Path, str]:
    if kind == "missing":
        return tmp_path / "absent.pem", "does not exist"
    if kind == "directory":
        return tmp_path, "is a directory, not a PEM file"
    path = tmp_path / "garbage.pem"
    path.write_bytes(b"\xc6\x00 not a certificate\n")
    return path, "holds no usable PEM CA certificate"


@pytest.mark.parametrize("kind", ["missing", "directory", "garbage"])
def test_analyze_with_an_unusable_ca_file_exits_2_naming_it(tmp_path: Path, kind: str) -> None:
    path, why = _bad(tmp_path, kind)
    done = run_baseguard("analyze", "127.0.0.1:1/x:1", "--ca-file", str(path))
    assert done.returncode == 2, done.stderr
    assert "internal error" not in done.stderr
    assert "Traceback" not in done.stderr
    assert f"Invalid value for --ca-file: CA file {path} {why}" in done.stderr


def test_push_with_an_unusable_server_ca_exits_2_naming_it(tmp_path: Path) -> None:
    path, why = _bad(tmp_path, "garbage")
    done = run_baseguard(
        "push",
        "x.json",
        "--server",
        "https://127.0.0.1:1",
        "--token",
        "t",
        "--server-ca",
        str(path),
    )
    assert done.returncode == 2, done.stderr
    assert "internal error" not in done.stderr
    assert "Traceback" not in done.stderr
    assert f"Invalid value for --server-ca: CA file {path} {why}" in done.stderr


def test_push_with_a_negative_timeout_is_a_usage_error() -> None:
    done = run_baseguard(
        "push", "x.json", "--server", "http://127.0.0.1:1", "--token", "t", "--timeout", "-1"
    )
    assert done.returncode == 2, done.stderr
    assert "internal error" not in done.stderr
    assert "Traceback" not in done.stderr
    assert "--timeout" in done.stderr

"""``baseguard report compliance`` as a real process: files written, exit codes, no tracebacks."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from baseguard.store import Store, open_store
from tests.cli_runner import run_baseguard

PROJECT = Path(__file__).resolve().parents[3]


def run(*args: str) -> subprocess.CompletedProcess[bytes]:
    """``baseguard report compliance *args`` from the project, bytes out, no BASEGUARD_DB."""
    return run_baseguard(
        "report", "compliance", *args, cwd=PROJECT, unset=["BASEGUARD_DB"], text=False
    )


@pytest.mark.parametrize(
    ("fmt", "start"),
    [
        ("json", b"{"),
        ("markdown", b"# baseguard compliance evidence"),
        ("html", b"<!DOCTYPE html>"),
        ("pdf", b"%PDF-"),
    ],
)
def test_each_format_is_written_to_the_file(
    sqlite_estate: tuple[str, Store], tmp_path: Path, fmt: str, start: bytes
) -> None:
    out = tmp_path / f"report.{fmt}"
    done = run("--db", sqlite_estate[0], "-o", fmt, "--file", str(out), "--now", "2026-01-15T12Z")
    assert done.returncode == 0, done.stderr
    assert out.read_bytes().startswith(start)
    assert b"1 met, 11 partial, 0 gap" in done.stderr
    assert done.stdout == b""


def test_json_on_stdout_with_now_is_deterministic(sqlite_estate: tuple[str, Store]) -> None:
    args = ("--db", sqlite_estate[0], "-o", "json", "--framework", "nis2", "--now", "2026-01-15")
    first, second = run(*args), run(*args)
    assert first.returncode == 0, first.stderr
    assert first.stdout == second.stdout
    data = json.loads(first.stdout)
    assert data["generatedAt"] == "2026-01-15T00:00:00Z"
    assert data["framework"] == "nis2"
    assert len(data["articles"]) == 6


def test_pdf_can_go_to_a_pipe(sqlite_estate: tuple[str, Store]) -> None:
    done = run("--db", sqlite_estate[0], "-o", "pdf")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(b"%PDF-")


def test_unknown_framework_is_a_usage_error(sqlite_estate: tuple[str, Store]) -> None:
    done = run("--db", sqlite_estate[0], "--framework", "gdpr")
    assert done.returncode == 2
    assert b"gdpr" in done.stderr
    assert b"Traceback" not in done.stderr


def test_unreachable_database_exits_2_without_traceback() -> None:
    done = run("--db", "postgresql://nobody@127.0.0.1:1/none", "-o", "json")
    assert done.returncode == 2
    assert b"error:" in done.stderr
    assert b"Traceback" not in done.stderr


def test_a_missing_store_file_is_not_created(tmp_path: Path) -> None:
    missing = tmp_path / "missing.sqlite"
    done = run("--db", str(missing))
    assert done.returncode == 2
    assert b"no store at" in done.stderr
    assert not missing.exists()


def test_bad_now_exits_2(sqlite_estate: tuple[str, Store]) -> None:
    done = run("--db", sqlite_estate[0], "--now", "yesterday")
    assert done.returncode == 2
    assert b"--now" in done.stderr
    assert b"Traceback" not in done.stderr


def test_gaps_exit_1_only_with_fail_on_gap(tmp_path: Path) -> None:
    db = tmp_path / "empty.sqlite"
    open_store(str(db)).close()
    out = tmp_path / "r.md"
    assert run("--db", str(db), "--file", str(out)).returncode == 0
    failed = run("--db", str(db), "--file", str(out), "--fail-on-gap")
    assert failed.returncode == 1
    assert "GAP" in out.read_text()


def test_no_gap_passes_fail_on_gap(sqlite_estate: tuple[str, Store]) -> None:
    done = run("--db", sqlite_estate[0], "--fail-on-gap", "--now", "2026-01-15T12:00:00Z")
    assert done.returncode == 0, done.stderr

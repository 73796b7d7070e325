"""Catalog edits mirrored into the store: the calls made, a store failure, no store at all."""

from __future__ import annotations

import shutil
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import pytest

from baseguard.errors import BaseguardError
from tests.cli_runner import invoke_baseguard, run_baseguard
from tests.conftest import PROJECT

EXAMPLE = PROJECT / "examples" / "catalog.yaml"


class FakeStore:
    """Records the calls of the store API the catalog commands use."""

    def __init__(self, calls: list[tuple[Any, ...]], fail: bool, close_fails: bool = False) -> None:
        self.calls, self.fail, self.close_fails = calls, fail, close_fails

    def upsert_catalog_entry(self, entry: dict[str, Any], actor: str) -> None:
        self.calls.append(("entry", entry["id"], entry["lifecycle"]["state"], actor))

    def upsert_exception(self, exc: dict[str, Any], actor: str) -> None:
        self.calls.append(("exception", exc["id"], actor))

    def record_event(self, kind: str, subject: str, data: dict[str, Any], actor: str) -> None:
        if self.fail:
            raise BaseguardError("database is locked", hint="try again")
        self.calls.append(("event", kind, subject, data, actor))

    def close(self) -> None:
        self.calls.append(("close",))
        if self.close_fails:
            raise OSError("connection reset by peer")


def fake_module(
    calls: list[tuple[Any, ...]],
    *,
    fail: bool = False,
    unreachable: bool = False,
    close_fails: bool = False,
) -> types.ModuleType:
    module = types.ModuleType("baseguard.store")

    def open_store(url: str | None = None) -> FakeStore:
        calls.append(("open", url))
        if unreachable:
            raise BaseguardError("connection refused", hint="check that the database is up")
        return FakeStore(calls, fail, close_fails)

    module.open_store = open_store  # type: ignore[attr-defined]
    return module


@pytest.fixture
def example(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    target = tmp_path / "catalog.yaml"
    shutil.copy(EXAMPLE, target)
    monkeypatch.chdir(tmp_path)
    return target


def test_an_approval_is_mirrored_with_its_audit_event(
    example: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[Any, ...]] = []
    monkeypatch.setitem(sys.modules, "baseguard.store", fake_module(calls))
    result = invoke_baseguard(
        "catalog", "approve", "chainguard-node", "--actor", "bob", "--date", "2026-11-20",
        "--reason", "CAB-12", "--db", "sqlite:///x.sqlite",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert calls == [
        ("open", "sqlite:///x.sqlite"),
        ("entry", "chainguard-node", "approved", "bob"),
        (
            "event",
            "catalog.entry.approve",
            "chainguard-node",
            {
                "file": "catalog.yaml",
                "from": "proposed",
                "to": "approved",
                "date": "2026-11-20",
                "reason": "CAB-12",
            },
            "bob",
        ),
        ("close",),
    ]


def test_an_exception_is_mirrored(example: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[Any, ...]] = []
    monkeypatch.setitem(sys.modules, "baseguard.store", fake_module(calls))
    result = invoke_baseguard(
        "catalog", "except", "n", "--pattern", "node:22-*", "--justification", "j",
        "--approver", "a", "--expires", "2099-01-01", "--actor", "bob",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert [c[:3] for c in calls[1:3]] == [
        ("exception", "n", "bob"),
        ("event", "catalog.exception.add", "n"),
    ]


def test_no_store_skips_mirroring(example: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[Any, ...]] = []
    monkeypatch.setitem(sys.modules, "baseguard.store", fake_module(calls))
    result = invoke_baseguard(
        "catalog", "approve", "chainguard-node", "--actor", "bob", "--no-store"
    )
    assert result.exit_code == 0, result.output
    assert calls == []


def test_a_store_failure_part_way_puts_the_file_back_and_says_to_sync(
    example: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = example.read_bytes()
    calls: list[tuple[Any, ...]] = []
    monkeypatch.setitem(sys.modules, "baseguard.store", fake_module(calls, fail=True))
    result = invoke_baseguard("catalog", "approve", "chainguard-node", "--actor", "bob")
    assert result.exit_code == 2
    said = " ".join(result.output.split())
    left = "catalog.yaml was left unchanged, but mirroring into the store failed part way"
    assert left in said
    assert "the store may hold part of the edit" in said
    assert "database is locked" in said
    assert "catalog sync --catalog catalog.yaml" in said
    # Part way: the entry was written, its audit event was refused, and the store closed.
    assert [c[0] for c in calls] == ["open", "entry", "close"]
    assert example.read_bytes() == before


def test_when_only_closing_the_store_fails_the_edit_stands_with_a_warning(
    example: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = example.read_bytes()
    calls: list[tuple[Any, ...]] = []
    monkeypatch.setitem(sys.modules, "baseguard.store", fake_module(calls, close_fails=True))
    result = invoke_baseguard("catalog", "approve", "chainguard-node", "--actor", "bob")
    assert result.exit_code == 0, result.output
    said = " ".join(result.stderr.split())
    assert "warning: the edit is in catalog.yaml and the store, but closing the store" in said
    assert "connection reset by peer" in said
    assert [c[0] for c in calls] == ["open", "entry", "event", "close"]
    assert example.read_bytes() != before  # the file keeps the approval the store holds


EDITS = {
    "add": (
        "add", "x", "--provider", "p", "--repository", "r.example/a/x", "--tag", "1",
    ),
    "approve": ("approve", "chainguard-node"),
    "deprecate": ("deprecate", "chainguard-python"),
    "retire": ("retire", "chainguard-node"),
    "except": (
        "except", "n", "--pattern", "node:22-*", "--justification", "j",
        "--approver", "a", "--expires", "2099-01-01",
    ),
}  # fmt: skip


@pytest.mark.parametrize("edit", sorted(EDITS))
def test_an_unreachable_store_changes_nothing(
    edit: str, example: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = example.read_bytes()
    mode = example.stat().st_mode
    calls: list[tuple[Any, ...]] = []
    monkeypatch.setitem(sys.modules, "baseguard.store", fake_module(calls, unreachable=True))
    result = invoke_baseguard("catalog", *EDITS[edit], "--actor", "bob", "--db", "sqlite:///x")
    assert result.exit_code == 2, result.output
    said = "nothing was changed: mirroring the edit into the store failed: connection"
    assert said in result.output
    assert "check that the database is up" in result.output
    assert "--no-store" in result.output
    assert " in catalog.yaml, by " not in result.output and "added" not in result.output
    assert calls == [("open", "sqlite:///x")]
    assert example.read_bytes() == before
    assert example.stat().st_mode == mode
    assert sorted(p.name for p in example.parent.iterdir()) == ["catalog.yaml"]


def test_an_unreachable_real_store_leaves_the_catalog_as_it_was(tmp_path: Path) -> None:
    pytest.importorskip("baseguard.store")
    shutil.copy(EXAMPLE, tmp_path / "catalog.yaml")
    before = (tmp_path / "catalog.yaml").read_bytes()
    done = run_baseguard(
        "catalog", "approve", "chainguard-node", "--actor", "bob",
        "--db", "postgresql://127.0.0.1:1/none", cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "nothing was changed" in done.stderr
    assert "was updated" not in done.stderr
    assert (tmp_path / "catalog.yaml").read_bytes() == before


def test_without_a_store_module_the_edit_is_kept_with_a_note(
    example: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "baseguard.store", None)
    result = invoke_baseguard("catalog", "approve", "chainguard-node", "--actor", "bob")
    assert result.exit_code == 0, result.output
    assert "no store yet" in result.output
    assert "state: approved   # under evaluation" in example.read_text()


def test_mirroring_into_the_real_store(tmp_path: Path) -> None:
    """Runs once baseguard.store exists: a real process, a real SQLite store."""
    store = pytest.importorskip("baseguard.store")
    shutil.copy(EXAMPLE, tmp_path / "catalog.yaml")
    url = f"sqlite:///{tmp_path / 'store.sqlite'}"

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return run_baseguard("catalog", *args, "--db", url, cwd=tmp_path)

    done = run("approve", "chainguard-node", "--actor", "bob", "--date", "2026-11-20")
    assert done.returncode == 0, done.stderr
    assert "no store" not in done.stderr
    synced = run("sync", "--actor", "carol")
    assert synced.returncode == 0, synced.stderr
    assert "mirrored 8 entries and 2 exceptions" in synced.stdout
    opened = store.open_store(url)
    try:
        if not hasattr(opened, "catalog_entries"):
            pytest.skip("this store has no catalog_entries() to read back")
        entries = {e["id"]: e for e in opened.catalog_entries()}
        assert len(entries) == 8
        assert entries["chainguard-node"]["lifecycle"]["state"] == "approved"
        if hasattr(opened, "audit_events"):
            kinds = [(r.kind, r.subject, r.actor) for r in opened.audit_events(limit=50)]
            assert ("catalog.entry.approve", "chainguard-node", "bob") in kinds
            assert ("catalog.sync", "catalog.yaml", "carol") in kinds
    finally:
        opened.close()

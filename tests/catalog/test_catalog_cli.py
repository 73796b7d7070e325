"""`baseguard catalog` as a user runs it: real processes, exit codes, files edited in place."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from baseguard.catalog.spec import load_catalog
from tests.cli_runner import run_baseguard
from tests.conftest import PROJECT

EXAMPLE = PROJECT / "examples" / "catalog.yaml"


def baseguard(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """As user "tester", with the store a command mirrors to (unless --no-store) in ``cwd``."""
    env = {"USER": "tester", "BASEGUARD_DB": str(cwd / "store.sqlite")}
    return run_baseguard(*args, cwd=cwd, env=env)


def ok(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return result


def refused(result: subprocess.CompletedProcess[str], words: str) -> None:
    assert result.returncode == 2, result.stdout + result.stderr
    assert words in result.stderr
    assert "Traceback" not in result.stderr


ADD_PY = [
    "catalog",
    "add",
    "python",
    "--provider",
    "docker-hardened",
    "--repository",
    "docker.io/example/dhi-python",
    "--tag",
    "latest",
    "--dev-variant",
    "dev=latest-dev",
    "--runtime",
    "python",
    "--runtime-version",
    "3.12",
    "--libc",
    "glibc",
    "--sla",
    "critical=24h",
    "--sla",
    "high=7d",
    "--no-store",
]


@pytest.fixture
def example(tmp_path: Path) -> Path:
    target = tmp_path / "catalog.yaml"
    shutil.copy(EXAMPLE, target)
    return target


def test_init_writes_a_valid_catalog_and_refuses_to_overwrite(tmp_path: Path) -> None:
    ok(baseguard("catalog", "init", cwd=tmp_path))
    first = (tmp_path / "catalog.yaml").read_text()
    assert "version: 1" in first
    ok(baseguard("catalog", "validate", cwd=tmp_path))
    refused(baseguard("catalog", "init", cwd=tmp_path), "catalog.yaml already exists")
    ok(baseguard("catalog", "init", "--force", cwd=tmp_path))


def test_validate_reports_counts_and_warnings(example: Path) -> None:
    result = ok(baseguard("catalog", "validate", "--date", "2026-11-27", cwd=example.parent))
    assert (
        "catalog.yaml: valid: 8 entries (1 proposed, 6 approved, 1 retired); 2 exceptions "
        "(1 live on 2026-11-27)" in result.stdout
    )
    assert "entry alpine-3.20 is approved but reached its end of life on 2026-04-01" in (
        result.stderr
    )
    assert "exception payments-alpine-3.10 expired on 2025-09-30" in result.stderr


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ("version: 1\nentries: [\n", "catalog.yaml:3: not valid YAML"),
        ("version: 1\nentries:\n  - {id: A}\n", "entries[0].id: 'A' is not a valid id"),
        ("version: 1\nnotes: caf\xe9\n", "catalog.yaml: not UTF-8 text (byte 21)"),
    ],
)
def test_validate_rejects_bad_files_with_exit_2(tmp_path: Path, content: str, words: str) -> None:
    (tmp_path / "catalog.yaml").write_bytes(content.encode("latin-1"))
    refused(baseguard("catalog", "validate", cwd=tmp_path), words)


def test_missing_catalog_is_exit_2_with_a_hint(tmp_path: Path) -> None:
    result = baseguard("catalog", "list", cwd=tmp_path)
    refused(result, "catalog.yaml: no such catalog file")
    assert "baseguard catalog init" in result.stderr


def test_list_and_show_as_json(example: Path) -> None:
    listed = json.loads(
        ok(
            baseguard("catalog", "list", "-o", "json", "--date", "2026-11-27", cwd=example.parent)
        ).stdout
    )
    assert [e["id"] for e in listed["entries"]][:3] == [
        "static-debian12",
        "alpine-3.20",
        "alpine-3.22",
    ]
    assert {x["id"]: x["live"] for x in listed["exceptions"]} == {
        "postgres-dev-stack": True,
        "payments-alpine-3.10": False,
    }
    only = json.loads(
        ok(
            baseguard("catalog", "list", "-o", "json", "--state", "retired", cwd=example.parent)
        ).stdout
    )
    assert [e["id"] for e in only["entries"]] == ["alpine-3.10"]
    shown = json.loads(
        ok(baseguard("catalog", "show", "alpine-3.10", "-o", "json", cwd=example.parent)).stdout
    )
    assert shown["kind"] == "entry" and shown["lifecycle"]["state"] == "retired"
    assert [s["state"] for s in shown["lifecycle"]["history"]] == [
        "proposed",
        "approved",
        "deprecated",
        "retired",
    ]
    exc = json.loads(
        ok(
            baseguard("catalog", "show", "postgres-dev-stack", "-o", "json", cwd=example.parent)
        ).stdout
    )
    assert exc["kind"] == "exception" and exc["expires"] == "2027-06-30"


def test_list_and_show_as_tables(example: Path) -> None:
    table = ok(baseguard("catalog", "list", cwd=example.parent)).stdout
    assert "static-debian12" in table and "Exceptions" in table
    shown = ok(baseguard("catalog", "show", "static-debian12", cwd=example.parent)).stdout
    assert "keyless signature" in shown and "SLSA level 3" in shown
    assert "2025-10-20 approved by akowalski (CAB-2025-118)" in shown
    refused(baseguard("catalog", "show", "nope", cwd=example.parent), "no entry or exception")


def test_add_then_approve_deprecate_retire(example: Path) -> None:
    cwd = example.parent
    ok(baseguard(*ADD_PY, "--date", "2026-11-01", cwd=cwd))
    # No owner yet: approval is refused, and the file is not touched.
    before = example.read_bytes()
    refused(
        baseguard("catalog", "approve", "python", "--no-store", cwd=cwd),
        "cannot approve 'python': it has no owner",
    )
    assert example.read_bytes() == before
    # Give it an owner by hand, as the hint says, then approve.
    text = example.read_text().replace(
        "    runtime: {name: python, version: '3.12', libc: glibc}\n",
        "    runtime: {name: python, version: '3.12', libc: glibc}\n"
        "    owner: {team: platform, contact: platform@example.com}  # added by hand\n",
    )
    example.write_text(text)
    ok(
        baseguard(
            "catalog", "approve", "python", "--actor", "bob", "--date", "2026-11-02",
            "--reason", "CAB-9", "--no-store", cwd=cwd,
        )
    )  # fmt: skip
    refused(
        baseguard("catalog", "retire", "python", "--no-store", cwd=cwd),
        "must be deprecated before it is retired",
    )
    ok(
        baseguard(
            "catalog", "deprecate", "python", "--replaced-by", "chainguard-python",
            "--date", "2026-11-03", "--no-store", cwd=cwd,
        )
    )  # fmt: skip
    ok(baseguard("catalog", "retire", "python", "--date", "2026-11-04", "--no-store", cwd=cwd))
    refused(baseguard("catalog", "approve", "python", "--no-store", cwd=cwd), "retirement is final")
    entry = load_catalog(example).get("python")
    assert entry is not None and entry.state == "retired"
    assert [(t.state, t.actor, str(t.date)) for t in entry.lifecycle.history] == [
        ("proposed", "tester", "2026-11-01"),
        ("approved", "bob", "2026-11-02"),
        ("deprecated", "tester", "2026-11-03"),
        ("retired", "tester", "2026-11-04"),
    ]
    assert entry.replaced_by == "chainguard-python"
    final = example.read_text()
    assert "  # added by hand\n" in final


def test_cli_edits_keep_the_example_comments_and_order(example: Path) -> None:
    original = example.read_text()
    ok(
        baseguard(
            "catalog", "approve", "chainguard-node", "--actor", "bob", "--date", "2026-11-20",
            "--no-store", cwd=example.parent,
        )
    )  # fmt: skip
    after = example.read_text()
    expected = original.replace(
        "      state: proposed   # under evaluation to replace node:22-bookworm in the web build\n"
        "      history:\n"
        "        - {state: proposed, date: 2026-10-12, actor: tbauer}\n",
        "      state: approved   # under evaluation to replace node:22-bookworm in the web build\n"
        "      history:\n"
        "        - {state: proposed, date: 2026-10-12, actor: tbauer}\n"
        "        - {state: approved, date: 2026-11-20, actor: bob}\n",
    )
    assert expected != original
    assert after == expected


def test_add_refuses_bad_input_and_leaves_the_file_unchanged(example: Path) -> None:
    cwd = example.parent
    before = example.read_bytes()
    refused(
        baseguard(
            *[a if a != "docker.io/example/dhi-python" else "alpine:3.20" for a in ADD_PY], cwd=cwd
        ),
        "carries a tag or digest",
    )
    refused(
        baseguard(*[a if a != "critical=24h" else "critical=soon" for a in ADD_PY], cwd=cwd),
        "add.patch_sla.critical: 'soon' is not a duration",
    )
    refused(
        baseguard(
            *[a if a != "python" else "static-debian12" for a in ADD_PY[:3]], *ADD_PY[3:], cwd=cwd
        ),
        "an entry with id 'static-debian12' already exists",
    )
    # Same repository and tag as an existing entry: the claim clashes.
    refused(
        baseguard(
            "catalog", "add", "dup", "--provider", "internal", "--repository",
            "registry.example.com/base/static-debian12", "--tag", "2025.11", "--no-store",
            cwd=cwd,
        ),
        "already claimed by entry 'static-debian12'",
    )  # fmt: skip
    refused(baseguard("catalog", "approve", "nope", cwd=cwd), "no entry has id 'nope'")
    refused(
        baseguard("catalog", "approve", "chainguard-node", "--date", "2026-13-01", cwd=cwd),
        "--date '2026-13-01': expected a date",
    )
    assert example.read_bytes() == before
    assert sorted(p.name for p in cwd.iterdir()) == ["catalog.yaml"]  # no temp files, no store


def test_except_adds_a_live_exception_and_refuses_a_past_expiry(example: Path) -> None:
    cwd = example.parent
    ok(
        baseguard(
            "catalog", "except", "node-build", "--pattern", "node:22-*", "--justification",
            "web build until chainguard-node is approved", "--approver", "akowalski",
            "--expires", "2027-01-31", "--date", "2026-11-27", "--no-store", cwd=cwd,
        )
    )  # fmt: skip
    exc = load_catalog(example).get_exception("node-build")
    assert exc is not None and exc.pattern == "docker.io/library/node:22-*"
    assert str(exc.created) == "2026-11-27"
    before = example.read_bytes()
    refused(
        baseguard(
            "catalog", "except", "late", "--pattern", "node:22-*", "--justification", "x",
            "--approver", "y", "--expires", "2026-01-01", "--no-store", cwd=cwd,
        ),
        "is in the past",
    )  # fmt: skip
    refused(
        baseguard(
            "catalog", "except", "wild", "--pattern", "*/node:*", "--justification", "x",
            "--approver", "y", "--expires", "2099-01-01", "--no-store", cwd=cwd,
        ),
        "must start with its registry host",
    )  # fmt: skip
    assert example.read_bytes() == before


def test_schema_command_prints_the_published_schema(tmp_path: Path) -> None:
    out = ok(baseguard("catalog", "schema", cwd=tmp_path)).stdout
    assert out == (PROJECT / "docs" / "catalog.schema.json").read_text()


def test_help_lists_every_command(tmp_path: Path) -> None:
    out = ok(baseguard("catalog", "--help", cwd=tmp_path)).stdout
    for command in (
        "init", "validate", "list", "show", "add", "approve", "deprecate", "retire", "except",
    ):  # fmt: skip
        assert command in out


def test_an_edit_while_another_holds_the_file_is_refused(example: Path) -> None:
    import fcntl

    before = example.read_bytes()
    with example.open("rb") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)
        refused(
            baseguard("catalog", "approve", "chainguard-node", "--no-store", cwd=example.parent),
            "catalog.yaml is being edited by another baseguard process",
        )
    assert example.read_bytes() == before
    ok(baseguard("catalog", "approve", "chainguard-node", "--no-store", cwd=example.parent))


def test_add_splits_variant_tags_and_digests(example: Path) -> None:
    digest = "sha256:" + "ab" * 32
    ok(
        baseguard(
            "catalog", "add", "fips", "--provider", "minimus", "--repository",
            "reg.example.com/minimus/python", "--tag", "3.12",
            "--variant", f"fips=sha-3f2a,{digest}", "--no-store", cwd=example.parent,
        )
    )  # fmt: skip
    entry = load_catalog(example).get("fips")
    assert entry is not None and entry.variants[0].tags == ("sha-3f2a",)
    assert entry.variants[0].digests == (digest,) and not entry.variants[0].dev

"""catalog.yaml: round-trip edits keep comments and order, errors name file, line, path, rule."""

from __future__ import annotations

import json
import os
import stat
from datetime import date
from pathlib import Path

import jsonschema
import pytest

from baseguard.catalog import spec
from baseguard.catalog.lifecycle import proposed, transition
from baseguard.catalog.model import CatalogEntry, CatalogError, CatalogException
from baseguard.catalog.schema import catalog_schema, schema_json, yaml_to_json
from baseguard.catalog.spec import (
    INIT_TEMPLATE,
    CatalogDocument,
    load_catalog,
    loads_catalog,
    parse_tree,
    read_text,
)
from tests.conftest import PROJECT

EXAMPLE = PROJECT / "examples" / "catalog.yaml"
SCHEMA = PROJECT / "docs" / "catalog.schema.json"
DAY = date(2026, 11, 2)

SMALL = """\
# Header comment: who owns this file.
version: 1

entries:
  # The in-house base.
  - id: base   # inline comment on the id
    provider: internal
    repository: registry.example.com/base/static
    tags: ["1.0", '1.*']
    owner: {team: platform, contact: p@example.com}
    patch_sla: {critical: 24h}
    lifecycle:
      state: proposed
      history:
        - {state: proposed, date: 2026-10-01, actor: alice}
      # comment after the history
    notes: keep me

  - id: old
    provider: internal
    repository: registry.example.com/base/old
    tags: ["0.9"]
    owner: {team: platform, contact: p@example.com}
    patch_sla: {critical: 24h}
    lifecycle: {state: approved}

# Exceptions come last.
exceptions: []
# Trailing comment.
"""


def write(tmp_path: Path, text: str, name: str = "catalog.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# --------------------------------------------------------------------------- round trip


@pytest.mark.parametrize("path", [EXAMPLE], ids=["example"])
def test_loading_and_dumping_unchanged_is_byte_identical(path: Path) -> None:
    doc = CatalogDocument.load(path)
    assert doc.dumps() == path.read_text(encoding="utf-8")


def test_init_template_is_a_valid_empty_catalog() -> None:
    cat = loads_catalog(INIT_TEMPLATE)
    assert cat.entries == () and cat.exceptions == ()


def test_a_transition_keeps_every_comment_and_the_key_order(tmp_path: Path) -> None:
    path = write(tmp_path, SMALL)
    doc = CatalogDocument.load(path)
    entry = doc.catalog.get("base")
    assert entry is not None
    doc.record_transition(transition(entry, "approved", actor="bob", on=DAY, reason="CAB-9"))
    doc.save()
    after = path.read_text()
    # Exactly two lines changed: the state, and one history step added after the first.
    assert after == SMALL.replace("      state: proposed\n", "      state: approved\n").replace(
        "        - {state: proposed, date: 2026-10-01, actor: alice}\n",
        "        - {state: proposed, date: 2026-10-01, actor: alice}\n"
        "        - {state: approved, date: 2026-11-02, actor: bob, reason: CAB-9}\n",
    )
    assert load_catalog(path).get("base").state == "approved"  # type: ignore[union-attr]


def test_deprecating_with_a_replacement_inserts_it_after_the_lifecycle(tmp_path: Path) -> None:
    path = write(tmp_path, SMALL)
    doc = CatalogDocument.load(path)
    old = doc.catalog.get("old")
    assert old is not None
    doc.record_transition(transition(old, "deprecated", actor="bob", on=DAY), replaced_by="base")
    doc.save()
    text = path.read_text()
    assert (
        "    lifecycle: {state: deprecated, history: [{state: deprecated, date: 2026-11-02, "
        "actor: bob}]}\n    replaced_by: base\n" in text
    )
    assert text.startswith("# Header comment: who owns this file.\n")
    assert text.endswith("# Exceptions come last.\nexceptions: []\n# Trailing comment.\n")


def test_adding_an_entry_and_an_exception_keeps_comments_and_blank_lines(tmp_path: Path) -> None:
    path = write(tmp_path, SMALL)
    doc = CatalogDocument.load(path)
    new = CatalogEntry.from_dict(
        {
            "id": "py",
            "provider": "chainguard",
            "repository": "cgr.dev/chainguard/python",
            "tags": ["latest"],
            "variants": [{"name": "dev", "tags": ["latest-dev"], "dev": True}],
            "runtime": {"name": "python", "version": "3.12", "libc": "glibc"},
            "eol": "2028-10-31",
        }
    )
    doc.add_entry(proposed(new, actor="carol", on=DAY))
    doc.add_exception(
        CatalogException.from_dict(
            {
                "id": "pg",
                "pattern": "postgres:16-*",
                "justification": "dev only",
                "approver": "dave",
                "created": "2026-11-02",
                "expires": "2027-01-31",
            }
        )
    )
    doc.save()
    text = path.read_text()
    # Everything that was there is still there, in order.
    remaining = iter(text.splitlines())
    old_lines = [line for line in SMALL.splitlines() if line != "exceptions: []"]
    assert all(line in remaining for line in old_lines)  # a subsequence: same order
    assert "    notes: keep me\n\n  - id: old\n" in text
    assert (
        "    lifecycle: {state: approved}\n"
        "\n"
        "  - id: py\n"
        "    provider: chainguard\n"
        "    repository: cgr.dev/chainguard/python\n"
        "    tags: [latest]\n"
        "    variants:\n"
        "      - name: dev\n"
        "        tags: [latest-dev]\n"
        "        dev: true\n"
        "    runtime: {name: python, version: '3.12', libc: glibc}\n"
        "    lifecycle:\n"
        "      state: proposed\n"
        "      history:\n"
        "        - {state: proposed, date: 2026-11-02, actor: carol}\n"
        "    eol: 2028-10-31\n"
        "\n"
        "# Exceptions come last.\n"
        "exceptions:\n"
        "  - id: pg\n"
        "    pattern: docker.io/library/postgres:16-*\n" in text
    )
    assert text.endswith("    expires: 2027-01-31\n# Trailing comment.\n")
    cat = load_catalog(path)
    assert [e.id for e in cat.entries] == ["base", "old", "py"]


def test_the_files_own_indentation_is_kept(tmp_path: Path) -> None:
    text = (
        "version: 1\n"
        "entries:\n"
        "- id: a\n"
        "  provider: internal\n"
        "  repository: r.example.com/a\n"
        "  tags:\n"
        "  - '1'\n"
        "exceptions: []\n"
    )
    path = write(tmp_path, text)
    doc = CatalogDocument.load(path)
    assert doc.dumps() == text
    entry = doc.catalog.get("a")
    assert entry is not None
    doc.record_transition(transition(entry, "retired", actor="x", on=DAY))
    assert "\n- id: a\n  provider: internal\n" in doc.dumps()


def test_an_edit_that_breaks_a_rule_is_refused_before_writing(tmp_path: Path) -> None:
    path = write(tmp_path, SMALL)
    doc = CatalogDocument.load(path)
    clash = CatalogEntry.from_dict(
        {
            "id": "clash",
            "provider": "internal",
            "repository": "registry.example.com/base/static",
            "tags": ["1.0"],
        }
    )
    with pytest.raises(CatalogError, match="already claimed by entry 'base'"):
        doc.add_entry(clash)
    with pytest.raises(CatalogError, match="already exists"):
        doc.add_entry(CatalogEntry.from_dict({**clash.to_dict(), "id": "base"}))
    assert path.read_text() == SMALL


def test_write_atomic_leaves_the_old_file_when_the_write_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, SMALL)

    def broken(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(spec.os, "replace", broken)
    with pytest.raises(CatalogError, match=r"cannot write .*: disk full"):
        spec.write_atomic(path, "version: 1\n")
    assert path.read_text() == SMALL
    assert os.listdir(tmp_path) == ["catalog.yaml"]  # no temporary file left behind


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("version: 1\nentrys: []\n", "catalog.yaml:2: entrys: unknown key 'entrys'"),
        (
            "version: 1\nentries:\n  - id: a\n    provider: internal\n"
            "    repository: r.example.com/a\n    tags: ['1']\n    eol: 2026-02-30\n",
            "catalog.yaml:7: entries[0].eol: 2026-02-30 is not a valid date: "
            "day is out of range for month",
        ),
        (
            "version: 1\nentries:\n  - id: a\n    provider: internal\n"
            "    repository: r.example.com/a\n    tags: ['1']\n    lifecycle:\n"
            "      history:\n        - {state: proposed, date: 2025-13-01, actor: x}\n",
            "catalog.yaml:9: entries[0].lifecycle.history[0].date: 2025-13-01 is not a valid "
            "date: month must be in 1..12",
        ),
        (
            "version: 1\nexceptions:\n  - id: e\n    pattern: 'x:*'\n    justification: j\n"
            "    approver: a\n    created: 2025-01-01\n    expires: 2025-02-29\n",
            "catalog.yaml:8: exceptions[0].expires: 2025-02-29 is not a valid date",
        ),
        (
            "version: 1\nentries:\n  - id: a\n    provider: internal\n"
            "    repository: r.example.com/a\n    tags: ['1']\n    eol: tomorrow\n",
            "catalog.yaml:7: entries[0].eol: must be a date (YYYY-MM-DD), not a string "
            "('tomorrow')",
        ),
        (
            "version: 1\nentries:\n  - id: a\n    provider: internal\n"
            "    repository: r.example.com/a\n    tags: ['1']\n    lifecycle: {state: live}\n",
            "catalog.yaml:7: entries[0].lifecycle.state: 'live' is not a lifecycle state; "
            "use one of proposed, approved, deprecated, retired",
        ),
        (
            "version: 1\nentries:\n"
            "  - {id: a, provider: internal, repository: r.example.com/a, tags: ['1']}\n"
            "  - {id: a, provider: internal, repository: r.example.com/b, tags: ['1']}\n",
            "catalog.yaml:4: entries[1].id: duplicate entry id 'a'",
        ),
        (
            "version: 1\nentries:\n"
            "  - {id: a, provider: internal, repository: 'https://r.example.com/a', tags: ['1']}\n",
            "catalog.yaml:3: entries[0].repository: invalid image reference",
        ),
        (
            "version: 1\nentries:\n"
            "  - {id: a, provider: internal, repository: r.example.com/a, tags: ['1'],\n"
            "     lifecycle: {state: approved}}\n",
            "catalog.yaml:3: entries[0].owner: an approved entry needs this: it has no owner",
        ),
        ("version: 1\nversion: 1\n", "catalog.yaml:2: not valid YAML: found duplicate key"),
        ("version: 1\nentries: [\n", "catalog.yaml:3: not valid YAML"),
        ("version: !!python/name:os.system 1\n", "catalog.yaml:1: version: YAML tags"),
        ("version: 1\n---\nversion: 1\n", "catalog.yaml:2: more than one YAML document"),
        ("", "catalog.yaml: (document): the file is empty"),
        ("- 1\n", "catalog.yaml: (document): must be a mapping, not a list"),
    ],
)
def test_errors_name_the_file_line_path_and_rule(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(CatalogError) as err:
        load_catalog(path)
    assert err.value.message.startswith(f"{tmp_path}/")
    assert message in err.value.message


def test_alias_bombs_are_refused_before_being_walked(tmp_path: Path) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        refs = ", ".join([f"*a{i - 1}"] * 10)
        lines.append(f"a{i}: &a{i} [{refs}]")
    path = write(tmp_path, "\n".join(lines) + "\n")
    with pytest.raises(CatalogError, match="expands to more than 200000 nodes"):
        load_catalog(path)


def test_a_few_aliases_are_fine(tmp_path: Path) -> None:
    text = (
        "version: 1\nentries:\n"
        "  - {id: a, provider: internal, repository: r.example.com/a, tags: &t ['1']}\n"
        "  - {id: b, provider: internal, repository: r.example.com/b, tags: *t}\n"
    )
    assert [e.tags for e in load_catalog(write(tmp_path, text)).entries] == [("1",), ("1",)]


def test_deep_nesting_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "version: " + "[" * 5000 + "]" * 5000 + "\n")
    with pytest.raises(CatalogError, match="nested more than 32 levels deep"):
        load_catalog(path)


def test_large_files_and_non_utf8_are_refused(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    big.write_bytes(b"# " + b"x" * spec.MAX_BYTES + b"\n")
    with pytest.raises(CatalogError, match="larger than"):
        read_text(big)
    latin = tmp_path / "latin.yaml"
    latin.write_bytes(b"version: 1\nnotes: caf\xe9\n")
    with pytest.raises(CatalogError, match="not UTF-8"):
        read_text(latin)


def test_missing_file_hints_at_init(tmp_path: Path) -> None:
    with pytest.raises(CatalogError) as err:
        load_catalog(tmp_path / "nope.yaml")
    assert err.value.hint is not None and "catalog init" in err.value.hint


# --------------------------------------------------------------------------- schema


def test_published_schema_is_the_generated_one() -> None:
    assert SCHEMA.read_text() == schema_json()


def test_schema_is_a_valid_draft_2020_12_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(catalog_schema())


def _errors(doc: object) -> list[str]:
    validator = jsonschema.Draft202012Validator(
        json.loads(SCHEMA.read_text()),
        format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER,
    )
    return [e.message for e in validator.iter_errors(doc)]


def test_example_catalog_validates_against_the_schema() -> None:
    doc = yaml_to_json(parse_tree(EXAMPLE.read_text(), str(EXAMPLE)))
    assert _errors(doc) == []
    assert len(doc["entries"]) == 8


def test_schema_refuses_what_the_validator_refuses() -> None:
    base = {"id": "a", "provider": "internal", "repository": "r.example.com/a", "tags": ["1"]}
    assert _errors({"version": 1, "entries": [base]}) == []
    assert _errors({"version": 1, "entries": [{**base, "colour": "red"}]})
    assert _errors({"version": 1, "entries": [{**base, "repository": "alpine:3.20"}]})
    assert _errors({"version": 1, "entries": [{**base, "lifecycle": {"state": "live"}}]})
    assert _errors({"version": 1, "entries": [{**base, "tags": []}]})
    assert _errors({"version": 2})
    sig = {"signature": {"key": "k.pem", "identity": "x", "issuer": "y"}}
    assert _errors({"version": 1, "entries": [{**base, "attestations": sig}]})


def test_a_new_catalog_file_follows_the_umask(tmp_path: Path) -> None:
    old = os.umask(0o027)
    try:
        _write_twice(tmp_path)
    finally:
        os.umask(old)


def _write_twice(tmp_path: Path) -> None:
    path = tmp_path / "catalog.yaml"
    spec.write_atomic(path, "version: 1\n")
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    path.chmod(0o600)
    spec.write_atomic(path, "version: 1\nentries: []\n")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600  # an existing file keeps its mode


def test_a_symlinked_catalog_is_written_through_and_stays_a_link(tmp_path: Path) -> None:
    shared = tmp_path / "config" / "catalog.yaml"
    shared.parent.mkdir()
    shared.write_text("version: 1\n")
    link = tmp_path / "catalog.yaml"
    link.symlink_to(shared)
    spec.write_atomic(link, "version: 1\nentries: []\n")
    assert link.is_symlink()
    assert shared.read_text() == "version: 1\nentries: []\n"
    assert sorted(p.name for p in shared.parent.iterdir()) == ["catalog.yaml"]  # no temp left

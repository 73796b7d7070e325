"""Odd and hostile files: each gets a clear per-file issue and the rest is still inventoried."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from baseguard.inventory.scan import inventory_paths
from tests.cli_runner import run_baseguard

GOOD = "FROM alpine:3.20\n"


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    (tmp_path / "good").mkdir()
    (tmp_path / "good" / "Dockerfile").write_text(GOOD)
    return tmp_path


@pytest.mark.timeout(30)
def test_yaml_alias_bomb_is_refused_quickly(tree: Path) -> None:
    lines = ["apiVersion: v1", "kind: List", 'a0: &a0 ["x","x","x","x","x","x","x","x","x"]']
    for i in range(1, 12):
        prev = f"*a{i - 1}"
        lines.append(f"a{i}: &a{i} [{', '.join([prev] * 9)}]")
    lines.append("items: [*a11]")
    (tree / "bomb.yaml").write_text("\n".join(lines) + "\n")
    # 9**12 nodes if expanded: composing keeps anchors shared and the walk never expands them.
    inv = inventory_paths([tree])
    assert [u.reference for u in inv.uses] == ["docker.io/library/alpine:3.20"]
    assert inv.files_scanned == 2


def test_walk_budget_stops_expansion() -> None:
    import yaml

    from baseguard.inventory import yamlsafe

    node = yaml.compose("a: &a [1, 2, 3]\nb: [*a, *a, *a]\n", Loader=yaml.SafeLoader)
    budget = yamlsafe.Budget(left=3)
    with pytest.raises(yamlsafe.YamlBudgetError):
        for _key, value in yamlsafe.pairs(node, budget):
            for item in yamlsafe.items(value, budget):
                yamlsafe.items(item, budget)


def test_fifty_megabyte_file_is_reported_not_read(tree: Path) -> None:
    big = tree / "huge.yaml"
    with big.open("wb") as fh:
        fh.write(b"apiVersion: v1\nkind: ConfigMap\ndata:\n  x: '")
        fh.write(b"a" * (50 << 20))
        fh.write(b"'\n")
    inv = inventory_paths([tree])
    assert len(inv.uses) == 1
    assert any(i.path == "huge.yaml" and "limit" in i.message for i in inv.issues)


def test_binary_file_named_dockerfile(tree: Path) -> None:
    (tree / "Dockerfile").write_bytes(b"\x7fELF\x02\x01\x01\0" + bytes(range(256)) * 8)
    inv = inventory_paths([tree])
    assert len(inv.uses) == 1
    assert any(i.path == "Dockerfile" and "binary" in i.message for i in inv.issues)


def test_symlinked_file_out_of_the_tree_is_not_followed(
    tree: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    outside = tmp_path_factory.mktemp("outside") / "Dockerfile"
    outside.write_text("FROM secret/image:1\n")
    (tree / "Dockerfile").symlink_to(outside)
    inv = inventory_paths([tree])
    assert [u.reference for u in inv.uses] == ["docker.io/library/alpine:3.20"]


def test_invalid_reference_is_an_issue(tree: Path) -> None:
    (tree / "pod.yaml").write_text(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n"
        "    - name: c\n      image: 'UPPER/Case:tag'\n"
    )
    inv = inventory_paths([tree])
    assert any("invalid image reference" in i.message and i.line == 7 for i in inv.issues)


def test_cli_reports_issues_on_stderr_and_exits_0(tree: Path) -> None:
    (tree / "Dockerfile").write_bytes(b"\0\0\0")
    done = run_baseguard("inventory", str(tree), "-o", "json", timeout=60)
    assert done.returncode == 0
    assert "binary file" in done.stderr
    assert '"docker.io/library/alpine:3.20"' in done.stdout


def test_cli_missing_path_is_exit_2(tmp_path: Path) -> None:
    done = run_baseguard("inventory", str(tmp_path / "nope"), timeout=60)
    assert done.returncode == 2
    assert "no such file" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("name", "content"),
    [("garbage.bin", b"\x7fELF\x02\x01\x01\0\0\0"), ("bomb.yaml", b"a: &a [x, x]\nb: [*a, *a]\n")],
)
def test_a_named_file_that_no_source_reads_is_an_issue_naming_it(
    tmp_path: Path, name: str, content: bytes
) -> None:
    (tmp_path / name).write_bytes(content)
    inv = inventory_paths([tmp_path / name])
    assert inv.files_scanned == 0
    said = "not a Dockerfile, compose file or Kubernetes manifest"
    assert [(i.path, said in i.message) for i in inv.issues] == [(name, True)]


def test_a_named_file_that_cannot_be_read_says_so_not_that_it_is_unrecognised(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "deploy.yaml"
    path.write_text("apiVersion: v1\nkind: Pod\n")
    real_open = Path.open

    def refusing_open(self: Path, *args: Any, **kwargs: Any) -> Any:
        if self == path:
            raise PermissionError(13, "Permission denied", str(self))
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", refusing_open)  # tests run as root: chmod 000 reads
    inv = inventory_paths([path])
    assert [(i.path, i.message) for i in inv.issues] == [
        ("deploy.yaml", "cannot read: Permission denied")
    ]


def test_unrecognised_files_found_in_a_directory_are_skipped_quietly(tree: Path) -> None:
    (tree / "notes.yaml").write_text("a: 1\n")
    (tree / "garbage.bin").write_bytes(b"\0\1\2")
    inv = inventory_paths([tree])
    assert inv.issues == []
    assert inv.files_scanned == 1


def test_cli_warns_about_a_named_file_it_cannot_read_as_anything(tmp_path: Path) -> None:
    (tmp_path / "garbage.bin").write_bytes(b"\0\1\2")
    done = run_baseguard("inventory", "garbage.bin", "-o", "json", cwd=tmp_path, timeout=60)
    assert done.returncode == 0
    assert "warning: garbage.bin: not a Dockerfile, compose file or Kubernetes" in done.stderr
    assert '"path": "garbage.bin"' in done.stdout


def test_cli_base_that_is_not_a_reference_is_exit_2_naming_the_option(tmp_path: Path) -> None:
    done = run_baseguard("inventory", str(tmp_path), "--base", "NOT A REF", timeout=60)
    assert done.returncode == 2
    assert "--base 'NOT A REF': invalid image reference" in done.stderr
    assert "Traceback" not in done.stderr


def test_check_names_an_unrecognised_file_relative_to_the_repository(tmp_path: Path) -> None:
    from baseguard.gate.check import collect_uses

    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "garbage.bin").write_bytes(b"\0\1\2")
    inv = collect_uses([tmp_path / "sub" / "garbage.bin"], root=tmp_path)
    assert [i.path for i in inv.issues] == ["sub/garbage.bin"]

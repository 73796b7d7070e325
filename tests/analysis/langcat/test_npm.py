"""NpmCataloger: package.json of packages under node_modules."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from baseguard.analysis.catalogers.npm import NpmCataloger, licenses_of
from baseguard.image.rootfs import build_fs_from_dir
from tests.analysis.fs_builders import build_fs
from tests.analysis.langcat.helpers import by_name, captures, run

APP = "app/node_modules"


def pj(**fields: Any) -> str:
    return json.dumps(fields)


def test_plain_scoped_and_nested_packages() -> None:
    fs = build_fs(
        {
            f"{APP}/left-pad/package.json": pj(
                name="left-pad", version="1.3.0", license="WTFPL", dependencies={"b": "^1"}
            ),
            f"{APP}/@types/node/package.json": pj(
                name="@types/node",
                version="20.11.5",
                license="MIT",
                dependencies={"undici-types": "~5.26.4"},
            ),
            f"{APP}/express/node_modules/debug/package.json": pj(name="debug", version="2.6.9"),
            f"{APP}/express/node_modules/@scope/Deep/package.json": pj(
                name="@Scope/Deep", version="0.1.0"
            ),
        }
    )
    result = run(NpmCataloger(), fs)
    assert result.issues == []
    pkgs = {p.name: p for p in result.packages}
    assert sorted(pkgs) == ["@Scope/Deep", "@types/node", "debug", "left-pad"]
    pad = pkgs["left-pad"]
    assert (pad.version, pad.type, pad.purl) == ("1.3.0", "npm", "pkg:npm/left-pad@1.3.0")
    assert (pad.licenses, pad.depends) == (["WTFPL"], ["b"])
    assert pad.locations == [f"/{APP}/left-pad/package.json"]
    assert pad.cataloger == "npm"
    node = pkgs["@types/node"]
    assert node.purl == "pkg:npm/%40types/node@20.11.5"
    assert node.depends == ["undici-types"]
    assert pkgs["debug"].locations == [f"/{APP}/express/node_modules/debug/package.json"]
    assert pkgs["@Scope/Deep"].purl == "pkg:npm/%40scope/deep@0.1.0"


@pytest.mark.parametrize(
    ("doc", "expected"),
    [
        ({"license": "(MIT OR Apache-2.0)"}, ["(MIT OR Apache-2.0)"]),
        ({"license": {"type": "ISC", "url": "http://x"}}, ["ISC"]),
        ({"licenses": [{"type": "MIT"}, {"type": "GPL-2.0"}]}, ["MIT", "GPL-2.0"]),
        ({"licenses": ["BSD-3-Clause"]}, ["BSD-3-Clause"]),
        ({"license": ["MIT", "MIT"]}, ["MIT"]),
        ({"license": 3}, []),
        ({}, []),
    ],
)
def test_license_forms(doc: dict[str, Any], expected: list[str]) -> None:
    assert licenses_of(doc) == expected


def test_package_json_of_a_package_subdirectory_is_not_a_package() -> None:
    fs = build_fs(
        {
            f"{APP}/glob/package.json": pj(name="glob", version="10.3.10"),
            f"{APP}/glob/dist/esm/package.json": pj(name="glob-esm", version="0.0.0"),
            "app/package.json": pj(name="my-app", version="1.0.0"),
        }
    )
    assert [p.name for p in run(NpmCataloger(), fs).packages] == ["glob"]


def test_package_json_without_name_or_version_is_skipped_silently() -> None:
    fs = build_fs(
        {
            f"{APP}/a/package.json": pj(name="a"),
            f"{APP}/b/package.json": pj(version="1.0.0"),
            f"{APP}/c/package.json": pj(type="module"),
        }
    )
    result = run(NpmCataloger(), fs)
    assert (result.packages, result.issues) == ([], [])


def test_malformed_package_json_is_an_issue_and_the_scan_goes_on() -> None:
    fs = build_fs(
        {
            f"{APP}/bad/package.json": '{"name": "bad", ',
            f"{APP}/list/package.json": "[1, 2]",
            f"{APP}/num/package.json": pj(name="num", version=1),
            f"{APP}/ok/package.json": pj(name="ok", version="1.0.0"),
        }
    )
    result = run(NpmCataloger(), fs)
    assert [p.name for p in result.packages] == ["ok"]
    issues = {i.path: i.message for i in result.issues}
    assert issues[f"/{APP}/bad/package.json"].startswith("not valid JSON")
    assert issues[f"/{APP}/list/package.json"] == "package.json is a JSON list, not an object"
    assert issues[f"/{APP}/num/package.json"] == "name and version must be strings"


def test_capture_globs() -> None:
    cat = NpmCataloger()
    assert captures(cat, "usr/lib/node_modules/npm/package.json")
    assert captures(cat, f"{APP}/@types/node/package.json")
    assert captures(cat, f"{APP}/a/node_modules/b/package.json")
    assert not captures(cat, f"{APP}/a/lib/package.json")
    assert not captures(cat, "app/package.json")


def _flatten(tree: dict[str, Any], out: set[tuple[str, str]]) -> None:
    for name, node in (tree.get("dependencies") or {}).items():
        if node.get("missing") or "version" not in node:
            continue
        out.add((name, node["version"]))
        _flatten(node, out)


def test_real_npm_tree_matches_npm_ls(tmp_path: Path) -> None:
    """npm's own installed tree, copied into an image root: we find what `npm ls` finds."""
    src = Path("/usr/lib/node_modules/npm")
    npm = shutil.which("npm")
    if npm is None or not (src / "node_modules").is_dir():
        pytest.skip("needs npm installed under /usr/lib/node_modules/npm")
    root = tmp_path / "root"
    dest = root / "usr/lib/node_modules/npm"
    shutil.copytree(src, dest, symlinks=True)
    listed = subprocess.run(
        [npm, "ls", "--all", "--json", "--offline", "--prefix", str(dest)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    doc = json.loads(listed.stdout)
    expected = {(doc["name"], doc["version"])}
    _flatten(doc, expected)
    assert len(expected) > 100
    fs = build_fs_from_dir(root, capture=NpmCataloger.capture)
    result = run(NpmCataloger(), fs)
    assert result.issues == []
    found = {(p.name, p.version) for p in result.packages}
    assert found == expected
    assert len(by_name(result)["npm"]) == 1

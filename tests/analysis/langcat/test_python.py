"""PythonCataloger: dist-info and egg-info metadata in site-packages / dist-packages."""

from __future__ import annotations

import importlib.metadata
import sys
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from baseguard.analysis.catalogers.python import (
    PythonCataloger,
    depends_from_requires_txt,
    licenses_of,
    parse_headers,
)
from tests.analysis.fs_builders import build_fs
from tests.analysis.langcat.helpers import IndexedImage, captures, run, tar_layer

SITE = "usr/local/lib/python3.11/site-packages"
DIST = "usr/lib/python3/dist-packages"

TYPING_EXT = """\
Metadata-Version: 2.4
Name: Typing_Extensions
Version: 4.12.2
Summary: Backported and Experimental Type Hints for Python 3.8+
License-Expression: PSF-2.0
Classifier: License :: OSI Approved :: Python Software Foundation License
Requires-Dist: Foo.Bar_baz>=1.0
Requires-Dist: colorama; sys_platform == "win32"
Requires-Dist: pytest ; extra == "test"
Requires-Dist: rich[jupyter] (>=10) ; python_version >= "3.8" and extra == 'cli'

Long description: Name: not-a-header
"""


def test_dist_info_gives_name_version_purl_licenses_and_non_extra_depends() -> None:
    fs = build_fs({f"{SITE}/typing_extensions-4.12.2.dist-info/METADATA": TYPING_EXT})
    result = run(PythonCataloger(), fs)
    assert result.issues == []
    [pkg] = result.packages
    assert (pkg.name, pkg.version, pkg.type) == ("Typing_Extensions", "4.12.2", "pypi")
    assert pkg.purl == "pkg:pypi/typing-extensions@4.12.2"
    assert pkg.licenses == ["PSF-2.0"]
    assert pkg.depends == ["colorama", "foo-bar-baz"]
    assert pkg.locations == [f"/{SITE}/typing_extensions-4.12.2.dist-info/METADATA"]
    assert pkg.cataloger == "python"
    assert pkg.metadata == {"sitePackages": f"/{SITE}"}


def test_purl_keeps_dots_as_the_purl_spec_says() -> None:
    fs = build_fs(
        {f"{SITE}/zope.interface-6.0.dist-info/METADATA": "Name: zope.interface\nVersion: 6.0\n"}
    )
    [pkg] = run(PythonCataloger(), fs).packages
    assert pkg.purl == "pkg:pypi/zope.interface@6.0"


def test_egg_info_directory_reads_pkg_info_and_requires_txt() -> None:
    fs = build_fs(
        {
            f"{DIST}/six-1.16.0.egg-info/PKG-INFO": "Metadata-Version: 1.2\nName: six\n"
            "Version: 1.16.0\nLicense: MIT\n",
            f"{DIST}/six-1.16.0.egg-info/requires.txt": "attrs>=19\n\n[:python_version < '3']\n"
            "enum34\n\n[docs]\nsphinx\n",
        }
    )
    [pkg] = run(PythonCataloger(), fs).packages
    assert (pkg.name, pkg.version, pkg.licenses) == ("six", "1.16.0", ["MIT"])
    assert pkg.depends == ["attrs", "enum34"]
    assert pkg.metadata["sitePackages"] == f"/{DIST}"


def test_egg_info_as_a_single_file_is_read() -> None:
    fs = build_fs({f"{DIST}/chardet-5.1.0.egg-info": "Name: chardet\nVersion: 5.1.0\n"})
    [pkg] = run(PythonCataloger(), fs).packages
    assert (pkg.name, pkg.version) == ("chardet", "5.1.0")
    assert pkg.locations == [f"/{DIST}/chardet-5.1.0.egg-info"]


def test_metadata_outside_site_packages_is_ignored() -> None:
    fs = build_fs(
        {
            "src/app/foo-1.0.dist-info/METADATA": "Name: foo\nVersion: 1.0\n",
            f"{SITE}/foo-1.0.dist-info/RECORD": "x,,\n",
        }
    )
    assert run(PythonCataloger(), fs).packages == []


def test_malformed_metadata_is_an_issue_and_the_scan_goes_on() -> None:
    fs = build_fs(
        {
            f"{SITE}/broken-1.0.dist-info/METADATA": "Name: broken\n",
            f"{SITE}/empty-1.0.dist-info/METADATA": b"\x00\xff\xfe garbage",
            f"{SITE}/good-2.0.dist-info/METADATA": "Name: good\nVersion: 2.0\n",
        }
    )
    result = run(PythonCataloger(), fs)
    assert [p.name for p in result.packages] == ["good"]
    assert [(i.path, i.message) for i in result.issues] == [
        (f"/{SITE}/broken-1.0.dist-info/METADATA", "not core metadata: no Version header"),
        (f"/{SITE}/empty-1.0.dist-info/METADATA", "not core metadata: no Name or Version header"),
    ]
    assert all(i.cataloger == "python" for i in result.issues)


def test_license_text_pasted_into_license_falls_back_to_classifiers() -> None:
    headers = parse_headers(
        "Name: x\nVersion: 1\nLicense: Copyright (c) 2020 Someone\n"
        "        Permission is hereby granted, free of charge...\n"
        "Classifier: License :: OSI Approved :: MIT License\n"
        "Classifier: License :: OSI Approved :: BSD License\n"
        "Classifier: License :: OSI Approved\n"
    )
    assert licenses_of(headers) == ["MIT", "BSD License"]


def test_unknown_license_is_not_a_license() -> None:
    assert licenses_of(parse_headers("Name: x\nLicense: UNKNOWN\n")) == []


def test_requires_txt_skips_extra_sections() -> None:
    assert depends_from_requires_txt("a\n[test]\nb\n[:sys_platform=='win32']\nc\n") == ["a", "c"]


def test_capture_globs_cover_every_metadata_form() -> None:
    cat = PythonCataloger()
    assert captures(cat, f"{SITE}/a-1.dist-info/METADATA")
    assert captures(cat, f"{DIST}/a-1.egg-info/PKG-INFO")
    assert captures(cat, f"{DIST}/a-1.egg-info")
    assert captures(cat, f"{DIST}/a-1.egg-info/requires.txt")
    assert captures(cat, "opt/venv/lib/python3.12/site-packages/b-2.dist-info/METADATA")
    assert captures(cat, "site-packages/b-2.dist-info/METADATA")
    assert not captures(cat, f"{SITE}/a-1.dist-info/RECORD")
    assert not captures(cat, f"{SITE}/a/METADATA")


def test_real_wheel_metadata_verbatim() -> None:
    dist = importlib.metadata.distribution("httpx")
    text = dist.read_text("METADATA")
    assert text is not None
    fs = build_fs({f"{SITE}/httpx-{dist.version}.dist-info/METADATA": text})
    [pkg] = run(PythonCataloger(), fs).packages
    assert (pkg.name, pkg.version) == ("httpx", dist.version)
    assert pkg.purl == f"pkg:pypi/httpx@{dist.version}"
    assert pkg.licenses == ["BSD-3-Clause"]
    assert pkg.depends == ["anyio", "certifi", "httpcore", "idna"]


def _oracle_depends(dist: importlib.metadata.Distribution) -> list[str]:
    """Requires-Dist names without extras, by the packaging library (the independent oracle)."""
    names = set()
    for spec in dist.requires or []:
        try:
            req = Requirement(spec)
        except InvalidRequirement:
            continue
        if req.marker is None or "extra" not in str(req.marker):
            names.add(canonicalize_name(req.name))
    return sorted(names)


def test_the_venv_site_packages_as_an_image_matches_importlib_metadata(tmp_path: Path) -> None:
    """Every distribution in this venv, indexed from real OCI layers, is found as
    importlib.metadata sees it; the second layer's upgrade wins and is attributed to it."""
    site = Path(next(p for p in sys.path if p.endswith("site-packages")))
    dists = {
        d._path.name: d  # type: ignore[attr-defined]
        for d in importlib.metadata.distributions(path=[str(site)])
    }
    files: dict[str, bytes | tuple[bytes, int]] = {}
    for dirname in dists:
        for f in (site / dirname).iterdir():
            if f.is_file():
                files[f"{SITE}/{dirname}/{f.name}"] = f.read_bytes()
    assert len(files) > 50
    base = tar_layer(tmp_path / "base.tar", files)
    top = tar_layer(
        tmp_path / "top.tar",
        {f"{SITE}/httpx-0.28.1.dist-info/METADATA": b"Name: httpx\nVersion: 99.0\n"},
    )
    indexed = IndexedImage(tmp_path, [base, top], PythonCataloger.capture)
    try:
        assert any(p.endswith("/METADATA") for p in indexed.fs.captured)
        result = run(PythonCataloger(), indexed.fs)
    finally:
        indexed.close()
    assert result.issues == []
    found = {(p.name, p.version) for p in result.packages}
    expected = {(d.metadata["Name"], d.version) for d in dists.values()}
    if "httpx-0.28.1.dist-info" in dists:
        expected = (expected - {("httpx", "0.28.1")}) | {("httpx", "99.0")}
    assert found == expected
    layers = indexed.image.layers
    for pkg in result.packages:
        want = layers[1].digest if pkg.name == "httpx" else layers[0].digest
        assert pkg.layer == want
        dist = dists.get(Path(pkg.locations[0]).parent.name)
        if dist is not None and pkg.name != "httpx":
            assert pkg.depends == _oracle_depends(dist), pkg.name


def test_license_text_with_blank_continuation_lines_does_not_end_the_headers() -> None:
    from baseguard.analysis.catalogers.python import depends_of, parse_headers

    text = (
        "Metadata-Version: 2.1\nName: x\nVersion: 1\nLicense: \n"
        "        Apache License\n        \n        Version 2.0\n"
        'Requires-Dist: pydantic[email]<3,>=2\nRequires-Dist: pdoc; extra == "doc"\n'
        "\nbody\n"
    )
    assert depends_of(parse_headers(text)) == ["pydantic"]

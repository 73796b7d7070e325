"""VEX: OpenVEX, CSAF and CycloneDX read from real documents, and applied by purl and id."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from packageurl import PackageURL

from baseguard.matching.matcher import match
from baseguard.matching.vex import (
    ImageContext,
    VexError,
    VexIndex,
    load_vex,
    parse_vex,
    purl_matches,
)
from tests.conftest import realdata_path
from tests.matching.helpers import NOW, FakeDB, advisory, analysis, apk, lang

OPENVEX = ("attestations", "openvex")


def vex_file(*parts: str) -> Path:
    return realdata_path(*OPENVEX, *parts)


def write(tmp_path: Path, doc: Any, name: str = "doc.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(doc) if not isinstance(doc, str) else doc)
    return path


def openvex(*statements: dict[str, Any], timestamp: str = "2024-01-01T00:00:00Z") -> dict[str, Any]:
    return {
        "@context": "https://openvex.dev/ns/v0.2.0",
        "@id": "https://example.com/vex-1",
        "author": "test",
        "timestamp": timestamp,
        "version": 1,
        "statements": list(statements),
    }


# -- reading real documents -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("parts", "fmt", "count"),
    [
        (("go-vex", "pkg", "vex", "testdata", "v0.0.1.json"), "openvex", 1),
        (("go-vex", "pkg", "vex", "testdata", "v0.0.1-noversion.json"), "openvex", 1),
        (("go-vex", "pkg", "vex", "testdata", "v001-1.vex.json"), "openvex", 1),
        (("go-vex", "pkg", "vex", "testdata", "v0.2.0.json"), "openvex", 5),
        (("go-vex", "pkg", "vex", "testdata", "v020-1.vex.json"), "openvex", 1),
        (("go-vex", "pkg", "vex", "testdata", "csaf.json"), "csaf", 1),
        (("go-vex", "pkg", "csaf", "testdata", "rhsa-2020_1358.json"), "csaf", 1474),
        (("spec", "spec-example-0.openvex.json"), "openvex", 1),
        (("vexctl", "examples", "openvex", "demo.vex.json"), "openvex", 1),
        (("vexctl", "examples", "sarif", "sample-2vulns.openvex.json"), "openvex", 2),
        (("vexctl", "examples", "csaf", "csaf.json"), "csaf", 1),
        (("vexctl", "pkg", "ctl", "testdata", "images.vex.json"), "openvex", 2),
    ],
)
def test_real_documents_are_read(parts: tuple[str, ...], fmt: str, count: int) -> None:
    doc = load_vex(vex_file(*parts))
    assert doc.format == fmt
    assert len(doc.statements) == count


def test_openvex_0_0_1_string_vulnerability_and_purl_products() -> None:
    doc = load_vex(vex_file("go-vex", "pkg", "vex", "testdata", "v0.0.1.json"))
    [stmt] = doc.statements
    assert (stmt.vulnerability, stmt.status) == ("CVE-2023-12345", "fixed")
    assert [str(p.purl) for p in stmt.products] == [
        "pkg:apk/wolfi/git@2.39.0-r1?arch=armv7",
        "pkg:apk/wolfi/git@2.39.0-r1?arch=x86_64",
    ]
    assert stmt.timestamp is not None and stmt.timestamp.year == 2023


def test_openvex_0_2_0_image_products_carry_subcomponents() -> None:
    doc = load_vex(vex_file("go-vex", "pkg", "vex", "testdata", "v0.2.0.json"))
    product = doc.statements[0].products[0]
    assert product.is_image
    assert [s.id for s in product.subcomponents] == [
        "pkg:apk/alpine/libssl3@3.0.8-r3",
        "pkg:apk/alpine/libcrypto3@3.0.8-r3",
    ]


def test_statements_without_a_product_are_reported_and_not_applied() -> None:
    doc = load_vex(vex_file("vexctl", "pkg", "ctl", "testdata", "test.vex.json"))
    assert doc.statements == []
    assert "2 statement(s) name no product" in doc.warnings[0]


def test_non_purl_products_are_named_in_a_warning() -> None:
    doc = load_vex(vex_file("vexctl", "pkg", "ctl", "testdata", "images.vex.json"))
    assert any("'nginx' is not a package URL" in w for w in doc.warnings)


def test_csaf_products_resolve_to_their_purl_with_flags_and_threats() -> None:
    doc = load_vex(vex_file("go-vex", "pkg", "vex", "testdata", "csaf.json"))
    [stmt] = doc.statements
    assert stmt.status == "not_affected"
    assert str(stmt.products[0].purl) == "pkg:golang/github.com/go-homedir@v1.2.0"
    assert stmt.impact_statement == "Class with vulnerable code was removed before shipping."


def test_red_hat_csaf_products_without_purls_become_rpm_purls() -> None:
    doc = load_vex(vex_file("go-vex", "pkg", "csaf", "testdata", "rhsa-2020_1358.json"))
    assert {s.status for s in doc.statements} == {"fixed"}
    assert {s.vulnerability for s in doc.statements} == {"CVE-2020-1711", "CVE-2020-7039"}
    purls = {str(p.purl) for s in doc.statements for p in s.products}
    assert "pkg:rpm/redhat/hivex@1.3.15-7.module%2Bel8.1.0%2B4066%2B0f1aadab?arch=aarch64" in purls
    assert doc.warnings == []


def test_trivy_openvex_with_an_id_only_vulnerability_and_subcomponents() -> None:
    doc = load_vex(realdata_path("sbom", "trivy", "vex", "file", "openvex.json"))
    [stmt] = doc.statements
    assert stmt.vulnerability == "CVE-2022-23628"
    assert stmt.products[0].id == "pkg:golang/github.com/testdata/testdata"
    assert (
        stmt.products[0].subcomponents[0].id
        == "pkg:golang/github.com/open-policy-agent/opa@v0.35.0"
    )
    assert stmt.impact_statement == "The vulnerable code isn't called"


def test_yaml_openvex_is_read() -> None:
    doc = load_vex(vex_file("go-vex", "pkg", "vex", "testdata", "vex.yaml"))
    assert doc.format == "openvex"


def test_an_openvex_statement_inside_a_dsse_envelope_is_read(tmp_path: Path) -> None:
    statement = {
        "_type": "https://in-toto.io/Statement/v1",
        "predicateType": "https://openvex.dev/ns/v0.2.0",
        "subject": [],
        "predicate": openvex(
            {
                "vulnerability": {"name": "CVE-1"},
                "products": ["pkg:apk/alpine/zlib"],
                "status": "fixed",
            }
        ),
    }
    envelope = {
        "payloadType": "application/vnd.in-toto+json",
        "payload": base64.b64encode(json.dumps(statement).encode()).decode(),
        "signatures": [],
    }
    assert load_vex(write(tmp_path, envelope)).statements[0].vulnerability == "CVE-1"


# -- malformed documents --------------------------------------------------------------------


def test_invalid_json_is_an_error_naming_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "{ not json", "broken.json")
    with pytest.raises(VexError, match=r"broken\.json is not valid JSON"):
        load_vex(path)


def test_an_unknown_status_is_an_error_naming_the_file_and_statement(tmp_path: Path) -> None:
    doc = openvex({"vulnerability": "CVE-1", "products": ["pkg:apk/a/b"], "status": "maybe"})
    with pytest.raises(VexError, match=r"doc\.json: statement 0 \(CVE-1\) has status 'maybe'"):
        load_vex(write(tmp_path, doc))


def test_a_document_of_no_known_format_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(VexError, match="not a VEX document"):
        load_vex(write(tmp_path, {"hello": "world"}))


def test_a_missing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(VexError, match="cannot read VEX file"):
        load_vex(tmp_path / "absent.json")


def test_wrong_types_inside_a_document_are_an_error_not_a_crash(tmp_path: Path) -> None:
    doc = {"bomFormat": "CycloneDX", "vulnerabilities": [{"id": "CVE-1", "analysis": "x"}]}
    doc["vulnerabilities"][0]["analysis"] = {"state": "not_affected"}
    doc["vulnerabilities"][0]["affects"] = "nope"
    with pytest.raises(VexError, match=r"doc\.json"):
        load_vex(write(tmp_path, doc))


# -- purl matching --------------------------------------------------------------------------


def p(text: str) -> PackageURL:
    return PackageURL.from_string(text)


@pytest.mark.parametrize(
    ("pattern", "candidate", "expected"),
    [
        ("pkg:apk/alpine/zlib", "pkg:apk/alpine/zlib@1.3.1-r1?arch=x86_64", True),
        ("pkg:apk/alpine/zlib@1.3.1-r1", "pkg:apk/alpine/zlib@1.3.1-r1?arch=x86_64", True),
        ("pkg:apk/alpine/zlib@1.3.1-r0", "pkg:apk/alpine/zlib@1.3.1-r1?arch=x86_64", False),
        ("pkg:apk/alpine/zlib?arch=x86_64", "pkg:apk/alpine/zlib@1?arch=x86_64", True),
        ("pkg:apk/alpine/zlib?arch=armv7", "pkg:apk/alpine/zlib@1?arch=x86_64", False),
        ("pkg:apk/alpine/zlib?arch=x86_64", "pkg:apk/alpine/zlib@1", False),
        ("pkg:apk/wolfi/zlib", "pkg:apk/alpine/zlib@1", False),
        ("pkg:deb/debian/zlib", "pkg:apk/alpine/zlib@1", False),
        ("pkg:pypi/Jinja2@2.10", "pkg:pypi/jinja2@2.10", True),
        ("pkg:golang/github.com/x/y@v1.2.0", "pkg:golang/github.com/x/y@1.2.0", True),
        ("pkg:golang/github.com/x/Y", "pkg:golang/github.com/x/y@1.2.0", False),
    ],
)
def test_purl_matching(pattern: str, candidate: str, expected: bool) -> None:
    assert purl_matches(p(pattern), p(candidate)) is expected


# -- applying statements --------------------------------------------------------------------

ZLIB = "pkg:apk/alpine/zlib@1.3.1-r1?arch=x86_64"
DIGEST = "sha256:" + "a" * 64


def index_of(
    tmp_path: Path, *docs: dict[str, Any], packages: tuple[str, ...] = (ZLIB,)
) -> VexIndex:
    parsed = [load_vex(write(tmp_path, d, f"d{i}.json")) for i, d in enumerate(docs)]
    return VexIndex(parsed, ImageContext({DIGEST}, "registry.example.com/team/app"), packages)


def test_a_later_statement_overrides_an_earlier_one_for_the_same_product(tmp_path: Path) -> None:
    first = load_vex(vex_file("vexctl", "examples", "openvex", "document1.vex.json"))
    second = load_vex(vex_file("vexctl", "examples", "openvex", "document2.vex.json"))
    bash = "pkg:apk/wolfi/bash@1.0.0?arch=x86_64"
    for order in ([first, second], [second, first]):
        stmt = VexIndex(order, ImageContext()).decide({"CVE-1234-5678"}, bash)
        assert stmt is not None and stmt.status == "fixed"


def test_a_vulnerability_is_matched_by_alias(tmp_path: Path) -> None:
    doc = openvex(
        {
            "vulnerability": {"name": "GHSA-xxxx-yyyy-zzzz", "aliases": ["CVE-2024-1"]},
            "products": [{"@id": "pkg:apk/alpine/zlib"}],
            "status": "not_affected",
            "justification": "vulnerable_code_not_in_execute_path",
        }
    )
    assert index_of(tmp_path, doc).decide({"CVE-2024-1"}, ZLIB) is not None
    assert index_of(tmp_path, doc).decide({"CVE-2024-2"}, ZLIB) is None


def test_an_image_product_with_subcomponents_applies_only_to_them_in_that_image(
    tmp_path: Path,
) -> None:
    def doc(digest: str) -> dict[str, Any]:
        return openvex(
            {
                "vulnerability": {"name": "CVE-2024-1"},
                "products": [
                    {
                        "@id": f"pkg:oci/app@{digest.replace(':', '%3A')}",
                        "subcomponents": [{"@id": "pkg:apk/alpine/zlib"}],
                    }
                ],
                "status": "not_affected",
            }
        )

    same, other = doc(DIGEST), doc("sha256:" + "b" * 64)
    assert index_of(tmp_path, same).decide({"CVE-2024-1"}, ZLIB) is not None
    assert index_of(tmp_path, same).decide({"CVE-2024-1"}, "pkg:apk/alpine/musl@1") is None
    assert index_of(tmp_path, other).decide({"CVE-2024-1"}, ZLIB) is None


def test_an_image_product_without_subcomponents_covers_the_whole_image(tmp_path: Path) -> None:
    doc = openvex(
        {
            "vulnerability": {"name": "CVE-2024-1"},
            "products": [{"@id": "pkg:oci/app?repository_url=registry.example.com/team/app"}],
            "status": "fixed",
        }
    )
    assert index_of(tmp_path, doc).decide({"CVE-2024-1"}, "pkg:apk/alpine/musl@1") is not None
    elsewhere = openvex(
        {
            "vulnerability": {"name": "CVE-2024-1"},
            "products": [{"@id": "pkg:oci/app?repository_url=registry.example.com/other/app"}],
            "status": "fixed",
        }
    )
    assert index_of(tmp_path, elsewhere).decide({"CVE-2024-1"}, ZLIB) is None


def test_a_package_product_scopes_its_subcomponents_only_when_present() -> None:
    doc = load_vex(realdata_path("sbom", "trivy", "vex", "file", "openvex.json"))
    opa = "pkg:golang/github.com/open-policy-agent/opa@v0.35.0"
    main = "pkg:golang/github.com/testdata/testdata"
    present = VexIndex([doc], ImageContext(), [opa, main])
    assert present.decide({"CVE-2022-23628"}, opa) is not None
    absent = VexIndex([doc], ImageContext(), [opa])
    assert absent.decide({"CVE-2022-23628"}, opa) is None


def test_cyclonedx_vex_refs_resolve_to_components_and_bom_links(tmp_path: Path) -> None:
    doc = {
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "version": 1,
        "components": [{"bom-ref": "zlib-ref", "name": "zlib", "purl": "pkg:apk/alpine/zlib"}],
        "vulnerabilities": [
            {
                "id": "CVE-2024-1",
                "analysis": {"state": "not_affected", "justification": "code_not_reachable"},
                "affects": [{"ref": "zlib-ref"}],
            },
            {
                "id": "CVE-2024-2",
                "analysis": {"state": "resolved"},
                "affects": [{"ref": "urn:cdx:3e671687/1#pkg:apk/alpine/zlib@1.3.1-r1"}],
            },
            {
                "id": "CVE-2024-3",
                "analysis": {"state": "exploitable", "detail": "reachable"},
                "affects": [{"ref": "zlib-ref", "versions": [{"version": "1.3.1-r1"}]}],
            },
            {"id": "CVE-2024-4", "affects": [{"ref": "zlib-ref"}]},
        ],
    }
    vex = load_vex(write(tmp_path, doc))
    assert vex.format == "cyclonedx"
    index = VexIndex([vex], ImageContext())
    decided = {v: index.decide({v}, ZLIB) for v in ("CVE-2024-1", "CVE-2024-2", "CVE-2024-3")}
    assert {k: s.status if s else None for k, s in decided.items()} == {
        "CVE-2024-1": "not_affected",
        "CVE-2024-2": "fixed",
        "CVE-2024-3": "affected",
    }
    assert index.decide({"CVE-2024-3"}, "pkg:apk/alpine/zlib@1.3.1-r2") is None
    assert any("no analysis state" in w for w in vex.warnings)


def test_unknown_cyclonedx_state_is_an_error() -> None:
    doc = {
        "bomFormat": "CycloneDX",
        "vulnerabilities": [{"id": "CVE-1", "analysis": {"state": "fine"}, "affects": []}],
    }
    with pytest.raises(VexError, match="analysis state 'fine'"):
        parse_vex(doc, "x.cdx.json")


# -- through the matcher ----------------------------------------------------------------------


def test_not_affected_suppresses_and_under_investigation_annotates(tmp_path: Path) -> None:
    db = FakeDB(
        [
            advisory("CVE-2024-1", "Alpine:v3.20", "zlib", fixed="9", severity="CRITICAL"),
            advisory("CVE-2024-2", "Alpine:v3.20", "zlib", fixed="9", severity="HIGH"),
        ]
    )
    doc = openvex(
        {
            "vulnerability": "CVE-2024-1",
            "products": ["pkg:apk/alpine/zlib"],
            "status": "not_affected",
            "justification": "vulnerable_code_not_in_execute_path",
            "impact_statement": "never loaded",
        },
        {
            "vulnerability": "CVE-2024-2",
            "products": ["pkg:apk/alpine/zlib"],
            "status": "under_investigation",
        },
    )
    result = match(
        analysis([apk("zlib", "1.3.1-r1")]), db, vex=[load_vex(write(tmp_path, doc))], now=NOW
    )
    assert [(f.id, f.vex.status if f.vex else None) for f in result.findings] == [
        ("CVE-2024-2", "under_investigation")
    ]
    [gone] = result.suppressed
    assert gone.vex is not None
    assert (gone.id, gone.vex.justification, gone.vex.impact_statement) == (
        "CVE-2024-1",
        "vulnerable_code_not_in_execute_path",
        "never loaded",
    )
    assert result.at_or_above("critical") == []


def test_a_vex_statement_for_another_version_does_not_suppress(tmp_path: Path) -> None:
    db = FakeDB([advisory("CVE-2024-1", "PyPI", "jinja2", fixed="2.10.1")])
    doc = openvex(
        {"vulnerability": "CVE-2024-1", "products": ["pkg:pypi/jinja2@2.11"], "status": "fixed"}
    )
    vex = [load_vex(write(tmp_path, doc))]
    result = match(analysis([lang("pypi", "jinja2", "2.10")]), db, vex=vex, now=NOW)
    assert [f.id for f in result.findings] == ["CVE-2024-1"]


def test_deeply_nested_json_is_an_error_not_a_crash(tmp_path: Path) -> None:
    with pytest.raises(VexError, match=r"nested too deeply|not valid JSON"):
        load_vex(write(tmp_path, "[" * 100_000 + "]" * 100_000))


def test_a_yaml_alias_bomb_is_refused(tmp_path: Path) -> None:
    lines = ['a0: &a0 ["x", "x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    for i in range(1, 9):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
    lines.append("statements: *a8")
    with pytest.raises(VexError):
        load_vex(write(tmp_path, "\n".join(lines), "bomb.yaml"))


def test_binary_junk_is_an_error_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "junk.vex"
    path.write_bytes(b"\x1f\x8b\x08\x00\xff\xfe")
    with pytest.raises(VexError, match=r"junk\.vex"):
        load_vex(path)


def test_red_hat_csaf_applies_to_the_rpm_our_cataloger_describes() -> None:
    doc = load_vex(vex_file("go-vex", "pkg", "csaf", "testdata", "rhsa-2020_1358.json"))
    index = VexIndex([doc], ImageContext())
    installed = (
        "pkg:rpm/redhat/hivex@1.3.15-7.module%2Bel8.1.0%2B4066%2B0f1aadab"
        "?arch=aarch64&distro=rhel-8.1"
    )
    stmt = index.decide({"CVE-2020-1711"}, installed)
    assert stmt is not None and stmt.status == "fixed"
    other_arch = installed.replace("aarch64", "x86_64")
    assert index.decide({"CVE-2020-1711"}, other_arch) is not None  # x86_64 is listed too
    older = installed.replace("1.3.15-7", "1.3.15-6")
    assert index.decide({"CVE-2020-1711"}, older) is None

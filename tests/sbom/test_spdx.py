"""SPDX 2.3 JSON: parsed and validated by spdx-tools with zero messages, then golden files."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from baseguard.analysis.analyze import Analysis
from baseguard.sbom.spdx import SpdxJson
from tests.sbom.builders import NOW, SERIAL, sample_analysis, scratch_analysis
from tests.sbom.conftest import assert_valid_spdx, check_golden


def write(analysis: Analysis) -> str:
    return SpdxJson().write(analysis, now=NOW, serial=SERIAL)


def doc_of(analysis: Analysis) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(write(analysis))
    return data


def packages_named(doc: dict[str, Any], name: str) -> list[dict[str, Any]]:
    return [p for p in doc["packages"] if p["name"] == name]


def annotation(element: dict[str, Any], key: str) -> Any:
    for ann in element.get("annotations", []):
        head, _, rest = ann["comment"].partition(" ")
        if head == key:
            return json.loads(rest)
    raise AssertionError(f"no {key} annotation")


# -- validity -----------------------------------------------------------------------------------


def test_sample_analysis_validates_with_spdx_tools(tmp_path: Path) -> None:
    assert_valid_spdx(write(sample_analysis()), tmp_path)


def test_scratch_analysis_validates_with_spdx_tools(tmp_path: Path) -> None:
    assert_valid_spdx(write(scratch_analysis()), tmp_path)


def test_demo_image_validates_with_spdx_tools(demo_analysis: Analysis, tmp_path: Path) -> None:
    text = write(demo_analysis)
    assert_valid_spdx(text, tmp_path)
    doc = json.loads(text)
    assert len(doc["packages"]) == len(demo_analysis.packages) + 2  # + image + distro


def test_sample_matches_golden(fixed_version: str) -> None:
    check_golden("sample.spdx.json", write(sample_analysis()))


def test_scratch_matches_golden(fixed_version: str) -> None:
    check_golden("scratch.spdx.json", write(scratch_analysis()))


def test_output_is_deterministic() -> None:
    assert write(sample_analysis()) == write(sample_analysis())


# -- document ---------------------------------------------------------------------------------


def test_document_header(fixed_version: str) -> None:
    doc = doc_of(sample_analysis())
    assert doc["spdxVersion"] == "SPDX-2.3"
    assert doc["dataLicense"] == "CC0-1.0"
    assert doc["SPDXID"] == "SPDXRef-DOCUMENT"
    assert doc["name"] == "registry.example.com/team/app"
    assert doc["creationInfo"] == {
        "created": "2025-01-02T03:04:05Z",
        "creators": [f"Tool: baseguard-{fixed_version}"],
    }


def test_namespace_is_a_unique_uri_carrying_the_serial() -> None:
    namespace = doc_of(sample_analysis())["documentNamespace"]
    assert namespace.startswith("https://")
    assert namespace.endswith(SERIAL)
    assert "#" not in namespace
    other = json.loads(SpdxJson().write(sample_analysis(), now=NOW))["documentNamespace"]
    assert other != namespace


# -- the image ------------------------------------------------------------------------------------


def test_document_describes_the_image_package() -> None:
    doc = doc_of(sample_analysis())
    describes = [r for r in doc["relationships"] if r["relationshipType"] == "DESCRIBES"]
    assert describes == [
        {
            "spdxElementId": "SPDXRef-DOCUMENT",
            "relationshipType": "DESCRIBES",
            "relatedSpdxElement": "SPDXRef-Image",
        }
    ]
    image = doc["packages"][0]
    assert image["SPDXID"] == "SPDXRef-Image"
    assert image["primaryPackagePurpose"] == "CONTAINER"
    assert image["versionInfo"] == "sha256:" + "a" * 64
    assert image["checksums"] == [{"algorithm": "SHA256", "checksumValue": "a" * 64}]
    assert image["externalRefs"][0]["referenceLocator"].startswith("pkg:oci/app@sha256:")


def test_image_identity_distro_and_facts_are_annotations() -> None:
    analysis = sample_analysis()
    image = doc_of(analysis)["packages"][0]
    assert annotation(image, "baseguard:image") == analysis.image.to_dict()
    assert annotation(image, "baseguard:distro") == analysis.distro.to_dict()
    assert analysis.facts is not None
    assert annotation(image, "baseguard:facts") == analysis.facts.to_dict()
    for ann in image["annotations"]:
        assert ann["annotationType"] == "OTHER"
        assert ann["annotator"].startswith("Tool: baseguard-")


def test_distro_is_an_operating_system_package_contained_by_the_image() -> None:
    doc = doc_of(sample_analysis())
    (osp,) = [p for p in doc["packages"] if p.get("primaryPackagePurpose") == "OPERATING-SYSTEM"]
    assert (osp["name"], osp["versionInfo"]) == ("alpine", "3.20.3")
    assert {
        "spdxElementId": "SPDXRef-Image",
        "relationshipType": "CONTAINS",
        "relatedSpdxElement": osp["SPDXID"],
    } in doc["relationships"]


# -- packages -------------------------------------------------------------------------------------


def test_spdx_ids_are_unique_and_well_formed() -> None:
    doc = doc_of(sample_analysis())
    ids = [p["SPDXID"] for p in doc["packages"]]
    assert len(ids) == len(set(ids))
    for spdx_id in ids:
        assert re.fullmatch(r"SPDXRef-[A-Za-z0-9.-]+", spdx_id), spdx_id


def test_duplicate_packages_get_distinct_stable_ids() -> None:
    ids = sorted(p["SPDXID"] for p in packages_named(doc_of(sample_analysis()), "requests"))
    assert ids == ["SPDXRef-Package-pypi-requests-2.32.3", "SPDXRef-Package-pypi-requests-2.32.3-2"]


def test_scoped_npm_name_is_sanitised_in_the_id() -> None:
    (babel,) = packages_named(doc_of(sample_analysis()), "@babel/core")
    assert babel["SPDXID"] == "SPDXRef-Package-npm-babel-core-7.26.0"


def test_package_fields() -> None:
    (binsh,) = packages_named(doc_of(sample_analysis()), "busybox-binsh")
    assert binsh["versionInfo"] == "1.36.1-r29"
    assert binsh["downloadLocation"] == "NOASSERTION"
    assert binsh["licenseConcluded"] == "NOASSERTION"
    assert binsh["licenseDeclared"] == "GPL-2.0-only"
    assert binsh["sourceInfo"] == "built package from: busybox 1.36.1-r29"
    assert binsh["externalRefs"] == [
        {
            "referenceCategory": "PACKAGE-MANAGER",
            "referenceType": "purl",
            "referenceLocator": "pkg:apk/alpine/busybox-binsh@1.36.1-r29"
            "?arch=x86_64&distro=alpine-3.20.3",
        }
    ]
    assert annotation(binsh, "baseguard:package") == {
        "type": "apk",
        "licenses": ["GPL-2.0-only"],
        "sourceName": "busybox",
        "sourceVersion": "1.36.1-r29",
        "architecture": "x86_64",
        "layer": "sha256:" + "1" * 64,
        "locations": ["/lib/apk/db/installed"],
        "cataloger": "apk",
    }


def test_every_package_is_contained_by_the_image() -> None:
    doc = doc_of(sample_analysis())
    contained = {
        r["relatedSpdxElement"]
        for r in doc["relationships"]
        if r["relationshipType"] == "CONTAINS" and r["spdxElementId"] == "SPDXRef-Image"
    }
    assert contained == {p["SPDXID"] for p in doc["packages"][1:]}


def test_depends_on_relationships_follow_resolved_depends() -> None:
    doc = doc_of(sample_analysis())
    names = {p["SPDXID"]: p["name"] for p in doc["packages"]}
    edges = sorted(
        (names[r["spdxElementId"]], names[r["relatedSpdxElement"]])
        for r in doc["relationships"]
        if r["relationshipType"] == "DEPENDS_ON"
    )
    assert edges == [
        ("busybox", "musl"),
        ("busybox-binsh", "busybox"),
        ("cyc-a", "cyc-b"),
        ("cyc-b", "cyc-a"),
        ("libssl3", "libcrypto3"),
        ("libssl3", "musl"),
        ("requests", "urllib3"),
    ]


# -- licenses -------------------------------------------------------------------------------------


def test_declared_license_is_an_expression_with_license_refs_for_free_text() -> None:
    doc = doc_of(sample_analysis())
    (libssl,) = packages_named(doc, "libssl3")
    assert libssl["licenseDeclared"] == (
        "(Apache-2.0 OR MIT) AND LicenseRef-OpenSSL-license-see-COPYING"
    )
    (cyc_a,) = packages_named(doc, "cyc-a")
    assert cyc_a["licenseDeclared"] == "LicenseRef-GPLv2"
    (cyc_b,) = packages_named(doc, "cyc-b")
    assert cyc_b["licenseDeclared"] == "NOASSERTION"
    (libc,) = packages_named(doc, "libc6")
    assert libc["licenseDeclared"] == (
        "LGPL-2.1-or-later AND (GPL-2.0-or-later WITH GCC-exception-2.0)"
    )


def test_every_license_ref_has_extracted_licensing_info() -> None:
    doc = doc_of(sample_analysis())
    infos = {i["licenseId"]: i for i in doc["hasExtractedLicensingInfos"]}
    used = set()
    for p in doc["packages"]:
        used.update(re.findall(r"LicenseRef-[A-Za-z0-9.-]+", p["licenseDeclared"]))
    assert used == set(infos)
    assert infos["LicenseRef-GPLv2"]["extractedText"] == "GPLv2+"
    assert infos["LicenseRef-Propriet-re-Lizenz"]["name"] == "Proprietäre Lizenz"


def test_no_extracted_licensing_infos_key_when_every_license_is_spdx() -> None:
    assert "hasExtractedLicensingInfos" not in doc_of(scratch_analysis())

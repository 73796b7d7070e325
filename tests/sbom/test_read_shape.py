"""SBOMs of the wrong shape are SbomErrors naming the file and the JSON path, never an empty
reading: an empty reading scans clean, a false negative."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from baseguard.sbom import SbomError
from baseguard.sbom.read import parse_sbom, read_sbom
from baseguard.sbom.read_common import MAX_FIELD_WARNINGS
from tests.cli_runner import run_baseguard
from tests.matching.helpers import advisory, build_db
from tests.sbom.builders import sample_analysis

NPM = {"type": "library", "name": "left-pad", "version": "1.0.0", "purl": "pkg:npm/left-pad@1.0.0"}


def cdx(**members: Any) -> dict[str, Any]:
    return {"bomFormat": "CycloneDX", "specVersion": "1.6", "version": 1, **members}


def spdx(**members: Any) -> dict[str, Any]:
    return {"spdxVersion": "SPDX-2.3", "SPDXID": "SPDXRef-DOCUMENT", "name": "x", **members}


def spdx_package(**members: Any) -> dict[str, Any]:
    return {
        "SPDXID": "SPDXRef-Package-left-pad",
        "name": "left-pad",
        "versionInfo": "1.0.0",
        "externalRefs": [
            {
                "referenceCategory": "PACKAGE-MANAGER",
                "referenceType": "purl",
                "referenceLocator": "pkg:npm/left-pad@1.0.0",
            }
        ],
        **members,
    }


def rejected(doc: Any, *words: str, name: str = "bom.json") -> SbomError:
    data = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
    with pytest.raises(SbomError) as info:
        parse_sbom(data, name=name)
    message = info.value.message
    assert message.startswith(f"{name}: "), message
    for word in words:
        assert word in message, message
    assert "Error" not in message, message  # no exception class name in what the user reads
    assert info.value.hint
    return info.value


# -- CycloneDX ----------------------------------------------------------------------------------


def test_cyclonedx_components_that_is_a_string_is_an_error() -> None:
    rejected(cdx(components="x"), "components is a string, not an array")


def test_cyclonedx_component_that_is_a_number_is_an_error() -> None:
    rejected(cdx(components=[1, NPM]), "bom.json: components[0] is a number, not an object")


def test_cyclonedx_nested_component_that_is_not_an_object_is_an_error() -> None:
    outer = {"type": "application", "name": "app", "components": [NPM, "x"]}
    rejected(cdx(components=[outer]), "components[0].components[1] is a string, not an object")


def test_cyclonedx_nested_components_that_is_an_object_is_an_error() -> None:
    outer = {"type": "application", "name": "app", "components": {"a": NPM}}
    rejected(cdx(components=[outer]), "components[0].components is an object, not an array")


@pytest.mark.parametrize("version", ["0.9", "1.7", "2.0", ""])
def test_unsupported_cyclonedx_spec_version_is_an_error_listing_the_supported(
    version: str,
) -> None:
    error = rejected(cdx(specVersion=version, components=[NPM]), "not supported")
    assert "1.0, 1.1, 1.2, 1.3, 1.4, 1.5, 1.6" in error.message


def test_cyclonedx_spec_version_that_is_a_number_is_an_error() -> None:
    rejected(cdx(specVersion=1.5, components=[NPM]), "specVersion is a number, not a string")


def test_cyclonedx_without_spec_version_is_an_error() -> None:
    doc = cdx(components=[NPM])
    del doc["specVersion"]
    rejected(doc, "specVersion is missing", "1.0, 1.1, 1.2, 1.3, 1.4, 1.5, 1.6")


@pytest.mark.parametrize("version", ["1.2", "1.3", "1.4", "1.5", "1.6"])
def test_every_supported_cyclonedx_version_is_read(version: str) -> None:
    analysis = parse_sbom(json.dumps(cdx(specVersion=version, components=[NPM])).encode())
    assert [p.name for p in analysis.packages] == ["left-pad"]


def test_cyclonedx_xml_of_an_unsupported_version_is_an_error() -> None:
    xml = b'<bom xmlns="http://cyclonedx.org/schema/bom/0.9" version="1"><components/></bom>'
    rejected(xml, "'0.9' is not supported", "1.0, 1.1, 1.2", name="bom.xml")


@pytest.mark.parametrize("version", ["1.0", "1.1"])
def test_cyclonedx_xml_1_0_and_1_1_are_still_read(version: str) -> None:
    xml = (
        f'<bom xmlns="http://cyclonedx.org/schema/bom/{version}" version="1"><components>'
        '<component type="library"><name>left-pad</name><version>1.0.0</version>'
        "<purl>pkg:npm/left-pad@1.0.0</purl></component></components></bom>"
    ).encode()
    analysis = parse_sbom(xml, name="bom.xml")
    assert [(p.name, p.version, p.purl) for p in analysis.packages] == [
        ("left-pad", "1.0.0", "pkg:npm/left-pad@1.0.0")
    ]


def test_cyclonedx_xml_1_2_is_read() -> None:
    xml = (
        b'<bom xmlns="http://cyclonedx.org/schema/bom/1.2" version="1"><components>'
        b'<component type="library"><name>x</name><version>1</version>'
        b"<purl>pkg:npm/x@1</purl></component></components></bom>"
    )
    assert [p.name for p in parse_sbom(xml).packages] == ["x"]


@pytest.mark.parametrize(
    ("members", "words"),
    [
        ({"metadata": "not an object"}, "metadata is a string, not an object"),
        ({"metadata": {"component": [1]}}, "metadata.component is an array, not an object"),
        ({"metadata": {"properties": {"a": 1}}}, "metadata.properties is an object, not an array"),
        ({"metadata": {"timestamp": 5}}, "metadata.timestamp is a number, not a string"),
        ({"dependencies": {"a": "b"}}, "dependencies is an object, not an array"),
        ({"dependencies": [4]}, "dependencies[0] is a number, not an object"),
        (
            {"dependencies": [{"ref": "a", "dependsOn": "b"}]},
            "dependencies[0].dependsOn is a string, not an array",
        ),
    ],
)
def test_cyclonedx_document_members_of_the_wrong_type_are_errors(
    members: dict[str, Any], words: str
) -> None:
    rejected(cdx(components=[NPM], **members), words)


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("purl", 7, "components[0].purl is a number, not a string"),
        ("name", ["x"], "components[0].name is an array, not a string"),
        ("version", 1.2, "components[0].version is a number, not a string"),
        ("type", {}, "components[0].type is an object, not a string"),
        ("bom-ref", 3, "components[0].bom-ref is a number, not a string"),
        ("properties", "nope", "components[0].properties is a string, not an array"),
        ("properties", [5], "components[0].properties[0] is a number, not an object"),
        (
            "properties",
            [{"name": "aquasecurity:trivy:SrcName", "value": 1}],
            "components[0].properties[0].value is a number, not a string",
        ),
    ],
)
def test_cyclonedx_component_fields_that_decide_the_package_must_have_their_type(
    field: str, value: Any, words: str
) -> None:
    rejected(cdx(components=[{**NPM, field: value}]), words)


def test_cyclonedx_informational_fields_of_the_wrong_type_are_ignored_with_a_warning() -> None:
    comp = {**NPM, "licenses": [3, {"license": "MIT"}, {"expression": "MIT"}], "description": 5}
    analysis = parse_sbom(json.dumps(cdx(components=[comp])).encode())
    (package,) = analysis.packages
    assert package.licenses == ["MIT"]
    assert "components[0].licenses[0] is a number, not an object; ignored" in analysis.warnings
    assert "components[0].licenses[1].license is a string, not an object; ignored" in (
        analysis.warnings
    )
    assert "components[0].description is a number, not a string; ignored" in analysis.warnings


def test_cyclonedx_evidence_of_the_wrong_shape_is_ignored_with_a_warning() -> None:
    evidence = {"occurrences": ["/usr/lib/x", {"location": "/app/package.json"}, {"location": 1}]}
    analysis = parse_sbom(json.dumps(cdx(components=[{**NPM, "evidence": evidence}])).encode())
    (package,) = analysis.packages
    assert package.locations == ["/app/package.json"]
    assert analysis.warnings == [
        "components[0].evidence.occurrences[0] is a string, not an object; ignored",
        "components[0].evidence.occurrences[2].location is a number, not a string; ignored",
    ]


def test_many_ignored_fields_are_counted_not_listed() -> None:
    comps = [{**NPM, "bom-ref": str(i), "licenses": "MIT"} for i in range(20)]
    analysis = parse_sbom(json.dumps(cdx(components=comps)).encode())
    assert len(analysis.packages) == 20
    assert len([w for w in analysis.warnings if w.endswith("; ignored")]) == MAX_FIELD_WARNINGS
    assert f"{20 - MAX_FIELD_WARNINGS} more field(s) of the wrong type were ignored" in (
        analysis.warnings
    )


def test_our_cyclonedx_property_that_is_not_json_is_an_error() -> None:
    comp = {
        **NPM,
        "properties": [
            {"name": "baseguard:package:type", "value": "npm"},
            {"name": "baseguard:package:metadata", "value": "{not json"},
        ],
    }
    rejected(cdx(components=[comp]), "components[0] property baseguard:package:metadata")


# -- SPDX ---------------------------------------------------------------------------------------


def test_spdx_packages_that_is_an_object_is_an_error() -> None:
    rejected(spdx(packages={"a": spdx_package()}), "bom.json: packages is an object, not an array")


def test_spdx_package_that_is_not_an_object_is_an_error() -> None:
    rejected(spdx(packages=[spdx_package(), 1]), "packages[1] is a number, not an object")


@pytest.mark.parametrize("version", ["SPDX-2.0", "SPDX-2.4", "SPDX-3.0", "2.3"])
def test_unsupported_spdx_version_is_an_error_listing_the_supported(version: str) -> None:
    error = rejected(spdx(spdxVersion=version, packages=[spdx_package()]), "not supported")
    assert "SPDX-2.1, SPDX-2.2, SPDX-2.3" in error.message


def test_spdx_version_that_is_not_a_string_is_an_error() -> None:
    rejected(spdx(spdxVersion=2.3), "spdxVersion is a number, not a string", "SPDX-2.2")


@pytest.mark.parametrize("version", ["SPDX-2.2", "SPDX-2.3"])
def test_every_supported_spdx_version_is_read(version: str) -> None:
    doc = spdx(spdxVersion=version, packages=[spdx_package()])
    assert [p.name for p in parse_sbom(json.dumps(doc).encode()).packages] == ["left-pad"]


@pytest.mark.parametrize(
    ("members", "words"),
    [
        ({"relationships": "x"}, "relationships is a string, not an array"),
        ({"relationships": [[]]}, "relationships[0] is an array, not an object"),
        (
            {"relationships": [{"spdxElementId": 1, "relationshipType": "DESCRIBES"}]},
            "relationships[0].spdxElementId is a number, not a string",
        ),
        ({"documentDescribes": "SPDXRef-x"}, "documentDescribes is a string, not an array"),
        ({"creationInfo": []}, "creationInfo is an array, not an object"),
        ({"hasExtractedLicensingInfos": [2]}, "hasExtractedLicensingInfos[0] is a number"),
    ],
)
def test_spdx_document_members_of_the_wrong_type_are_errors(
    members: dict[str, Any], words: str
) -> None:
    rejected(spdx(packages=[spdx_package()], **members), words)


@pytest.mark.parametrize(
    ("members", "words"),
    [
        ({"name": 5}, "packages[0].name is a number, not a string"),
        ({"versionInfo": 1.0}, "packages[0].versionInfo is a number, not a string"),
        ({"SPDXID": None, "externalRefs": {}}, "packages[0].externalRefs is an object"),
        ({"externalRefs": ["purl"]}, "packages[0].externalRefs[0] is a string, not an object"),
        (
            {"externalRefs": [{"referenceType": "purl", "referenceLocator": 7}]},
            "packages[0].externalRefs[0].referenceLocator is a number, not a string",
        ),
        ({"attributionTexts": "SrcName: x"}, "packages[0].attributionTexts is a string"),
        ({"annotations": {}}, "packages[0].annotations is an object, not an array"),
        (
            {"annotations": [{"comment": "baseguard:package {oops"}]},
            "packages[0].annotations[0].comment: baseguard:package is not valid JSON",
        ),
    ],
)
def test_spdx_package_fields_that_decide_the_package_must_have_their_type(
    members: dict[str, Any], words: str
) -> None:
    rejected(spdx(packages=[spdx_package(**members)]), words)


def test_spdx_informational_fields_of_the_wrong_type_are_ignored_with_a_warning() -> None:
    doc = spdx(packages=[spdx_package(licenseDeclared=["MIT"], licenseConcluded="MIT")])
    analysis = parse_sbom(json.dumps(doc).encode())
    (package,) = analysis.packages
    assert package.licenses == ["MIT"]
    assert "packages[0].licenseDeclared is an array, not a string; ignored" in analysis.warnings


# -- SPDX tag-value ------------------------------------------------------------------------------

TAG_VALUE = (
    "SPDXVersion: SPDX-2.3\n"
    "DataLicense: CC0-1.0\n"
    "SPDXID: SPDXRef-DOCUMENT\n"
    "DocumentName: x\n"
    "PackageName: left-pad\n"
    "SPDXID: SPDXRef-Package-left-pad\n"
    "PackageVersion: 1.0.0\n"
    "ExternalRef: PACKAGE-MANAGER purl pkg:npm/left-pad@1.0.0\n"
)


def test_tag_value_reads() -> None:
    assert [p.name for p in parse_sbom(TAG_VALUE.encode()).packages] == ["left-pad"]


def test_tag_value_with_crlf_line_ends_reads_the_same() -> None:
    crlf = TAG_VALUE.replace("\n", "\r\n").encode()
    assert [p.purl for p in parse_sbom(crlf).packages] == ["pkg:npm/left-pad@1.0.0"]


@pytest.mark.parametrize("char", ["\x00", "\x0c", "\x1c", "\x1b", "\x7f"])
def test_tag_value_with_a_control_character_is_an_error_naming_the_line(char: str) -> None:
    text = TAG_VALUE.replace("PackageName: left-pad", f"PackageName: left{char}-pad")
    rejected(text.encode(), f"line 5: control character U+{ord(char):04X}", name="bom.spdx")


def test_tag_value_nul_before_the_packages_is_an_error() -> None:
    text = TAG_VALUE.replace("DocumentName: x\n", "DocumentName: x\n\x00")
    rejected(text.encode(), "line 5: control character U+0000", name="bom.spdx")


@pytest.mark.parametrize("version", ["SPDX-2.0", "SPDX-3.0"])
def test_tag_value_of_an_unsupported_version_is_an_error(version: str) -> None:
    text = TAG_VALUE.replace("SPDX-2.3", version)
    rejected(text.encode(), f"{version!r} is not supported", "SPDX-2.1, SPDX-2.2, SPDX-2.3")


def test_spdx_2_1_is_still_read_as_json_and_tag_value() -> None:
    doc = spdx(spdxVersion="SPDX-2.1", packages=[spdx_package()])
    assert [p.name for p in parse_sbom(json.dumps(doc).encode()).packages] == ["left-pad"]
    text = TAG_VALUE.replace("SPDX-2.3", "SPDX-2.1")
    assert [p.name for p in parse_sbom(text.encode(), name="bom.spdx").packages] == ["left-pad"]


# -- baseguard's own JSON -----------------------------------------------------------------------


def native(**changes: Any) -> dict[str, Any]:
    doc = sample_analysis().to_dict()
    doc.update(changes)
    return doc


def native_package(**changes: Any) -> dict[str, Any]:
    package: dict[str, Any] = sample_analysis().to_dict()["packages"][0]
    return {**package, **changes}


@pytest.mark.parametrize(
    ("doc", "words"),
    [
        (native(packages="x"), "packages is a string, not an array"),
        (native(packages=[5]), "packages[0] is a number, not an object"),
        (native(packages=[native_package(name=5)]), "packages[0].name is a number, not a string"),
        (native(packages=[native_package(licenses="MIT")]), "packages[0].licenses is a string"),
        (native(packages=[native_package(metadata=[1])]), "packages[0].metadata is an array"),
        (native(packages=[native_package(sourceName=1)]), "packages[0].sourceName is a number"),
        (native(image=[]), "image is an array, not an object"),
        (native(image={"layers": "sha256:x"}), "image.layers is a string, not an array"),
        (native(distro="alpine"), "distro is a string, not an object"),
        (native(distro={"id_like": "debian"}), "distro.id_like is a string, not an array"),
        (native(facts=[]), "facts is an array, not an object"),
        (native(facts={"uid": "0"}), "facts.uid is a string, not an integer"),
        (native(facts={"env": {"PATH": 1}}), "facts.env.PATH is a number, not a string"),
        (native(facts={"shells": [{"name": "sh"}]}), "facts.shells[0].path is null"),
        (native(issues=[1]), "issues[0] is a number, not an object"),
        (native(warnings=[1]), "warnings[0] is a number, not a string"),
        (native(analyzedAt=5), "analyzedAt is a number, not a string"),
        (native(schemaVersion="2"), "schemaVersion '2' is not supported"),
    ],
)
def test_baseguard_json_of_the_wrong_shape_is_an_error_naming_the_path(
    doc: dict[str, Any], words: str
) -> None:
    rejected(doc, words)


def test_baseguard_json_of_the_right_shape_reads_back() -> None:
    original = sample_analysis()
    assert parse_sbom(json.dumps(original.to_dict()).encode()).to_dict() == original.to_dict()


# -- through the CLI: exit 2, the file and the path named, no traceback -------------------------


def make_db(tmp_path: Path) -> Path:
    return build_db(
        tmp_path / "vulndb.sqlite",
        [("npm", advisory("GHSA-0000-0000-0001", "npm", "left-pad", severity="HIGH"))],
        built=datetime.now(UTC),
    )


@pytest.mark.parametrize(
    ("name", "data", "words"),
    [
        (
            "bom.cdx.json",
            json.dumps(cdx(components=[1, NPM])).encode(),
            "components[0] is a number, not an object",
        ),
        ("bom.cdx.json", json.dumps(cdx(components="x")).encode(), "components is a string"),
        (
            "bom.cdx.json",
            json.dumps(cdx(specVersion="9.9", components=[NPM])).encode(),
            "'9.9' is not supported",
        ),
        (
            "bom.spdx.json",
            json.dumps(spdx(packages={"a": spdx_package()})).encode(),
            "packages is an object, not an array",
        ),
        (
            "bom.spdx",
            TAG_VALUE.replace("PackageName: left-pad", "PackageName: left\x00-pad").encode(),
            "line 5: control character U+0000",
        ),
        (
            "image.json",
            json.dumps(native(packages=[native_package(name=5)])).encode(),
            "packages[0].name is a number, not a string",
        ),
    ],
)
def test_scan_of_a_malformed_sbom_exits_2_naming_the_file_and_the_path(
    tmp_path: Path, name: str, data: bytes, words: str
) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    result = run_baseguard("scan", str(path), "--db", str(make_db(tmp_path)))
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert name in result.stderr and words in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    assert "TypeError" not in result.stderr and "AttributeError" not in result.stderr


def test_scan_of_a_well_formed_sbom_still_finds_the_advisory(tmp_path: Path) -> None:
    path = tmp_path / "bom.cdx.json"
    path.write_text(json.dumps(cdx(components=[NPM])))
    result = run_baseguard("scan", str(path), "--db", str(make_db(tmp_path)), "-o", "json")
    assert result.returncode == 0, result.stderr
    assert "GHSA-0000-0000-0001" in result.stdout


def test_read_sbom_names_the_file_path(tmp_path: Path) -> None:
    path = tmp_path / "bom.json"
    path.write_text(json.dumps(cdx(components=[1])))
    with pytest.raises(SbomError) as info:
        read_sbom(path)
    assert info.value.message == f"{path}: components[0] is a number, not an object"


def test_scan_shows_what_reading_the_sbom_ignored(tmp_path: Path) -> None:
    path = tmp_path / "bom.cdx.json"
    path.write_text(json.dumps(cdx(components=[{**NPM, "description": 5}])))
    result = run_baseguard("scan", str(path), "--db", str(make_db(tmp_path)), "-o", "json")
    assert result.returncode == 0, result.stderr
    said = "components[0].description is a number, not a string; ignored"
    assert f"warning: {said}" in result.stderr
    doc = json.loads(result.stdout)
    assert said in doc["warnings"]
    assert "GHSA-0000-0000-0001" in [f["id"] for f in doc["findings"]]

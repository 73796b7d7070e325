"""CycloneDX 1.6 JSON: schema-valid (official validator), then compared with golden files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from baseguard.analysis.analyze import Analysis
from baseguard.sbom.cyclonedx import CycloneDxJson, cdx_licenses
from tests.sbom.builders import NOW, SERIAL, sample_analysis, scratch_analysis
from tests.sbom.conftest import assert_valid_cyclonedx, check_golden


def write(analysis: Analysis) -> str:
    return CycloneDxJson().write(analysis, now=NOW, serial=SERIAL)


def bom_of(analysis: Analysis) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(write(analysis))
    return data


def props(component: dict[str, Any]) -> dict[str, str]:
    return {p["name"]: p["value"] for p in component.get("properties", [])}


def by_name(bom: dict[str, Any], name: str) -> list[dict[str, Any]]:
    return [c for c in bom["components"] if c["name"] == name]


# -- validity -----------------------------------------------------------------------------------


def test_sample_analysis_is_schema_valid() -> None:
    assert_valid_cyclonedx(write(sample_analysis()))


def test_scratch_analysis_without_distro_facts_or_digests_is_schema_valid() -> None:
    assert_valid_cyclonedx(write(scratch_analysis()))


def test_demo_image_is_schema_valid(demo_analysis: Analysis) -> None:
    text = write(demo_analysis)
    assert_valid_cyclonedx(text)
    bom = json.loads(text)
    assert len([c for c in bom["components"] if c["type"] == "library"]) == len(
        demo_analysis.packages
    )


def test_sample_matches_golden(fixed_version: str) -> None:
    check_golden("sample.cdx.json", write(sample_analysis()))


def test_scratch_matches_golden(fixed_version: str) -> None:
    check_golden("scratch.cdx.json", write(scratch_analysis()))


def test_output_is_deterministic() -> None:
    assert write(sample_analysis()) == write(sample_analysis())


def test_output_ends_with_one_newline_and_is_indented() -> None:
    text = write(sample_analysis())
    assert text.endswith("}\n") and not text.endswith("\n\n")
    assert '\n  "metadata": {' in text


# -- the image ---------------------------------------------------------------------------------


def test_image_is_the_metadata_component_with_digest_and_oci_purl() -> None:
    image = bom_of(sample_analysis())["metadata"]["component"]
    assert image["type"] == "container"
    assert image["name"] == "registry.example.com/team/app"
    assert image["version"] == "sha256:" + "a" * 64
    assert image["purl"] == (
        "pkg:oci/app@sha256:" + "a" * 64 + "?arch=amd64"
        "&repository_url=registry.example.com/team/app&tag=1.4"
    )
    assert image["bom-ref"] == image["purl"]


def test_image_without_registry_name_has_no_purl_and_is_named_by_reference() -> None:
    image = bom_of(scratch_analysis())["metadata"]["component"]
    assert image["name"] == "dir:/tmp/root"
    assert "purl" not in image and "version" not in image


def test_image_identity_is_in_properties() -> None:
    p = props(bom_of(sample_analysis())["metadata"]["component"])
    assert p["baseguard:image:reference"] == "registry.example.com/team/app:1.4"
    assert p["baseguard:image:manifestDigest"] == "sha256:" + "a" * 64
    assert p["baseguard:image:indexDigest"] == "sha256:" + "b" * 64
    assert p["baseguard:image:configDigest"] == "sha256:" + "c" * 64
    assert p["baseguard:image:platform"] == "linux/amd64"
    assert [p["baseguard:image:layer:0"], p["baseguard:image:layer:1"]] == [
        "sha256:" + "1" * 64,
        "sha256:" + "2" * 64,
    ]


def test_base_image_annotation_is_a_pedigree_ancestor_and_a_fact() -> None:
    image = bom_of(sample_analysis())["metadata"]["component"]
    (ancestor,) = image["pedigree"]["ancestors"]
    assert ancestor["name"] == "docker.io/library/alpine:3.20"
    assert ancestor["version"] == "sha256:" + "d" * 64
    base = json.loads(props(image)["baseguard:facts:base_image"])
    assert base == {"name": "docker.io/library/alpine:3.20", "digest": "sha256:" + "d" * 64}


def test_attack_surface_facts_are_properties() -> None:
    p = props(bom_of(sample_analysis())["metadata"]["component"])
    assert p["baseguard:facts:has_shell"] == "true"
    assert p["baseguard:facts:runs_as_root"] == "false"
    assert p["baseguard:facts:user"] == "nonroot:nonroot"
    assert p["baseguard:facts:uid"] == "65532"
    assert p["baseguard:facts:setuid_files_count"] == "2"
    assert json.loads(p["baseguard:facts:setuid_files"]) == ["/bin/bbsuid", "/usr/bin/passwd"]
    assert json.loads(p["baseguard:facts:package_managers"]) == [
        {"name": "apk", "path": "/sbin/apk"}
    ]
    assert json.loads(p["baseguard:facts:network_tools"])[0]["name"] == "wget"
    assert p["baseguard:facts:layer_count"] == "2"
    assert p["baseguard:facts:compressed_size"] == "12345678"
    assert p["baseguard:facts:created"] == "2024-09-06T00:00:00Z"


def test_no_facts_means_no_fact_properties() -> None:
    p = props(bom_of(scratch_analysis())["metadata"]["component"])
    assert not [k for k in p if k.startswith("baseguard:facts:")]
    assert p["baseguard:distro:variant"] == "scratch"


def test_distro_is_an_operating_system_component_and_properties() -> None:
    bom = bom_of(sample_analysis())
    (osc,) = [c for c in bom["components"] if c["type"] == "operating-system"]
    assert (osc["name"], osc["version"], osc["description"]) == (
        "alpine",
        "3.20.3",
        "Alpine Linux v3.20",
    )
    p = props(bom["metadata"]["component"])
    assert p["baseguard:distro:id"] == "alpine"
    assert p["baseguard:distro:source"] == "etc/os-release"


def test_scratch_has_no_operating_system_component() -> None:
    assert bom_of(scratch_analysis())["components"] == []


def test_analysis_time_issues_and_warnings_are_document_properties() -> None:
    p = props(bom_of(sample_analysis())["metadata"])
    assert p["baseguard:analyzedAt"] == "2025-01-02T03:00:00+00:00"
    assert json.loads(p["baseguard:issue:0"])["cataloger"] == "npm"
    assert p["baseguard:warning:0"].startswith("layer 2")


# -- packages -----------------------------------------------------------------------------------


def test_one_library_component_per_package_with_unique_bom_refs() -> None:
    analysis = sample_analysis()
    bom = bom_of(analysis)
    libraries = [c for c in bom["components"] if c["type"] == "library"]
    assert len(libraries) == len(analysis.packages)
    refs = [c["bom-ref"] for c in bom["components"]] + [bom["metadata"]["component"]["bom-ref"]]
    assert len(refs) == len(set(refs))


def test_bom_ref_is_the_purl_when_unique() -> None:
    (musl,) = by_name(bom_of(sample_analysis()), "musl")
    assert musl["bom-ref"] == musl["purl"]


def test_duplicate_purls_are_disambiguated_by_location() -> None:
    requests = by_name(bom_of(sample_analysis()), "requests")
    assert sorted(c["bom-ref"] for c in requests) == [
        "pkg:pypi/requests@2.32.3|/opt/venv/lib/python3.12/site-packages/"
        "requests-2.32.3.dist-info/METADATA",
        "pkg:pypi/requests@2.32.3|/usr/lib/python3/site-packages/requests-2.32.3.dist-info/METADATA",
    ]
    assert {c["purl"] for c in requests} == {"pkg:pypi/requests@2.32.3"}


def test_package_without_purl_gets_a_baseguard_ref_and_no_purl() -> None:
    (mystery,) = by_name(bom_of(sample_analysis()), "mystery")
    assert mystery["bom-ref"] == "baseguard:package/binary/mystery@0.1"
    assert "purl" not in mystery


def test_package_properties_and_locations() -> None:
    (binsh,) = by_name(bom_of(sample_analysis()), "busybox-binsh")
    assert props(binsh) == {
        "baseguard:package:type": "apk",
        "baseguard:package:sourceName": "busybox",
        "baseguard:package:sourceVersion": "1.36.1-r29",
        "baseguard:package:architecture": "x86_64",
        "baseguard:package:layer": "sha256:" + "1" * 64,
        "baseguard:package:cataloger": "apk",
    }
    assert binsh["evidence"] == {"occurrences": [{"location": "/lib/apk/db/installed"}]}
    (log4j,) = by_name(bom_of(sample_analysis()), "log4j-core")
    assert [o["location"] for o in log4j["evidence"]["occurrences"]] == [
        "/app/lib/app.jar",
        "/app/lib/app.jar!/BOOT-INF/lib/log4j-core.jar",
    ]


# -- licenses -----------------------------------------------------------------------------------


def test_spdx_id_becomes_license_id() -> None:
    assert cdx_licenses(["MIT"], {}) == ([{"license": {"id": "MIT"}}], False)


def test_free_text_becomes_license_name() -> None:
    assert cdx_licenses(["Apache 2.0"], {}) == ([{"license": {"name": "Apache 2.0"}}], False)


def test_single_expression_becomes_expression() -> None:
    assert cdx_licenses(["GPL-2.0-or-later OR MIT"], {}) == (
        [{"expression": "GPL-2.0-or-later OR MIT"}],
        False,
    )


def test_several_ids_and_names_stay_a_list() -> None:
    out, inexact = cdx_licenses(["MIT", "GPLv2+", "BSD-3-Clause"], {})
    assert out == [
        {"license": {"id": "MIT"}},
        {"license": {"name": "GPLv2+"}},
        {"license": {"id": "BSD-3-Clause"}},
    ]
    assert not inexact


def test_expression_among_others_is_one_and_expression_plus_exact_property() -> None:
    (libssl,) = by_name(bom_of(sample_analysis()), "libssl3")
    assert libssl["licenses"] == [
        {"expression": "(Apache-2.0 OR MIT) AND LicenseRef-OpenSSL-license-see-COPYING"}
    ]
    assert json.loads(props(libssl)["baseguard:package:licenses"]) == [
        "Apache-2.0 OR MIT",
        "OpenSSL license, see COPYING",
    ]


def test_package_without_licenses_has_no_licenses_key() -> None:
    (cyc_b,) = by_name(bom_of(sample_analysis()), "cyc-b")
    assert "licenses" not in cyc_b


# -- dependencies -------------------------------------------------------------------------------


def deps_by_name(bom: dict[str, Any]) -> dict[str, list[str]]:
    names = {c["bom-ref"]: c["name"] for c in bom["components"]}
    names[bom["metadata"]["component"]["bom-ref"]] = "<image>"
    return {names[d["ref"]]: sorted(names[r] for r in d["dependsOn"]) for d in bom["dependencies"]}


def test_every_component_has_a_dependency_entry() -> None:
    bom = bom_of(sample_analysis())
    refs = {c["bom-ref"] for c in bom["components"]} | {bom["metadata"]["component"]["bom-ref"]}
    assert {d["ref"] for d in bom["dependencies"]} == refs


def test_package_depends_on_resolved_names_of_the_same_type_only() -> None:
    deps = deps_by_name(bom_of(sample_analysis()))
    assert deps["busybox"] == ["musl"]  # so:libc.musl-x86_64.so.1 is not a package
    assert deps["busybox-binsh"] == ["busybox"]
    assert deps["libssl3"] == ["libcrypto3", "musl"]
    assert deps["musl"] == []


def test_only_the_duplicate_that_declares_a_dependency_has_it() -> None:
    bom = bom_of(sample_analysis())
    graph = {d["ref"]: d["dependsOn"] for d in bom["dependencies"]}
    requests = {
        c["evidence"]["occurrences"][0]["location"].split("/")[1]: c["bom-ref"]
        for c in by_name(bom, "requests")
    }
    assert graph[requests["usr"]] == ["pkg:pypi/urllib3@2.2.3"]
    assert graph[requests["opt"]] == []


def test_image_depends_on_top_level_packages_the_os_and_one_member_of_each_cycle() -> None:
    deps = deps_by_name(bom_of(sample_analysis()))
    top = deps["<image>"]
    assert "alpine" in top
    assert "busybox-binsh" in top and "libssl3" in top
    assert "musl" not in top and "busybox" not in top and "urllib3" not in top
    assert ("cyc-a" in top) != ("cyc-b" in top)
    assert deps["cyc-a"] == ["cyc-b"] and deps["cyc-b"] == ["cyc-a"]


def test_every_package_is_reachable_from_the_image() -> None:
    bom = bom_of(sample_analysis())
    graph = {d["ref"]: d["dependsOn"] for d in bom["dependencies"]}
    seen: set[str] = set()
    stack = [bom["metadata"]["component"]["bom-ref"]]
    while stack:
        ref = stack.pop()
        if ref not in seen:
            seen.add(ref)
            stack.extend(graph[ref])
    assert seen == set(graph)


def test_tools_name_baseguard_and_its_version(fixed_version: str) -> None:
    tools = bom_of(sample_analysis())["metadata"]["tools"]["components"]
    assert tools == [{"type": "application", "name": "baseguard", "version": fixed_version}]


def test_file_written_is_valid_json(tmp_path: Path) -> None:
    path = tmp_path / "bom.cdx.json"
    path.write_text(write(sample_analysis()), encoding="utf-8")
    assert json.loads(path.read_text(encoding="utf-8"))["specVersion"] == "1.6"

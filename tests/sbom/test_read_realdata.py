"""Third-party SBOMs (syft via osv-scanner's fixtures, trivy's) read into an Analysis.

Package counts are computed here independently, with json / ElementTree on the same files.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from baseguard.analysis.analyze import Analysis
from baseguard.analysis.packages import Package
from baseguard.sbom import SbomError
from baseguard.sbom.cyclonedx import CycloneDxJson
from baseguard.sbom.read import read_sbom
from baseguard.sbom.spdx import SpdxJson
from tests.conftest import realdata_path
from tests.sbom.builders import NOW, SERIAL
from tests.sbom.conftest import assert_valid_cyclonedx, assert_valid_spdx

pytestmark = pytest.mark.realdata

NON_PACKAGE_TYPES = ("container", "operating-system")


def sbom(*parts: str) -> Path:
    return realdata_path("sbom", *parts)


def one(analysis: Analysis, name: str) -> Package:
    found = [p for p in analysis.packages if p.name == name]
    assert len(found) == 1, [p.to_dict() for p in found]
    return found[0]


def json_purl_components(path: Path) -> list[dict[str, Any]]:
    """Components with a non-OCI purl, nested ones included."""
    out: list[dict[str, Any]] = []
    stack = list(json.loads(path.read_text())["components"])
    while stack:
        comp = stack.pop()
        stack.extend(comp.get("components", []))
        purl = comp.get("purl", "")
        if purl and not purl.startswith("pkg:oci/") and comp["type"] not in NON_PACKAGE_TYPES:
            out.append(comp)
    return out


def xml_purl_refs(path: Path) -> list[str]:
    """bom-refs of the components (not metadata's) that have a purl."""
    ns = {"c": ET.parse(path).getroot().tag[1:].partition("}")[0]}
    root = ET.parse(path).getroot()
    return [
        c.get("bom-ref", "")
        for c in root.findall("c:components/c:component", ns)
        if c.find("c:purl", ns) is not None
    ]


# -- syft (via osv-scanner's fixtures) ---------------------------------------------------------


def test_syft_alpine_xml() -> None:
    path = sbom("osv-scanner", "alpine.cdx.xml")
    analysis = read_sbom(path)
    assert len(analysis.packages) == len(set(xml_purl_refs(path))) == 14
    binsh = one(analysis, "busybox-binsh")
    assert (binsh.version, binsh.type) == ("1.36.1-r27", "apk")
    assert (binsh.source_name, binsh.source_version) == ("busybox", "1.36.1-r27")
    assert binsh.architecture == "x86_64"
    assert binsh.licenses == ["GPL-2.0-only"]
    assert binsh.locations == ["/lib/apk/db/installed"]
    assert binsh.layer == (
        "sha256:7cd52847ad775a5ddc4b58326cf884beee34544296402c6292ed76474c686d39"
    )
    assert binsh.cataloger == "apkdb-cataloger"
    assert one(analysis, "zlib").version == "1.2.10-r0"
    libssl = one(analysis, "libssl3")
    assert (libssl.source_name, libssl.licenses) == ("openssl", ["Apache-2.0"])


def test_syft_alpine_distro_and_image() -> None:
    analysis = read_sbom(sbom("osv-scanner", "alpine.cdx.xml"))
    assert (analysis.distro.id, analysis.distro.version_id) == ("alpine", "3.17.2")
    assert analysis.distro.pretty_name == "Alpine Linux v3.17"
    assert analysis.image.reference == "alpine:latest"
    assert analysis.image.name == "docker.io/library/alpine"
    assert analysis.image.manifest_digest == (
        "sha256:fd6275a37d2472b9d3be70c3261087b8d65e441c21342ae7313096312bcda2b3"
    )
    assert analysis.image.source == "cyclonedx"
    assert analysis.facts is None


def test_syft_component_without_purl_is_skipped_with_a_warning() -> None:
    analysis = read_sbom(sbom("osv-scanner", "alpine.cdx.xml"))
    assert "busybox" not in {p.name for p in analysis.packages}  # the binary-cataloger one
    assert any("without a package URL" in w for w in analysis.warnings)


def test_syft_duplicates_are_read_once() -> None:
    path = sbom("osv-scanner", "with-duplicates.cdx.xml")
    refs = xml_purl_refs(path)
    assert len(refs) > len(set(refs))
    analysis = read_sbom(path)
    assert len(analysis.packages) == len(set(refs)) == 14
    assert one(analysis, "zlib").version == "1.2.10-r0"
    assert any("duplicate" in w for w in analysis.warnings)


def test_syft_postgres_stretch() -> None:
    path = sbom("osv-scanner", "postgres-stretch.cdx.xml")
    analysis = read_sbom(path)
    assert len(analysis.packages) == len(set(xml_purl_refs(path))) == 136
    assert (analysis.distro.id, analysis.distro.version_id, analysis.distro.codename) == (
        "debian",
        "9",
        "stretch",
    )
    bsdutils = one(analysis, "bsdutils")
    assert bsdutils.version == "1:2.29.2-1+deb9u1"
    assert (bsdutils.source_name, bsdutils.source_version) == ("util-linux", "2.29.2-1+deb9u1")
    adduser = one(analysis, "adduser")
    # no Source: field in dpkg's status: the source is the package itself
    assert (adduser.source_name, adduser.source_version, adduser.architecture) == (
        "adduser",
        "3.115",
        "all",
    )
    assert adduser.locations[-1] == "/var/lib/dpkg/status"
    apt = one(analysis, "apt")
    assert apt.licenses == ["GPL-2.0-only", "GPLv2+"]
    runc = one(analysis, "github.com/opencontainers/runc")
    assert (runc.type, runc.version, runc.locations) == (
        "golang",
        "v1.0.1",
        ["/usr/local/bin/gosu"],
    )
    assert {p.type for p in analysis.packages} == {"deb", "golang", "generic"}


def test_scalibr_cyclonedx_json_with_distro_only_in_the_purl() -> None:
    path = sbom("osv-scanner", "alpine-zlib-16.cdx.json")
    analysis = read_sbom(path)
    assert len(analysis.packages) == len(json_purl_components(path)) == 1
    zlib = one(analysis, "zlib")
    assert (zlib.version, zlib.source_name, zlib.architecture) == ("1.2.12-r1", "zlib", "x86_64")
    assert zlib.locations == ["/lib/apk/db/installed"]
    assert (analysis.distro.id, analysis.distro.version_id) == ("alpine", "3.22.0")


def test_scalibr_spdx_json() -> None:
    analysis = read_sbom(sbom("osv-scanner", "only-unimportant.spdx.json"))
    pcre = one(analysis, "libpcre3")
    assert (pcre.type, pcre.version) == ("deb", "2:8.39-12ubuntu0.1")
    assert (pcre.source_name, pcre.architecture) == ("pcre3", "amd64")
    assert (analysis.distro.id, analysis.distro.codename) == ("ubuntu", "focal")


# -- trivy ----------------------------------------------------------------------------------------


def check_centos(analysis: Analysis) -> None:
    assert [p.name for p in analysis.packages] == ["bash", "openssl-libs"]
    bash = one(analysis, "bash")
    assert (bash.type, bash.version, bash.architecture) == ("rpm", "4.2.46-31.el7", "x86_64")
    assert bash.purl == "pkg:rpm/centos/bash@4.2.46-31.el7?arch=x86_64&distro=centos-7.6.1810"
    assert (bash.source_name, bash.source_version) == ("bash", "4.2.46-31.el7")
    assert bash.layer == "sha256:ac9208207adaac3a48e54a4dc6b49c69e78c3072d2b3add7efdabf814db2133b"
    assert bash.licenses == ["GPLv3+"]
    assert (analysis.distro.id, analysis.distro.version_id) == ("centos", "7.6.1810")
    assert analysis.image.config_digest == (
        "sha256:f1cb7c7d58b73eac859c395882eec49d50651244e342cd6c68a5c7809785f427"
    )
    assert analysis.image.name == "ghcr.io/aquasecurity/trivy-test-images"
    assert analysis.image.reference == "ghcr.io/aquasecurity/trivy-test-images:centos-7"


def test_trivy_cyclonedx_json() -> None:
    path = sbom("trivy", "sbom", "centos-7-cyclonedx.json")
    analysis = read_sbom(path)
    assert len(analysis.packages) == len(json_purl_components(path))
    check_centos(analysis)
    ssl = one(analysis, "openssl-libs")
    assert (ssl.source_name, ssl.source_version) == ("openssl", "1:1.0.2k-16.el7")


def test_trivy_spdx_json_uses_the_purl_version_when_version_info_disagrees() -> None:
    path = sbom("trivy", "sbom", "centos-7-spdx.json")
    doc = json.loads(path.read_text())
    assert {p["versionInfo"] for p in doc["packages"] if p["name"] == "bash"} == {"4.2.46"}
    check_centos(read_sbom(path))


def test_trivy_spdx_tag_value() -> None:
    path = sbom("trivy", "sbom", "centos-7-spdx.txt")
    text = path.read_text()
    assert text.count("ExternalRef: PACKAGE-MANAGER purl") == 2
    analysis = read_sbom(path)
    check_centos(analysis)
    json_version = read_sbom(sbom("trivy", "sbom", "centos-7-spdx.json"))
    assert [p.to_dict() for p in analysis.packages] == [p.to_dict() for p in json_version.packages]


def test_trivy_in_toto_dsse_attestation() -> None:
    analysis = read_sbom(sbom("trivy", "sbom", "centos-7-cyclonedx.intoto.jsonl"))
    plain = read_sbom(sbom("trivy", "sbom", "centos-7-cyclonedx.json"))
    assert [p.purl for p in analysis.packages] == [p.purl for p in plain.packages]
    check_centos(analysis)


def test_trivy_os_and_language_packages() -> None:
    path = sbom("trivy", "sbom", "fluentd-multiple-lockfiles-cyclonedx.json")
    analysis = read_sbom(path)
    assert len(analysis.packages) == len(json_purl_components(path)) == 3
    gem = one(analysis, "activesupport")
    assert (gem.type, gem.version, gem.licenses) == ("gem", "6.0.2.1", ["MIT"])
    assert gem.locations == ["/var/lib/gems/2.5.0/specifications/activesupport-6.0.2.1.gemspec"]
    assert gem.source_name is None
    libidn = one(analysis, "libidn2-0")
    assert (libidn.source_name, libidn.source_version) == ("libidn2", "2.0.5-1")
    assert (analysis.distro.id, analysis.distro.version_id) == ("debian", "10.2")
    assert analysis.image.name is None  # named after an archive file, not a registry


def test_trivy_maven_licenses() -> None:
    path = sbom("trivy", "sbom", "license-cyclonedx.json")
    analysis = read_sbom(path)
    assert len(analysis.packages) == len(json_purl_components(path)) == 3
    assert one(analysis, "slf4j-api").licenses == ["MIT License"]
    assert one(analysis, "asm").purl == "pkg:maven/org.ow2.asm/asm@9.5"
    assert analysis.distro.id is None


def test_trivy_kbom() -> None:
    path = sbom("trivy", "sbom", "minikube-kbom.json")
    analysis = read_sbom(path)
    assert len(analysis.packages) == len(json_purl_components(path))
    assert one(analysis, "k8s.io/kubelet").version == "1.27.0"
    assert analysis.distro.id == "ubuntu"


def test_openvex_document_is_not_an_sbom() -> None:
    path = sbom("trivy", "vex", "file", "openvex.json")
    with pytest.raises(SbomError) as info:
        read_sbom(path)
    assert str(path) in info.value.message


# -- what we read, we can write -------------------------------------------------------------------

ALL = [
    ("osv-scanner", "alpine.cdx.xml"),
    ("osv-scanner", "with-duplicates.cdx.xml"),
    ("osv-scanner", "postgres-stretch.cdx.xml"),
    ("osv-scanner", "alpine-zlib-16.cdx.json"),
    ("osv-scanner", "only-unimportant.spdx.json"),
    ("trivy", "sbom", "centos-7-cyclonedx.json"),
    ("trivy", "sbom", "centos-7-spdx.json"),
    ("trivy", "sbom", "centos-7-spdx.txt"),
    ("trivy", "sbom", "centos-7-cyclonedx.intoto.jsonl"),
    ("trivy", "sbom", "fluentd-multiple-lockfiles-cyclonedx.json"),
    ("trivy", "sbom", "license-cyclonedx.json"),
    ("trivy", "sbom", "minikube-kbom.json"),
]


@pytest.mark.parametrize("parts", ALL, ids=lambda parts: parts[-1])
def test_third_party_sbom_rewritten_by_us_is_valid(parts: tuple[str, ...], tmp_path: Path) -> None:
    analysis = read_sbom(sbom(*parts))
    assert analysis.packages
    assert_valid_cyclonedx(CycloneDxJson().write(analysis, now=NOW, serial=SERIAL))
    assert_valid_spdx(SpdxJson().write(analysis, now=NOW, serial=SERIAL), tmp_path)


# -- every real SBOM in ../shared/realdata reads as it did before the shape checks -------------

#: (path under realdata, packages, warnings) as read before wrong shapes became errors; the
#: shape checks must change none of them.
EVERY_REAL_SBOM = [
    ("attestations/cosign/test/testdata/bom-go-mod.cyclonedx.json", 0, []),
    ("attestations/cosign/test/testdata/bom-go-mod.spdx.json", 0, []),
    ("attestations/openvex/vexctl/examples/csaf/sbom.spdx.json", 2, []),
    ("sbom/osv-scanner/alpine-zlib-16.cdx.json", 1, []),
    ("sbom/osv-scanner/alpine.cdx.xml", 14, ["1 component(s) without a package URL were not read"]),
    ("sbom/osv-scanner/only-unimportant.spdx.json", 1, []),
    ("sbom/osv-scanner/postgres-stretch.cdx.xml", 136, []),
    (
        "sbom/osv-scanner/with-duplicates.cdx.xml",
        14,
        [
            "1 component(s) without a package URL were not read",
            "2 duplicate component(s) (same bom-ref) were not read",
        ],
    ),
    ("sbom/trivy/sbom/centos-7-cyclonedx.intoto.jsonl", 2, []),
    ("sbom/trivy/sbom/centos-7-cyclonedx.json", 2, []),
    ("sbom/trivy/sbom/centos-7-spdx.json", 2, []),
    ("sbom/trivy/sbom/centos-7-spdx.txt", 2, []),
    ("sbom/trivy/sbom/fluentd-multiple-lockfiles-cyclonedx.json", 3, []),
    (
        "sbom/trivy/sbom/license-cyclonedx.json",
        3,
        ["1 component(s) without a package URL were not read"],
    ),
    (
        "sbom/trivy/sbom/minikube-kbom.json",
        6,
        ["3 component(s) without a package URL were not read"],
    ),
]


def sbom_files_in_realdata(root: Path) -> set[str]:
    """Every file under realdata that declares itself CycloneDX or SPDX (in its first bytes,
    or in its name: an attestation's payload is base64)."""
    found: set[str] = set()
    for path in root.rglob("*"):
        if not path.is_file() or path.suffix not in (".json", ".jsonl", ".xml", ".txt"):
            continue
        head = path.read_bytes()[:4096]
        named = any(word in path.name for word in ("cyclonedx", "spdx", ".cdx."))
        if named or any(
            marker in head
            for marker in (b'"bomFormat"', b'"spdxVersion"', b"SPDXVersion:", b"cyclonedx.org/")
        ):
            found.add(path.relative_to(root).as_posix())
    return found


def test_the_table_covers_every_real_sbom(realdata: Path) -> None:
    assert sbom_files_in_realdata(realdata) == {entry[0] for entry in EVERY_REAL_SBOM}


@pytest.mark.parametrize(
    ("relpath", "count", "warnings"), EVERY_REAL_SBOM, ids=lambda v: str(v).rpartition("/")[2]
)
def test_every_real_sbom_reads_as_before(
    realdata: Path, relpath: str, count: int, warnings: list[str]
) -> None:
    analysis = read_sbom(realdata / relpath)
    assert len(analysis.packages) == count
    assert analysis.warnings == warnings

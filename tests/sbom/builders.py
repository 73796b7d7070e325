"""An Analysis built by hand for SBOM tests: several package types, a duplicate, a
dependency graph with a cycle and unresolvable names, every kind of license."""

from __future__ import annotations

from datetime import UTC, datetime

from baseguard.analysis.analyze import Analysis, ImageIdentity
from baseguard.analysis.distro import Distro
from baseguard.analysis.hardening import BaseImageRef, Facts, PathRef, ToolRef
from baseguard.analysis.packages import CatalogIssue, Package, make_purl, sort_packages

NOW = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
SERIAL = "3e671687-395b-41f5-a30f-a58921a69b79"

LAYER_1 = "sha256:" + "1" * 64
LAYER_2 = "sha256:" + "2" * 64
MANIFEST = "sha256:" + "a" * 64
INDEX = "sha256:" + "b" * 64
CONFIG = "sha256:" + "c" * 64
BASE = "sha256:" + "d" * 64
DISTRO_Q = "alpine-3.20.3"


def apk(name: str, version: str, **kw: object) -> Package:
    purl = make_purl(
        "apk", name, version, namespace="alpine", qualifiers={"arch": "x86_64", "distro": DISTRO_Q}
    )
    fields: dict[str, object] = {
        "source_name": name,
        "source_version": version,
        "architecture": "x86_64",
        "layer": LAYER_1,
        "locations": ["/lib/apk/db/installed"],
        "cataloger": "apk",
    }
    fields.update(kw)
    return Package(name=name, version=version, type="apk", purl=purl, **fields)  # type: ignore[arg-type]


def sample_packages() -> list[Package]:
    return [
        apk("musl", "1.2.5-r0", licenses=["MIT"], depends=[]),
        apk(
            "busybox",
            "1.36.1-r29",
            licenses=["GPL-2.0-only"],
            depends=["musl", "so:libc.musl-x86_64.so.1"],
        ),
        apk(
            "busybox-binsh",
            "1.36.1-r29",
            source_name="busybox",
            licenses=["GPL-2.0-only"],
            depends=["busybox"],
        ),
        # a dependency cycle that no root reaches
        apk("cyc-a", "1-r0", licenses=["GPLv2+"], depends=["cyc-b"]),
        apk("cyc-b", "1-r0", licenses=[], depends=["cyc-a"]),
        apk(
            "libssl3",
            "3.3.2-r0",
            source_name="openssl",
            licenses=["Apache-2.0 OR MIT", "OpenSSL license, see COPYING"],
            depends=["musl", "libcrypto3"],
        ),
        apk("libcrypto3", "3.3.2-r0", source_name="openssl", licenses=["Apache-2.0"]),
        Package(
            name="libc6",
            version="2.36-9+deb12u7",
            type="deb",
            purl=make_purl(
                "deb",
                "libc6",
                "2.36-9+deb12u7",
                namespace="debian",
                qualifiers={"arch": "amd64", "distro": "debian-12"},
            ),
            source_name="glibc",
            source_version="2.36-9+deb12u7",
            licenses=["LGPL-2.1-or-later", "GPL-2.0-or-later WITH GCC-exception-2.0"],
            architecture="amd64",
            layer=LAYER_2,
            locations=["/var/lib/dpkg/status"],
            cataloger="dpkg",
        ),
        # the same PyPI package twice, in two site-packages: a duplicate purl
        Package(
            name="requests",
            version="2.32.3",
            type="pypi",
            purl="pkg:pypi/requests@2.32.3",
            licenses=["Apache-2.0"],
            layer=LAYER_2,
            locations=["/usr/lib/python3/site-packages/requests-2.32.3.dist-info/METADATA"],
            cataloger="python",
            depends=["urllib3"],
        ),
        Package(
            name="requests",
            version="2.32.3",
            type="pypi",
            purl="pkg:pypi/requests@2.32.3",
            licenses=["Apache 2.0"],
            layer=LAYER_2,
            locations=["/opt/venv/lib/python3.12/site-packages/requests-2.32.3.dist-info/METADATA"],
            cataloger="python",
        ),
        Package(
            name="urllib3",
            version="2.2.3",
            type="pypi",
            purl="pkg:pypi/urllib3@2.2.3",
            licenses=["MIT"],
            layer=LAYER_2,
            locations=["/usr/lib/python3/site-packages/urllib3-2.2.3.dist-info/METADATA"],
            cataloger="python",
        ),
        Package(
            name="@babel/core",
            version="7.26.0",
            type="npm",
            purl="pkg:npm/%40babel/core@7.26.0",
            licenses=["MIT"],
            layer=LAYER_2,
            locations=["/app/node_modules/@babel/core/package.json"],
            cataloger="npm",
        ),
        Package(
            name="github.com/sirupsen/logrus",
            version="v1.9.3",
            type="golang",
            purl="pkg:golang/github.com/sirupsen/logrus@v1.9.3",
            layer=LAYER_2,
            locations=["/usr/local/bin/app"],
            cataloger="golang",
        ),
        Package(
            name="stdlib",
            version="go1.22.5",
            type="golang",
            purl="pkg:golang/stdlib@go1.22.5",
            licenses=["BSD-3-Clause"],
            layer=LAYER_2,
            locations=["/usr/local/bin/app"],
            cataloger="golang",
        ),
        Package(
            name="log4j-core",
            version="2.24.1",
            type="maven",
            purl="pkg:maven/org.apache.logging.log4j/log4j-core@2.24.1",
            licenses=["Apache-2.0"],
            layer=LAYER_2,
            locations=["/app/lib/app.jar", "/app/lib/app.jar!/BOOT-INF/lib/log4j-core.jar"],
            cataloger="java",
        ),
        # no purl at all (a cataloger that could not build one)
        Package(
            name="mystery",
            version="0.1",
            type="binary",
            purl="",
            licenses=["Proprietäre Lizenz"],
            layer=LAYER_2,
            locations=["/usr/local/bin/mystery"],
            cataloger="binary",
        ),
    ]


def sample_facts() -> Facts:
    return Facts(
        shells=[
            ToolRef(name="busybox", path="/bin/busybox", via=None),
            ToolRef(name="sh", path="/bin/sh", via="busybox"),
        ],
        has_shell=True,
        package_managers=[PathRef(name="apk", path="/sbin/apk")],
        network_tools=[ToolRef(name="wget", path="/usr/bin/wget", via="busybox")],
        setuid_files=["/bin/bbsuid", "/usr/bin/passwd"],
        setgid_files=[],
        world_writable=["/var/cache/x"],
        user="nonroot:nonroot",
        uid=65532,
        runs_as_root=False,
        entrypoint=["/usr/local/bin/app"],
        cmd=["--serve", "a b"],
        working_dir="/app",
        env={"PATH": "/usr/bin:/bin", "API_TOKEN": "<redacted>"},
        architecture="amd64",
        os="linux",
        layer_count=2,
        compressed_size=12_345_678,
        uncompressed_size=34_567_890,
        file_count=4321,
        created="2024-09-06T00:00:00Z",
        age_days=118,
        base_image=BaseImageRef(name="docker.io/library/alpine:3.20", digest=BASE),
        labels={"org.opencontainers.image.title": "demo", "maintainer": "Ünïcode <x@y.z>"},
        exposed_ports=["8080/tcp"],
    )


def sample_analysis() -> Analysis:
    return Analysis(
        image=ImageIdentity(
            reference="registry.example.com/team/app:1.4",
            source="registry",
            name="registry.example.com/team/app",
            manifest_digest=MANIFEST,
            index_digest=INDEX,
            config_digest=CONFIG,
            layer_digests=[LAYER_1, LAYER_2],
            platform="linux/amd64",
        ),
        distro=Distro(
            id="alpine",
            version_id="3.20.3",
            name="Alpine Linux",
            pretty_name="Alpine Linux v3.20",
            id_like=[],
            source="etc/os-release",
        ),
        facts=sample_facts(),
        packages=sort_packages(sample_packages()),
        issues=[CatalogIssue("npm", "/app/node_modules/bad/package.json", "invalid JSON")],
        warnings=["layer 2: a whiteout for a missing file was ignored"],
        analyzed_at=datetime(2025, 1, 2, 3, 0, 0, tzinfo=UTC),
    )


def scratch_analysis() -> Analysis:
    """No distro, no facts, no packages, no digests: the least an analysis can hold."""
    return Analysis(
        image=ImageIdentity(
            reference="dir:/tmp/root",
            source="dir",
            name=None,
            manifest_digest=None,
            index_digest=None,
            config_digest=None,
            layer_digests=[],
            platform=None,
        ),
        distro=Distro(variant="scratch", source="none"),
        facts=None,
    )

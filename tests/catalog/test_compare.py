"""compare: two images side by side, each value equal to an independent scan or analysis;
attachments looked up in a real registry."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.catalog.test_recommend_helpers import (
    IMAGES,
    STATIC,
    STATIC_DIGEST,
    analyze_json,
    assert_clean_failure,
    make_env,
    run,
    scan_json,
)


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return make_env(tmp_path_factory.mktemp("env"))


OLD = "alpine:3.10"
OFFLINE = ["--images", str(IMAGES), "--offline"]


@pytest.fixture(scope="module")
def side_by_side(env: dict[str, str]) -> dict[str, Any]:
    done = run(["compare", OLD, STATIC, *OFFLINE, "-o", "json"], env)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def test_every_value_equals_the_images_own_scan_and_analysis(
    side_by_side: dict[str, Any], env: dict[str, str]
) -> None:
    for side, image in (("left", "docker.io/library/alpine:3.10"), ("right", STATIC)):
        got = side_by_side[side]
        scan = scan_json(env, image)["summary"]
        facts = analyze_json(env, image)["facts"]
        assert got["measured"] is True
        assert got["vulnerabilities"]["total"] == scan["total"]
        assert got["vulnerabilities"]["bySeverity"] == scan["bySeverity"]
        assert got["hasShell"] == facts["has_shell"]
        assert got["packageManagers"] == sorted({p["name"] for p in facts["package_managers"]})
        assert got["runsAsRoot"] == facts["runs_as_root"]
        assert got["compressedSize"] == facts["compressed_size"]
        assert got["uncompressedSize"] == facts["uncompressed_size"]


def test_the_hardened_image_measures_as_hardened(side_by_side: dict[str, Any]) -> None:
    old, new = side_by_side["left"], side_by_side["right"]
    assert (old["hasShell"], new["hasShell"]) == (True, False)
    assert (old["packageManagers"], new["packageManagers"]) == (["apk"], [])
    assert (old["user"], new["user"]) == ("", "65532")
    assert (old["distro"], new["distro"]) == ("alpine 3.10.9", "distroless (debian 12)")
    assert (old["packages"], new["packages"]) == (14, 3)
    assert new["digest"] == STATIC_DIGEST


def test_attachments_of_store_images_are_unknown_not_guessed(side_by_side: dict[str, Any]) -> None:
    for side in ("left", "right"):
        for kind in ("signature", "provenance", "sbom", "vex"):
            found = side_by_side[side]["attachments"][kind]
            assert found["status"] == "unknown"
            assert "not read from a registry" in found["detail"]


def test_vex_is_applied_to_the_counts(env: dict[str, str], tmp_path: Path) -> None:
    finding = scan_json(env, "docker.io/library/alpine:3.10")["findings"][0]
    vex = tmp_path / "vex.json"
    vex.write_text(
        json.dumps(
            {
                "@context": "https://openvex.dev/ns/v0.2.0",
                "@id": "https://example.com/vex-1",
                "author": "test",
                "timestamp": "2026-01-01T00:00:00Z",
                "version": 1,
                "statements": [
                    {
                        "vulnerability": {"name": finding["id"]},
                        "products": [{"@id": finding["package"]["purl"]}],
                        "status": "not_affected",
                        "justification": "vulnerable_code_not_in_execute_path",
                    }
                ],
            }
        )
    )
    done = run(["compare", OLD, STATIC, *OFFLINE, "--vex", str(vex), "-o", "json"], env)
    assert done.returncode == 0, done.stderr
    left = json.loads(done.stdout)["left"]["vulnerabilities"]
    assert (left["total"], left["suppressedByVex"]) == (0, 1)


def test_markdown_and_table(env: dict[str, str]) -> None:
    md = run(["compare", OLD, STATIC, *OFFLINE, "-o", "markdown"], env)
    assert md.returncode == 0, md.stderr
    assert f"| | A: {OLD} | B: {STATIC} |" in md.stdout
    assert "| Shell | yes: ash, busybox, sh | no |" in md.stdout
    assert "| User | root | 65532 (non-root) |" in md.stdout
    table = run(["compare", OLD, STATIC, *OFFLINE, "-o", "table"], env)
    assert table.returncode == 0, table.stderr
    assert "Package managers" in table.stdout and "yes: apk" in table.stdout


def test_an_image_that_cannot_be_measured_is_an_error_not_a_blank(env: dict[str, str]) -> None:
    done = run(["compare", OLD, "nosuch:1", *OFFLINE], env)
    assert_clean_failure(done)
    assert "docker.io/library/nosuch:1 is not in the image store" in done.stderr
    assert done.stdout == ""


def test_bad_reference_and_missing_database(env: dict[str, str], tmp_path: Path) -> None:
    assert_clean_failure(run(["compare", OLD, "UPPER:case", *OFFLINE], env))
    no_db = {**env, "BASEGUARD_VULNDB": str(tmp_path / "none.sqlite")}
    assert_clean_failure(run(["compare", OLD, STATIC, *OFFLINE], no_db))


def test_local_layout_sources_compare_too(env: dict[str, str]) -> None:
    done = run(
        [
            "compare",
            f"oci:{IMAGES}:{STATIC}",
            f"oci:{IMAGES}:docker.io/library/alpine:3.20",
            "-o",
            "json",
        ],
        env,
    )
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["right"]["vulnerabilities"]["total"] == 56


# --------------------------------------------------------------------------- a real registry


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from tests.image.conftest import start_registry, stop_registry

    server = start_registry(tmp_path_factory.mktemp("compare-registry"))
    try:
        yield server
    finally:
        stop_registry(server)


@pytest.mark.registry
def test_attachments_are_looked_up_in_the_registry(
    registry: Any, env: dict[str, str], tmp_path: Path
) -> None:
    from tests.attest.push import Pusher
    from tests.attest.signing import KeyPair, envelope, statement

    os_release = b'NAME="Alpine Linux"\nID=alpine\nVERSION_ID=3.20.3\n'
    apk_db = b"P:zlib\nV:1.3.1-r0\nA:x86_64\no:zlib\nT:compression library\n\n"
    pusher = Pusher(registry.url)
    try:
        files = {"etc/os-release": os_release, "lib/apk/db/installed": apk_db}
        signed = pusher.image("cmp/signed", "1", files)
        pusher.image("cmp/bare", "1", files)
        key = KeyPair.generate()
        payload = json.dumps(
            {
                "critical": {
                    "identity": {"docker-reference": f"{registry.host}/cmp/signed"},
                    "image": {"docker-manifest-digest": signed.digest},
                    "type": "cosign container image signature",
                },
                "optional": None,
            }
        ).encode()
        pusher.cosign_signature(signed, payload, key.sign(payload))
        spdx = "https://spdx.dev/Document"
        sbom = envelope(key, statement(signed.digest, spdx, {"spdxVersion": "SPDX-2.3"}))
        pusher.cosign_attestations(signed, [(sbom, spdx)])
    finally:
        pusher.close()
    done = run(
        ["compare", f"{registry.host}/cmp/signed:1", f"{registry.host}/cmp/bare:1", "-o", "json"],
        env,
    )
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    left, right = doc["left"]["attachments"], doc["right"]["attachments"]
    assert left["signature"] == {"status": "yes", "detail": "1 attached, not verified"}
    assert left["sbom"] == {"status": "yes", "detail": "1 in-toto attestation, not verified"}
    assert left["provenance"]["status"] == "no" and left["vex"]["status"] == "no"
    assert {k: v["status"] for k, v in right.items()} == dict.fromkeys(
        ("signature", "provenance", "sbom", "vex"), "no"
    )
    # Offline without a store the images cannot be measured at all: an error, not blanks.
    off = run(
        ["compare", f"{registry.host}/cmp/signed:1", f"{registry.host}/cmp/bare:1", "--offline"],
        env,
    )
    assert_clean_failure(off)


def test_warnings_of_one_side_name_its_image_and_shared_ones_come_once() -> None:
    from types import SimpleNamespace

    from baseguard.catalog.compare import side_warnings

    stale = "the vulnerability database is 9 days old"
    left = SimpleNamespace(reference="a:1", scan=SimpleNamespace(warnings=[stale, "x ignored"]))
    right = SimpleNamespace(reference="b:2", scan=SimpleNamespace(warnings=[stale, "x ignored"]))
    assert side_warnings([left, right]) == [stale, "x ignored"]  # type: ignore[list-item]
    right.scan.warnings = [stale, "y skipped"]
    unscanned = SimpleNamespace(reference="c:3", scan=None)
    assert side_warnings([left, right]) == [stale, "a:1: x ignored", "b:2: y skipped"]  # type: ignore[list-item]
    assert side_warnings([left, unscanned]) == ["a:1: " + stale, "a:1: x ignored"]  # type: ignore[list-item]

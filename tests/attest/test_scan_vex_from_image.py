"""`baseguard scan REF --vex-from-image`: the image's own OpenVEX, as hardened-image vendors
publish it, fetched from the registry and applied (only when its signature verifies, once a
key is given)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from baseguard.attest.cosign import load_public_key
from baseguard.attest.verify import Trust, fetch_image_vex
from baseguard.image.registry import RegistryClient
from tests.attest.push import DSSE, Layer, Pushed, Pusher
from tests.attest.signing import OPENVEX, KeyPair, envelope, openvex, statement
from tests.cli_runner import run_baseguard
from tests.image.conftest import RegistryServer
from tests.matching.test_scan_cli import make_db

pytestmark = pytest.mark.registry

OS_RELEASE = b'NAME="Alpine Linux"\nID=alpine\nVERSION_ID=3.20.3\n'
APK_DB = b"P:zlib\nV:1.3.1-r1\nA:x86_64\no:zlib\nT:compression library\n\n"


@pytest.fixture(scope="module")
def vendor_key() -> KeyPair:
    return KeyPair.generate()


def push_image(pusher: Pusher, repo: str, key: KeyPair | None) -> Pushed:
    image = pusher.image(
        repo, "3.20", {"etc/os-release": OS_RELEASE, "lib/apk/db/installed": APK_DB}
    )
    if key is not None:
        env = envelope(key, statement(image.digest, OPENVEX, openvex("CVE-2024-0001")))
        pusher.referrer(
            image, "application/vnd.in-toto+json", [Layer(DSSE, env, {"predicateType": OPENVEX})]
        )
    return image


def scan(registry: RegistryServer, repo: str, tmp_path: Path, *extra: str) -> tuple[int, dict, str]:
    db = make_db(tmp_path)
    result = run_baseguard(
        "scan", f"{registry.host}/{repo}:3.20", "--db", str(db), "-o", "json", *extra
    )
    doc = json.loads(result.stdout) if result.stdout.strip() else {}
    return result.returncode, doc, result.stderr


def test_the_images_signed_vex_suppresses_the_finding(
    registry: RegistryServer, pusher: Pusher, vendor_key: KeyPair, tmp_path: Path
) -> None:
    push_image(pusher, "vex/signed", vendor_key)
    pub = tmp_path / "vendor.pub"
    pub.write_bytes(vendor_key.public_pem)
    before, doc0, _ = scan(registry, "vex/signed", tmp_path, "--fail-on", "critical")
    assert before == 1 and "CVE-2024-0001" in [f["id"] for f in doc0["findings"]]
    code, doc, err = scan(
        registry,
        "vex/signed",
        tmp_path,
        "--vex-from-image",
        "--vex-key",
        str(pub),
        "--fail-on",
        "critical",
    )
    assert code == 0, err
    assert "CVE-2024-0001" not in [f["id"] for f in doc["findings"]]
    assert doc["suppressed"][0]["vex"]["status"] == "not_affected"
    assert "without verifying" not in err


def test_vex_signed_by_another_key_is_not_applied_and_says_why(
    registry: RegistryServer, pusher: Pusher, vendor_key: KeyPair, tmp_path: Path
) -> None:
    push_image(pusher, "vex/forged", KeyPair.generate())
    pub = tmp_path / "vendor.pub"
    pub.write_bytes(vendor_key.public_pem)
    code, doc, err = scan(
        registry,
        "vex/forged",
        tmp_path,
        "--vex-from-image",
        "--vex-key",
        str(pub),
        "--fail-on",
        "critical",
    )
    assert code == 1
    assert "CVE-2024-0001" in [f["id"] for f in doc["findings"]]
    assert "VEX attestation not applied: [bad-signature]" in err


def test_without_a_key_the_vex_is_applied_with_a_warning(
    registry: RegistryServer, pusher: Pusher, vendor_key: KeyPair, tmp_path: Path
) -> None:
    push_image(pusher, "vex/unverified", vendor_key)
    code, doc, err = scan(registry, "vex/unverified", tmp_path, "--vex-from-image")
    assert code == 0, err
    assert "CVE-2024-0001" not in [f["id"] for f in doc["findings"]]
    assert "without verifying a signature" in err


def test_vex_from_image_needs_a_registry_reference(tmp_path: Path) -> None:
    sbom = tmp_path / "bom.json"
    sbom.write_text("{}")
    result = run_baseguard(
        "scan", f"oci:{tmp_path}", "--vex-from-image", "--db", str(make_db(tmp_path))
    )
    assert result.returncode == 2
    assert "--vex-from-image needs a registry image" in result.stderr


def test_fetch_image_vex_returns_parsed_documents(
    registry: RegistryServer, pusher: Pusher, vendor_key: KeyPair
) -> None:
    image = push_image(pusher, "vex/library", vendor_key)
    trust = Trust(key=load_public_key(vendor_key.public_pem, "vendor.pub"))
    with RegistryClient(retries=0) as client:
        found = fetch_image_vex(f"{registry.host}/vex/library:3.20", trust=trust, client=client)
    assert found.digest == image.digest
    assert found.warnings == []
    [doc] = found.documents
    assert doc.statements[0].vulnerability == "CVE-2024-0001"
    assert doc.statements[0].status == "not_affected"

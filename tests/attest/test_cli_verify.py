"""`baseguard verify` as a user runs it: a real process, a real registry, real exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from baseguard.attest.cosign import simple_signing_payload
from tests.attest.push import DSSE, Layer, Pusher
from tests.attest.signing import (
    CYCLONEDX,
    GENERATOR,
    PROVENANCE_V1,
    SOURCE,
    KeyPair,
    cyclonedx,
    envelope,
    provenance_v1,
    statement,
)
from tests.cli_runner import run_baseguard
from tests.conftest import realdata_path
from tests.image.conftest import RegistryServer

pytestmark = pytest.mark.registry

INTOTO = "application/vnd.in-toto+json"


@pytest.fixture(scope="module")
def signed(
    registry: RegistryServer, pusher: Pusher, tmp_path_factory: pytest.TempPathFactory
) -> tuple[str, Path]:
    """An image signed, with SLSA provenance and an SBOM attestation; the public key file."""
    key = KeyPair.generate("ed25519")
    image = pusher.image("cli/app", "2.0")
    ref = f"{registry.host}/cli/app:2.0"
    payload = simple_signing_payload(image.digest, f"{registry.host}/cli/app")
    pusher.cosign_signature(image, payload, key.sign(payload))
    for ptype, pred in ((PROVENANCE_V1, provenance_v1()), (CYCLONEDX, cyclonedx())):
        env = envelope(key, statement(image.digest, ptype, pred))
        pusher.referrer(image, INTOTO, [Layer(DSSE, env, {"predicateType": ptype})])
    pub = tmp_path_factory.mktemp("keys") / "cosign.pub"
    pub.write_bytes(key.public_pem)
    return ref, pub


def test_every_requirement_met_exits_0_with_json(signed: tuple[str, Path]) -> None:
    ref, pub = signed
    result = run_baseguard(
        "verify",
        ref,
        "--key",
        str(pub),
        "--require",
        "signature,provenance:slsa3",
        "--require",
        "sbom",
        "--allowed-builder",
        GENERATOR,
        "--source-repo",
        SOURCE,
        "-o",
        "json",
    )
    assert result.returncode == 0, result.stderr + result.stdout
    doc = json.loads(result.stdout)
    assert doc["passed"] is True
    assert [c["name"] for c in doc["checks"]] == ["signature", "provenance:slsa3", "sbom"]
    assert doc["evidence"]["attestations"][0]["provenance"]["builder_id"] == GENERATOR


def test_a_failed_requirement_exits_1_and_names_it_in_the_table(signed: tuple[str, Path]) -> None:
    ref, pub = signed
    result = run_baseguard(
        "verify",
        ref,
        "--key",
        str(pub),
        "--require",
        "signature,vex",
        "--source-repo",
        "https://github.com/other/repo",
        "-o",
        "table",
    )
    assert result.returncode == 1
    out = result.stdout
    assert "signature" in out and "pass" in out
    assert "vex                  FAIL    [missing] no VEX attestation is attached" in out
    assert "[source-repo-mismatch]" in out
    assert out.rstrip().endswith("FAILED")


def test_the_wrong_key_exits_1_with_bad_signature(signed: tuple[str, Path], tmp_path: Path) -> None:
    ref, _ = signed
    other = tmp_path / "other.pub"
    other.write_bytes(KeyPair.generate("rsa").public_pem)
    result = run_baseguard("verify", ref, "--key", str(other), "-o", "json")
    assert result.returncode == 1
    check = json.loads(result.stdout)["checks"][0]
    assert check["codes"] == ["bad-signature"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "nothing to verify with"),
        (["--identity", "me@example.com"], "needs --identity, --issuer and --trusted-root"),
        (["--key", "K", "--identity", "x"], "--key cannot be combined"),
        (["--key", "K", "--require", "signatures"], "unknown requirement 'signatures'"),
        (["--key", "K", "--require", "provenance:slsa9"], "bad provenance level"),
        (["--key", "K", "-o", "xml"], "unknown output format"),
        (["--key", "/nonexistent/cosign.pub"], "cannot read key file"),
    ],
)
def test_usage_and_input_errors_exit_2(
    signed: tuple[str, Path], args: list[str], message: str
) -> None:
    ref, pub = signed
    args = [str(pub) if a == "K" else a for a in args]
    result = run_baseguard("verify", ref, *args)
    assert result.returncode == 2, result.stdout
    assert message in result.stderr


def test_a_private_key_is_refused_with_a_hint(signed: tuple[str, Path], tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization

    ref, _ = signed
    key = KeyPair.generate()
    pem = key.private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path = tmp_path / "cosign.key"
    path.write_bytes(pem)
    result = run_baseguard("verify", ref, "--key", str(path))
    assert result.returncode == 2
    assert "holds a private key" in result.stderr


def test_an_unknown_image_exits_2(registry: RegistryServer, signed: tuple[str, Path]) -> None:
    _, pub = signed
    result = run_baseguard("verify", f"{registry.host}/cli/missing:1", "--key", str(pub))
    assert result.returncode == 2
    assert "not found" in result.stderr


@pytest.mark.realdata
def test_keyless_with_a_bad_trusted_root_file_exits_2(signed: tuple[str, Path]) -> None:
    ref, _ = signed
    root = realdata_path(
        "attestations",
        "sigstore-python",
        "test",
        "assets",
        "trusted_root",
        "trustedroot.badtype.json",
    )
    result = run_baseguard(
        "verify",
        ref,
        "--identity",
        "me@example.com",
        "--issuer",
        "https://x",
        "--trusted-root",
        str(root),
    )
    assert result.returncode == 2
    assert "is not a usable Sigstore trusted root" in result.stderr

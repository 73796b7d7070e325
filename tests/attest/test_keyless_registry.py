"""Keyless verification of what is attached to an image in the registry.

cosign's real OCI attestation bundle (signed by cody@soyland.com through GitHub's OAuth, for
an image of cosign's own test registry) is attached to an image of ours as an OCI 1.1
referrer: its signature, certificate and log entry verify offline against cosign's trusted
root file, and because its statement is about *another* image it must still be refused, with
that reason. A wrong identity or issuer is refused before that, each with its own reason.
"""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from baseguard.attest import errors as codes
from baseguard.attest.cosign import load_public_key, simple_signing_payload
from baseguard.attest.keyless import KeylessTrust
from baseguard.attest.verify import Requirements, Trust, verify_image
from baseguard.image.registry import RegistryClient
from tests.attest.push import BUNDLE, Layer, Pushed, Pusher
from tests.attest.signing import KeyPair
from tests.conftest import realdata_path
from tests.image.conftest import RegistryServer

pytestmark = [pytest.mark.registry, pytest.mark.realdata]

IDENTITY = "cody@soyland.com"
ISSUER = "https://github.com/login/oauth"


def cosign_asset(name: str) -> Path:
    return realdata_path("attestations", "cosign", "pkg", "cosign", "testdata", name)


def keyless(identity: str = IDENTITY, issuer: str = ISSUER) -> Trust:
    return Trust(
        keyless=KeylessTrust.from_file(cosign_asset("trusted_root_pgi.json"), identity, issuer)
    )


@pytest.fixture(scope="module")
def bundled(registry: RegistryServer, pusher: Pusher) -> tuple[str, Pushed]:
    image = pusher.image("keyless/app", "1")
    bundle = cosign_asset("oci-attestation.sigstore.json").read_bytes()
    pusher.referrer(image, BUNDLE, [Layer(BUNDLE, bundle)])
    return f"{registry.host}/keyless/app:1", image


def test_a_verified_bundle_about_another_image_is_subject_mismatch(
    bundled: tuple[str, Pushed], client: RegistryClient
) -> None:
    ref, image = bundled
    result = verify_image(ref, Requirements.parse("signature"), trust=keyless(), client=client)
    assert not result.passed
    [rejection] = result.evidence.rejections
    assert rejection.code == codes.SUBJECT_MISMATCH
    assert "127.0.0.1:60943/repo@sha256:732112270d7e" in rejection.reason
    assert image.digest in rejection.reason
    assert result.check("signature").codes == (codes.SUBJECT_MISMATCH,)


def test_a_bundle_by_another_identity_is_identity_mismatch(
    bundled: tuple[str, Pushed], client: RegistryClient
) -> None:
    ref, _ = bundled
    trust = keyless(identity="release@example.com")
    result = verify_image(ref, Requirements.parse("signature"), trust=trust, client=client)
    assert result.check("signature").codes == (codes.IDENTITY_MISMATCH,)
    assert "signed by cody@soyland.com, not release@example.com" in result.check("signature").reason


def test_a_bundle_from_another_issuer_is_issuer_mismatch(
    bundled: tuple[str, Pushed], client: RegistryClient
) -> None:
    ref, _ = bundled
    trust = keyless(issuer="https://token.actions.githubusercontent.com")
    result = verify_image(ref, Requirements.parse("signature"), trust=trust, client=client)
    assert result.check("signature").codes == (codes.ISSUER_MISMATCH,)


def test_a_malformed_bundle_attached_to_an_image_is_refused_with_sigstores_reason(
    registry: RegistryServer, pusher: Pusher, client: RegistryClient
) -> None:
    image = pusher.image("keyless/malformed", "1")
    bad = realdata_path(
        "attestations", "sigstore-python", "test", "assets", "bundle_no_log_entry.txt.sigstore"
    ).read_bytes()
    pusher.referrer(image, BUNDLE, [Layer(BUNDLE, bad)])
    result = verify_image(
        f"{registry.host}/keyless/malformed:1",
        Requirements.parse("signature"),
        trust=keyless(),
        client=client,
    )
    check = result.check("signature")
    assert check.codes == (codes.MALFORMED,)
    assert "expected exactly one log entry in bundle" in check.reason


def test_a_key_signature_cannot_satisfy_a_keyless_requirement(
    registry: RegistryServer, pusher: Pusher, client: RegistryClient
) -> None:
    image = pusher.image("keyless/keyed", "1")
    key = KeyPair.generate()
    payload = simple_signing_payload(image.digest, "x")
    pusher.cosign_signature(image, payload, key.sign(payload))
    ref = f"{registry.host}/keyless/keyed:1"
    result = verify_image(ref, Requirements.parse("signature"), trust=keyless(), client=client)
    assert result.check("signature").codes == (codes.UNSUPPORTED,)
    assert "no --key was given" in result.check("signature").reason
    # and the same signature passes with its key
    trust = Trust(key=load_public_key(key.public_pem, "k.pub"))
    assert verify_image(ref, Requirements.parse("signature"), trust=trust, client=client).passed


def test_a_legacy_keyless_cosign_signature_is_reported_as_unverifiable_offline(
    registry: RegistryServer, pusher: Pusher, client: RegistryClient
) -> None:
    image = pusher.image("keyless/legacy", "1")
    payload = simple_signing_payload(image.digest, "x")
    layer = Layer(
        "application/vnd.dev.cosign.simplesigning.v1+json",
        payload,
        {
            "dev.cosignproject.cosign/signature": base64.b64encode(b"sig").decode(),
            "dev.sigstore.cosign/certificate": "-----BEGIN CERTIFICATE-----\n...",
        },
    )
    pusher._artifact(image.repo, image.digest.replace(":", "-") + ".sig", [layer])
    result = verify_image(
        f"{registry.host}/keyless/legacy:1",
        Requirements.parse("signature"),
        trust=keyless(),
        client=client,
    )
    check = result.check("signature")
    assert check.codes == (codes.UNSUPPORTED,)
    assert "legacy format" in check.reason and "--new-bundle-format" in check.reason

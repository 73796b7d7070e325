"""verify_image against a real docker-registry: images signed and attested by the tests.

Every negative case is a distinct failure with its own reason code, never a pass.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from baseguard.attest import errors as codes
from baseguard.attest.cosign import load_public_key, simple_signing_payload
from baseguard.attest.verify import Requirements, Trust, VerificationResult, verify_image
from baseguard.errors import ImageNotFoundError
from baseguard.image.registry import RegistryClient
from tests.attest.push import DSSE, Layer, Pushed, Pusher, tag_of
from tests.attest.signing import (
    CYCLONEDX,
    GENERATOR,
    OPENVEX,
    PROVENANCE_V1,
    SOURCE,
    KeyPair,
    cyclonedx,
    envelope,
    openvex,
    provenance_v1,
    statement,
)
from tests.image.conftest import LocalServer, RegistryServer

pytestmark = pytest.mark.registry

INTOTO = "application/vnd.in-toto+json"


@dataclass
class Signed:
    image: Pushed
    ref: str
    key: KeyPair

    @property
    def trust(self) -> Trust:
        return Trust(key=load_public_key(self.key.public_pem, "cosign.pub"))


@pytest.fixture
def make_image(registry: RegistryServer, pusher: Pusher) -> Callable[..., Signed]:
    """A fresh image in its own repository and a fresh key (nothing attached yet)."""
    count = [0]

    def make(kind: str = "ecdsa", name: str = "") -> Signed:
        count[0] += 1
        repo = f"attest/{name or 'img'}{count[0]}-{KeyPair.__name__.lower()}-{id(count)}"
        image = pusher.image(repo, "1.0")
        return Signed(image, f"{registry.host}/{repo}:1.0", KeyPair.generate(kind))

    return make


def sign(
    pusher: Pusher, s: Signed, *, key: KeyPair | None = None, digest: str | None = None
) -> None:
    payload = simple_signing_payload(digest or s.image.digest, s.ref.rsplit(":", 1)[0])
    pusher.cosign_signature(s.image, payload, (key or s.key).sign(payload))


def attest(
    pusher: Pusher,
    s: Signed,
    predicate_type: str,
    predicate: Any,
    *,
    key: KeyPair | None = None,
    subject: str | None = None,
    as_referrer: bool = True,
) -> bytes:
    env = envelope(key or s.key, statement(subject or s.image.digest, predicate_type, predicate))
    if as_referrer:
        pusher.referrer(s.image, INTOTO, [Layer(DSSE, env, {"predicateType": predicate_type})])
    return env


def run(
    s: Signed,
    client: RegistryClient,
    require: str,
    trust: Trust | None = None,
    ref: str | None = None,
    **kw: Any,
) -> VerificationResult:
    return verify_image(
        ref or s.ref, Requirements.parse(require, **kw), trust=trust or s.trust, client=client
    )


# -- signatures ------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["ecdsa", "ed25519", "rsa"])
def test_a_cosign_signature_verifies_with_each_key_type(
    kind: str, make_image: Callable[..., Signed], pusher: Pusher, client: RegistryClient
) -> None:
    s = make_image(kind)
    sign(pusher, s)
    result = run(s, client, "signature")
    assert result.passed, result.to_json()
    assert result.check("signature").passed
    assert result.evidence.signatures[0].via == "cosign-tag"
    assert result.evidence.signatures[0].location == tag_of(s.image.digest, ".sig")


def test_a_signature_by_another_key_is_bad_signature(
    make_image: Callable[..., Signed], pusher: Pusher, client: RegistryClient
) -> None:
    s = make_image()
    sign(pusher, s, key=KeyPair.generate())
    result = run(s, client, "signature")
    assert not result.passed
    check = result.check("signature")
    assert check.codes == (codes.BAD_SIGNATURE,)
    assert "does not verify with key cosign.pub" in check.reason


def test_a_tampered_signature_payload_is_bad_signature(
    make_image: Callable[..., Signed], pusher: Pusher, client: RegistryClient
) -> None:
    s = make_image()
    payload = simple_signing_payload(s.image.digest, "x")
    signature = s.key.sign(payload)
    tampered = payload.replace(b'"optional":null', b'"optional":{"approved":"yes"}')
    assert tampered != payload
    pusher.cosign_signature(s.image, tampered, signature)
    result = run(s, client, "signature")
    assert not result.passed
    assert result.check("signature").codes == (codes.BAD_SIGNATURE,)


def test_a_valid_signature_for_another_digest_is_digest_mismatch(
    make_image: Callable[..., Signed], pusher: Pusher, client: RegistryClient
) -> None:
    s = make_image()
    other = "sha256:" + "1" * 64
    sign(pusher, s, digest=other)  # signed by the right key, for another image
    result = run(s, client, "signature")
    assert not result.passed
    check = result.check("signature")
    assert check.codes == (codes.DIGEST_MISMATCH,)
    assert f"the signature is for {other}" in check.reason
    assert s.image.digest in check.reason


def test_an_unsigned_image_fails_signature_as_missing(
    make_image: Callable[..., Signed], client: RegistryClient
) -> None:
    s = make_image()
    result = run(s, client, "signature")
    assert not result.passed
    assert result.check("signature").codes == (codes.MISSING,)
    assert "no signature is attached" in result.check("signature").reason


def test_signatures_are_checked_for_the_digest_a_tag_resolves_to(
    make_image: Callable[..., Signed], pusher: Pusher, client: RegistryClient, registry: Any
) -> None:
    s = make_image()
    sign(pusher, s)
    by_digest = run(s, client, "signature", ref=f"{s.ref.rsplit(':', 1)[0]}@{s.image.digest}")
    assert by_digest.passed and by_digest.digest == s.image.digest
    # the tag moves to a new image: the old signature no longer covers it
    pusher.image(s.image.repo, "1.0", {"etc/new": b"new"})
    moved = run(s, client, "signature")
    assert not moved.passed and moved.check("signature").codes == (codes.MISSING,)


def test_an_unknown_image_is_an_input_error_not_a_failure(
    registry: RegistryServer, client: RegistryClient
) -> None:
    trust = Trust(key=load_public_key(KeyPair.generate().public_pem, "k.pub"))
    with pytest.raises(ImageNotFoundError):
        verify_image(
            f"{registry.host}/attest/nothing:here",
            Requirements.parse("signature"),
            trust=trust,
            client=client,
        )


# -- provenance ------------------------------------------------------------------------------


def test_slsa3_provenance_from_an_allowed_builder_and_source_passes(
    make_image: Callable[..., Signed], pusher: Pusher, client: RegistryClient
) -> None:
    s = make_image()
    sign(pusher, s)
    attest(pusher, s, PROVENANCE_V1, provenance_v1())
    result = run(
        s,
        client,
        "signature,provenance:slsa3",
        allowed_builders=[GENERATOR.split("@")[0] + "@"],
        source_repo=SOURCE + ".git",
    )
    assert result.passed, result.to_json()
    prov = result.evidence.attestations[0].provenance
    assert prov is not None and prov.claimed_level == 3 and prov.source_ref == "refs/tags/v1.0.0"


def test_provenance_from_a_disallowed_builder_is_builder_not_allowed(
    make_image: Callable[..., Signed], pusher: Pusher, client: RegistryClient
) -> None:
    s = make_image()
    evil = "https://github.com/evil/builder/.github/workflows/build_slsa3.yml@refs/heads/main"
    attest(pusher, s, PROVENANCE_V1, provenance_v1(builder=evil))
    result = run(s, client, "provenance", allowed_builders=[GENERATOR])
    check = result.check("provenance")
    assert not result.passed
    assert check.codes == (codes.BUILDER_NOT_ALLOWED,)
    assert evil in check.reason


def test_a_builder_prefix_does_not_admit_a_lookalike_org(
    make_image: Callable[..., Signed], pusher: Pusher, client: RegistryClient
) -> None:
    s = make_image()
    lookalike = "https://github.com/slsa-framework-evil/x/.github/workflows/b_slsa3.yml@v1"
    attest(pusher, s, PROVENANCE_V1, provenance_v1(builder=lookalike))
    result = run(s, client, "provenance", allowed_builders=["https://github.com/slsa-framework/"])
    assert result.check("provenance").codes == (codes.BUILDER_NOT_ALLOWED,)


def test_provenance_from_another_source_repo_is_source_repo_mismatch(
    make_image: Callable[..., Signed], pusher: Pusher, client: RegistryClient
) -> None:
    s = make_image()
    attest(pusher, s, PROVENANCE_V1, provenance_v1(repo="https://github.com/fork/app"))
    result = run(s, client, "provenance", source_repo=SOURCE)
    check = result.check("provenance")
    assert check.codes == (codes.SOURCE_MISMATCH,)
    assert "built from https://github.com/fork/app, not https://github.com/example/app" in (
        check.reason
    )


def test_a_builder_claiming_a_lower_level_fails_slsa3(
    make_image: Callable[..., Signed], pusher: Pusher, client: RegistryClient
) -> None:
    s = make_image()
    attest(pusher, s, PROVENANCE_V1, provenance_v1(builder="https://ci.example.com/runner@v1"))
    result = run(s, client, "provenance:slsa3")
    assert result.check("provenance:slsa3").codes == (codes.LEVEL_TOO_LOW,)
    assert run(s, client, "provenance:slsa1").passed


def test_provenance_about_another_image_is_subject_mismatch(
    make_image: Callable[..., Signed], pusher: Pusher, client: RegistryClient
) -> None:
    s = make_image()
    attest(pusher, s, PROVENANCE_V1, provenance_v1(), subject="sha256:" + "2" * 64)
    result = run(s, client, "provenance")
    assert result.check("provenance").codes == (codes.SUBJECT_MISMATCH,)


def test_provenance_signed_by_another_key_is_bad_signature(
    make_image: Callable[..., Signed], pusher: Pusher, client: RegistryClient
) -> None:
    s = make_image()
    attest(pusher, s, PROVENANCE_V1, provenance_v1(), key=KeyPair.generate())
    result = run(s, client, "provenance")
    assert result.check("provenance").codes == (codes.BAD_SIGNATURE,)


def test_a_tampered_attestation_payload_is_bad_signature(
    make_image: Callable[..., Signed], pusher: Pusher, client: RegistryClient
) -> None:
    s = make_image()
    env = json.loads(attest(pusher, s, PROVENANCE_V1, provenance_v1(), as_referrer=False))
    forged = statement(
        s.image.digest, PROVENANCE_V1, provenance_v1(builder=GENERATOR, repo=SOURCE, ref="x")
    )
    import base64

    env["payload"] = base64.b64encode(forged).decode()
    pusher.referrer(s.image, INTOTO, [Layer(DSSE, json.dumps(env).encode())])
    result = run(s, client, "provenance")
    assert result.check("provenance").codes == (codes.BAD_SIGNATURE,)


# -- SBOM and VEX ----------------------------------------------------------------------------


def test_cosign_att_tag_with_sbom_and_vex_attestations_passes(
    make_image: Callable[..., Signed], pusher: Pusher, client: RegistryClient
) -> None:
    s = make_image()
    sign(pusher, s)
    envs = [
        (attest(pusher, s, CYCLONEDX, cyclonedx(), as_referrer=False), CYCLONEDX),
        (attest(pusher, s, OPENVEX, openvex(), as_referrer=False), OPENVEX),
        (attest(pusher, s, PROVENANCE_V1, provenance_v1(), as_referrer=False), PROVENANCE_V1),
    ]
    pusher.cosign_attestations(s.image, envs)
    result = run(s, client, "signature,provenance:slsa3,sbom,vex")
    assert result.passed, result.to_json()
    assert {a.via for a in result.evidence.attestations} == {"cosign-tag"}
    assert {a.kind for a in result.evidence.attestations} == {"sbom", "vex", "provenance"}


def test_a_missing_sbom_attestation_fails_as_missing(
    make_image: Callable[..., Signed], pusher: Pusher, client: RegistryClient
) -> None:
    s = make_image()
    sign(pusher, s)
    attest(pusher, s, OPENVEX, openvex())
    result = run(s, client, "signature,sbom,vex")
    assert not result.passed
    assert result.check("signature").passed and result.check("vex").passed
    assert result.check("sbom").codes == (codes.MISSING,)
    assert [c.name for c in result.result.failures()] == ["sbom"]


def test_a_missing_vex_attestation_fails_as_missing(
    make_image: Callable[..., Signed], pusher: Pusher, client: RegistryClient
) -> None:
    s = make_image()
    attest(pusher, s, CYCLONEDX, cyclonedx())
    result = run(s, client, "sbom,vex")
    assert result.check("sbom").passed
    assert result.check("vex").codes == (codes.MISSING,)


def test_an_unsigned_cosign_sbom_does_not_satisfy_the_sbom_requirement(
    make_image: Callable[..., Signed], pusher: Pusher, client: RegistryClient
) -> None:
    s = make_image()
    pusher.cosign_sbom(s.image, json.dumps({"spdxVersion": "SPDX-2.3"}).encode())
    result = run(s, client, "sbom")
    check = result.check("sbom")
    assert check.codes == (codes.MISSING,)
    assert "unsigned sbom document is attached" in check.reason
    assert result.evidence.unsigned[0].location == tag_of(s.image.digest, ".sbom")


def test_a_vex_attestation_signed_by_another_key_is_rejected(
    make_image: Callable[..., Signed], pusher: Pusher, client: RegistryClient
) -> None:
    s = make_image()
    attest(pusher, s, OPENVEX, openvex(), key=KeyPair.generate())
    result = run(s, client, "vex")
    assert result.check("vex").codes == (codes.BAD_SIGNATURE,)


# -- discovery -------------------------------------------------------------------------------


def test_distribution_without_the_referrers_api_uses_the_referrers_tag_schema(
    make_image: Callable[..., Signed], pusher: Pusher, client: RegistryClient
) -> None:
    s = make_image()
    attest(pusher, s, CYCLONEDX, cyclonedx())
    result = run(s, client, "sbom")
    assert result.passed
    assert not result.referrers_api
    assert result.evidence.attestations[0].via == "referrers-tag"
    assert any("does not implement the referrers API" in n for n in result.notes)


def test_the_referrers_api_is_used_when_the_registry_answers_it(
    make_image: Callable[..., Signed],
    pusher: Pusher,
    client: RegistryClient,
    referrers_front: Callable[[], LocalServer],
) -> None:
    s = make_image()
    # no fallback index at all: only the API can find this referrer
    env = envelope(s.key, statement(s.image.digest, CYCLONEDX, cyclonedx()))
    pusher.referrer(s.image, INTOTO, [Layer(DSSE, env)], update_fallback_tag=False)
    front = referrers_front()
    ref = f"{front.host}/{s.image.repo}:1.0"
    result = run(s, client, "sbom", ref=ref)
    assert result.passed, result.to_json()
    assert result.referrers_api
    assert result.evidence.attestations[0].via == "referrers-api"
    route = f"/v2/{s.image.repo}/referrers/{s.image.digest}"
    assert any(r.route == route for r in front.requests)
    # the same image on the plain registry: no API and no tag index, so nothing is found
    assert run(s, client, "sbom").check("sbom").codes == (codes.MISSING,)


def test_a_fallback_index_listing_another_images_referrer_is_skipped(
    make_image: Callable[..., Signed], pusher: Pusher, client: RegistryClient
) -> None:
    victim = make_image()
    other_image = pusher.image(victim.image.repo, "other")
    other_s = Signed(other_image, victim.ref, victim.key)
    attest(pusher, other_s, CYCLONEDX, cyclonedx())  # a valid attestation of *other_image*
    # a hostile index under the victim's tag lists it
    pusher.fallback_index(victim.image, pusher.referrers[(other_image.repo, other_image.digest)])
    result = run(victim, client, "sbom")
    assert result.check("sbom").codes == (codes.MISSING,)
    assert any("skipped" in n for n in result.notes)

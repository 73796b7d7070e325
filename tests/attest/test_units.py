"""Keys, simple-signing payloads, requirements and composable policies, without a registry."""

from __future__ import annotations

import json

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, rsa

from baseguard.attest import errors as codes
from baseguard.attest.cosign import (
    load_public_key,
    parse_simple_signing,
    simple_signing_payload,
    verify_simple_signing,
)
from baseguard.attest.errors import AttestError, VerificationFailure
from baseguard.attest.intoto import parse_statement
from baseguard.attest.policy import (
    AllOf,
    AnyOf,
    Attestation,
    AttestationPolicy,
    Evidence,
    Rejection,
    SignaturePolicy,
    VerifiedSignature,
)
from baseguard.attest.verify import Requirements
from tests.attest.signing import KeyPair, envelope, statement

DIGEST = "sha256:" + "ab" * 32


def pem(key: object) -> bytes:
    return key.public_key().public_bytes(  # type: ignore[attr-defined, no-any-return]
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


# -- keys -------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["ecdsa", "ed25519", "rsa"])
def test_each_key_type_verifies_its_own_signature_and_refuses_others(kind: str) -> None:
    pair = KeyPair.generate(kind)
    key = load_public_key(pair.public_pem, "k.pub")
    payload = simple_signing_payload(DIGEST, "registry.example.com/app")
    claim = verify_simple_signing(key, payload, pair.sign(payload), DIGEST, "sig")
    assert claim.reference == "registry.example.com/app"
    with pytest.raises(VerificationFailure) as err:
        verify_simple_signing(key, payload, KeyPair.generate(kind).sign(payload), DIGEST, "sig")
    assert err.value.code == codes.BAD_SIGNATURE


def test_a_p384_key_uses_sha384_as_cosign_does() -> None:
    priv = ec.generate_private_key(ec.SECP384R1())
    from cryptography.hazmat.primitives import hashes

    key = load_public_key(pem(priv), "p384.pub")
    key.verify(priv.sign(b"data", ec.ECDSA(hashes.SHA384())), b"data", "x")
    assert key.algorithm == "ecdsa-secp384r1"


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"not a key", "is not a PEM public key"),
        (pem(dsa.generate_private_key(2048)), "DSAPublicKey keys are not supported"),
        (pem(rsa.generate_private_key(65537, 1024)), "shorter than 2048 bits"),
        (pem(ec.generate_private_key(ec.SECP256K1())), "curve secp256k1 is not supported"),
    ],
)
def test_unusable_keys_are_input_errors(data: bytes, problem: str) -> None:
    with pytest.raises(AttestError) as err:
        load_public_key(data, "k.pub")
    assert problem in err.value.message


def test_the_fingerprint_is_the_sha256_of_the_public_key_der() -> None:
    import hashlib

    pair = KeyPair.generate()
    der = pair.private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert load_public_key(pair.public_pem, "k").fingerprint == (
        "sha256:" + hashlib.sha256(der).hexdigest()
    )


def test_a_dsse_envelope_verifies_over_pae_not_over_the_payload() -> None:
    from baseguard.attest.dsse import parse_envelope

    pair = KeyPair.generate()
    key = load_public_key(pair.public_pem, "k")
    env = parse_envelope(envelope(pair, statement(DIGEST, "p", {})), "e")
    key.verify_envelope(env, "e")
    with pytest.raises(VerificationFailure):
        key.verify(env.signatures[0].sig, env.payload, "e")  # signature is over PAE


@pytest.mark.parametrize(
    ("payload", "problem"),
    [
        (b"{", "not JSON"),
        (b'{"critical": {}}', "no critical.image.docker-manifest-digest"),
        (
            json.dumps(
                {"critical": {"image": {"docker-manifest-digest": DIGEST}, "type": "other"}}
            ).encode(),
            "not a cosign one",
        ),
    ],
)
def test_a_malformed_simple_signing_payload_is_malformed(payload: bytes, problem: str) -> None:
    with pytest.raises(VerificationFailure) as err:
        parse_simple_signing(payload, "p")
    assert err.value.code == codes.MALFORMED and problem in err.value.reason


def test_a_malformed_payload_is_not_read_before_its_signature_verifies() -> None:
    pair = KeyPair.generate()
    key = load_public_key(pair.public_pem, "k")
    with pytest.raises(VerificationFailure) as err:
        verify_simple_signing(key, b"{", KeyPair.generate().sign(b"{"), DIGEST, "p")
    assert err.value.code == codes.BAD_SIGNATURE


# -- requirements -----------------------------------------------------------------------------


def test_requirements_parse_commas_repeats_and_levels() -> None:
    req = Requirements.parse(["signature, provenance:slsa2", "sbom", "provenance:slsa3"])
    assert req.names() == ["signature", "provenance:slsa3", "sbom"]


def test_builder_and_source_constraints_imply_provenance() -> None:
    req = Requirements.parse("signature", source_repo="https://github.com/o/r")
    assert req.provenance and req.names() == ["signature", "provenance"]


@pytest.mark.parametrize(
    "text", ["", "signatures", "sbom:x", "provenance:slsa0", "provenance:gold"]
)
def test_bad_requirements_are_input_errors(text: str) -> None:
    with pytest.raises(AttestError):
        Requirements.parse(text)


# -- composable policies ----------------------------------------------------------------------


def evidence(**kw: object) -> Evidence:
    return Evidence(reference="r", digest=DIGEST, **kw)  # type: ignore[arg-type]


def sbom_attestation() -> Attestation:
    st = parse_statement(statement(DIGEST, "https://cyclonedx.org/bom", {}), "s")
    return Attestation("cosign-tag", "t.att", st.predicate_type, st.kind, st, True, "key k")


def test_all_of_passes_only_when_every_child_passes_and_keeps_every_reason() -> None:
    ev = evidence(
        attestations=[sbom_attestation()],
        rejections=[Rejection("signature", "cosign-tag", "t.sig", codes.BAD_SIGNATURE, "bad")],
    )
    result = AllOf(
        [SignaturePolicy(), AttestationPolicy("sbom"), AttestationPolicy("vex")]
    ).evaluate(ev)
    assert not result.passed
    assert result.codes == (codes.BAD_SIGNATURE, codes.MISSING)
    assert [f.name for f in result.failures()] == ["signature", "vex"]
    assert "signature: no valid signature" in result.reason and "vex: no VEX" in result.reason
    assert json.loads(json.dumps(result.to_dict()))["children"][1]["passed"] is True


def test_any_of_passes_when_one_alternative_passes() -> None:
    ev = evidence(signatures=[VerifiedSignature("cosign-tag", "t.sig", "key k")])
    assert AnyOf([AttestationPolicy("vex"), SignaturePolicy()]).evaluate(ev).passed
    failed = AnyOf([AttestationPolicy("vex"), AttestationPolicy("sbom")]).evaluate(evidence())
    assert not failed.passed and failed.codes == (codes.MISSING,)
    assert " / " in failed.reason


def test_an_empty_all_of_never_passes() -> None:
    assert not AllOf([]).evaluate(evidence()).passed


def test_an_unverified_attestation_never_satisfies_a_requirement() -> None:
    a = sbom_attestation()
    unverified = Attestation(a.via, a.location, a.predicate_type, a.kind, a.statement, False)
    assert not AttestationPolicy("sbom").evaluate(evidence(attestations=[unverified])).passed

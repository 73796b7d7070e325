"""Keyless verification of real Sigstore bundles (sigstore-python's and cosign's test assets),
fully offline against trusted root files: no TUF, no network.

Valid bundles pass for the identity and issuer their certificate carries, and fail with their
own reason for any other identity or issuer; every malformed bundle fails with a precise one.
"""

from __future__ import annotations

import glob
import os
from pathlib import Path

import pytest

from baseguard.attest import errors as codes
from baseguard.attest.errors import AttestError, VerificationFailure
from baseguard.attest.intoto import statement_from_envelope
from baseguard.attest.keyless import CertIdentity, KeylessTrust, load_bundle, load_trusted_root
from tests.conftest import realdata_path

pytestmark = pytest.mark.realdata

GITHUB_OAUTH = "https://github.com/login/oauth"
GOOGLE = "https://accounts.google.com"
ACTIONS = "https://token.actions.githubusercontent.com"
STAGING_ROOT = "staging-tuf/targets/" + (
    "ed6a9cf4e7c2e3297a4b5974fce0d17132f03c63512029d7aa3a402b43acab49.trusted_root.json"
)


def assets(*parts: str) -> Path:
    return realdata_path("attestations", "sigstore-python", "test", "assets", *parts)


def trust(root: Path, identity: str, issuer: str) -> KeylessTrust:
    return KeylessTrust.from_file(root, identity, issuer)


def packaged_staging_root() -> Path:
    """The staging trusted root sigstore-python ships (newer than the assets' TUF snapshot:
    it has the Rekor v2 log and CT key the 2025 staging bundles need). Read as a file."""
    import sigstore

    found = glob.glob(
        os.path.join(
            os.path.dirname(sigstore.__file__), "_store", "*sigstage*", "trusted_root.json"
        )
    )
    if not found:
        pytest.skip("this sigstore release ships no staging trusted_root.json")
    return Path(found[0])


# -- valid bundles ----------------------------------------------------------------------------

VALID = [
    # (bundle, artifact, trusted root, identity, issuer)
    ("bundle.txt.sigstore", "bundle.txt", STAGING_ROOT, "a@tny.town", GITHUB_OAUTH),
    (
        "bundle_v3.txt.sigstore",
        "bundle_v3.txt",
        STAGING_ROOT,
        "william@yossarian.net",
        GITHUB_OAUTH,
    ),
    (
        "bundle_v3_alt.txt.sigstore",
        "bundle_v3_alt.txt",
        STAGING_ROOT,
        "william@yossarian.net",
        GITHUB_OAUTH,
    ),
    (
        "integration/bundle_v3.txt.sigstore",
        "integration/bundle_v3.txt",
        STAGING_ROOT,
        "william@yossarian.net",
        GITHUB_OAUTH,
    ),
    (
        "bundle_v3_github.whl.sigstore",
        "bundle_v3_github.whl",
        "trusted_root/trustedroot.v1.json",
        "https://github.com/trailofbits/rfc8785.py/.github/workflows/release.yml@refs/tags/v0.1.2",
        ACTIONS,
    ),
    (
        "tsa/bundle.txt.sigstore",
        "tsa/bundle.txt",
        "tsa/trust_config.json",
        "alexis.challande@trailofbits.com",
        GOOGLE,
    ),
]


@pytest.mark.parametrize(("bundle", "artifact", "root", "identity", "issuer"), VALID)
def test_a_real_bundle_verifies_offline_for_its_identity(
    bundle: str, artifact: str, root: str, identity: str, issuer: str
) -> None:
    b = load_bundle(assets(bundle).read_bytes(), bundle)
    who = trust(assets(root), identity, issuer).verify_artifact(
        b, assets(artifact).read_bytes(), bundle
    )
    assert identity in who.identities and who.issuer == issuer


def test_the_rekor_v2_staging_bundle_verifies_with_the_packaged_staging_root() -> None:
    name = "staging-rekor-v2.txt.sigstore.json"
    b = load_bundle(assets(name).read_bytes(), name)
    t = trust(packaged_staging_root(), "jku@goto.fi", GITHUB_OAUTH)
    t.verify_artifact(b, assets("staging-rekor-v2.txt").read_bytes(), name)


@pytest.mark.parametrize(
    ("bundle", "artifact", "root", "identity", "issuer"), VALID[:1] + VALID[4:5]
)
def test_a_valid_bundle_for_another_identity_is_identity_mismatch(
    bundle: str, artifact: str, root: str, identity: str, issuer: str
) -> None:
    b = load_bundle(assets(bundle).read_bytes(), bundle)
    with pytest.raises(VerificationFailure) as err:
        trust(assets(root), "someone@example.com", issuer).verify_artifact(
            b, assets(artifact).read_bytes(), bundle
        )
    assert err.value.code == codes.IDENTITY_MISMATCH
    assert f"signed by {identity}, not someone@example.com" in err.value.reason


@pytest.mark.parametrize(
    ("bundle", "artifact", "root", "identity", "issuer"), VALID[:1] + VALID[4:5]
)
def test_a_valid_bundle_from_another_issuer_is_issuer_mismatch(
    bundle: str, artifact: str, root: str, identity: str, issuer: str
) -> None:
    b = load_bundle(assets(bundle).read_bytes(), bundle)
    with pytest.raises(VerificationFailure) as err:
        trust(assets(root), identity, "https://issuer.example.com").verify_artifact(
            b, assets(artifact).read_bytes(), bundle
        )
    assert err.value.code == codes.ISSUER_MISMATCH
    assert f"was issued by {issuer}, not https://issuer.example.com" in err.value.reason


def test_a_valid_bundle_over_other_content_is_bad_signature() -> None:
    b = load_bundle(assets("bundle.txt.sigstore").read_bytes(), "bundle.txt.sigstore")
    with pytest.raises(VerificationFailure) as err:
        trust(assets(STAGING_ROOT), "a@tny.town", GITHUB_OAUTH).verify_artifact(
            b, assets("bundle.txt").read_bytes() + b"tampered", "bundle.txt.sigstore"
        )
    assert err.value.code == codes.BAD_SIGNATURE


def test_a_valid_bundle_against_another_instances_root_is_untrusted() -> None:
    b = load_bundle(assets("bundle.txt.sigstore").read_bytes(), "bundle.txt.sigstore")
    prod = assets("trusted_root", "trustedroot.v1.json")
    with pytest.raises(VerificationFailure) as err:
        trust(prod, "a@tny.town", GITHUB_OAUTH).verify_artifact(
            b, assets("bundle.txt").read_bytes(), "bundle.txt.sigstore"
        )
    assert err.value.code == codes.UNTRUSTED
    assert "does not verify against the trusted root" in err.value.reason


def test_the_dsse_bundle_verifies_but_its_statement_is_about_another_file() -> None:
    """sigstore-python's Rekor v2 DSSE bundle: a valid signature whose in-toto subject is not
    the file beside it (their "valid signature, wrong subject" case)."""
    import hashlib

    name = "a.dsse.staging-rekor-v2.txt.sigstore.json"
    identity = (
        "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/"
        ".github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main"
    )
    b = load_bundle(assets(name).read_bytes(), name)
    env, _ = trust(packaged_staging_root(), identity, ACTIONS).verify_dsse(b, name)
    st = statement_from_envelope(env, name)
    assert st.predicate_type == "https://slsa.dev/provenance/v1"
    digest = (
        "sha256:" + hashlib.sha256(assets("a.dsse.staging-rekor-v2.txt").read_bytes()).hexdigest()
    )
    with pytest.raises(VerificationFailure) as err:
        st.require_subject(digest, name)
    assert err.value.code == codes.SUBJECT_MISMATCH
    assert "a.txt@sha256:a0cfc712" in err.value.reason


# -- malformed bundles ------------------------------------------------------------------------

MALFORMED = [
    ("bundle_invalid_version.txt.sigstore", "mediaType"),
    ("bundle_no_cert_v1.txt.sigstore", "expected non-empty certificate chain in bundle"),
    ("bundle_no_checkpoint.txt.sigstore", "entry must contain inclusion proof, with checkpoint"),
    ("bundle_no_log_entry.txt.sigstore", "expected exactly one log entry in bundle"),
    (
        "bundle_v3_no_signed_time.txt.sigstore.json",
        "bundle must contain an inclusion promise or signed timestamp(s)",
    ),
    ("integration/Python-3.12.5.tgz.sigstore", "entry must contain inclusion proof"),
    ("bundle_no_checkpoint.txt.bundle", "not a valid Sigstore bundle"),
]


@pytest.mark.parametrize(("bundle", "reason"), MALFORMED)
def test_a_malformed_bundle_is_refused_with_a_precise_reason(bundle: str, reason: str) -> None:
    with pytest.raises(VerificationFailure) as err:
        load_bundle(assets(bundle).read_bytes(), bundle)
    assert err.value.code == codes.MALFORMED
    assert err.value.reason.startswith(f"{bundle}: not a valid Sigstore bundle")
    assert reason in err.value.reason


BAD_BUT_LOADABLE = [
    # (bundle, artifact, root, identity, issuer, reason)
    (
        "bundle_cve_2022_36056.txt.sigstore",
        "bundle_cve_2022_36056.txt",
        STAGING_ROOT,
        "william@yossarian.net",
        GITHUB_OAUTH,
        "transparency log entry is inconsistent with other materials",
    ),
    (
        "tsa/bundle.duplicate.sigstore",
        "tsa/bundle.txt",
        "tsa/trust_config.json",
        "alexis.challande@trailofbits.com",
        GOOGLE,
        "duplicate timestamp found",
    ),
    (
        "tsa/bundle.many_timestamp.sigstore",
        "tsa/bundle.txt",
        "tsa/trust_config.json",
        "alexis.challande@trailofbits.com",
        GOOGLE,
        "too many signed timestamp: 33 > 32",
    ),
    (
        "tsa/bundle.txt.late_timestamp.sigstore",
        "tsa/bundle.txt",
        "tsa/trust_config.json",
        "insecure-cloudtop-shared-user@cloudtop-prod-us-east.iam.gserviceaccount.com",
        GOOGLE,
        "failed to build timestamp certificate chain",
    ),
]


@pytest.mark.parametrize(
    ("bundle", "artifact", "root", "identity", "issuer", "reason"), BAD_BUT_LOADABLE
)
def test_a_forged_or_inconsistent_bundle_is_untrusted_with_sigstores_reason(
    bundle: str, artifact: str, root: str, identity: str, issuer: str, reason: str
) -> None:
    b = load_bundle(assets(bundle).read_bytes(), bundle)
    with pytest.raises(VerificationFailure) as err:
        trust(assets(root), identity, issuer).verify_artifact(
            b, assets(artifact).read_bytes(), bundle
        )
    assert err.value.code == codes.UNTRUSTED
    assert reason in err.value.reason


# -- trusted roots ----------------------------------------------------------------------------


def test_a_trusted_root_of_an_unknown_type_is_an_input_error() -> None:
    with pytest.raises(AttestError) as err:
        load_trusted_root(assets("trusted_root", "trustedroot.badtype.json"))
    assert "mediaType" in err.value.message


@pytest.mark.parametrize("name", ["certificate_authority.json", "certificate_authority.empty.json"])
def test_a_file_that_is_not_a_trusted_root_is_an_input_error(name: str) -> None:
    with pytest.raises(AttestError) as err:
        load_trusted_root(assets("trusted_root", name))
    assert "trusted root" in err.value.message


def test_a_client_trust_config_is_read_for_its_trusted_root() -> None:
    root = load_trusted_root(assets("trust_config", "config.v1.json"))
    assert root._inner.tlogs


def test_keyless_needs_an_identity_and_an_issuer() -> None:
    with pytest.raises(AttestError):
        KeylessTrust.from_file(assets(STAGING_ROOT), "", GITHUB_OAUTH)


# -- the cosign OCI attestation bundle --------------------------------------------------------


def cosign_asset(name: str) -> Path:
    return realdata_path("attestations", "cosign", "pkg", "cosign", "testdata", name)


def test_cosigns_oci_attestation_bundle_verifies_offline_and_names_its_image() -> None:
    name = "oci-attestation.sigstore.json"
    b = load_bundle(cosign_asset(name).read_bytes(), name)
    t = trust(cosign_asset("trusted_root_pgi.json"), "cody@soyland.com", GITHUB_OAUTH)
    env, who = t.verify_dsse(b, name)
    assert who == CertIdentity(("cody@soyland.com",), GITHUB_OAUTH)
    st = statement_from_envelope(env, name)
    assert st.predicate_type == "https://cosign.sigstore.dev/attestation/v1"
    assert st.names_digest(
        "sha256:732112270d7e59418a8c080b134b24cabd67d250d0d0147a97ed95ba5c280aa4"
    )
    assert st.subjects[0].name == "127.0.0.1:60943/repo"

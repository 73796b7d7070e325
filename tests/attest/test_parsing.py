"""DSSE, in-toto and SLSA provenance parsing, on real documents and on hostile ones."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from baseguard.attest import errors as codes
from baseguard.attest.dsse import Envelope, pae, parse_envelope
from baseguard.attest.errors import VerificationFailure
from baseguard.attest.intoto import Statement, parse_statement, statement_from_envelope
from baseguard.attest.slsa import (
    builder_allowed,
    check_provenance,
    normalize_repo,
    parse_provenance,
)
from tests.conftest import realdata_path


def slsa_verifier(*parts: str) -> Path:
    return realdata_path(
        "attestations", "slsa-verifier", "cli", "slsa-verifier", "testdata", *parts
    )


def wrap(predicate_type: str, predicate: Any) -> Statement:
    return parse_statement(
        {
            "_type": "https://in-toto.io/Statement/v1",
            "subject": [{"name": "x", "digest": {"sha256": "0" * 64}}],
            "predicateType": predicate_type,
            "predicate": predicate,
        },
        "test",
    )


# -- DSSE -------------------------------------------------------------------------------------


def test_pae_matches_the_dsse_specification_example() -> None:
    # DSSE v1.0 protocol.md: PAE("http://example.com/HelloWorld", "hello world")
    assert pae("http://example.com/HelloWorld", b"hello world") == (
        b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
    )


@pytest.mark.realdata
@pytest.mark.parametrize(
    "name", ["annotated-tag.intoto.jsonl", "binary-linux-amd64-e2e-builder-repo.intoto.jsonl"]
)
def test_slsa_github_generator_envelopes_parse_to_v02_provenance(name: str) -> None:
    line = slsa_verifier(name).read_text().splitlines()[0]
    env = parse_envelope(line, name)
    assert env.payload_type == "application/vnd.in-toto+json"
    assert len(env.signatures) == 1 and len(env.signatures[0].sig) > 64
    st = statement_from_envelope(env, name)
    prov = parse_provenance(st, name)
    assert prov.version == "v0.2"
    assert prov.claimed_level == 3
    assert "slsa-github-generator" in prov.builder_id
    if name.startswith("annotated"):
        assert prov.source_repo == "https://github.com/asraa/slsa-on-github-test"
        assert prov.source_ref == "refs/tags/v1.5.0"
        assert prov.source_digest == {"sha1": "f24af35a7c714f1b4eeb53afefb57fa11bd5c95c"}
        assert st.names_digest(
            "sha256:482ce8c8f7e867da3a3c05a9aee637703e17470ed1cf882a9e5b405e8f82619d"
        )
    else:
        assert prov.source_repo == "https://github.com/slsa-framework/example-package"
        assert prov.build_type == "https://github.com/slsa-framework/slsa-github-generator/go@v1"


def _gcb(version: str, name: str) -> tuple[Statement, str]:
    doc = json.loads(slsa_verifier("gcb_container", version, name).read_text())
    env = doc["provenance_summary"]["provenance"][0]["envelope"]
    return statement_from_envelope(parse_envelope(env, name), name), doc["image_summary"]["digest"]


@pytest.mark.realdata
@pytest.mark.parametrize("version", ["v0.2", "v0.3"])
def test_google_cloud_build_container_provenance_names_the_image(version: str) -> None:
    st, digest = _gcb(version, "gcloud-container-github.json")
    digest_file = slsa_verifier("gcb_container", version, "gcloud-container-github.digest")
    assert digest == digest_file.read_text().strip()
    st.require_subject(digest, "gcb")
    prov = parse_provenance(st, "gcb")
    assert prov.version == "v0.1"
    assert prov.builder_id == f"https://cloudbuild.googleapis.com/GoogleHostedWorker@{version}"
    assert prov.source_repo == "https://github.com/laurentsimon/gcb-tests"
    assert prov.claimed_level == 3


@pytest.mark.realdata
def test_google_cloud_build_provenance_with_a_changed_digest_is_subject_mismatch() -> None:
    st, digest = _gcb("v0.2", "gcloud-container-mismatch-payload-digest.json")
    with pytest.raises(VerificationFailure) as err:
        st.require_subject(digest, "gcb")
    assert err.value.code == codes.SUBJECT_MISMATCH


@pytest.mark.realdata
def test_google_cloud_build_provenance_with_a_changed_builder_is_builder_not_allowed() -> None:
    st, _ = _gcb("v0.2", "gcloud-container-mismatch-payload-builderid.json")
    prov = parse_provenance(st, "gcb")
    with pytest.raises(VerificationFailure) as err:
        check_provenance(
            prov, allowed_builders=["https://cloudbuild.googleapis.com/GoogleHostedWorker@v0.2"]
        )
    assert err.value.code == codes.BUILDER_NOT_ALLOWED
    assert "GoogleHostedWorker@v0.1" in err.value.reason


@pytest.mark.realdata
@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("gcloud-container-empty-signature.json", "DSSE signature 0 is empty"),
        ("gcloud-container-invalid-signature-encoding.json", "is not valid base64"),
    ],
)
def test_envelopes_without_a_usable_signature_are_malformed(name: str, problem: str) -> None:
    doc = json.loads(slsa_verifier("gcb_container", "v0.2", name).read_text())
    with pytest.raises(VerificationFailure) as err:
        parse_envelope(doc["provenance_summary"]["provenance"][0]["envelope"], name)
    assert err.value.code == codes.MALFORMED
    assert problem in err.value.reason


@pytest.mark.realdata
def test_sigstore_pythons_slsa_predicates_parse() -> None:
    base = realdata_path(
        "attestations", "sigstore-python", "test", "assets", "integration", "attest"
    )
    v02 = parse_provenance(
        wrap(
            "https://slsa.dev/provenance/v0.2",
            json.loads((base / "slsa_predicate_v0_2.json").read_text()),
        ),
        "v0.2",
    )
    assert v02.source_repo == "https://github.com/sigstore/sigstore-python"
    assert v02.source_ref == "refs/tags/v3.2.0"
    assert v02.claimed_level == 3
    v1 = parse_provenance(
        wrap(
            "https://slsa.dev/provenance/v1",
            json.loads((base / "slsa_predicate_v1_0.json").read_text()),
        ),
        "v1",
    )
    assert v1.build_type == "https://actions.github.io/buildtypes/workflow/v1"
    assert v1.builder_id.startswith("https://github.com/octo-org/octo-repo/.github/workflows/")
    assert v1.source_repo == "https://github.com/octo-org/octo-repo"
    assert v1.source_ref == "refs/tags/1.21.0"
    assert v1.source_digest == {"gitCommit": "1ac93ce21ee526b36fd154b9058d97dfaa424c50"}
    assert v1.claimed_level == 2  # GitHub artifact attestation on a GitHub-hosted runner


@pytest.mark.realdata
@pytest.mark.parametrize("which", ["valid", "malformed"])
def test_cosign_policy_attestations_parse_and_the_malformed_predicate_type_is_other(
    which: str,
) -> None:
    path = realdata_path("attestations", "cosign", "pkg", "policy", "testdata", which, "custom")
    st = statement_from_envelope(parse_envelope(path.read_bytes(), str(path)), str(path))
    if which == "valid":
        assert st.predicate_type == "https://cosign.sigstore.dev/attestation/v1"
    else:
        assert st.predicate_type == "cosign.sigstore.dev/attestation/v1"
    assert st.kind == "other"
    assert st.type == "https://in-toto.io/Statement/v0.1"


# -- hostile envelopes and statements ---------------------------------------------------------

HOSTILE_ENVELOPES = [
    (b"not json", "not JSON"),
    (b"[]", "not a JSON object"),
    (b'{"payload": "e30=", "signatures": [{"sig": "AA=="}]}', "no payloadType"),
    (b'{"payloadType": "x", "signatures": [{"sig": "AA=="}]}', "no payload"),
    (
        b'{"payloadType": "x", "payload": "***", "signatures": [{"sig": "AA=="}]}',
        "not valid base64",
    ),
    (b'{"payloadType": "x", "payload": "e30=", "signatures": ["x"]}', "not an object"),
]


@pytest.mark.parametrize(("data", "problem"), HOSTILE_ENVELOPES)
def test_a_hostile_envelope_is_malformed_with_the_field_named(data: bytes, problem: str) -> None:
    with pytest.raises(VerificationFailure) as err:
        parse_envelope(data, "env")
    assert err.value.code == codes.MALFORMED and problem in err.value.reason


def test_url_safe_unpadded_base64_is_accepted() -> None:
    payload = b'{"a":"\xff\xfe?"}'
    text = base64.urlsafe_b64encode(payload).rstrip(b"=").decode()
    env = parse_envelope(
        json.dumps({"payloadType": "t", "payload": text, "signatures": [{"sig": "AQID"}]}), "e"
    )
    assert env.payload == payload


def test_a_non_intoto_payload_type_is_refused() -> None:
    env = Envelope("application/json", b"{}")
    with pytest.raises(VerificationFailure) as err:
        statement_from_envelope(env, "e")
    assert "not 'application/vnd.in-toto+json'" in err.value.reason


@pytest.mark.parametrize(
    ("doc", "problem"),
    [
        ({"_type": "https://example.com/Statement"}, "unknown in-toto statement type"),
        ({"_type": "https://in-toto.io/Statement/v1", "subject": []}, "no predicateType"),
        (
            {"_type": "https://in-toto.io/Statement/v1", "predicateType": "p", "subject": []},
            "no subject",
        ),
        (
            {
                "_type": "https://in-toto.io/Statement/v1",
                "predicateType": "p",
                "subject": [{"name": "x", "digest": {"sha256": 1}}],
            },
            "no digest map of strings",
        ),
    ],
)
def test_a_malformed_statement_names_what_is_missing(doc: dict[str, Any], problem: str) -> None:
    with pytest.raises(VerificationFailure) as err:
        parse_statement(json.dumps(doc).encode(), "st")
    assert problem in err.value.reason


def test_subjects_compare_digests_case_insensitively_and_by_algorithm() -> None:
    st = wrap("p", {})
    assert st.names_digest("sha256:" + "0" * 64)
    assert not st.names_digest("sha512:" + "0" * 64)


# -- SLSA policy helpers ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("git+https://GitHub.com/Org/Repo.git@refs/heads/main", "https://github.com/Org/Repo"),
        ("https://github.com/o/r/", "https://github.com/o/r"),
        ("https://github.com/o/r/commit/" + "a" * 40, "https://github.com/o/r"),
        ("github.com/o/r", "https://github.com/o/r"),
    ],
)
def test_source_repositories_are_normalised_before_comparing(uri: str, expected: str) -> None:
    assert normalize_repo(uri) == expected


def test_builder_allowlist_is_exact_unless_the_entry_ends_in_a_separator() -> None:
    b = "https://github.com/org/wf/.github/workflows/b.yml@refs/tags/v1"
    assert builder_allowed(b, [b])
    assert builder_allowed(b, ["https://github.com/org/wf/.github/workflows/b.yml@"])
    assert builder_allowed(b, ["https://github.com/org/"])
    assert not builder_allowed(b, ["https://github.com/org"])
    assert not builder_allowed("https://github.com/org-evil/x", ["https://github.com/org/"])


def test_a_provenance_without_a_builder_is_malformed() -> None:
    with pytest.raises(VerificationFailure) as err:
        parse_provenance(wrap("https://slsa.dev/provenance/v1", {"runDetails": {}}), "p")
    assert err.value.code == codes.MALFORMED and "no builder id" in err.value.reason

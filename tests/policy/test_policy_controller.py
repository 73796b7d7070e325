"""sigstore policy-controller: ClusterImagePolicy structure against its documented schema facts
(v1beta1 types and validation), and its glob semantics on the case table's images."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from baseguard.catalog.model import Catalog
from baseguard.policy.base import PolicyOptions, generate
from baseguard.policy.policy_controller import VALID_PREDICATE_NAMES, glob_for
from baseguard.refs import parse_reference
from tests.policy.conftest import resources

#: policy-controller's pkg/apis/glob: the characters a glob may hold.
VALID_GLOB = re.compile(r"^[a-zA-Z0-9-_:\/\*\.]+$")


def glob_match(glob: str, image: str) -> bool:
    """policy-controller's glob.Match: ``**`` anything, ``*`` anything but ``/``, against the
    name go-containerregistry prints (index.docker.io; a digest drops the tag)."""
    regex = glob.replace(".", r"\.").replace("**", "#").replace("*", "[^/]*").replace("#", ".*")
    ref = parse_reference(image)
    registry = "index.docker.io" if ref.registry == "docker.io" else ref.registry
    name = f"{registry}/{ref.repository}"
    name += f"@{ref.digest}" if ref.digest else f":{ref.tag}"
    return re.fullmatch(regex, name) is not None


@pytest.fixture(scope="module")
def policies(catalog: Catalog, options: PolicyOptions) -> list[dict[str, Any]]:
    return resources("policy-controller", catalog, options)


def test_one_policy_per_entry_with_a_signature_rule(policies: list[dict[str, Any]]) -> None:
    assert [p["metadata"]["name"] for p in policies] == [
        "baseguard-catalog-chainguard-python",
        "baseguard-catalog-org-app",
        "baseguard-catalog-org-app-tools",
    ]
    for policy in policies:
        assert policy["apiVersion"] == "policy.sigstore.dev/v1beta1"
        assert policy["kind"] == "ClusterImagePolicy"
        assert policy["spec"]["mode"] in ("enforce", "warn")


def test_authorities_follow_the_validation_rules(policies: list[dict[str, Any]]) -> None:
    for policy in policies:
        assert policy["spec"]["images"]
        for image in policy["spec"]["images"]:
            assert VALID_GLOB.match(image["glob"])
        for authority in policy["spec"]["authorities"]:
            # exactly one of key, keyless, static
            assert sum(k in authority for k in ("key", "keyless", "static")) == 1
            if "keyless" in authority:
                assert authority["keyless"]["url"].startswith("https://")
                for identity in authority["keyless"]["identities"]:
                    assert identity["issuer"] and identity["subject"]
            if "key" in authority:
                assert authority["key"]["data"].startswith("-----BEGIN PUBLIC KEY-----")
            for attestation in authority.get("attestations", []):
                assert attestation["name"]
                assert attestation["predicateType"] in VALID_PREDICATE_NAMES
                assert attestation["policy"]["type"] == "cue"
                assert attestation["policy"]["data"]


def test_globs_match_the_entry_and_never_the_prefix_bypass() -> None:
    digest = "@sha256:" + "c" * 64
    glob = glob_for("registry.io/org/app")
    assert glob == "registry.io/org/app*"
    assert glob_match(glob, "registry.io/org/app" + digest)
    assert glob_match(glob, "registry.io/org/app:1.4.2" + digest)
    assert not glob_match(glob, "registry.io/org-evil/x" + digest)
    assert not glob_match(glob, "registry.io/org/app/sub" + digest)
    hub = glob_for("docker.io/library/alpine")
    assert hub == "index.docker.io/library/alpine*"
    assert glob_match(hub, "alpine:3.22" + digest)


def test_sbom_predicate_and_notes_for_what_it_cannot_require(catalog: Catalog) -> None:
    out = generate("policy-controller", catalog, PolicyOptions(base_dir=Path(__file__).parent))
    app = next(r.body for r in out.resources if r.name.endswith("-org-app"))
    attestations = app["spec"]["authorities"][0]["attestations"]
    assert [a["predicateType"] for a in attestations] == ["spdxjson"]
    assert any("https://openvex.dev/ns" in n for n in out.notes)
    assert any("https://slsa.dev/provenance/v1" in n for n in out.notes)
    # the glob of registry.io/org/app also covers registry.io/org/app-tools: said in a note
    assert any("registry.io/org/app*" in n for n in out.notes)


def test_slsa_v02_maps_to_slsaprovenance_and_audit_mode_warns(catalog: Catalog) -> None:
    opts = PolicyOptions(
        mode="audit",
        slsa_predicate="https://slsa.dev/provenance/v0.2",
        base_dir=Path(__file__).parent,
    )
    app = next(
        r.body
        for r in generate("policy-controller", catalog, opts).resources
        if r.name.endswith("-org-app")
    )
    assert app["spec"]["mode"] == "warn"
    types = [a["predicateType"] for a in app["spec"]["authorities"][0]["attestations"]]
    assert types == ["slsaprovenance", "spdxjson"]

"""Kyverno: the ClusterPolicies against Kyverno's CRD schema, an emulation of the rules on every
case, the wildcard semantics of its image patterns, and the reference policies' shapes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from baseguard.catalog.model import Catalog
from baseguard.policy.base import PolicyOptions
from baseguard.policy.kyverno import image_references
from tests.conftest import realdata_path
from tests.policy import engines
from tests.policy.conftest import CASE_IDS, CASES, resources

KYVERNO = ("policies", "kyverno-policies")


@pytest.fixture(scope="module")
def generated(catalog: Catalog, options: PolicyOptions) -> list[dict[str, Any]]:
    return resources("kyverno", catalog, options)


def _close(node: Any) -> None:
    """Refuse unknown fields: Kyverno's structural CRD would silently drop them."""
    if isinstance(node, dict):
        if node.get("type") == "object" and "properties" in node:
            node.setdefault("additionalProperties", False)
        for value in node.values():
            _close(value)
    elif isinstance(node, list):
        for value in node:
            _close(value)


@pytest.fixture(scope="module")
def crd_schema() -> dict[str, Any]:
    """Kyverno 1.13.4's ClusterPolicy schema, from the models generated from its CRD."""
    models = pytest.importorskip("cloudcoil.models.kyverno.v1")
    schema: dict[str, Any] = models.ClusterPolicy.model_json_schema(by_alias=True)
    _close(schema)
    return schema


def _errors(schema: dict[str, Any], body: dict[str, Any]) -> list[str]:
    import jsonschema

    validator = jsonschema.Draft202012Validator(schema)
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(body)]


def test_the_policies_validate_against_kyvernos_crd_schema(
    generated: list[dict[str, Any]], crd_schema: dict[str, Any]
) -> None:
    assert [p["metadata"]["name"] for p in generated] == [
        "baseguard-catalog",
        "baseguard-catalog-signatures",
    ]
    for policy in generated:
        assert _errors(crd_schema, policy) == []


def test_the_schema_check_catches_a_misplaced_field(
    generated: list[dict[str, Any]], crd_schema: dict[str, Any]
) -> None:
    broken = json.loads(json.dumps(generated[0]))
    broken["spec"]["rules"][0]["validate"]["foreach"][0]["denny"] = {}
    assert _errors(crd_schema, broken)
    broken = json.loads(json.dumps(generated[0]))
    broken["spec"]["validationFailureAction"] = "Block"
    assert _errors(crd_schema, broken)


@pytest.mark.realdata
def test_the_schema_accepts_the_reference_policies(crd_schema: dict[str, Any]) -> None:
    for name in (
        "best-practices/restrict-image-registries",
        "other/verify-image",
        "other/verify-image-slsa",
        "other/require-image-checksum",
    ):
        folder = realdata_path(*KYVERNO, *name.split("/"))
        policy = yaml.safe_load((folder / f"{folder.name}.yaml").read_text(encoding="utf-8"))
        assert _errors(crd_schema, policy) == [], name


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_the_validate_rules_give_each_case_its_verdict(
    case: dict[str, Any], generated: list[dict[str, Any]]
) -> None:
    decision = engines.kyverno(generated[0], case["admissionReview"], engines.noon(case["today"]))
    assert decision.allowed is case["allowed"], decision.message
    if not case["allowed"]:
        assert decision.reason == case["reason"]
    elif case["reason"] == "exempt-namespace":
        assert decision.reason == engines.EXEMPT


def test_rules_cover_pods_controllers_and_cronjobs_explicitly(
    generated: list[dict[str, Any]],
) -> None:
    policy = generated[0]
    annotations = policy["metadata"]["annotations"]
    assert annotations["pod-policies.kyverno.io/autogen-controllers"] == "none"
    lists = {r["validate"]["foreach"][0]["list"] for r in policy["spec"]["rules"]}
    assert lists == {
        "request.object.spec.[containers, initContainers, ephemeralContainers][]",
        "request.object.spec.template.spec.[containers, initContainers, ephemeralContainers][]",
        "request.object.spec.jobTemplate.spec.template.spec.[containers, initContainers, "
        "ephemeralContainers][]",
    }
    kinds = {k for r in policy["spec"]["rules"] for k in r["match"]["any"][0]["resources"]["kinds"]}
    assert {"Pod", "Deployment", "CronJob", "Job"} <= kinds
    assert policy["spec"]["validationFailureAction"] == "Enforce"


def test_exceptions_and_end_of_life_use_kyvernos_time_functions(
    generated: list[dict[str, Any]],
) -> None:
    text = json.dumps(generated[0])
    assert "time_before(time_now_utc(), '2027-01-01T00:00:00Z')" in text  # legacy-tool's end
    assert "time_before(time_now_utc(), '2026-04-02T00:00:00Z')" in text  # alpine-3.20 EOL+1


def test_audit_mode_and_opt_in(catalog: Catalog) -> None:
    opts = PolicyOptions(
        mode="audit",
        opt_in_label=("baseguard.io/enforce", "true"),
        exempt_namespaces=("ops",),
        base_dir=Path(__file__).parent,
    )
    policy = resources("kyverno", catalog, opts)[0]
    assert policy["spec"]["validationFailureAction"] == "Audit"
    assert policy["spec"]["emitWarning"] is True
    rule = policy["spec"]["rules"][0]
    assert rule["match"]["any"][0]["resources"]["namespaceSelector"] == {
        "matchLabels": {"baseguard.io/enforce": "true"}
    }
    assert rule["exclude"]["any"][0]["resources"]["namespaces"] == ["ops"]


# ----------------------------------------------------------------------------- verifyImages


def test_verify_images_carries_keys_identities_and_attestations(
    generated: list[dict[str, Any]],
) -> None:
    rules = {r["name"]: r["verifyImages"][0] for r in generated[1]["spec"]["rules"]}
    assert set(rules) == {"verify-chainguard-python", "verify-org-app", "verify-org-app-tools"}
    app = rules["verify-org-app"]
    assert app["mutateDigest"] is True and app["verifyDigest"] is True
    keyless = app["attestors"][0]["entries"][0]["keyless"]
    assert keyless["subject"].startswith("https://github.com/org/app/")
    assert keyless["issuer"] == "https://token.actions.githubusercontent.com"
    assert [a["predicateType"] for a in app["attestations"]] == [
        "https://slsa.dev/provenance/v1",
        "https://spdx.dev/Document",
        "https://openvex.dev/ns",
    ]
    tools = rules["verify-org-app-tools"]
    assert "BEGIN PUBLIC KEY" in tools["attestors"][0]["entries"][0]["keys"]["publicKeys"]
    assert "attestations" not in tools


@pytest.mark.parametrize(
    ("pattern", "text", "matched"),
    [
        # Kyverno's own ext/wildcard cases
        ("my-bucket/In*", "my-bucket/India/Karnataka/", True),
        ("my-bucket/oo*", "my-bucket/odo", False),
        ("my-bucket?/abc*", "mybucket/abc", False),
        ("my-bucket/abc?efg", "my-bucket/abc/efg", True),
        ("my-bucket/abc????", "my-bucket/abcde", False),
        ("my-bucket/mnop*?and", "my-bucket/mnopand", False),
        # go-wildcard v2 reads '.' as one character
        ("Th.se", "These", True),
        ("ghcr.io/*", "ghcrxio/app", True),
    ],
)
def test_the_wildcard_matcher_follows_kyverno(pattern: str, text: str, matched: bool) -> None:
    assert engines.kyverno_wildcard(pattern, text) is matched


def test_image_references_name_the_repository_whole() -> None:
    refs = image_references("registry.io/org/app")
    assert refs == ["registry.io/org/app:*", "registry.io/org/app@*"]
    digest = "@sha256:" + "a" * 64
    for image in ("registry.io/org/app:1.4.2", "registry.io/org/app" + digest):
        assert any(engines.kyverno_wildcard(p, image) for p in refs)
    for image in (
        "registry.io/org-evil/x" + digest,
        "registry.io/org/app-evil" + digest,
        "registry.io/org/app/sub:1",
    ):
        assert not any(engines.kyverno_wildcard(p, image) for p in refs)
    hub = image_references("docker.io/library/alpine")
    assert "alpine:*" in hub and "docker.io/library/alpine@*" in hub
    assert "index.docker.io/alpine:*" in hub


@pytest.mark.parametrize(
    "case",
    [c for c in CASES if c["allowed"] and c["reason"] == "approved"],
    ids=lambda c: c["name"],
)
def test_every_admitted_image_with_a_signature_rule_is_selected_for_verification(
    case: dict[str, Any], generated: list[dict[str, Any]]
) -> None:
    """An image the validate rules admit is never missed by its entry's imageReferences."""
    obj = case["admissionReview"]["request"]["object"]
    spec = obj["spec"] if obj["kind"] == "Pod" else obj["spec"]["template"]["spec"]
    images = [c["image"] for f in ("containers", "initContainers") for c in spec.get(f, [])]
    patterns = [
        p for r in generated[1]["spec"]["rules"] for p in r["verifyImages"][0]["imageReferences"]
    ]
    for image in images:
        if image.startswith(("registry.io/org/app", "cgr.dev/chainguard/python")):
            assert any(engines.kyverno_wildcard(p, image) for p in patterns), image


@pytest.mark.realdata
def test_the_reference_registry_glob_is_a_prefix_match_ours_is_not(
    generated: list[dict[str, Any]],
) -> None:
    """restrict-image-registries' `eu.foo.io/*` style, written for our org, admits org-evil."""
    folder = realdata_path(*KYVERNO, "best-practices", "restrict-image-registries")
    reference = yaml.safe_load((folder / "restrict-image-registries.yaml").read_text())
    allowed = reference["spec"]["rules"][0]["validate"]["pattern"]["spec"]["containers"][0]
    assert allowed["image"] == "eu.foo.io/* | bar.io/*"
    bypass = "registry.io/org-evil/x@sha256:" + "a" * 64
    assert engines.kyverno_wildcard("registry.io/org*", bypass)  # the prefix style admits it
    case = next(c for c in CASES if c["name"] == "prefix-bypass-attempt")
    decision = engines.kyverno(generated[0], case["admissionReview"], engines.noon(case["today"]))
    assert not decision.allowed


@pytest.mark.realdata
def test_our_shapes_follow_the_reference_policies(generated: list[dict[str, Any]]) -> None:
    verify = yaml.safe_load(
        (realdata_path(*KYVERNO, "other", "verify-image") / "verify-image.yaml").read_text()
    )
    slsa = yaml.safe_load(
        (
            realdata_path(*KYVERNO, "other", "verify-image-slsa") / "verify-image-slsa.yaml"
        ).read_text()
    )
    ref_verify = verify["spec"]["rules"][0]["verifyImages"][0]
    ours = generated[1]["spec"]["rules"][0]["verifyImages"][0]
    assert set(ref_verify) <= set(ours)  # imageReferences, mutateDigest, attestors
    ref_att = slsa["spec"]["rules"][0]["verifyImages"][0]["attestations"][0]
    assert {"predicateType", "attestors"} <= set(ref_att)
    assert ref_att["attestors"][0]["entries"][0]["keyless"].keys() >= {"subject", "issuer"}
    digest_ref = yaml.safe_load(
        (
            realdata_path(*KYVERNO, "other", "require-image-checksum")
            / "require-image-checksum.yaml"
        ).read_text()
    )
    checked = digest_ref["spec"]["rules"][0]["validate"]["pattern"]["spec"]
    assert set(checked) == {"containers", "=(ephemeralContainers)", "=(initContainers)"}
    lists = generated[0]["spec"]["rules"][0]["validate"]["foreach"][0]["list"]
    assert all(f in lists for f in ("containers", "ephemeralContainers", "initContainers"))


def test_a_look_alike_host_that_kyverno_wildcards_would_admit_is_refused(
    generated: list[dict[str, Any]],
) -> None:
    """`.` is a one-character wildcard for Kyverno: `registryxio/...` (a Docker Hub user)
    would match a wildcard `registry.io/...`; the validate rules match by regex instead."""
    digest = "@sha256:" + "b" * 64
    lookalike = "registryxio/org/app-tools:2.1" + digest
    assert engines.kyverno_wildcard("registry.io/org/app-tools:2.*@*", lookalike)
    review = next(c for c in CASES if c["name"] == "not-in-catalog")["admissionReview"]
    review = json.loads(json.dumps(review))
    review["request"]["object"]["spec"]["containers"][0]["image"] = lookalike
    decision = engines.kyverno(generated[0], review, engines.noon("2026-06-15"))
    assert not decision.allowed and decision.reason == "not-in-catalog"

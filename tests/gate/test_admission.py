"""Admission review without HTTP: parsing what the API server sends, one verdict per container,
the response the API server reads back."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from baseguard.gate.admission import (
    EXEMPT,
    JUDGED,
    MAX_WARNING_CHARS,
    NOT_JUDGED,
    UNAVAILABLE,
    Decision,
    ImageJudge,
    MalformedReviewError,
    containers,
    decide,
    parse_review,
    unavailable,
)
from tests.conftest import realdata_path
from tests.gate.helpers import (
    APP_DIGEST,
    KINDS,
    OTHER_DIGEST,
    PINNED_DIGEST,
    TODAY,
    catalog,
    pod_review,
    pod_spec,
    review,
    workload,
)

CATALOG = catalog()


def judge(doc: dict[str, Any], *, require_digest: bool = False, **kw: Any) -> Decision:
    """Most tests here are about catalog verdicts and write tags for readability; the digest
    requirement (on by default) has its own tests below."""
    return decide(parse_review(doc), CATALOG, today=TODAY, require_digest=require_digest, **kw)


# --------------------------------------------------------------------------- containers


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_pod_controller_yields_its_containers_init_and_ephemeral_containers(
    kind: str,
) -> None:
    spec = pod_spec(
        [("app", "registry.io/org/app:1.2"), ("side", "registry.io/org/base:2")],
        init=[("migrate", "registry.io/org/base:1")],
        ephemeral=[("debugger", "registry.io/org/app:1.2-dev")],
    )
    found = containers(parse_review(review(workload(kind, spec))))
    assert [(c.name, c.role, c.image) for c in found] == [
        ("app", "runtime", "registry.io/org/app:1.2"),
        ("side", "runtime", "registry.io/org/base:2"),
        ("migrate", "init", "registry.io/org/base:1"),
        ("debugger", "ephemeral", "registry.io/org/app:1.2-dev"),
    ]
    prefix = "request.object." + ".".join(KINDS[kind][3])
    assert found[2].path == f"{prefix}.initContainers[0].image"


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_a_bad_image_in_any_pod_controller_is_denied(kind: str) -> None:
    spec = pod_spec([("app", "registry.io/org/app:1.2")], init=[("init", "busybox:1.36")])
    decision = judge(review(workload(kind, spec)))
    assert decision.allowed is False
    assert "initContainer init: image busybox:1.36" in decision.message
    assert "not-in-catalog" in decision.message


# --------------------------------------------------------------------------- verdicts


def test_approved_images_are_allowed_without_message_or_warnings() -> None:
    decision = judge(pod_review("registry.io/org/app:1.2", f"registry.io/org/app@{APP_DIGEST}"))
    assert decision.allowed is True
    assert decision.outcome == JUDGED
    assert decision.warnings == ()
    assert [d.judgement.verdict.value for d in decision.images] == ["approved", "approved"]
    assert "status" not in decision.review()["response"]


def test_denial_names_the_image_the_rule_and_the_reason() -> None:
    decision = judge(pod_review("nginx:1.27", namespace="shop"))
    assert decision.allowed is False
    assert decision.message == (
        "baseguard denied Pod shop/web: container c0: image nginx:1.27 "
        "(docker.io/library/nginx:1.27): not-in-catalog: repository docker.io/library/nginx is "
        "not in the catalog; exception nginx-migration expired on 2026-03-01"
    )
    assert decision.reason == "not-in-catalog"


def test_a_repository_prefix_does_not_admit_a_lookalike() -> None:
    decision = judge(pod_review("registry.io/org-evil/app:1.2", "registry.io/org/app/x:1.2"))
    assert decision.allowed is False
    assert [d.judgement.verdict.value for d in decision.images] == [
        "not-in-catalog",
        "not-in-catalog",
    ]


def test_retired_image_is_denied_with_the_catalog_replacement() -> None:
    decision = judge(pod_review("registry.io/org/legacy:7"))
    assert decision.allowed is False
    assert "retired: entry legacy was retired" in decision.message
    assert "use registry.io/org/base:2 (catalog entry base-new) instead" in decision.message


def test_past_eol_image_is_denied_with_its_successor() -> None:
    decision = judge(pod_review("alpine:3.19.1"))
    assert decision.allowed is False
    assert "past-EOL: entry alpine-3.19 reached its end of life on 2026-01-01" in decision.message
    assert "docker.io/library/alpine:3.22 (catalog entry alpine-3.22)" in decision.message


def test_dev_variant_in_a_container_is_denied_and_the_runtime_image_offered() -> None:
    decision = judge(pod_review("registry.io/org/app:1.2-dev"))
    assert decision.allowed is False
    assert "dev-variant-in-production" in decision.message
    assert "use registry.io/org/app:1.2 (catalog entry app) instead" in decision.message


def test_dev_variant_in_an_ephemeral_debug_container_is_denied_too() -> None:
    spec = pod_spec([("app", "registry.io/org/app:1.2")])
    old = workload("Pod", spec)
    new = copy.deepcopy(old)
    new["spec"] = pod_spec(
        [("app", "registry.io/org/app:1.2")], ephemeral=[("dbg", "registry.io/org/app:1.2-dev")]
    )
    doc = review(new, operation="UPDATE", sub_resource="ephemeralcontainers", old=old)
    decision = judge(doc)
    assert decision.allowed is False
    assert "ephemeralContainer dbg" in decision.message


def test_deprecated_image_is_allowed_with_a_warning_naming_the_replacement() -> None:
    decision = judge(pod_review("registry.io/org/base:1"))
    assert decision.allowed is True
    (warning,) = decision.warnings
    assert warning.startswith("container c0: image registry.io/org/base:1: deprecated:")
    assert "registry.io/org/base:2 (catalog entry base-new)" in warning
    assert decision.review()["response"]["warnings"] == [warning]


def test_excepted_image_is_allowed_with_a_warning_saying_until_when() -> None:
    decision = judge(pod_review("registry.io/vendor/tool:9"))
    assert decision.allowed is True
    (warning,) = decision.warnings
    assert "exception vendor-tool until 2026-12-31" in warning
    assert "otherwise not-in-catalog" in warning


def test_expired_exception_no_longer_allows_and_says_so() -> None:
    decision = judge(pod_review("nginx:1.27"))
    assert decision.allowed is False
    assert "exception nginx-migration expired on 2026-03-01" in decision.message


def test_proposed_entry_is_not_yet_allowed() -> None:
    decision = judge(pod_review("registry.io/org/new:1"))
    assert decision.allowed is False
    assert "proposed" in decision.message


def test_a_tag_where_the_catalog_pins_digests_is_denied_and_the_pinned_digest_allowed() -> None:
    assert judge(pod_review("registry.io/org/pinned:1")).allowed is False
    assert judge(pod_review(f"registry.io/org/pinned@{OTHER_DIGEST}")).allowed is False
    assert judge(pod_review(f"registry.io/org/pinned@{PINNED_DIGEST}")).allowed is True


def test_an_invalid_image_reference_is_denied_not_an_error() -> None:
    decision = judge(pod_review("Registry.io/UPPER:tag"))
    assert decision.allowed is False
    assert decision.reason == "invalid-reference"
    assert "image Registry.io/UPPER:tag:" in decision.message


# --------------------------------------------------------------------------- digests


def test_an_invalid_unpinned_reference_is_reported_unpinned_first_as_the_policies_do() -> None:
    doc = pod_review("Registry.io/UPPER:tag")
    decision = decide(parse_review(doc), CATALOG, today=TODAY)
    assert decision.reason == "digest-required"
    assert "also" in decision.message
    pinned = pod_review(f"Registry.io/UPPER:tag@{OTHER_DIGEST}")
    assert decide(parse_review(pinned), CATALOG, today=TODAY).reason == "invalid-reference"


def test_by_default_an_image_must_be_pinned_by_digest() -> None:
    decision = decide(parse_review(pod_review("registry.io/org/app:1.2")), CATALOG, today=TODAY)
    assert decision.allowed is False
    assert decision.reason == "digest-required"
    assert "must be pinned by digest (registry.io/org/app@sha256:…)" in decision.message
    assert "by tag alone the catalog says approved (entry app)" in decision.message


def test_an_exception_does_not_waive_the_digest() -> None:
    doc = pod_review("registry.io/vendor/tool:9")
    assert decide(parse_review(doc), CATALOG, today=TODAY).reason == "digest-required"
    pinned = pod_review(f"registry.io/vendor/tool:9@{OTHER_DIGEST}")
    decision = decide(parse_review(pinned), CATALOG, today=TODAY)
    assert (decision.allowed, decision.reason) == (True, "excepted")


def test_the_digest_is_checked_before_the_catalog() -> None:
    doc = pod_review(f"registry.io/org/app@{APP_DIGEST}", "registry.io/org/legacy:1")
    decision = decide(parse_review(doc), CATALOG, today=TODAY)
    assert decision.reason == "digest-required"
    assert "use registry.io/org/base:2 (catalog entry base-new) instead" in decision.message


def test_every_denied_container_is_listed_and_numbered() -> None:
    decision = judge(
        pod_review("nginx:1.27", "registry.io/org/app:1.2", "registry.io/org/legacy:1")
    )
    assert decision.message.count("[1] container c0") == 1
    assert "[2] container c2" in decision.message
    assert "container c1" not in decision.message
    assert decision.reason == "not-in-catalog"


def test_warnings_are_kept_short_for_the_api_server() -> None:
    long_name = "registry.io/org/base:1"
    spec = pod_spec([(f"container-with-a-long-name-{i:03d}" * 3, long_name) for i in range(30)])
    decision = judge(review(workload("Pod", spec)))
    assert decision.allowed is True
    assert 1 <= len(decision.warnings) <= 16
    assert all(len(w) <= MAX_WARNING_CHARS for w in decision.warnings)
    assert decision.warnings[-1].startswith("… and 15 more")


# --------------------------------------------------------------------------- not judged


@pytest.mark.parametrize("namespace", ["kube-system", "baseguard"])
def test_exempt_namespaces_are_allowed_without_judging(namespace: str) -> None:
    decision = judge(
        pod_review("nginx:1.27", namespace=namespace),
        exempt_namespaces={"kube-system", "baseguard"},
    )
    assert decision.allowed is True
    assert decision.outcome == EXEMPT
    assert decision.images == ()
    assert namespace in decision.message


def test_delete_is_not_judged() -> None:
    old = workload("Pod", pod_spec([("c", "nginx:1.27")]))
    decision = judge(review(None, kind="Pod", operation="DELETE", old=old))
    assert (decision.allowed, decision.outcome) == (True, NOT_JUDGED)


def test_status_updates_are_never_blocked() -> None:
    obj = workload("Pod", pod_spec([("c", "nginx:1.27")]))
    decision = judge(review(obj, operation="UPDATE", sub_resource="status", old=obj))
    assert (decision.allowed, decision.outcome) == (True, NOT_JUDGED)


def test_an_object_being_deleted_can_drop_its_finalizers() -> None:
    obj = workload("Pod", pod_spec([("c", "nginx:1.27")]))
    obj["metadata"]["deletionTimestamp"] = "2026-06-15T10:00:00Z"
    decision = judge(review(obj, operation="UPDATE", old=obj))
    assert (decision.allowed, decision.outcome) == (True, NOT_JUDGED)


def test_a_kind_that_runs_no_containers_is_not_judged() -> None:
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}, "data": {}}
    decision = judge(review(cm, kind="ConfigMap"))
    assert (decision.allowed, decision.outcome) == (True, NOT_JUDGED)


def test_a_template_container_without_image_is_recorded_not_judged() -> None:
    spec = pod_spec([("app", "registry.io/org/app:1.2")])
    del spec["containers"][0]["image"]
    decision = judge(review(workload("Deployment", spec)))
    assert decision.allowed is True
    assert decision.no_image == ("container app",)
    assert decision.audit_data(None)["containersWithoutImage"] == ["container app"]


# --------------------------------------------------------------------------- malformed


def _set(doc: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    node: Any = doc
    keys = path.split(".")
    for key in keys[:-1]:
        node = node[int(key)] if key.isdigit() else node[key]
    last = keys[-1]
    if value is _DELETE:
        del node[last]
    else:
        node[int(last) if last.isdigit() else last] = value
    return doc


_DELETE = object()
MALFORMED = [
    ("apiVersion", "admission.k8s.io/v1beta1", "apiVersion"),
    ("kind", "Pod", "kind"),
    ("request", "x", "request"),
    ("request.uid", _DELETE, "request.uid"),
    ("request.uid", "  ", "request.uid"),
    ("request.uid", 7, "request.uid"),
    ("request.kind", "Pod", "request.kind"),
    ("request.kind.kind", _DELETE, "request.kind.kind"),
    ("request.operation", "PATCH", "request.operation"),
    ("request.object", None, "request.object"),
    ("request.object.spec", [], "request.object.spec"),
    ("request.object.spec.containers", "nginx", "request.object.spec.containers"),
    ("request.object.spec.containers.0", "nginx", "request.object.spec.containers[0]"),
    ("request.object.spec.containers.0.image", 42, "request.object.spec.containers[0].image"),
    ("request.dryRun", "no", "request.dryRun"),
    ("request.namespace", ["a"], "request.namespace"),
    ("request.userInfo", "alice", "request.userInfo"),
]


@pytest.mark.parametrize(("path", "value", "where"), MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_reviews_are_refused_naming_where(path: str, value: Any, where: str) -> None:
    doc = _set(pod_review("registry.io/org/app:1.2"), path, value)
    with pytest.raises(MalformedReviewError) as caught:
        judge(doc)
    assert caught.value.path == where


@pytest.mark.parametrize("doc", [None, [], "AdmissionReview", 3, {}])
def test_a_body_that_is_not_an_object_or_review_is_refused(doc: Any) -> None:
    with pytest.raises(MalformedReviewError):
        parse_review(doc)


def test_too_many_containers_is_refused() -> None:
    spec = pod_spec([(f"c{i}", "registry.io/org/app:1.2") for i in range(600)])
    with pytest.raises(MalformedReviewError, match="more than 512 containers"):
        judge(review(workload("Pod", spec)))


# --------------------------------------------------------------------------- responses


def test_the_response_echoes_the_uid_in_an_admission_review_v1() -> None:
    doc = pod_review("registry.io/org/legacy:1", uid="e911857d-c318-11e8-bbad-025000000001")
    out = judge(doc).review()
    assert out["apiVersion"] == "admission.k8s.io/v1"
    assert out["kind"] == "AdmissionReview"
    assert out["response"]["uid"] == "e911857d-c318-11e8-bbad-025000000001"
    assert out["response"]["allowed"] is False
    assert out["response"]["status"]["code"] == 403
    assert out["response"]["status"]["reason"] == "Forbidden"


def test_failure_modes_without_a_catalog() -> None:
    closed = unavailable("u1", failure_mode="closed", reason="catalog.yaml: no such file")
    assert (closed.allowed, closed.outcome) == (False, UNAVAILABLE)
    assert "fails closed: catalog.yaml: no such file" in closed.message
    opened = unavailable("u2", failure_mode="open", reason="catalog.yaml: no such file")
    assert opened.allowed is True
    assert "fail-open" in opened.warnings[0]
    assert opened.review()["response"]["warnings"] == list(opened.warnings)


def test_audit_data_says_who_did_what_to_which_object() -> None:
    doc = pod_review("registry.io/org/base:1", namespace="shop", dry_run=True)
    request = parse_review(doc)
    data = decide(request, CATALOG, today=TODAY).audit_data(request)
    assert data["operation"] == "CREATE"
    assert data["namespace"] == "shop"
    assert data["user"] == "kubernetes-admin"
    assert data["dryRun"] is True
    assert data["images"][0]["verdict"] == "deprecated"
    assert data["images"][0]["replacement"] == {
        "entry": "base-new",
        "reference": "registry.io/org/base:2",
    }


def test_a_generated_name_is_shown_as_its_prefix() -> None:
    obj = workload("Pod", pod_spec([("c", "nginx:1.27")]))
    obj["metadata"]["name"] = ""
    obj["metadata"]["generateName"] = "web-7d4b9c-"
    doc = review(obj)
    doc["request"]["name"] = ""
    assert "Pod shop/web-7d4b9c-*" in judge(doc).message


# --------------------------------------------------------------------------- real examples


def test_gatekeeper_library_admission_reviews_are_read_once_made_v1() -> None:
    """The gatekeeper-library's review examples (v1beta1, no uid) are refused as they are and,
    made v1 as the API server sends them, every container of their pods is found and judged."""
    folder = realdata_path("policies", "gatekeeper-library", "admissionreview-examples")
    files = sorted(Path(folder).glob("*.yaml"))
    assert len(files) >= 10
    for path in files:
        doc = yaml.safe_load(path.read_text())
        with pytest.raises(MalformedReviewError, match=r"admission\.k8s\.io/v1"):
            parse_review(doc)
        obj = doc["request"]["object"]
        made = review(obj, kind=obj["kind"], operation=doc["request"]["operation"], old=obj)
        request = parse_review(made)
        images = [
            c["image"]
            for key in ("containers", "initContainers", "ephemeralContainers")
            for c in obj["spec"].get(key) or []
        ]
        assert [c.image for c in containers(request)] == images, path.name
        decision = decide(request, CATALOG, today=TODAY)
        assert decision.allowed is False  # nginx, tomcat, …: none of them is in the catalog
        assert all(c in decision.message for c in images), path.name


# --------------------------------------------------------------------------- memo


def test_the_memo_gives_each_container_its_own_decision_and_the_same_verdict() -> None:
    judge_ = ImageJudge(CATALOG, size=2)
    one = decide(parse_review(pod_review("registry.io/org/legacy:1")), judge_, today=TODAY)
    spec = pod_spec([("api", "registry.io/org/legacy:1"), ("web", "registry.io/org/legacy:1")])
    two = decide(parse_review(review(workload("Pod", spec))), judge_, today=TODAY)
    assert (judge_.misses, judge_.hits) == (1, 2)
    assert [d.container.name for d in two.images] == ["api", "web"]
    assert "container api" in two.message and "container web" in two.message
    assert one.images[0].judgement is two.images[0].judgement


def test_the_memo_is_keyed_by_day_role_and_digest_rule_and_bounded() -> None:
    judge_ = ImageJudge(CATALOG, size=2)
    doc = pod_review("alpine:3.19")
    later = TODAY.replace(year=2025)
    assert decide(parse_review(doc), judge_, today=TODAY, require_digest=False).allowed is False
    assert decide(parse_review(doc), judge_, today=later, require_digest=False).allowed is True
    assert decide(parse_review(doc), judge_, today=later).reason == "digest-required"
    assert judge_.misses == 3
    assert len(judge_._memo) <= 2


def test_image_strings_too_long_to_be_references_are_never_memoised() -> None:
    judge_ = ImageJudge(CATALOG)
    huge = "registry.io/org/app:" + "x" * 100_000
    for _ in range(2):
        decision = decide(parse_review(pod_review(huge)), judge_, today=TODAY)
        assert decision.allowed is False
    assert judge_._memo == {} and judge_.misses == 0 and judge_.hits == 0
    decide(parse_review(pod_review("registry.io/org/legacy:1")), judge_, today=TODAY)
    assert len(judge_._memo) == 1  # ordinary images still are


def test_a_new_catalogs_memo_is_warmed_with_the_images_already_seen() -> None:
    old = ImageJudge(CATALOG)
    decide(parse_review(pod_review("registry.io/org/legacy:1", "nginx:1")), old, today=TODAY)
    new = ImageJudge(catalog())
    assert new.warm(old) == 2
    before = new.misses
    decision = decide(parse_review(pod_review("registry.io/org/legacy:1")), new, today=TODAY)
    assert new.misses == before and new.hits == 1
    assert decision.images[0].container.name == "c0"

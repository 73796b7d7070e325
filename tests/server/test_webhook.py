"""`POST /validate` on a real uvicorn server: AdmissionReview v1 in and out, 400 on garbage,
catalog reload, failure modes, audit rows, TLS."""

from __future__ import annotations

import concurrent.futures
import hashlib
import json
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import trustme
import yaml

from baseguard.server.app import Settings
from baseguard.server.webhook import MAX_IMAGE_CHARS, lone_surrogate
from baseguard.store import Store
from tests.gate.helpers import (
    APP_DIGEST,
    CATALOG_DATA,
    TODAY,
    pod_review,
    pod_spec,
    review,
    workload,
    write_catalog,
)
from tests.server.conftest import DEADLINE, Running, serving


def decisions(store: Store) -> list[dict[str, Any]]:
    """Every admission decision in the audit log, oldest first."""
    out: list[dict[str, Any]] = []
    for record in store.iter_audit():
        if record.kind == "admission.decision":
            out.extend(json.loads(record.data)["decisions"])
    return out


def response(running: Running, doc: dict[str, Any]) -> dict[str, Any]:
    answer = running.review(doc)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/json"
    body = answer.json()
    assert body["apiVersion"] == "admission.k8s.io/v1"
    assert body["kind"] == "AdmissionReview"
    assert body["response"]["uid"] == doc["request"]["uid"]
    return body["response"]  # type: ignore[no-any-return]


# --------------------------------------------------------------------------- decisions


def test_a_deployment_with_a_retired_init_container_is_denied(
    settings: Settings, store: Store
) -> None:
    spec = pod_spec(
        [("app", "registry.io/org/app:1.2")], init=[("migrate", "registry.io/org/legacy:4")]
    )
    doc = review(workload("Deployment", spec))
    with serving(settings, store) as running:
        answer = response(running, doc)
    assert answer["allowed"] is False
    assert answer["status"]["code"] == 403
    message = answer["status"]["message"]
    assert "initContainer migrate: image registry.io/org/legacy:4: retired" in message
    assert "use registry.io/org/base:2 (catalog entry base-new) instead" in message


def test_an_approved_pod_is_allowed_and_a_deprecated_one_warned(
    settings: Settings, store: Store
) -> None:
    with serving(settings, store) as running:
        ok = response(running, pod_review("registry.io/org/app:1.2.7"))
        warned = response(running, pod_review("registry.io/org/base:1"))
    assert ok == {"uid": ok["uid"], "allowed": True}
    assert warned["allowed"] is True
    assert "deprecated" in warned["warnings"][0]


def test_the_default_settings_require_digests(catalog_file: Path, store: Store) -> None:
    settings = Settings(catalog=catalog_file, today=lambda: TODAY)
    with serving(settings, store) as running:
        tag = response(running, pod_review("registry.io/org/app:1.2"))
        pinned = response(running, pod_review(f"registry.io/org/app@{APP_DIGEST}"))
        ready = running.client.get("/readyz").json()
    assert tag["allowed"] is False
    assert "digest-required" in tag["status"]["message"]
    assert pinned["allowed"] is True
    assert ready["requireDigest"] is True
    assert ready["exemptNamespaces"] == ["baseguard-system", "kube-system"]


def test_exempt_namespaces_include_the_webhooks_own(settings: Settings, store: Store) -> None:
    with serving(settings, store) as running:
        for namespace in ("kube-system", "baseguard-system"):
            answer = response(running, pod_review("nginx:1.27", namespace=namespace))
            assert answer["allowed"] is True, namespace
        assert response(running, pod_review("nginx:1.27", namespace="shop"))["allowed"] is False


def test_many_concurrent_reviews_each_get_their_own_answer(
    settings: Settings, store: Store
) -> None:
    docs = [
        pod_review("registry.io/org/app:1.2" if i % 2 else "registry.io/org/legacy:1")
        for i in range(120)
    ]
    with serving(settings, store) as running:
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(lambda d: running.review(d).json()["response"], docs))
        running.flush_audit()
    for doc, answer in zip(docs, answers, strict=True):
        assert answer["uid"] == doc["request"]["uid"]
        image = doc["request"]["object"]["spec"]["containers"][0]["image"]
        assert answer["allowed"] is ("app" in image)
    assert {d["uid"] for d in decisions(store)} == {d["request"]["uid"] for d in docs}


# --------------------------------------------------------------------------- malformed


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"", "not JSON"),
        (b"garbage", "not JSON"),
        (b"\xff\xfe\x00", "not JSON"),
        (b"[1, 2]", "must be an object"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        (b'{"apiVersion": "admission.k8s.io/v1beta1", "kind": "AdmissionReview"}', "v1"),
        (b'{"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview"}', "request"),
    ],
)
def test_garbage_is_a_400_problem_with_the_reason(
    settings: Settings, store: Store, content: bytes, words: str
) -> None:
    with serving(settings, store) as running:
        answer = running.client.post(
            "/validate", content=content, headers={"content-type": "application/json"}
        )
        assert running.client.get("/healthz").status_code == 200  # still serving
    assert answer.status_code == 400
    assert answer.headers["content-type"] == "application/problem+json"
    problem = answer.json()
    assert problem["status"] == 400
    assert problem["title"] == "Malformed AdmissionReview"
    assert words in problem["detail"]


def test_a_malformed_object_names_the_field(settings: Settings, store: Store) -> None:
    doc = pod_review("registry.io/org/app:1.2")
    doc["request"]["object"]["spec"]["initContainers"] = {"name": "x"}
    with serving(settings, store) as running:
        answer = running.review(doc)
    assert answer.status_code == 400
    assert answer.json()["path"] == "request.object.spec.initContainers"


@pytest.mark.parametrize(
    ("old", "new", "path"),
    [
        ('"web"', '"w\\ud800"', "request.name"),
        ('"registry.io/org/app:1.2"', '"registry.io/org/app:1.2\\udfff"', "image"),
        ('"shop"', '"\\udc00shop"', "request.namespace"),
        ('"spec"', '"sp\\uDB00ec"', "request.object.sp\\udb00ec"),
    ],
)
def test_an_unpaired_surrogate_is_a_400_and_spares_the_audit_batch(
    settings: Settings, store: Store, old: str, new: str, path: str
) -> None:
    good = pod_review("registry.io/org/app:1.2", uid="before")
    text = json.dumps(pod_review("registry.io/org/app:1.2", uid="hostile"))
    assert old in text
    with serving(settings, store) as running:
        response(running, good)
        answer = running.client.post(
            "/validate",
            content=text.replace(old, new, 1).encode(),
            headers={"content-type": "application/json"},
        )
        response(running, {**good, "request": {**good["request"], "uid": "after"}})
        running.flush_audit()
        status = running.client.get("/readyz").json()["audit"]
    assert answer.status_code == 400, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    problem = answer.json()
    assert "unpaired UTF-16 surrogate" in problem["detail"]
    assert path in problem["path"]
    assert [d["uid"] for d in decisions(store)] == ["before", "after"]
    assert status["dropped"] == 0 and status["errors"] == 0
    assert store.verify_audit().ok


def test_surrogates_encoded_raw_are_not_json_and_a_pair_is_text(
    settings: Settings, store: Store
) -> None:
    text = json.dumps(pod_review("registry.io/org/legacy:1"))
    raw = text.replace('"web"', '"w\udc80"').encode("utf-8", "surrogatepass")
    pair = text.replace('"web"', '"w\\ud83d\\ude00"').encode()
    with serving(settings, store) as running:
        refused = running.client.post("/validate", content=raw)
        judged = running.client.post("/validate", content=pair)
    assert refused.status_code == 400
    assert "not JSON" in refused.json()["detail"]
    assert judged.status_code == 200, judged.text
    assert "Pod shop/w\U0001f600" in judged.json()["response"]["status"]["message"]


@pytest.mark.parametrize(
    "image",
    [
        "registry.io/org/app:" + "x" * 1_000_000,
        "registry.io/org/" + "a/" * 300_000 + "app:1@sha256:" + "a" * 64,
        "registry.io/org/app:1 " + "y " * 200_000,
    ],
)
def test_a_huge_image_string_is_shortened_in_the_denial_and_the_audit(
    settings: Settings, store: Store, image: str
) -> None:
    with serving(settings, store) as running:
        answer = response(running, pod_review(image, uid="huge"))
        running.flush_audit()
    assert answer["allowed"] is False
    message = answer["status"]["message"]
    assert len(message) < 1500
    assert f"image {image[:200]}… ({len(image)} characters)" in message
    (decision,) = decisions(store)
    assert decision["uid"] == "huge"
    assert decision["message"] == message
    (judged,) = decision["images"]
    assert judged["image"] == f"{image[:200]}… ({len(image)} characters)"
    assert judged["imageChars"] == len(image)
    assert judged["imageSha256"] == hashlib.sha256(image.encode()).hexdigest()
    assert len(judged["reference"]) < 300
    assert len(json.dumps(decision)) < 5000
    assert store.verify_audit().ok


def test_an_image_of_max_image_chars_is_shown_whole_and_one_more_is_not(
    settings: Settings, store: Store
) -> None:
    whole = "registry.io/org/" + "a" * (MAX_IMAGE_CHARS - 20) + ":1.2"
    assert len(whole) == MAX_IMAGE_CHARS
    longer = whole + "5"
    with serving(settings, store) as running:
        first = response(running, pod_review(whole))
        second = response(running, pod_review(longer))
        running.flush_audit()
    assert f"image {whole}: " in first["status"]["message"]
    assert f"({len(longer)} characters)" in second["status"]["message"]
    (judged,), (shortened,) = (d["images"] for d in decisions(store))
    assert judged["image"] == whole and "imageChars" not in judged
    assert shortened["imageChars"] == len(longer)


def test_the_longest_valid_reference_is_shown_and_recorded_whole(
    settings: Settings, store: Store
) -> None:
    """A valid reference can be 520 characters (a 255-character name, a 128-character tag, a
    sha512 digest) and gains docker.io/library/ when normalised: its digest is what the
    audit record is for, so it is never shortened."""
    image = "a" * 255 + ":" + "t" * 128 + "@sha512:" + "0" * 128
    assert len(image) == 520
    with serving(settings, store) as running:
        answer = response(running, pod_review(image))
        running.flush_audit()
    assert answer["allowed"] is False
    assert f"image {image} (docker.io/library/{image}): " in answer["status"]["message"]
    (judged,) = decisions(store)[0]["images"]
    assert judged["image"] == image and "imageChars" not in judged
    assert judged["reference"] == f"docker.io/library/{image}"


def test_an_oversized_body_is_413_before_it_is_read(settings: Settings, store: Store) -> None:
    settings = replace(settings, max_body_bytes=1000)
    with serving(settings, store) as running:
        answer = running.client.post("/validate", content=b"{" + b" " * 5000 + b"}")
    assert answer.status_code == 413
    assert answer.headers["content-type"] == "application/problem+json"


def test_wrong_method_and_path_are_problems_too(settings: Settings, store: Store) -> None:
    with serving(settings, store) as running:
        get = running.client.get("/validate")
        missing = running.client.post("/nope", json={})
    assert (get.status_code, missing.status_code) == (405, 404)
    assert get.headers["content-type"] == missing.headers["content-type"]
    assert get.headers["content-type"] == "application/problem+json"


def test_a_bug_while_judging_answers_per_the_failure_mode_not_500(
    settings: Settings, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_a: Any, **_k: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr("baseguard.server.webhook.decide", broken)
    with serving(settings, store) as running:
        closed = response(running, pod_review("registry.io/org/app:1.2"))
    assert closed["allowed"] is False
    assert "internal error while judging (RuntimeError)" in closed["status"]["message"]


# --------------------------------------------------------------------------- audit


def test_every_decision_is_in_the_audit_log_and_the_chain_verifies(
    settings: Settings, store: Store
) -> None:
    denied = pod_review("registry.io/org/legacy:1", uid="uid-denied")
    allowed = pod_review("registry.io/org/app:1.2", uid="uid-allowed", dry_run=True)
    exempt = pod_review("nginx:1", namespace="kube-system", uid="uid-exempt")
    with serving(settings, store) as running:
        for doc in (denied, allowed, exempt):
            response(running, doc)
        running.flush_audit()
        status = running.client.get("/readyz").json()["audit"]
    by_uid = {d["uid"]: d for d in decisions(store)}
    assert set(by_uid) == {"uid-denied", "uid-allowed", "uid-exempt"}
    assert by_uid["uid-denied"]["allowed"] is False
    assert by_uid["uid-denied"]["images"][0]["verdict"] == "retired"
    assert by_uid["uid-denied"]["subject"] == "Pod shop/web"
    assert by_uid["uid-allowed"]["dryRun"] is True
    assert by_uid["uid-exempt"]["outcome"] == "exempt"
    sha = by_uid["uid-denied"]["catalogSha256"]
    assert isinstance(sha, str) and len(sha) == 64
    assert store.verify_audit().ok
    assert status["decisionsWritten"] == 3 and status["dropped"] == 0


def test_queued_decisions_are_written_when_the_server_stops(
    settings: Settings, store: Store
) -> None:
    with serving(settings, store) as running:
        for i in range(40):
            response(running, pod_review("registry.io/org/app:1.2", uid=f"u{i}"))
    assert len(decisions(store)) == 40
    assert store.verify_audit().ok


# --------------------------------------------------------------------------- reload


def _without(entry_id: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(json.dumps(CATALOG_DATA))
    data["entries"] = [e for e in data["entries"] if e["id"] != entry_id]
    for entry in data["entries"]:
        if entry.get("replaced_by") == entry_id:
            del entry["replaced_by"]
    return data


def settle(running: Running) -> None:
    """Wait for the background reload that a review started (bounded)."""
    assert running.state.catalog.wait_idle(DEADLINE), "the catalog reload did not finish"


def test_a_replaced_catalog_takes_over_once_parsed_and_no_review_waits_for_it(
    settings: Settings, store: Store, catalog_file: Path
) -> None:
    with serving(settings, store) as running:
        assert response(running, pod_review("registry.io/org/app:1.2"))["allowed"] is True
        before = running.client.get("/readyz").json()["catalog"]["sha256"]
        new = catalog_file.with_name("catalog.new")
        write_catalog(new, _without("app"))
        os.replace(new, catalog_file)
        # This review starts the reload and is answered at once, from the catalog in memory.
        during = response(running, pod_review("registry.io/org/app:1.2"))
        settle(running)
        after = response(running, pod_review("registry.io/org/app:1.2"))
        ready = running.client.get("/readyz").json()["catalog"]
    assert during["allowed"] is True
    assert after["allowed"] is False
    assert "not-in-catalog" in after["status"]["message"]
    assert ready["sha256"] != before
    assert ready["reloads"] == 2


def test_readyz_reflects_the_file_at_once(
    settings: Settings, store: Store, catalog_file: Path
) -> None:
    with serving(settings, store) as running:
        before = running.client.get("/readyz").json()["catalog"]["sha256"]
        write_catalog(catalog_file.with_name("catalog.new"), _without("app"))
        os.replace(catalog_file.with_name("catalog.new"), catalog_file)
        after = running.client.get("/readyz").json()["catalog"]["sha256"]
        assert response(running, pod_review("registry.io/org/app:1.2"))["allowed"] is False
    assert after != before


def test_a_configmap_symlink_swap_is_seen(settings: Settings, store: Store, tmp_path: Path) -> None:
    """A ConfigMap volume: catalog.yaml → ..data/catalog.yaml, ..data → a timestamped dir."""
    mount = tmp_path / "mount"
    (mount / "v1").mkdir(parents=True)
    (mount / "v2").mkdir()
    write_catalog(mount / "v1" / "catalog.yaml")
    write_catalog(mount / "v2" / "catalog.yaml", _without("app"))
    (mount / "..data").symlink_to("v1")
    (mount / "catalog.yaml").symlink_to("..data/catalog.yaml")
    with serving(replace(settings, catalog=mount / "catalog.yaml"), store) as running:
        assert response(running, pod_review("registry.io/org/app:1.2"))["allowed"] is True
        (mount / "..data_tmp").symlink_to("v2")
        os.replace(mount / "..data_tmp", mount / "..data")
        response(running, pod_review("registry.io/org/app:1.2"))
        settle(running)
        assert response(running, pod_review("registry.io/org/app:1.2"))["allowed"] is False


def test_an_edit_in_place_is_seen(settings: Settings, store: Store, catalog_file: Path) -> None:
    with serving(settings, store) as running:
        assert response(running, pod_review("registry.io/org/app:1.2"))["allowed"] is True
        stat = catalog_file.stat()
        write_catalog(catalog_file, _without("app"))
        os.utime(catalog_file, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
        response(running, pod_review("registry.io/org/app:1.2"))
        settle(running)
        assert response(running, pod_review("registry.io/org/app:1.2"))["allowed"] is False


def test_a_broken_edit_keeps_the_last_good_catalog_and_readyz_says_why(
    settings: Settings, store: Store, catalog_file: Path
) -> None:
    with serving(settings, store) as running:
        assert response(running, pod_review("registry.io/org/app:1.2"))["allowed"] is True
        catalog_file.write_text("version: 1\nentries:\n  - id: [broken\n")
        response(running, pod_review("registry.io/org/app:1.2"))
        settle(running)
        answer = response(running, pod_review("registry.io/org/app:1.2", uid="after-break"))
        ready = running.client.get("/readyz")
        running.flush_audit()
        write_catalog(catalog_file)
        fixed = running.client.get("/readyz").json()["catalog"]
    assert answer["allowed"] is True
    assert ready.status_code == 200
    assert ready.json()["catalog"]["stale"] is True
    assert "catalog.yaml" in ready.json()["catalog"]["error"]
    (after,) = [d for d in decisions(store) if d["uid"] == "after-break"]
    assert after["catalogStale"]
    assert fixed["stale"] is False and fixed["error"] is None


# --------------------------------------------------------------------------- failure modes


@pytest.mark.parametrize("mode", ["closed", "open"])
def test_without_a_readable_catalog_the_failure_mode_answers(
    mode: str, tmp_path: Path, store: Store
) -> None:
    missing = tmp_path / "not-yet.yaml"
    settings = Settings(
        catalog=missing, failure_mode=mode, require_digest=False, today=lambda: TODAY
    )
    with serving(settings, store) as running:
        ready = running.client.get("/readyz")
        answer = response(running, pod_review("registry.io/org/app:1.2", uid="no-catalog"))
        write_catalog(missing)
        later = response(running, pod_review("registry.io/org/legacy:1"))
        ready_later = running.client.get("/readyz").status_code
        running.flush_audit()
    assert ready.status_code == 503
    assert ready.json()["ready"] is False
    assert "no such catalog file" in ready.json()["catalog"]["error"]
    if mode == "closed":
        assert answer["allowed"] is False
        assert "fails closed" in answer["status"]["message"]
    else:
        assert answer["allowed"] is True
        assert "fail-open" in answer["warnings"][0]
    assert later["allowed"] is False and "retired" in later["status"]["message"]
    assert ready_later == 200
    (logged,) = [d for d in decisions(store) if d["uid"] == "no-catalog"]
    assert logged["outcome"] == "catalog-unavailable"
    assert logged["catalogSha256"] is None


def test_an_invalid_catalog_at_start_is_unavailable_not_a_crash(
    tmp_path: Path, store: Store
) -> None:
    bad = tmp_path / "catalog.yaml"
    bad.write_text(yaml.safe_dump({"version": 1, "entries": [{"id": "x"}]}))
    with serving(Settings(catalog=bad, today=lambda: TODAY), store) as running:  # digests on
        answer = response(running, pod_review("registry.io/org/app:1.2"))
        assert running.client.get("/healthz").json() == {"status": "ok"}
    assert answer["allowed"] is False
    assert "entries[0]" in answer["status"]["message"]


# --------------------------------------------------------------------------- TLS


def test_tls_with_a_certificate_from_a_private_ca(
    settings: Settings, store: Store, tmp_path: Path
) -> None:
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "baseguard.baseguard-system.svc")
    with serving(settings, store, cert=cert, ca=ca, tmp=tmp_path) as running:
        assert running.url.startswith("https://")
        answer = response(running, pod_review("registry.io/org/legacy:1"))
        import httpx

        with pytest.raises(httpx.HTTPError):
            httpx.post(running.url + "/validate", json={}, verify=True, timeout=5)
    assert answer["allowed"] is False


@pytest.mark.parametrize(
    ("doc", "path"),
    [
        ({"a": "x\ud800", "b": "y\ud800"}, "a"),
        ({"a": {"z": "x\ud800"}, "b\udc00": "y"}, "a.z"),
        ({"a\udc00": {"z": "x\ud800"}}, "a\\udc00"),
        (["ok", "\ud800", "\ud801"], "[1]"),
        ({"a": [{"b": 1}, {"c": "\udfff", "d": "\udfff"}]}, "a[1].c"),
        ("\ud800", "(body)"),
        ({"a": ["ok", 1, None], "b": "\U0001f600"}, None),
    ],
)
def test_lone_surrogate_names_the_first_in_document_order(doc: Any, path: str | None) -> None:
    assert lone_surrogate(doc) == path

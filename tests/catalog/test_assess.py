"""The main job end to end: the bundled estate, offline, against the bundled feed snapshot."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.catalog.test_recommend_helpers import ESTATE, IMAGES, make_env, run


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return make_env(tmp_path_factory.mktemp("assess"))


@pytest.fixture(scope="module")
def report(env: dict[str, str]) -> dict[str, object]:
    done = run(["assess", str(ESTATE), "--images", str(IMAGES), "--offline", "-o", "json"], env)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def _images(report: dict[str, object]) -> dict[str, dict[str, object]]:
    return {i["reference"]: i for i in report["images"]}  # type: ignore[attr-defined, index]


def test_every_running_image_is_listed_once_with_its_uses(report: dict[str, object]) -> None:
    images = _images(report)
    assert set(images) == {
        "docker.io/library/alpine:3.20",
        "docker.io/library/alpine:3.10",
        "registry.example.com/base/static-debian12:2025.11",
        "docker.io/library/postgres:16-bookworm",
    }
    # alpine:3.10: the payments Dockerfile's base, and the Deployment's init and api containers.
    assert images["docker.io/library/alpine:3.10"]["uses"] == 3
    assert images["docker.io/library/alpine:3.10"]["roles"] == ["base", "init", "runtime"]
    assert report["buildOnly"] == [
        "docker.io/library/golang:1.22",
        "docker.io/library/golang:1.22-alpine3.20",
        "docker.io/library/node:22-bookworm",
    ]


def test_image_missing_offline_is_reported_not_dropped(report: dict[str, object]) -> None:
    pg = _images(report)["docker.io/library/postgres:16-bookworm"]
    assert pg["assessed"] is False
    assert "offline image store" in str(pg["error"])
    assert report["images"][-1]["reference"] == "docker.io/library/postgres:16-bookworm"  # type: ignore[index]


def test_findings_match_a_direct_scan_of_the_same_image(
    report: dict[str, object], env: dict[str, str]
) -> None:
    done = run(["scan", f"oci:{IMAGES}:docker.io/library/alpine:3.20", "-o", "json"], env)
    assert done.returncode == 0, done.stderr
    scan = json.loads(done.stdout)
    vulns = _images(report)["docker.io/library/alpine:3.20"]["vulnerabilities"]
    assert vulns["total"] == scan["summary"]["total"] > 0  # type: ignore[index]
    assert vulns["fixable"] == scan["summary"]["fixable"]  # type: ignore[index]


def test_ranking_puts_the_most_findings_first(report: dict[str, object]) -> None:
    totals = [i["vulnerabilities"]["total"] for i in report["images"] if i["assessed"]]  # type: ignore[attr-defined, index]
    assert totals == sorted(totals, reverse=True)
    static = _images(report)["registry.example.com/base/static-debian12:2025.11"]
    assert static["hasShell"] is False and static["runsAsRoot"] is False
    assert static["distro"] == "distroless (debian 12)"


def test_second_run_uses_the_analysis_cache(report: dict[str, object], env: dict[str, str]) -> None:
    done = run(["assess", str(ESTATE), "--images", str(IMAGES), "--offline", "-o", "json"], env)
    again = json.loads(done.stdout)
    assert all(i["cached"] for i in again["images"] if i["assessed"])
    assert [i["vulnerabilities"] for i in again["images"]] == [
        i["vulnerabilities"]
        for i in report["images"]  # type: ignore[attr-defined]
    ]


def test_markdown_and_html_outputs(env: dict[str, str], tmp_path: Path) -> None:
    md = run(["assess", str(ESTATE), "--images", str(IMAGES), "--offline", "-o", "markdown"], env)
    assert md.returncode == 0
    assert "| 1 | docker.io/library/alpine:3.20 |" in md.stdout
    out = tmp_path / "estate.html"
    html = run(
        [
            "assess",
            str(ESTATE),
            "--images",
            str(IMAGES),
            "--offline",
            "-o",
            "html",
            "--file",
            str(out),
        ],
        env,
    )
    assert html.returncode == 0 and "<table>" in out.read_text()


def test_missing_database_is_exit_2_with_a_hint(tmp_path: Path) -> None:
    done = run(
        ["assess", str(ESTATE), "--offline"], {"BASEGUARD_VULNDB": str(tmp_path / "none.sqlite")}
    )
    assert done.returncode == 2
    assert "db update" in done.stderr
    assert "Traceback" not in done.stderr

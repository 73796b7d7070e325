"""assess --catalog on the bundled estate: verdicts per image and per use, counts with files."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.catalog import test_recommend_helpers as helpers
from tests.catalog.test_recommend_helpers import ESTATE, IMAGES, make_env
from tests.conftest import PROJECT

CATALOG = PROJECT / "examples" / "catalog.yaml"


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """The real ``baseguard`` process, run from the project (where examples/catalog.yaml is)."""
    return helpers.run(args, env, cwd=PROJECT)


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return make_env(tmp_path_factory.mktemp("assess-catalog"))


def assess(env: dict[str, str], *extra: str) -> subprocess.CompletedProcess[str]:
    return run(
        ["assess", str(ESTATE), "--images", str(IMAGES), "--offline", "--catalog", *extra], env
    )


@pytest.fixture(scope="module")
def report(env: dict[str, str]) -> dict[str, Any]:
    done = assess(env, str(CATALOG), "--date", "2026-11-27", "-o", "json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def images(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {i["reference"]: i for i in report["images"]}


def test_each_image_gets_its_worst_verdict(report: dict[str, Any]) -> None:
    labels = {ref: i["verdict"]["label"] for ref, i in images(report).items()}
    assert labels == {
        "docker.io/library/alpine:3.20": "past-EOL",
        "docker.io/library/alpine:3.10": "retired",
        "registry.example.com/base/static-debian12:2025.11": "approved",
        "docker.io/library/postgres:16-bookworm": "excepted-until-2027-06-30",
    }
    pg = images(report)["docker.io/library/postgres:16-bookworm"]["verdict"]
    assert pg["covers"] == "not-in-catalog" and pg["exception"] == "postgres-dev-stack"
    old = images(report)["docker.io/library/alpine:3.10"]["verdict"]
    assert "exception payments-alpine-3.10 expired on 2025-09-30" in old["reason"]


def test_each_use_carries_its_verdict(report: dict[str, Any]) -> None:
    for image in report["images"]:
        for loc in image["locations"]:
            assert loc["verdict"]["label"] == image["verdict"]["label"]
    static = images(report)["registry.example.com/base/static-debian12:2025.11"]
    assert static["verdict"]["entry"] == "static-debian12"


def test_build_only_images_are_judged_too(report: dict[str, Any]) -> None:
    build = {b["reference"]: b["verdict"]["label"] for b in report["catalog"]["buildOnly"]}
    assert build == {
        "docker.io/library/golang:1.22": "approved",  # the dev variant, in a build stage
        "docker.io/library/golang:1.22-alpine3.20": "approved",
        "docker.io/library/node:22-bookworm": "not-in-catalog",
    }


def test_counts_of_uses_per_verdict_with_files(report: dict[str, Any]) -> None:
    cat = report["catalog"]
    assert cat["file"].endswith("examples/catalog.yaml")
    assert (cat["date"], cat["entries"], cat["uses"], cat["allowedUses"]) == (
        "2026-11-27",
        8,
        13,
        5,
    )
    by = {k: (v["uses"], v["files"]) for k, v in cat["byVerdict"].items() if v["uses"]}
    assert by == {
        "not-in-catalog": (1, ["web/Dockerfile"]),
        "retired": (3, ["k8s/payments.yaml", "payments/Dockerfile"]),
        # alpine:3.20 also in the batch build's RUN --mount: a build use, still past EOL
        "past-eol": (
            4,
            ["batch/Containerfile", "k8s/payments.yaml", "k8s/web.yaml", "web/Dockerfile"],
        ),
        "excepted": (1, ["docker-compose.yml"]),
        "approved": (4, ["batch/Containerfile", "k8s/payments.yaml", "payments/Dockerfile"]),
    }


def test_the_ranking_is_unchanged_by_the_catalog(
    report: dict[str, Any], env: dict[str, str]
) -> None:
    plain = run(["assess", str(ESTATE), "--images", str(IMAGES), "--offline", "-o", "json"], env)
    assert plain.returncode == 0, plain.stderr
    without = json.loads(plain.stdout)
    assert [i["reference"] for i in without["images"]] == [i["reference"] for i in report["images"]]
    assert "catalog" not in without and "verdict" not in without["images"][0]


def test_the_date_moves_eol_and_exception_expiry(env: dict[str, str]) -> None:
    spring = assess(env, str(CATALOG), "--date", "2026-03-01", "-o", "json")
    later = assess(env, str(CATALOG), "--date", "2027-07-01", "-o", "json")
    assert spring.returncode == later.returncode == 0, spring.stderr + later.stderr
    before = images(json.loads(spring.stdout))
    after = images(json.loads(later.stdout))
    assert before["docker.io/library/alpine:3.20"]["verdict"]["label"] == "approved"
    assert after["docker.io/library/postgres:16-bookworm"]["verdict"]["label"] == "not-in-catalog"


def test_table_and_markdown_show_the_verdicts(env: dict[str, str], tmp_path: Path) -> None:
    table = assess(env, str(CATALOG), "--date", "2026-11-27", "-o", "table")
    assert table.returncode == 0, table.stderr
    assert "Verdict" in table.stdout and "excepted-until-2027-06-30" in table.stdout
    assert "retired: 3 uses in k8s/payments.yaml, payments/Dockerfile" in table.stdout
    md = assess(env, str(CATALOG), "--date", "2026-11-27", "-o", "markdown")
    assert md.returncode == 0, md.stderr
    assert "| 1 | docker.io/library/alpine:3.20 | 3 | past-EOL |" in md.stdout
    assert "## Catalog verdicts" in md.stdout
    assert "| retired | 3 | k8s/payments.yaml, payments/Dockerfile |" in md.stdout
    out = tmp_path / "estate.html"
    html = assess(env, str(CATALOG), "--date", "2026-11-27", "-o", "html", "--file", str(out))
    assert html.returncode == 0, html.stderr
    assert "<h2>Catalog verdicts</h2>" in out.read_text()
    assert "<td>excepted-until-2027-06-30</td>" in out.read_text()


def test_an_invalid_catalog_stops_the_assessment_with_exit_2(
    env: dict[str, str], tmp_path: Path
) -> None:
    bad = tmp_path / "catalog.yaml"
    bad.write_text("version: 1\nentries:\n  - id: x\n    colour: red\n")
    done = assess(env, str(bad), "-o", "json")
    assert done.returncode == 2
    assert f"{bad}:4: entries[0].colour: unknown key 'colour'" in done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""


def test_date_without_catalog_is_a_usage_error(env: dict[str, str]) -> None:
    done = run(["assess", str(ESTATE), "--offline", "--date", "2026-01-01"], env)
    assert done.returncode == 2 and "--catalog" in done.stderr

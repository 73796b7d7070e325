"""recommend: runtime detection, candidate rules, and the measured before → after on the
bundled estate and image store (offline), checked against independent scans."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from baseguard.analysis.analyze import Analysis, ImageIdentity
from baseguard.analysis.distro import Distro
from baseguard.analysis.hardening import Facts
from baseguard.analysis.packages import Package
from baseguard.catalog.recommend import (
    DetectedRuntime,
    candidates,
    detect_runtime,
    runtime_from_analysis,
    runtime_from_reference,
    version_line,
)
from baseguard.catalog.spec import loads_catalog
from baseguard.refs import parse_reference
from tests.catalog.test_recommend_helpers import (
    ALPINE_320_DIGEST,
    CATALOG,
    DAY,
    ESTATE,
    IMAGES,
    STATIC,
    STATIC_DIGEST,
    analyze_json,
    assert_clean_failure,
    make_env,
    run,
    scan_json,
    write_catalog,
)


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return make_env(tmp_path_factory.mktemp("env"))


@pytest.fixture(scope="module")
def catalog_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_catalog(tmp_path_factory.mktemp("catalog"))


TODAY = date.fromisoformat(DAY)


# --------------------------------------------------------------------------- detection


@pytest.mark.parametrize(
    ("reference", "name", "line", "libc", "distro"),
    [
        ("python:3.12-slim-bookworm", "python", "3.12", "glibc", "debian"),
        ("node:22-alpine", "node", "22", "musl", "alpine"),
        ("eclipse-temurin:21-jre-jammy", "java", "21", "glibc", "ubuntu"),
        ("golang:1.22-alpine3.20", "go", "1.22", "musl", "alpine"),
        ("alpine:3.10", None, None, "musl", "alpine"),
        ("registry.example.com/team/app:1.0", None, None, None, None),
    ],
)
def test_runtime_from_the_name_and_tag(
    reference: str, name: str | None, line: str | None, libc: str | None, distro: str | None
) -> None:
    found = runtime_from_reference(parse_reference(reference))
    assert (found.name, found.line, found.libc, found.distro) == (name, line, libc, distro)


def test_version_lines_follow_each_runtime_compatibility_rule() -> None:
    assert version_line("python", "3.12.4") == "3.12"
    assert version_line("go", "1.22.5") == "1.22"
    assert version_line("node", "22.9.0") == "22"
    assert version_line("java", "21.0.4+7") == "21"
    assert version_line("java", "1.8.0_412") == "8"
    assert version_line("python", "3") is None  # a bare major cannot tell 3.11 from 3.12


def _analysis(
    distro: str, version: str, packages: list[tuple[str, str, str]], **environ: str
) -> Any:
    return Analysis(
        image=ImageIdentity("x", "x", None, None, None, None, [], None),
        distro=Distro(id=distro, version_id=version),
        facts=Facts(env=dict(environ)),
        packages=[Package(n, v, t, f"pkg:{t}/{n}@{v}") for n, v, t in packages],
    )


def test_runtime_from_contents_beats_the_name() -> None:
    # An image named "python" whose contents are python 3.11 on Debian: the contents win.
    inside = _analysis(
        "debian", "12", [("python3.11", "3.11.2-6", "deb"), ("libc6", "2.36", "deb")]
    )
    found = detect_runtime("python:3.12", inside)
    assert (found.name, found.line, found.libc) == ("python", "3.11", "glibc")
    assert found.evidence[0] == "deb package python3.11 3.11.2-6"


def test_runtime_from_the_official_images_environment() -> None:
    found = runtime_from_analysis(_analysis("debian", "12", [], NODE_VERSION="22.9.0"))
    assert (found.name, found.line) == ("node", "22")


def test_alpine_contents_mean_musl_and_no_language_runtime() -> None:
    found = runtime_from_analysis(
        _analysis("alpine", "3.10.9", [("musl", "1.1.22-r4", "apk"), ("busybox", "1.30", "apk")])
    )
    assert (found.name, found.libc, found.distro) == (None, "musl", "alpine")


# --------------------------------------------------------------------------- candidate rules


@pytest.fixture(scope="module")
def catalog() -> Any:
    return loads_catalog(CATALOG)


def _ids(found: list[Any]) -> list[str]:
    return [c.entry.id for c in found]


def test_same_runtime_and_version_line_only(catalog: Any) -> None:
    runtime = DetectedRuntime(name="python", version="3.12.4", libc="glibc", distro="debian")
    found, skipped = candidates(catalog, runtime, "runtime", TODAY)
    assert _ids(found) == ["python-3.12"]
    assert "python-3.13: python 3.13, not 3.12" in skipped


def test_build_stage_gets_the_dev_variant(catalog: Any) -> None:
    runtime = DetectedRuntime(name="python", version="3.12", libc="glibc")
    found, _ = candidates(catalog, runtime, "dev", TODAY)
    assert found[0].variant is not None and found[0].variant.name == "dev"
    assert found[0].reference == "cgr.dev/chainguard/python:3.12-dev"


def test_a_libc_switch_is_a_caveat(catalog: Any) -> None:
    runtime = DetectedRuntime(name="python", version="3.12", libc="musl", distro="alpine")
    found, _ = candidates(catalog, runtime, "runtime", TODAY)
    assert any(c.startswith("libc switch musl → glibc") for c in found[0].caveats)


def test_replacement_named_by_the_catalog_comes_first_then_static(catalog: Any) -> None:
    runtime = DetectedRuntime(libc="musl", distro="alpine", distro_version="3.10.9")
    current = catalog.match("alpine:3.10")
    found, skipped = candidates(catalog, runtime, "runtime", TODAY, current=current)
    assert _ids(found) == ["alpine-3.20", "static-debian12"]
    assert "alpine-3.10: retired" in skipped
    assert "the catalog names it as the replacement (alpine-3.10 → alpine-3.20)" in found[0].why


def test_prefer_moves_a_qualifying_entry_first(catalog: Any) -> None:
    runtime = DetectedRuntime(libc="musl", distro="alpine", distro_version="3.10.9")
    found, _ = candidates(
        catalog, runtime, "runtime", TODAY, current=catalog.match("alpine:3.10"),
        prefer=["static-debian12"],
    )  # fmt: skip
    assert _ids(found) == ["static-debian12", "alpine-3.20"]


def test_proposed_entries_qualify_after_approved_ones_and_say_so(catalog: Any) -> None:
    runtime = DetectedRuntime(name="node", version="22.9.0", libc="glibc")
    found, _ = candidates(catalog, runtime, "dev", TODAY)
    assert _ids(found) == ["node-22"]
    assert "node-22 is only proposed: approve it before relying on it" in found[0].caveats


def test_an_older_release_of_the_distribution_never_qualifies(catalog: Any) -> None:
    runtime = DetectedRuntime(libc="musl", distro="alpine", distro_version="3.21.0")
    found, skipped = candidates(catalog, runtime, "runtime", TODAY)
    assert _ids(found) == ["static-debian12"]
    assert "alpine-3.20: alpine 3.20 is older than 3.21.0" in skipped


# --------------------------------------------------------------------------- the estate, measured


@pytest.fixture(scope="module")
def report(env: dict[str, str], catalog_file: Path) -> dict[str, Any]:
    done = run(
        [
            "recommend",
            str(ESTATE),
            "--catalog",
            str(catalog_file),
            "--images",
            str(IMAGES),
            "--offline",
            "--date",
            DAY,
            "-o",
            "json",
        ],
        env,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def _rec(report: dict[str, Any], reference: str, want: str) -> dict[str, Any]:
    found = [
        r for r in report["recommendations"] if r["reference"] == reference and r["want"] == want
    ]
    assert len(found) == 1, [(r["reference"], r["want"]) for r in report["recommendations"]]
    return found[0]


def test_only_unapproved_dockerfile_bases_are_listed(report: dict[str, Any]) -> None:
    listed = sorted((r["reference"], r["want"]) for r in report["recommendations"])
    assert listed == [
        ("docker.io/library/alpine:3.10", "runtime"),
        ("docker.io/library/golang:1.22", "dev"),
        ("docker.io/library/golang:1.22-alpine3.20", "dev"),
        ("docker.io/library/node:22-bookworm", "dev"),
    ]
    assert report["approved"] == ["docker.io/library/alpine:3.20", f"{STATIC}"]
    # The Kubernetes uses of alpine:3.10 are applications, not bases: only the Dockerfile is.
    uses = _rec(report, "docker.io/library/alpine:3.10", "runtime")["uses"]
    assert [u["location"] for u in uses] == [{"file": "payments/Dockerfile", "line": 7}]


def test_retired_alpine_goes_to_its_named_replacement_pinned_by_digest(
    report: dict[str, Any],
) -> None:
    rec = _rec(report, "docker.io/library/alpine:3.10", "runtime")
    assert rec["verdict"]["verdict"] == "retired"
    best = rec["recommendation"]
    assert best["entry"] == "alpine-3.20"
    # The catalog pins no digest for alpine-3.20: it was resolved through the image store.
    assert best["pinnedReference"] == f"alpine:3.20@{ALPINE_320_DIGEST}"


def test_measured_vulnerabilities_equal_independent_scans(
    report: dict[str, Any], env: dict[str, str]
) -> None:
    rec = _rec(report, "docker.io/library/alpine:3.10", "runtime")
    vulns = rec["recommendation"]["delta"]["vulnerabilities"]
    before = scan_json(env, "docker.io/library/alpine:3.10")["summary"]
    after = scan_json(env, "docker.io/library/alpine:3.20")["summary"]
    assert vulns["totalBefore"] == before["total"] == 1
    assert vulns["totalAfter"] == after["total"] == 56  # the partial feed snapshot says so
    assert vulns["before"] == before["bySeverity"] and vulns["after"] == after["bySeverity"]
    static = rec["alternatives"][0]
    assert static["entry"] == "static-debian12"
    assert (
        static["delta"]["vulnerabilities"]["totalAfter"]
        == scan_json(env, STATIC)["summary"]["total"]
    )


def test_measured_attack_surface_and_size_equal_the_analyses(
    report: dict[str, Any], env: dict[str, str]
) -> None:
    rec = _rec(report, "docker.io/library/alpine:3.10", "runtime")
    static = rec["alternatives"][0]
    delta = static["delta"]
    old = analyze_json(env, "docker.io/library/alpine:3.10")["facts"]
    new = analyze_json(env, STATIC)["facts"]
    assert (
        delta["shell"]
        == {"before": True, "after": False}
        == {
            "before": old["has_shell"],
            "after": new["has_shell"],
        }
    )
    assert delta["packageManagers"] == {"before": ["apk"], "after": []}
    assert delta["runsAsRoot"] == {"before": True, "after": False}
    assert delta["compressedSize"] == {
        "before": old["compressed_size"],
        "after": new["compressed_size"],
    }
    assert delta["uncompressedSize"]["after"] == new["uncompressed_size"]
    assert static["pinnedReference"] == f"{STATIC}@{STATIC_DIGEST}"
    assert any(c.startswith("libc switch musl → glibc") for c in static["caveats"])
    assert any(c.startswith("no shell in") for c in static["caveats"])


def test_a_candidate_that_cannot_be_opened_is_not_measured_and_says_why(
    report: dict[str, Any],
) -> None:
    rec = _rec(report, "docker.io/library/node:22-bookworm", "dev")
    best = rec["recommendation"]
    assert best["entry"] == "node-22" and best["variant"] == "dev"
    assert best["measurement"]["measured"] is False
    assert "offline" in best["measurement"]["reason"]
    assert "vulnerabilities" not in best["measurement"]  # nothing invented
    assert best["delta"]["measured"] is False
    assert best["pinnedReference"] is None and "pins no digest" in best["pinReason"]
    # The current image is not in the store either: its runtime comes from its name.
    assert rec["current"]["measured"] is False
    assert rec["runtime"]["name"] == "node" and rec["runtime"]["line"] == "22"


def test_no_qualifying_entry_gives_the_reasons(report: dict[str, Any]) -> None:
    rec = _rec(report, "docker.io/library/golang:1.22", "dev")
    assert rec["recommendation"] is None
    assert rec["reason"].startswith("no catalog entry qualifies for go 1.22")
    assert "python-3.12: runtime python, not go" in rec["notCandidates"]


def test_prefer_on_the_command_line(env: dict[str, str], catalog_file: Path) -> None:
    done = run(
        [
            *("recommend", str(ESTATE / "payments"), "--catalog", str(catalog_file)),
            *("--images", str(IMAGES), "--offline", "--date", DAY, "-o", "json"),
            *("--prefer", "static-debian12", "--alternatives", "0"),
        ],
        env,
    )
    assert done.returncode == 0, done.stderr
    rec = _rec(json.loads(done.stdout), "docker.io/library/alpine:3.10", "runtime")
    assert rec["recommendation"]["entry"] == "static-debian12"
    assert rec["alternatives"] == []


def test_table_and_markdown_show_before_and_after(env: dict[str, str], catalog_file: Path) -> None:
    common = ["recommend", str(ESTATE / "payments"), "--catalog", str(catalog_file)]
    common += ["--images", str(IMAGES), "--offline", "--date", DAY]
    md = run([*common, "-o", "markdown"], env)
    assert md.returncode == 0, md.stderr
    assert "|  | Current | Recommended | Alternative 1 |" in md.stdout
    assert "| Shell | yes: ash, busybox, sh | yes: ash, busybox, sh | no |" in md.stdout
    table = run([*common, "-o", "table"], env)
    assert table.returncode == 0, table.stderr
    assert "alpine-3.20 (runtime, approved)" in table.stdout
    assert "caveat: alternative 1 static-debian12: libc switch musl → glibc" in table.stdout


# --------------------------------------------------------------------------- bad input


def test_missing_catalog_is_a_clean_usage_error(env: dict[str, str], tmp_path: Path) -> None:
    done = run(["recommend", str(ESTATE), "--catalog", str(tmp_path / "nope.yaml")], env)
    assert_clean_failure(done)


def test_invalid_catalog_names_the_file_and_rule(env: dict[str, str], tmp_path: Path) -> None:
    bad = tmp_path / "catalog.yaml"
    bad.write_text("version: 1\nentries:\n  - id: x\n")
    done = run(["recommend", str(ESTATE), "--catalog", str(bad)], env)
    assert_clean_failure(done)
    assert str(bad) in done.stderr


def test_unknown_prefer_id_is_refused(env: dict[str, str], catalog_file: Path) -> None:
    done = run(
        ["recommend", str(ESTATE), "--catalog", str(catalog_file), "--prefer", "nosuch"], env
    )
    assert_clean_failure(done)
    assert "--prefer nosuch" in done.stderr


def test_bad_date_and_missing_path(env: dict[str, str], catalog_file: Path) -> None:
    cmd = ["recommend", str(ESTATE), "--catalog", str(catalog_file)]
    assert_clean_failure(run([*cmd, "--date", "tomorrow"], env))
    assert_clean_failure(
        run(["recommend", "/nonexistent/estate", "--catalog", str(catalog_file)], env)
    )

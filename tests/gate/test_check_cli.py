"""`baseguard check` as CI runs it: real processes, exit codes, output files, a real scan."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.cli_runner import run_baseguard
from tests.conftest import PROJECT
from tests.gate.helpers import write_catalog

EXAMPLES = PROJECT / "examples"


def baseguard(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Some checks run a real scan: more time than run_baseguard's default."""
    return run_baseguard(*args, cwd=cwd, env=env, timeout=180)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    write_catalog(tmp_path / "catalog.yaml")
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "Dockerfile").write_text(
        "FROM docker.io/library/golang:1.23 AS build\nFROM registry.io/org/app:1.2.3\n"
    )
    return tmp_path


def test_a_passing_tree_exits_0(repo: Path) -> None:
    done = baseguard("check", "--date", "2026-06-15", cwd=repo)
    assert done.returncode == 0, done.stderr
    assert "PASSED" in done.stdout


def test_a_retired_image_exits_1_and_names_the_line(repo: Path) -> None:
    (repo / "app" / "Dockerfile").write_text("FROM registry.io/org/legacy:3\n")
    done = baseguard("check", "app", "--date", "2026-06-15", "-o", "json", cwd=repo)
    assert done.returncode == 1, done.stderr
    doc = json.loads(done.stdout)
    assert doc["passed"] is False
    (use,) = doc["uses"]
    assert use["location"] == {"file": "app/Dockerfile", "line": 1}
    assert use["verdict"]["verdict"] == "retired"
    assert "FAILED: 1 use (1 retired)" in done.stderr


def test_deprecated_passes_by_default_and_fails_when_asked(repo: Path) -> None:
    (repo / "app" / "Dockerfile").write_text("FROM registry.io/org/base:1\n")
    assert baseguard("check", "--date", "2026-06-15", cwd=repo).returncode == 0
    strict = baseguard("check", "--date", "2026-06-15", "--fail-on", "deprecated", cwd=repo)
    assert strict.returncode == 1


def test_sarif_is_written_to_the_file_atomically(repo: Path) -> None:
    (repo / "app" / "Dockerfile").write_text("FROM nginx:1.27\n")
    out = repo / "out" / "check.sarif"
    out.parent.mkdir()
    done = baseguard("check", "-o", "sarif", "--file", str(out), "--date", "2026-06-15", cwd=repo)
    assert done.returncode == 1
    doc = json.loads(out.read_text())
    (result,) = doc["runs"][0]["results"]
    assert result["ruleId"] == "not-in-catalog"
    loc = result["locations"][0]["physicalLocation"]
    assert loc == {"artifactLocation": {"uri": "app/Dockerfile"}, "region": {"startLine": 1}}
    assert not [p for p in out.parent.iterdir() if p.name != "check.sarif"]


def test_root_names_files_from_another_directory(repo: Path, tmp_path: Path) -> None:
    done = baseguard(
        "check",
        str(repo / "app" / "Dockerfile"),
        "--catalog",
        str(repo / "catalog.yaml"),
        "--root",
        str(repo),
        "-o",
        "json",
        cwd=PROJECT,
    )
    assert done.returncode == 0, done.stderr
    files = {u["location"]["file"] for u in json.loads(done.stdout)["uses"]}
    assert files == {"app/Dockerfile"}


@pytest.mark.parametrize(
    ("name", "words"), [("no-such-dir", "does not exist"), ("catalog.yaml", "is a file")]
)
def test_root_that_is_not_a_directory_is_a_usage_error_naming_it(
    repo: Path, name: str, words: str
) -> None:
    """``--root`` naming a missing directory (or a file) was accepted: the check passed with
    file names left absolute. Now it is refused, naming the option."""
    root = repo / name
    done = baseguard("check", "--date", "2026-06-15", "--root", str(root), cwd=repo)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert "Invalid value for '--root'" in done.stderr
    assert f"{root}' {words}" in done.stderr


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["missing-dir"], "missing-dir: no such file or directory"),
        (["--catalog", "nope.yaml"], "no such catalog file"),
        (["--fail-on", "retird"], "--fail-on 'retird' is not a verdict or severity"),
        (["--fail-on", "critical"], "needs a vulnerability scan"),
        (["--date", "15/06/2026"], "expected a date"),
        (["--offline"], "--offline scans only images in --images"),
    ],
)
def test_usage_and_input_errors_exit_2(repo: Path, args: list[str], words: str) -> None:
    done = baseguard("check", *args, cwd=repo)
    assert done.returncode == 2, done.stdout + done.stderr
    assert words in done.stderr
    assert "Traceback" not in done.stderr


def test_an_invalid_catalog_exits_2_naming_the_line(repo: Path) -> None:
    (repo / "catalog.yaml").write_text("version: 1\nentries:\n  - id: x\n")
    done = baseguard("check", cwd=repo)
    assert done.returncode == 2
    assert "catalog.yaml:3" in done.stderr


# --------------------------------------------------------------------------- a real scan


@pytest.fixture(scope="module")
def scan_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The bundled feed snapshot plus one OSV record rating busybox critical on Alpine 3.20."""
    work = tmp_path_factory.mktemp("check-scan")
    feeds = work / "feeds"
    shutil.copytree(EXAMPLES / "feeds", feeds)
    (feeds / "osv" / "Alpine").mkdir(parents=True)
    record = {
        "schema_version": "1.6.0",
        "id": "TEST-2026-0001",
        "modified": "2026-01-01T00:00:00Z",
        "summary": "test record: busybox rated critical",
        "affected": [
            {
                "package": {"ecosystem": "Alpine:v3.20", "name": "busybox"},
                "ranges": [
                    {"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "99.0-r0"}]}
                ],
            }
        ],
        "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}],
    }
    (feeds / "osv" / "Alpine" / "TEST-2026-0001.json").write_text(json.dumps(record))
    env = {
        "BASEGUARD_VULNDB": str(work / "vulndb.sqlite"),
        "BASEGUARD_CACHE_DIR": str(work / "cache"),
    }
    done = baseguard("-q", "db", "update", "--from", str(feeds), cwd=work, env=env)
    assert done.returncode == 0, done.stderr
    return env


def test_fail_on_critical_scans_the_running_images(scan_env: dict[str, str]) -> None:
    estate = EXAMPLES / "estate"
    args = [
        "check",
        "k8s/web.yaml",
        "payments",
        "--catalog",
        "../catalog.yaml",
        "--db",
        scan_env["BASEGUARD_VULNDB"],
        "--images",
        "../images",
        "--offline",
        "--date",
        "2026-03-01",
        "-o",
        "json",
    ]
    critical = baseguard(*args, "--fail-on", "critical", cwd=estate, env=scan_env)
    assert critical.returncode == 1, critical.stderr
    doc = json.loads(critical.stdout)
    failing = {(u["reference"], tuple(u["failures"])) for u in doc["uses"] if u["failing"]}
    # alpine:3.20 carries the critical busybox; alpine:3.10 (retired, but not in --fail-on)
    # has no critical finding in the snapshot; the golang build stage is not scanned.
    assert failing == {("docker.io/library/alpine:3.20", ("critical",))}
    web = next(u for u in doc["uses"] if u["reference"] == "docker.io/library/alpine:3.20")
    assert web["vulnerabilities"]["bySeverity"]["critical"] >= 1
    assert "TEST-2026-0001" in web["vulnerabilities"]["ids"]["critical"]
    build = next(u for u in doc["uses"] if u["role"] == "build")
    assert "vulnerabilities" not in build


def test_an_image_that_cannot_be_scanned_is_exit_2(scan_env: dict[str, str]) -> None:
    estate = EXAMPLES / "estate"
    done = baseguard(
        "check",
        "docker-compose.yml",
        "--catalog",
        "../catalog.yaml",
        "--db",
        scan_env["BASEGUARD_VULNDB"],
        "--images",
        "../images",
        "--offline",
        "--fail-on",
        "high",
        cwd=estate,
        env=scan_env,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert "postgres:16-bookworm: not in the offline image store" in done.stderr

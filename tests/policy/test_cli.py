"""`baseguard policy generate` as a user runs it: a real process, files, streams, exit codes."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.cli_runner import run_baseguard

HERE = Path(__file__).parent
CATALOG = str(HERE / "catalog.yaml")


@pytest.mark.parametrize(
    ("engine", "files"),
    [
        (
            "kyverno",
            [
                "cluster-policy-baseguard-catalog-signatures.yaml",
                "cluster-policy-baseguard-catalog.yaml",
            ],
        ),
        (
            "gatekeeper",
            [
                "baseguard-catalog-images-baseguard-catalog.yaml",
                "constraint-template-baseguardcatalogimages.yaml",
            ],
        ),
        (
            "vap",
            [
                "validating-admission-policy-baseguard-catalog.yaml",
                "validating-admission-policy-binding-baseguard-catalog.yaml",
            ],
        ),
        (
            "policy-controller",
            [
                "cluster-image-policy-baseguard-catalog-chainguard-python.yaml",
                "cluster-image-policy-baseguard-catalog-org-app-tools.yaml",
                "cluster-image-policy-baseguard-catalog-org-app.yaml",
            ],
        ),
    ],
)
def test_generate_writes_one_file_per_resource(
    engine: str, files: list[str], tmp_path: Path
) -> None:
    out = tmp_path / "out"
    done = run_baseguard(
        "policy", "generate", "--engine", engine, "--catalog", CATALOG, "-o", str(out)
    )
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in out.iterdir()) == sorted(files)
    for path in out.iterdir():
        body = yaml.safe_load(path.read_text(encoding="utf-8"))
        assert body["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "baseguard"


def test_stdout_is_one_multi_document_stream_and_stable(tmp_path: Path) -> None:
    first = run_baseguard("policy", "generate", "-e", "vap", "-c", CATALOG)
    second = run_baseguard("policy", "generate", "-e", "vap", "-c", CATALOG)
    assert first.returncode == 0, first.stderr
    assert first.stdout == second.stdout
    docs = list(yaml.safe_load_all(first.stdout))
    assert [d["kind"] for d in docs] == [
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
    ]


def test_options_reach_the_policies() -> None:
    done = run_baseguard(
        "policy",
        "generate",
        "-e",
        "gatekeeper",
        "-c",
        CATALOG,
        "--mode",
        "audit",
        "--exempt-namespace",
        "ops",
        "--exempt-namespace",
        "kube-system",
        "--opt-in-label",
        "baseguard.io/enforce=true",
    )
    assert done.returncode == 0, done.stderr
    constraint = list(yaml.safe_load_all(done.stdout))[1]
    assert constraint["spec"]["enforcementAction"] == "warn"
    assert constraint["spec"]["match"]["excludedNamespaces"] == ["kube-system", "ops"]
    assert constraint["spec"]["match"]["namespaceSelector"] == {
        "matchLabels": {"baseguard.io/enforce": "true"}
    }


def test_notes_go_to_stderr() -> None:
    done = run_baseguard("policy", "generate", "-e", "policy-controller", "-c", CATALOG)
    assert done.returncode == 0
    assert "note: entry org-app: policy-controller has no predicate type name" in done.stderr
    assert "note:" not in done.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-e", "opa"], "unknown policy engine 'opa'"),
        (["-e", "vap", "--mode", "dryrun"], "unknown mode 'dryrun'"),
        (["-e", "vap", "--opt-in-label", "novalue"], "is not KEY=VALUE"),
        (["-e", "vap", "--sbom-format", "xml"], "unknown --sbom-format"),
    ],
)
def test_usage_errors_exit_2_with_the_reason(args: list[str], message: str) -> None:
    done = run_baseguard("policy", "generate", "-c", CATALOG, *args)
    assert done.returncode == 2
    assert message in done.stderr


def test_a_missing_catalog_is_named(tmp_path: Path) -> None:
    done = run_baseguard("policy", "generate", "-e", "vap", "-c", str(tmp_path / "none.yaml"))
    assert done.returncode == 2
    assert "no such catalog file" in done.stderr


@pytest.mark.parametrize("name", ["../../../escaped", "Bad Name!", "UPPER", "-dash", "a/b"])
def test_a_name_that_is_not_a_kubernetes_name_is_refused_and_nothing_written(
    name: str, tmp_path: Path
) -> None:
    out = tmp_path / "a" / "b" / "c"
    (out / "cluster-policy-..").mkdir(parents=True)  # where '../..' in a file name would lead
    done = run_baseguard(
        "policy", "generate", "-e", "kyverno", "-c", CATALOG, "--name", name, "-o", str(out)
    )
    assert done.returncode == 2, done.stderr
    assert f"--name {name!r} is not a Kubernetes object name" in done.stderr
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


def test_an_exempt_namespace_that_is_not_a_namespace_name_is_refused() -> None:
    done = run_baseguard(
        "policy", "generate", "-e", "vap", "-c", CATALOG, "--exempt-namespace", "kube system"
    )
    assert done.returncode == 2, done.stderr
    assert "--exempt-namespace 'kube system' is not a namespace name" in done.stderr
    assert done.stdout == ""

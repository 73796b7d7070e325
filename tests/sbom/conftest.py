"""Validators for SBOM tests: the official libraries judge what our own writers produce."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
from spdx_tools.spdx.parser.json.json_parser import parse_from_file
from spdx_tools.spdx.validation.document_validator import validate_full_spdx_document

import baseguard.analysis.analyze
import baseguard.sbom.cyclonedx
import baseguard.sbom.spdx

GOLDEN = Path(__file__).resolve().parent / "golden"
TEST_VERSION = "0.0.0-test"

_CDX = JsonStrictValidator(SchemaVersion.V1_6)


def assert_valid_cyclonedx(text: str) -> None:
    """Schema-valid CycloneDX 1.6 JSON (cyclonedx-python-lib's strict validator)."""
    errors = _CDX.validate_str(text, all_errors=True)
    assert errors is None, [str(e) for e in errors]


def assert_valid_spdx(text: str, tmp_path: Path) -> None:
    """Parsed by spdx-tools' JSON parser and validated with zero messages."""
    path = tmp_path / "doc.spdx.json"
    path.write_text(text, encoding="utf-8")
    document = parse_from_file(str(path))
    messages = validate_full_spdx_document(document)
    assert [m.validation_message for m in messages] == []


def check_golden(name: str, text: str) -> None:
    """Compare with tests/sbom/golden/<name>; BASEGUARD_UPDATE_GOLDEN=1 rewrites it."""
    path = GOLDEN / name
    if os.environ.get("BASEGUARD_UPDATE_GOLDEN") == "1":
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"{path} is missing: run with BASEGUARD_UPDATE_GOLDEN=1 to create it"
    expected = path.read_text(encoding="utf-8")
    if text != expected:
        # a readable diff first, then the exact comparison
        assert json.loads(text) == json.loads(expected)
        assert text == expected


@pytest.fixture
def fixed_version(monkeypatch: pytest.MonkeyPatch) -> str:
    """Pin the tool version written into documents, so goldens survive releases."""
    for module in (baseguard.sbom.cyclonedx, baseguard.sbom.spdx, baseguard.analysis.analyze):
        monkeypatch.setattr(module, "__version__", TEST_VERSION)
    return TEST_VERSION


@pytest.fixture(scope="session")
def demo_analysis() -> baseguard.analysis.analyze.Analysis:
    """The bundled demo image, analysed with every cataloger that exists today."""
    from tests.conftest import PROJECT
    from tests.sbom.builders import NOW

    layout = PROJECT / "examples" / "images"
    return baseguard.analysis.analyze.analyze(
        f"oci:{layout}:docker.io/library/alpine:3.20", now=NOW
    )

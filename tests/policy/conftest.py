"""Fixtures for the policy tests: the case table's catalog, the cases, generated resources."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from baseguard.catalog.model import Catalog
from baseguard.catalog.spec import load_catalog
from baseguard.policy.base import PolicyOptions, generate

HERE = Path(__file__).parent
CASES_FILE = HERE / "cases.json"


def load_cases() -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = json.loads(CASES_FILE.read_text(encoding="utf-8"))["cases"]
    return cases


CASES = load_cases()
CASE_IDS = [c["name"] for c in CASES]


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    return load_catalog(HERE / "catalog.yaml")


@pytest.fixture(scope="session")
def options() -> PolicyOptions:
    return PolicyOptions(base_dir=HERE)


def resources(engine: str, catalog: Catalog, options: PolicyOptions) -> list[dict[str, Any]]:
    return [r.body for r in generate(engine, catalog, options).resources]

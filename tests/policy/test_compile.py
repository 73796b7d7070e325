"""The compiled catalog: regexes that agree with parse_reference and Catalog.match_detail,
catalog precedence kept by every engine, deterministic output."""

from __future__ import annotations

import itertools
import re
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest

from baseguard import refs
from baseguard.catalog.model import Catalog
from baseguard.catalog.spec import load_catalog
from baseguard.catalog.verdicts import judge
from baseguard.errors import BaseguardError
from baseguard.policy import base
from baseguard.policy.base import (
    VALID_PINNED_RE,
    PolicyOptions,
    compile_catalog,
    generate,
    repository_spellings,
    to_stream,
)
from tests.policy import engines

HERE = Path(__file__).parent
EXAMPLE = HERE.parents[1] / "examples" / "catalog.yaml"
D1 = "sha256:" + "1" * 64
D512 = "sha512:" + "2" * 128


def test_docker_hub_constants_match_refs() -> None:
    assert base.DOCKER_HUB == refs.DOCKER_HUB
    assert base.DOCKER_HUB_ALIASES == refs.DOCKER_HUB_ALIASES
    assert base.OFFICIAL_NAMESPACE == refs.OFFICIAL_NAMESPACE


NAMES = [
    "alpine",
    "library/alpine",
    "docker.io/alpine",
    "DOCKER.IO/library/alpine",
    "index.docker.io/user/app",
    "registry.io/org/app",
    "Registry.IO:5000/org/app",
    "localhost/app",
    "localhost:5000/a/b",
    "[::1]:5000/app",
    "my.org/app",
    "user/app",
    "Upper/app",
    "registry.io/Org/app",
    "a..b/app",
    "registry.io//app",
    "reg_istry.io/app",
    "registry.io/a__b/c--d",
    "registry.io/a___b",
    "registry.io/-a",
    "host:port/app",
]
TAGS = ["", ":1.2.3", ":latest-dev", ":_x", ":.bad", ":-bad", ":" + "t" * 129, ":a:b"]
DIGESTS = ["@" + D1, "@" + D512, "@sha256:" + "A" * 64, "@md5:" + "1" * 32]


@pytest.mark.parametrize("image", ["".join(p) for p in itertools.product(NAMES, TAGS, DIGESTS)])
def test_the_pinned_reference_regex_agrees_with_parse_reference(image: str) -> None:
    try:
        refs.parse_reference(image)
        valid = True
    except BaseguardError:
        valid = False
    assert (re.search(VALID_PINNED_RE, image) is not None) is valid


@pytest.mark.parametrize(
    "repository",
    [
        "docker.io/library/alpine",
        "docker.io/user/app",
        "registry.io/org/app",
        "localhost:5000/app",
        "docker.io/my.org/app",
    ],
)
def test_every_spelling_parses_back_to_the_repository(repository: str) -> None:
    spellings = repository_spellings(repository)
    assert repository in spellings
    for spelling in spellings:
        assert refs.parse_reference(f"{spelling}:1@{D1}").name == repository


def _references(catalog: Catalog) -> list[str]:
    """Every spelling of every catalog repository with tags and digests near the catalog's."""
    out = []
    for entry in catalog.entries:
        tags = {t.replace("*", "9").replace("?", "x") for t in entry.tags}
        tags |= {t.replace("*", "9") for v in entry.variants for t in v.tags}
        tags |= {"nope", "latest", "2025.11-debug", "3.20.1"}
        digests = {*entry.digests, *(d for v in entry.variants for d in v.digests), D1}
        for spelling in [*repository_spellings(entry.repository), entry.repository + "-evil"]:
            for tag in [*sorted(tags), None]:
                for digest in sorted(digests):
                    out.append(f"{spelling}{':' + tag if tag else ''}@{digest}")
    return sorted(set(out))


@pytest.mark.parametrize("catalog_file", [HERE / "catalog.yaml", EXAMPLE], ids=["cases", "example"])
def test_the_first_matching_rule_is_the_catalogs_match(catalog_file: Path) -> None:
    catalog = load_catalog(catalog_file)
    compiled = compile_catalog(catalog, PolicyOptions(base_dir=catalog_file.parent))
    checked = 0
    for image in _references(catalog):
        match = catalog.match_detail(image)
        rule = next((r for r in compiled.rules if re.search(r.raw_regex(), image)), None)
        if match is None:
            assert rule is None, image
        else:
            assert rule is not None, image
            variant = match.variant.name if match.variant else None
            assert (rule.entry, rule.variant) == (match.entry.id, variant), image
        checked += 1
    assert checked > 100


@pytest.mark.parametrize("catalog_file", [HERE / "catalog.yaml", EXAMPLE], ids=["cases", "example"])
def test_exception_regexes_agree_with_catalog_exceptions(catalog_file: Path) -> None:
    catalog = load_catalog(catalog_file)
    compiled = compile_catalog(catalog, PolicyOptions(base_dir=catalog_file.parent))
    images = [
        "registry.io/legacy/tool:2.7@" + D1,
        "registry.io/legacy/tool@" + D1,
        "registry.io/legacy/old@" + D1,
        "registry.io/legacy/old:1@" + D1,
        "registry.io/legacy/old-x@" + D1,
        "postgres:16-alpine@" + D1,
        "docker.io/library/postgres:16-bookworm@" + D1,
        "postgres:17@" + D1,
        "alpine:3.10@" + D1,
        "library/alpine:3.10@" + D1,
        "alpine:3.10.1@" + D1,
    ]
    for x, rule in zip(
        sorted(catalog.exceptions, key=lambda x: x.id), compiled.exceptions, strict=True
    ):
        for image in images:
            expected = x.matches(image)
            assert (re.search(rule.raw_regex(), image) is not None) is expected, (x.id, image)
            normal = str(refs.parse_reference(image))
            assert (re.search(rule.regex(), normal) is not None) is expected, (x.id, image)


# ----------------------------------------------------------------------------- precedence


def _pod(image: str, created: str) -> dict[str, Any]:
    return {
        "request": {
            "uid": "u",
            "kind": {"group": "", "version": "v1", "kind": "Pod"},
            "resource": {"group": "", "version": "v1", "resource": "pods"},
            "namespace": "apps",
            "operation": "CREATE",
            "object": {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": "p", "namespace": "apps", "creationTimestamp": created},
                "spec": {"containers": [{"name": "c", "image": image}]},
            },
            "oldObject": None,
        }
    }


PINNED = "sha256:cb051005a6033cd1b08bdc7848a01d0b8be56ae489c2a0e6f320f71deb934d70"
PRECEDENCE = [
    # a dev variant's glob beats the main image's glob: refused
    ("registry.example.com/base/static-debian12:2025.11-debug@" + D1, "2026-06-15"),
    # the main image's pinned digest beats any tag glob: approved
    ("registry.example.com/base/static-debian12:2025.11-debug@" + PINNED, "2026-06-15"),
    ("registry.example.com/base/static-debian12@" + PINNED, "2026-06-15"),
    # main pins digests: another digest with an allowed tag does not match it
    ("registry.example.com/base/static-debian12:2025.11@" + D1, "2026-06-15"),
    ("alpine:3.20.3@" + D1, "2026-03-31"),
    ("alpine:3.20.3@" + D1, "2026-04-02"),
    ("alpine:3.10@" + D1, "2025-09-30"),  # retired, exception by tag: no digest in pattern
    ("docker.io/library/postgres:16-alpine@" + D1, "2026-07-01"),  # live exception
    ("docker.io/library/postgres:16-alpine@" + D1, "2027-07-01"),  # expired
    ("gcr.io/distroless/static-debian12:debug@" + D1, "2026-06-15"),
    ("cgr.dev/chainguard/node:latest@" + D1, "2026-06-15"),
    ("golang:1.22@" + D1, "2026-06-15"),
]


@pytest.fixture(scope="module")
def example_policies() -> dict[str, list[dict[str, Any]]]:
    catalog = load_catalog(EXAMPLE)
    options = PolicyOptions(base_dir=EXAMPLE.parent)
    return {
        e: [r.body for r in generate(e, catalog, options).resources]
        for e in ("gatekeeper", "vap", "kyverno")
    }


@pytest.mark.parametrize(("image", "today"), PRECEDENCE)
def test_every_engine_keeps_the_catalogs_precedence(
    image: str, today: str, example_policies: dict[str, list[dict[str, Any]]]
) -> None:
    judgement = judge(load_catalog(EXAMPLE), image, "runtime", date.fromisoformat(today))
    now = engines.noon(today)
    review = _pod(image, now.strftime("%Y-%m-%dT%H:%M:%SZ"))
    template, constraint = example_policies["gatekeeper"]
    policy, binding = example_policies["vap"]
    decisions = {
        "gatekeeper": engines.gatekeeper(template, constraint, review, now),
        "vap": engines.vap(policy, binding, review),
        "kyverno": engines.kyverno(example_policies["kyverno"][0], review, now),
    }
    for engine, decision in decisions.items():
        assert decision.allowed is judgement.allowed, (engine, judgement, decision)
        if not judgement.allowed:
            assert decision.reason == judgement.verdict.value, (engine, decision)


def test_output_is_deterministic_and_needs_no_clock(catalog: Catalog) -> None:
    opts = PolicyOptions(base_dir=HERE)
    for engine in base.POLICY_GENERATORS:
        first = to_stream(generate(engine, catalog, opts).resources)
        assert first == to_stream(generate(engine, catalog, opts).resources)
        assert datetime.now().strftime("%Y-%m-%dT%H") not in first


def test_an_unknown_engine_or_mode_is_a_usage_error(catalog: Catalog) -> None:
    with pytest.raises(BaseguardError, match="unknown policy engine"):
        generate("opa", catalog, PolicyOptions(base_dir=HERE))
    with pytest.raises(BaseguardError, match="unknown mode"):
        PolicyOptions(mode="dryrun")


def test_a_missing_public_key_is_named(tmp_path: Path) -> None:
    text = (HERE / "catalog.yaml").read_text(encoding="utf-8")
    (tmp_path / "catalog.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(BaseguardError, match=r"cosign\.pub"):
        generate(
            "kyverno", load_catalog(tmp_path / "catalog.yaml"), PolicyOptions(base_dir=tmp_path)
        )

"""The catalog model: exact-repository matching, tags vs digests, variants, exceptions."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from baseguard.catalog.model import (
    Catalog,
    CatalogEntry,
    CatalogException,
    CatalogValidationError,
    compile_pattern,
    format_duration,
    parse_duration,
    parse_stored,
)

D1 = "sha256:" + "1" * 64
D2 = "sha256:" + "2" * 64
D3 = "sha256:" + "3" * 64


def entry(**over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": "app",
        "provider": "internal",
        "repository": "registry.io/org/app",
        "tags": ["1.0"],
    }
    base.update(over)
    return base


def catalog(*entries: dict[str, Any], exceptions: list[dict[str, Any]] | None = None) -> Catalog:
    return Catalog.from_dict(
        {"version": 1, "entries": list(entries), "exceptions": exceptions or []}
    )


# --------------------------------------------------------------------------- matching


@pytest.mark.parametrize(
    "reference",
    [
        "registry.io/org-evil/app:1.0",  # the prefix bypass: org is a prefix of org-evil
        "registry.io/org/app-evil:1.0",
        "registry.io/org/appx:1.0",
        "registry.io/org/app/sub:1.0",
        "registry.io/org:1.0",
        "registry.io.evil.com/org/app:1.0",
        "evil.io/registry.io/org/app:1.0",
        "registry.io:5000/org/app:1.0",
    ],
)
def test_repository_must_be_equal_never_a_prefix(reference: str) -> None:
    cat = catalog(entry())
    assert cat.match(reference) is None
    assert "not in the catalog" in cat.explain(reference)


def test_entry_for_an_organisation_name_does_not_match_a_lookalike_org() -> None:
    cat = catalog(entry(id="org", repository="registry.io/org", tags=["*"]))
    assert cat.match("registry.io/org:anything") is not None
    assert cat.match("registry.io/org-evil/x:anything") is None
    assert cat.match("registry.io/org/x:anything") is None


def test_references_are_normalised_before_matching() -> None:
    cat = catalog(entry(id="alpine", repository="alpine", tags=["3.20"]))
    assert cat.entries[0].repository == "docker.io/library/alpine"
    for ref in ("alpine:3.20", "docker.io/library/alpine:3.20", "index.docker.io/alpine:3.20"):
        found = cat.match(ref)
        assert found is not None and found[0].id == "alpine", ref


def test_tag_must_be_allowed_and_globs_match() -> None:
    cat = catalog(entry(tags=["1.0", "2.*"]))
    assert cat.match("registry.io/org/app:1.0") is not None
    assert cat.match("registry.io/org/app:2.7.1") is not None
    assert cat.match("registry.io/org/app:1.1") is None
    assert cat.match("registry.io/org/app") is None  # latest is not allowed
    assert "tag 1.1 is not allowed by catalog entry app" in cat.explain("registry.io/org/app:1.1")


def test_a_pinned_digest_matches_whatever_the_tag() -> None:
    cat = catalog(entry(tags=["1.0"], digests=[D1]))
    m = cat.match_detail(f"registry.io/org/app@{D1}")
    assert m is not None and m.by == "digest"
    m = cat.match_detail(f"registry.io/org/app:9.9@{D1}")
    assert m is not None and m.by == "digest"


def test_an_unpinned_digest_is_refused_when_the_entry_pins_digests() -> None:
    cat = catalog(entry(tags=["1.0"], digests=[D1]))
    assert cat.match(f"registry.io/org/app:1.0@{D2}") is None
    assert f"digest {D2} is not pinned" in cat.explain(f"registry.io/org/app:1.0@{D2}")
    # Tag only: the tag is allowed (the digest cannot be known from the reference).
    assert cat.match("registry.io/org/app:1.0") is not None


def test_without_pins_the_tag_of_a_digest_reference_decides() -> None:
    cat = catalog(entry(tags=["1.0"]))
    m = cat.match_detail(f"registry.io/org/app:1.0@{D2}")
    assert m is not None and m.by == "tag"
    assert cat.match(f"registry.io/org/app@{D2}") is None
    assert "pinned by digest only" in cat.explain(f"registry.io/org/app@{D2}")


def test_variants_match_their_own_tags_and_digests() -> None:
    cat = catalog(
        entry(
            tags=["latest"],
            variants=[
                {"name": "dev", "tags": ["latest-dev"], "dev": True},
                {"name": "fips", "digests": [D3]},
            ],
        )
    )
    runtime = cat.match("registry.io/org/app:latest")
    assert runtime is not None and runtime[1] is None
    dev = cat.match_detail("registry.io/org/app:latest-dev")
    assert dev is not None and dev.variant is not None and dev.variant.name == "dev" and dev.dev
    fips = cat.match(f"registry.io/org/app@{D3}")
    assert fips is not None and fips[1] is not None and fips[1].name == "fips"


def test_a_dev_tag_caught_by_a_main_glob_is_still_the_dev_variant() -> None:
    cat = catalog(
        entry(tags=["3.12*"], variants=[{"name": "dev", "tags": ["3.12*-dev"], "dev": True}])
    )
    m = cat.match_detail("registry.io/org/app:3.12.4-dev")
    assert m is not None and m.dev
    m = cat.match_detail("registry.io/org/app:3.12.4")
    assert m is not None and not m.dev


def test_an_exact_tag_beats_a_glob_of_another_entry_of_the_same_repository() -> None:
    cat = catalog(
        entry(id="old", tags=["1.*"]),
        entry(id="pinned", tags=["1.5"]),
    )
    assert cat.match("registry.io/org/app:1.5")[0].id == "pinned"  # type: ignore[index]
    assert cat.match("registry.io/org/app:1.4")[0].id == "old"  # type: ignore[index]


# --------------------------------------------------------------------------- exceptions


def exception(**over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": "pg",
        "pattern": "postgres:*",
        "justification": "dev stack only",
        "approver": "carol",
        "created": "2026-01-01",
        "expires": "2026-03-31",
    }
    base.update(over)
    return base


def test_exception_pattern_is_normalised() -> None:
    cat = catalog(exceptions=[exception()])
    assert cat.exceptions[0].pattern == "docker.io/library/postgres:*"


def test_exception_is_live_through_its_expiry_day_and_not_after() -> None:
    cat = catalog(exceptions=[exception()])
    assert cat.exception_for("postgres:16", date(2026, 3, 31)) is not None
    assert cat.exception_for("postgres:16", date(2026, 4, 1)) is None
    assert cat.exception_for("postgres:16", date(2025, 12, 31)) is None  # not yet granted
    gone = cat.expired_exception_for("postgres:16", date(2026, 4, 1))
    assert gone is not None and gone.id == "pg"


def test_latest_expiring_live_exception_wins() -> None:
    cat = catalog(
        exceptions=[
            exception(id="short", expires="2026-02-01"),
            exception(id="long", pattern="docker.io/library/postgres:16*", expires="2026-09-01"),
        ]
    )
    found = cat.exception_for("postgres:16-bookworm", date(2026, 1, 15))
    assert found is not None and found.id == "long"


@pytest.mark.parametrize(
    ("pattern", "reference", "expected"),
    [
        ("registry.io/org/*", "registry.io/org/app:1", True),
        ("registry.io/org/*", "registry.io/org-evil/app:1", False),
        ("registry.io/org/*", "registry.io/org/a/b:1", False),  # * stays in one component
        ("registry.io/org/**", "registry.io/org/a/b:1", True),
        ("registry.io/org/**", "registry.io/org-evil/a:1", False),
        ("postgres", "postgres:16", True),  # no tag: every tag of the repository
        ("postgres", f"postgres@{D1}", True),
        ("postgres", "postgres-evil:16", False),
        ("postgres:16-*", "postgres:16-bookworm", True),
        ("postgres:16-*", "postgres:17-bookworm", False),
        (f"alpine@{D1}", f"alpine:3.20@{D1}", False),  # a tag is part of the reference
        (f"alpine:3.20@{D1}", f"alpine:3.20@{D1}", True),
    ],
)
def test_exception_patterns(pattern: str, reference: str, expected: bool) -> None:
    exc = CatalogException.from_dict(exception(pattern=pattern))
    assert exc.matches(reference) is expected


@pytest.mark.parametrize(
    ("pattern", "problem"),
    [
        ("*/postgres:*", "must start with its registry"),
        ("docker.io/Library/postgres:1", "lowercase"),
        ("postgres:", "is not an image reference pattern"),
        ("post gres", "whitespace"),
    ],
)
def test_bad_exception_patterns_are_refused(pattern: str, problem: str) -> None:
    with pytest.raises(CatalogValidationError) as err:
        Catalog.from_dict({"version": 1, "exceptions": [exception(pattern=pattern)]})
    assert err.value.path == ("exceptions", 0, "pattern")
    assert problem in err.value.message


def test_exception_expiring_before_creation_is_refused() -> None:
    with pytest.raises(CatalogValidationError) as err:
        Catalog.from_dict({"version": 1, "exceptions": [exception(expires="2025-12-31")]})
    assert err.value.path == ("exceptions", 0, "expires")


def test_compile_pattern_returns_the_normalised_form() -> None:
    assert compile_pattern("alpine")[0] == "docker.io/library/alpine"


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("doc", "path", "rule"),
    [
        ({"version": 2}, ("version",), "not a catalog version"),
        ({}, ("version",), "is required"),
        ({"version": 1, "entry": []}, ("entry",), "unknown key 'entry'"),
        (
            {"version": 1, "entries": [entry(repository="alpine:3.20")]},
            ("entries", 0, "repository"),
            "carries a tag or digest",
        ),
        (
            {"version": 1, "entries": [entry(repository="Registry.io/Org/App")]},
            ("entries", 0, "repository"),
            "lowercase",
        ),
        (
            {"version": 1, "entries": [entry(), entry()]},
            ("entries", 1, "id"),
            "duplicate entry id 'app'",
        ),
        (
            {"version": 1, "entries": [entry(lifecycle={"state": "aproved"})]},
            ("entries", 0, "lifecycle", "state"),
            "not a lifecycle state",
        ),
        (
            {"version": 1, "entries": [entry(eol="2026-02-30")]},
            ("entries", 0, "eol"),
            "not a real date",
        ),
        (
            {"version": 1, "entries": [entry(eol="next year")]},
            ("entries", 0, "eol"),
            "must be a date",
        ),
        (
            {"version": 1, "entries": [entry(tags=["1.0", "1.0"])]},
            ("entries", 0, "tags"),
            "lists a tag twice",
        ),
        (
            {"version": 1, "entries": [entry(tags=["bad tag"])]},
            ("entries", 0, "tags", 0),
            "is not a tag",
        ),
        (
            {"version": 1, "entries": [entry(digests=["sha256:abc"])]},
            ("entries", 0, "digests", 0),
            "is not a digest",
        ),
        (
            {"version": 1, "entries": [entry(tags=[])]},
            ("entries", 0),
            "needs tags, digests or variants",
        ),
        (
            {"version": 1, "entries": [entry(patch_sla={"critical": "soon"})]},
            ("entries", 0, "patch_sla", "critical"),
            "not a duration",
        ),
        (
            {"version": 1, "entries": [entry(patch_sla={"urgent": "1d"})]},
            ("entries", 0, "patch_sla", "urgent"),
            "unknown key",
        ),
        (
            {"version": 1, "entries": [entry(runtime={"name": "python", "version": 3.1})]},
            ("entries", 0, "runtime", "version"),
            "must be a string",
        ),
        (
            {"version": 1, "entries": [entry(runtime={"name": "python", "libc": "bionic"})]},
            ("entries", 0, "runtime", "libc"),
            "glibc, musl",
        ),
        (
            {"version": 1, "entries": [entry(owner={"team": "x"})]},
            ("entries", 0, "owner", "contact"),
            "is required",
        ),
        (
            {
                "version": 1,
                "entries": [entry(attestations={"signature": {"key": "k.pem", "issuer": "x"}})],
            },
            ("entries", 0, "attestations", "signature"),
            "not both",
        ),
        (
            {"version": 1, "entries": [entry(attestations={"slsa_level": 7})]},
            ("entries", 0, "attestations", "slsa_level"),
            "from 0 to 4",
        ),
        (
            {"version": 1, "entries": [entry(replaced_by="nope")]},
            ("entries", 0, "replaced_by"),
            "no entry has id 'nope'",
        ),
        (
            {"version": 1, "entries": [entry(id="a"), entry(id="b")]},
            ("entries", 1),
            "already claimed by entry 'a'",
        ),
        (
            {
                "version": 1,
                "entries": [
                    entry(
                        lifecycle={
                            "state": "approved",
                            "history": [{"state": "proposed", "date": "2026-01-01", "actor": "x"}],
                        }
                    )
                ],
            },
            ("entries", 0, "lifecycle", "state"),
            "last history step entered 'proposed'",
        ),
        (
            {"version": 1, "entries": [entry(variants=[{"name": "dev", "dev": True}])]},
            ("entries", 0, "variants", 0),
            "needs tags or digests",
        ),
    ],
)
def test_validation_names_the_path_and_the_rule(
    doc: dict[str, Any], path: tuple[Any, ...], rule: str
) -> None:
    with pytest.raises(CatalogValidationError) as err:
        Catalog.from_dict(doc)
    assert err.value.path == path
    assert rule in err.value.rule


def test_round_trip_through_dicts() -> None:
    data = entry(
        digests=[D1],
        variants=[{"name": "dev", "tags": ["1.0-dev"], "dev": True}],
        runtime={"name": "python", "version": "3.12", "libc": "glibc"},
        owner={"team": "platform", "contact": "p@example.com"},
        lifecycle={
            "state": "approved",
            "history": [
                {"state": "proposed", "date": "2026-01-01", "actor": "a"},
                {"state": "approved", "date": "2026-01-05", "actor": "b", "reason": "CAB-1"},
            ],
        },
        eol="2028-01-01",
        patch_sla={"critical": "24h", "high": "7d"},
        attestations={
            "signature": {"identity": "me@example.com", "issuer": "https://accounts.google.com"},
            "slsa_level": 3,
            "sbom": True,
            "vex": False,
        },
        notes="n",
    )
    first = CatalogEntry.from_dict(data)
    again = CatalogEntry.from_dict(first.to_dict())
    assert again == first
    assert first.lifecycle.since("approved") == date(2026, 1, 5)
    assert first.patch_sla is not None and first.patch_sla.for_severity("HIGH") == timedelta(days=7)
    assert first.attestations is not None and first.attestations.signature is not None
    assert first.attestations.signature.keyless


@pytest.mark.parametrize(
    ("text", "seconds", "shown"),
    [
        ("24h", 86400, "24h"),
        ("7d", 7 * 86400, "7d"),
        ("2w", 14 * 86400, "14d"),
        ("30m", 1800, "30m"),
    ],
)
def test_durations(text: str, seconds: int, shown: str) -> None:
    value = parse_duration(text)
    assert value.total_seconds() == seconds
    assert format_duration(value) == shown


@pytest.mark.parametrize("text", ["0h", "1y", "h", "-1d", "1.5d"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


def test_past_eol_counts_from_the_day_after() -> None:
    e = CatalogEntry.from_dict(entry(eol="2026-04-01"))
    assert not e.past_eol(date(2026, 4, 1))
    assert e.past_eol(date(2026, 4, 2))


def test_unquoted_numbers_are_refused_with_a_quoting_hint() -> None:
    with pytest.raises(CatalogValidationError) as err:
        Catalog.from_dict({"version": 1, "entries": [entry(tags=[3.1])]})
    assert err.value.path == ("entries", 0, "tags", 0)
    assert "quote it" in err.value.rule
    with pytest.raises(CatalogValidationError) as err:
        Catalog.from_dict({"version": 1.0})
    assert err.value.path == ("version",)


def test_stored_rows_that_no_longer_validate_are_named_not_raised() -> None:
    rows = [entry(), entry(id="bad", repository=""), entry(id="other")]
    parsed, invalid = parse_stored(rows, CatalogEntry.from_dict)
    assert [e.id for e in parsed] == ["app", "other"]
    assert [item for item, _ in invalid] == ["bad"]
    assert "repository" in invalid[0][1]

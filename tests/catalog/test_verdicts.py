"""One verdict per use, judged on an injected date: every kind, their order, and the counts."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from baseguard.catalog.model import Catalog
from baseguard.catalog.verdicts import (
    SEVERITY_ORDER,
    Verdict,
    judge,
    judge_uses,
    worst,
)
from baseguard.inventory.model import ImageUse, Location

TODAY = date(2026, 6, 15)


def entry(entry_id: str, repository: str, state: str = "approved", **over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": entry_id,
        "provider": "internal",
        "repository": repository,
        "tags": ["1"],
        "owner": {"team": "platform", "contact": "p@example.com"},
        "patch_sla": {"critical": "24h"},
        "lifecycle": {"state": state},
    }
    base.update(over)
    return base


CATALOG = Catalog.from_dict(
    {
        "version": 1,
        "entries": [
            entry(
                "good",
                "r.example.com/good",
                variants=[{"name": "dev", "tags": ["1-dev"], "dev": True}],
                eol="2026-06-15",
            ),
            entry(
                "lenient",
                "r.example.com/lenient",
                dev_in_production=True,
                variants=[{"name": "dev", "tags": ["1-dev"], "dev": True}],
            ),
            entry("old", "r.example.com/old", "deprecated", replaced_by="good"),
            entry("eol", "r.example.com/eol", eol="2026-06-14"),
            entry("gone", "r.example.com/gone", "retired", eol="2020-01-01"),
            entry("maybe", "r.example.com/maybe", "proposed"),
        ],
        "exceptions": [
            {
                "id": "waiver",
                "pattern": "r.example.com/gone:*",
                "justification": "migration PAY-1",
                "approver": "carol",
                "created": "2026-01-01",
                "expires": "2026-06-30",
            },
            {
                "id": "lapsed",
                "pattern": "r.example.com/other",
                "justification": "old waiver",
                "approver": "carol",
                "created": "2026-01-01",
                "expires": "2026-06-14",
            },
        ],
    }
)


@pytest.mark.parametrize(
    ("reference", "role", "verdict", "label", "reason"),
    [
        ("r.example.com/good:1", "runtime", Verdict.APPROVED, "approved", "allowed tag"),
        (
            "r.example.com/good:1-dev",
            "build",
            Verdict.APPROVED,
            "approved",
            "dev variant in a build stage",
        ),
        (
            "r.example.com/good:1-dev",
            "base",
            Verdict.DEV_IN_PRODUCTION,
            "dev-variant-in-production",
            "allowed only in build stages; here it is used as base",
        ),
        (
            "r.example.com/good:1-dev",
            "init",
            Verdict.DEV_IN_PRODUCTION,
            "dev-variant-in-production",
            "used as init",
        ),
        ("r.example.com/lenient:1-dev", "runtime", Verdict.APPROVED, "approved", "approved"),
        (
            "r.example.com/old:1",
            "runtime",
            Verdict.DEPRECATED,
            "deprecated",
            "entry old is deprecated; replaced by good",
        ),
        (
            "r.example.com/eol:1",
            "runtime",
            Verdict.PAST_EOL,
            "past-EOL",
            "reached its end of life on 2026-06-14",
        ),
        (
            "r.example.com/maybe:1",
            "runtime",
            Verdict.PROPOSED,
            "proposed",
            "only proposed, not approved",
        ),
        (
            "r.example.com/gone:1",
            "runtime",
            Verdict.EXCEPTED,
            "excepted-until-2026-06-30",
            "exception waiver (approved by carol) until 2026-06-30: migration PAY-1; "
            "otherwise retired: entry gone was retired",
        ),
        (
            "r.example.com/good:2",
            "runtime",
            Verdict.NOT_IN_CATALOG,
            "not-in-catalog",
            "tag 2 is not allowed by catalog entry good",
        ),
        (
            "r.example.com/other:1",
            "runtime",
            Verdict.NOT_IN_CATALOG,
            "not-in-catalog",
            "repository r.example.com/other is not in the catalog; exception lapsed expired "
            "on 2026-06-14",
        ),
    ],
)
def test_every_verdict(
    reference: str, role: str, verdict: Verdict, label: str, reason: str
) -> None:
    judged = judge(CATALOG, reference, role, TODAY)
    assert judged.verdict is verdict
    assert judged.label == label
    assert reason in judged.reason


def test_eol_day_itself_is_still_supported() -> None:
    assert judge(CATALOG, "r.example.com/good:1", "runtime", TODAY).verdict is Verdict.APPROVED
    after = judge(CATALOG, "r.example.com/good:1", "runtime", date(2026, 6, 16))
    assert after.verdict is Verdict.PAST_EOL


def test_retired_wins_over_past_eol() -> None:
    judged = judge(CATALOG, "r.example.com/gone:1", "runtime", date(2026, 7, 1))
    assert judged.verdict is Verdict.RETIRED  # the waiver expired on 2026-06-30
    assert "exception waiver expired on 2026-06-30" in judged.reason


def test_exception_records_what_it_covers() -> None:
    judged = judge(CATALOG, "r.example.com/gone:1", "runtime", TODAY)
    assert judged.covers is Verdict.RETIRED
    assert judged.exception == "waiver" and judged.until == date(2026, 6, 30)
    assert judged.to_dict()["covers"] == "retired" and judged.allowed


def test_exception_is_not_consulted_for_approved_uses() -> None:
    cat = Catalog.from_dict(
        {
            "version": 1,
            "entries": [entry("good", "r.example.com/good")],
            "exceptions": [
                {
                    "id": "all",
                    "pattern": "r.example.com/**",
                    "justification": "x",
                    "approver": "y",
                    "created": "2026-01-01",
                    "expires": "2026-12-31",
                }
            ],
        }
    )
    assert judge(cat, "r.example.com/good:1", "runtime", TODAY).verdict is Verdict.APPROVED
    assert judge(cat, "r.example.com/bad:1", "runtime", TODAY).verdict is Verdict.EXCEPTED


def test_proposed_dev_variant_is_proposed_not_approved() -> None:
    cat = Catalog.from_dict(
        {
            "version": 1,
            "entries": [
                entry(
                    "p",
                    "r.example.com/p",
                    "proposed",
                    variants=[{"name": "dev", "tags": ["1-dev"], "dev": True}],
                )
            ],
        }
    )
    judged = judge(cat, "r.example.com/p:1-dev", "build", TODAY)
    assert judged.verdict is Verdict.PROPOSED and not judged.allowed


def use(reference: str, role: str, file: str) -> ImageUse:
    return ImageUse(reference, reference, role, "dockerfile", Location(file=file, line=1))


def test_counts_list_uses_and_files_per_verdict() -> None:
    uses = [
        use("r.example.com/good:1", "base", "a/Dockerfile"),
        use("r.example.com/good:1", "runtime", "k8s/a.yaml"),
        use("r.example.com/good:1-dev", "build", "a/Dockerfile"),
        use("r.example.com/good:1-dev", "runtime", "k8s/b.yaml"),
        use("r.example.com/nope:1", "runtime", "k8s/b.yaml"),
    ]
    judged = judge_uses(CATALOG, uses, TODAY, "catalog.yaml")
    counts = judged.counts()
    assert list(counts) == [v.value for v in SEVERITY_ORDER]
    assert counts["approved"] == {"uses": 3, "files": ["a/Dockerfile", "k8s/a.yaml"]}
    assert counts["dev-variant-in-production"] == {"uses": 1, "files": ["k8s/b.yaml"]}
    assert counts["not-in-catalog"] == {"uses": 1, "files": ["k8s/b.yaml"]}
    assert counts["retired"] == {"uses": 0, "files": []}
    doc = judged.to_dict()
    assert (doc["uses"], doc["allowedUses"], doc["notAllowedUses"]) == (5, 3, 2)
    assert doc["date"] == "2026-06-15" and doc["file"] == "catalog.yaml"


def test_the_worst_verdict_of_an_image() -> None:
    uses = [
        use("r.example.com/good:1-dev", "build", "a/Dockerfile"),
        use("r.example.com/good:1-dev", "runtime", "k8s/b.yaml"),
    ]
    judged = judge_uses(CATALOG, uses, TODAY)
    w = worst(judged.uses)
    assert w is not None and w.verdict is Verdict.DEV_IN_PRODUCTION
    assert w.file == "k8s/b.yaml"
    assert worst([]) is None

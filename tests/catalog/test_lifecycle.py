"""Lifecycle transitions: legal and illegal ones (with reasons), and what each records."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Any

import pytest

from baseguard.catalog.lifecycle import (
    LEGAL,
    entry_problems,
    proposed,
    refusal,
    transition,
)
from baseguard.catalog.model import (
    STATES,
    CatalogEntry,
    CatalogError,
    Lifecycle,
    Owner,
    PatchSla,
    Transition,
)

DAY = date(2026, 5, 4)


def make(state: str = "proposed", **over: Any) -> CatalogEntry:
    base = CatalogEntry(
        id="py",
        provider="chainguard",
        repository="cgr.dev/chainguard/python",
        tags=("latest",),
        owner=Owner("platform", "platform@example.com"),
        patch_sla=PatchSla.from_dict({"critical": "24h", "high": "7d"}),
        lifecycle=Lifecycle(state, (Transition(state, date(2026, 1, 1), "alice"),)),
    )
    return replace(base, **over)


# Every (from, to) pair: None when legal, else words the refusal must contain.
TABLE: list[tuple[str, str, str | None]] = [
    ("proposed", "approved", None),
    ("proposed", "retired", None),
    ("approved", "deprecated", None),
    ("deprecated", "retired", None),
    ("proposed", "proposed", "already proposed"),
    ("proposed", "deprecated", "never approved"),
    ("approved", "proposed", "nothing goes back to proposed"),
    ("approved", "approved", "already approved"),
    ("approved", "retired", "must be deprecated before it is retired"),
    ("deprecated", "proposed", "nothing goes back to proposed"),
    ("deprecated", "approved", "cannot be approved again"),
    ("deprecated", "deprecated", "already deprecated"),
    ("retired", "proposed", "retirement is final"),
    ("retired", "approved", "retirement is final"),
    ("retired", "deprecated", "retirement is final"),
    ("retired", "retired", "already retired"),
]


def test_the_table_covers_every_pair_of_states() -> None:
    assert {(a, b) for a, b, _ in TABLE} == {(a, b) for a in STATES for b in STATES}
    assert {(a, b) for a, b, why in TABLE if why is None} == set(LEGAL)


@pytest.mark.parametrize(("start", "to", "why"), TABLE)
def test_transitions(start: str, to: str, why: str | None) -> None:
    entry = make(start)
    if why is None:
        moved = transition(entry, to, actor="bob", on=DAY, reason="CAB-7")
        assert moved.state == to
        assert moved.lifecycle.history[-1] == Transition(to, DAY, "bob", "CAB-7")
        assert moved.lifecycle.history[:-1] == entry.lifecycle.history
        assert moved.lifecycle.since() == DAY
    else:
        with pytest.raises(CatalogError) as err:
            transition(entry, to, actor="bob", on=DAY)
        assert why in err.value.message


def test_retired_to_approved_hints_at_a_new_entry() -> None:
    with pytest.raises(CatalogError) as err:
        transition(make("retired"), "approved", actor="bob", on=DAY)
    assert err.value.hint is not None and "new entry" in err.value.hint


def test_approved_to_retired_hints_at_deprecate() -> None:
    reason = refusal(make("approved"), "retired", DAY)
    assert reason is not None and reason[1] is not None
    assert "baseguard catalog deprecate py" in reason[1]


def test_approving_without_an_owner_is_refused() -> None:
    with pytest.raises(CatalogError) as err:
        transition(make(owner=None), "approved", actor="bob", on=DAY)
    assert err.value.message == "cannot approve 'py': it has no owner"
    assert err.value.hint is not None and "owner:" in err.value.hint


def test_approving_without_a_critical_patch_sla_is_refused() -> None:
    for sla in (None, PatchSla.from_dict({"high": "7d"})):
        with pytest.raises(CatalogError) as err:
            transition(make(patch_sla=sla), "approved", actor="bob", on=DAY)
        assert "no patch SLA for critical findings" in err.value.message


def test_approving_past_its_eol_is_refused() -> None:
    with pytest.raises(CatalogError) as err:
        transition(make(eol=date(2026, 5, 3)), "approved", actor="bob", on=DAY)
    assert "end-of-life date 2026-05-03 has passed" in err.value.message
    # The EOL day itself is still supported.
    assert transition(make(eol=DAY), "approved", actor="bob", on=DAY).state == "approved"


def test_retiring_needs_neither_owner_nor_sla() -> None:
    bare = make("deprecated", owner=None, patch_sla=None)
    assert transition(bare, "retired", actor="bob", on=DAY).state == "retired"


def test_a_transition_needs_an_actor() -> None:
    with pytest.raises(CatalogError) as err:
        transition(make(), "approved", actor="  ", on=DAY)
    assert "actor" in err.value.message


def test_a_transition_dated_before_the_last_one_is_refused() -> None:
    with pytest.raises(CatalogError) as err:
        transition(make(), "approved", actor="bob", on=date(2025, 12, 31))
    assert "before entry 'py''s last transition (2026-01-01)" in err.value.message


def test_proposed_records_the_proposal() -> None:
    entry = proposed(make("approved"), actor="carol", on=DAY)
    assert entry.state == "proposed"
    assert entry.lifecycle.history == (Transition("proposed", DAY, "carol"),)


def test_file_rules_refuse_an_approved_entry_without_owner_or_sla() -> None:
    problems = entry_problems(make("approved", owner=None, patch_sla=None))
    assert [p[0] for p in problems] == [("owner",), ("patch_sla",)]
    assert "an approved entry needs this: it has no owner" in problems[0][1]
    assert entry_problems(make("retired", owner=None, patch_sla=None)) == []
    assert entry_problems(make("proposed", owner=None, patch_sla=None)) == []


def test_file_rules_refuse_an_illegal_history() -> None:
    history = (
        Transition("proposed", date(2026, 1, 1), "a"),
        Transition("approved", date(2026, 1, 2), "b"),
        Transition("retired", date(2026, 1, 3), "c"),
    )
    problems = entry_problems(make("retired", lifecycle=Lifecycle("retired", history)))
    assert problems == [
        (
            ("lifecycle", "history", 2, "state"),
            "approved → retired is not a legal transition",
            "legal: proposed → approved → deprecated → retired, proposed → retired",
        )
    ]

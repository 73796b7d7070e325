"""Alerts for catalog entries nearing end of life and exceptions about to expire: which
ones are raised, at what level, and how their titles read."""

from __future__ import annotations

from datetime import date

from baseguard.monitor.alerts import (
    CRITICAL,
    ENTRY_EOL,
    EXCEPTION_EXPIRY,
    WARNING,
    eol_alerts,
    exception_alerts,
)
from tests.catalog.test_model import catalog, entry, exception

TODAY = date(2026, 3, 1)


def test_eol_alerts_warn_inside_the_window_and_turn_critical_once_past() -> None:
    cat = catalog(
        entry(id="soon", eol="2026-03-02"),
        entry(id="later", repository="registry.io/org/b", eol="2026-03-31"),
        entry(id="far", repository="registry.io/org/c", eol="2026-04-01"),
        entry(id="past", repository="registry.io/org/d", eol="2026-02-28"),
        entry(
            id="gone",
            repository="registry.io/org/e",
            lifecycle={"state": "retired"},
            eol="2026-02-01",
        ),
        entry(id="none", repository="registry.io/org/f"),
    )
    alerts = {a.subject: a for a in eol_alerts(cat.entries, TODAY)}
    assert sorted(alerts) == ["later", "past", "soon"]  # 31 days out, retired, no EOL: quiet
    assert {a.kind for a in alerts.values()} == {ENTRY_EOL}
    assert alerts["soon"].level == WARNING
    assert alerts["soon"].title == "soon reaches its end of life in 1 day (2026-03-02)"
    assert alerts["later"].title == "later reaches its end of life in 30 days (2026-03-31)"
    assert alerts["soon"].data["daysLeft"] == 1
    assert alerts["past"].level == CRITICAL
    assert alerts["past"].title == "past is past its end of life (2026-02-28)"
    assert alerts["past"].key != alerts["soon"].key


def test_exception_alerts_only_for_live_exceptions_expiring_within_two_weeks() -> None:
    cat = catalog(
        exceptions=[
            exception(id="tomorrow", expires="2026-03-02"),
            exception(id="fortnight", expires="2026-03-15"),
            exception(id="later", expires="2026-03-16"),
            exception(id="expired", expires="2026-02-28"),
            exception(id="future", created="2026-03-05", expires="2026-03-10"),
        ]
    )
    alerts = {a.subject: a for a in exception_alerts(cat.exceptions, TODAY)}
    assert sorted(alerts) == ["fortnight", "tomorrow"]
    assert {a.kind for a in alerts.values()} == {EXCEPTION_EXPIRY}
    assert alerts["tomorrow"].title == "Exception tomorrow expires in 1 day (2026-03-02)"
    assert alerts["fortnight"].title == "Exception fortnight expires in 14 days (2026-03-15)"
    assert alerts["tomorrow"].data["approver"] == "carol"
    assert alerts["tomorrow"].level == WARNING

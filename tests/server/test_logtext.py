"""Client-chosen text in the service's log: one printable line, bounded."""

from __future__ import annotations

import logging

import pytest

from baseguard.server.app import Settings
from baseguard.server.logtext import log_text
from baseguard.store import Store
from tests.gate.helpers import pod_review
from tests.server.conftest import serving


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("pod-1", "pod-1"),
        ("a\nFORGED 200 OK", "a\\x0aFORGED 200 OK"),
        ("\x1b[31mred\r", "\\x1b[31mred\\x0d"),
        ("café ☃", "caf\\xe9 \\u2603"),
        ("\x7f", "\\x7f"),
    ],
)
def test_control_and_non_ascii_characters_are_escaped(value: str, shown: str) -> None:
    assert log_text(value) == shown


def test_long_values_are_cut_with_their_length() -> None:
    assert log_text("x" * 500, 10) == "xxxxxxxxxx… (500 characters)"
    assert log_text("x" * 10, 10) == "x" * 10


def test_a_denial_with_a_forged_uid_logs_one_line(
    settings: Settings, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    doc = pod_review("registry.io/org/legacy:4", uid="u1\nINFO forged: allowed everything")
    with (
        caplog.at_level(logging.INFO, logger="baseguard.server"),
        serving(settings, store) as running,
    ):
        assert running.review(doc).json()["response"]["allowed"] is False
    denied = [r.getMessage() for r in caplog.records if r.getMessage().startswith("denied ")]
    assert len(denied) == 1
    assert "\n" not in denied[0]
    assert "u1\\x0aINFO forged" in denied[0]

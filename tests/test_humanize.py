"""One spelling of sizes and ages for every command and report."""

from __future__ import annotations

from datetime import timedelta

import pytest

from baseguard.humanize import format_age, format_days, format_size


@pytest.mark.parametrize(
    ("size", "text"),
    [
        (None, "-"),
        (0, "0 B"),
        (999, "999 B"),
        (1000, "1.0 kB"),
        (683_100, "683.1 kB"),
        (999_949, "999.9 kB"),
        (999_950, "1.0 MB"),
        (999_999, "1.0 MB"),
        (999_999_999, "1.0 GB"),
        (3_400_000, "3.4 MB"),
        (7_812_345, "7.8 MB"),
        (1_500_000_000, "1.5 GB"),
        (2_000_000_000_000_000, "2000.0 TB"),
    ],
)
def test_sizes_are_decimal_as_registries_show_them(size: int | None, text: str) -> None:
    assert format_size(size) == text


@pytest.mark.parametrize(
    ("age", "text"),
    [
        (timedelta(seconds=-30), "0 minutes"),
        (timedelta(seconds=59), "0 minutes"),
        (timedelta(minutes=1), "1 minute"),
        (timedelta(minutes=119), "119 minutes"),
        (timedelta(hours=2), "2 hours"),
        (timedelta(hours=24), "24 hours"),
        (timedelta(hours=47, minutes=59), "47 hours"),
        (timedelta(days=2), "2 days"),
        (timedelta(days=30, hours=23), "30 days"),
    ],
)
def test_ages_use_one_unit_rounded_down(age: timedelta, text: str) -> None:
    assert format_age(age) == text


@pytest.mark.parametrize(
    ("count", "text"),
    [(0, "0 days"), (1, "1 day"), (-1, "-1 day"), (2, "2 days"), (116, "116 days")],
)
def test_whole_days_are_singular_only_for_one(count: int, text: str) -> None:
    assert format_days(count) == text

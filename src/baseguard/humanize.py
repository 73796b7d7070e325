"""Sizes and ages as people read them, one spelling for every command and report.

Light on purpose (no imports beyond the standard library's typing): the CLI, the reports and
the analysis summary all use it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from datetime import timedelta


def json_kind(value: object) -> str:
    """``a string``, ``an array``, ``an object``…: how a JSON value's type is named in an error
    message about a document of the wrong shape."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, Mapping):
        return "an object"
    return type(value).__name__


def format_size(size: int | None) -> str:
    """Decimal units as registries and ``docker images`` show them: ``3.4 MB`` (``-``: unknown)."""
    if size is None:
        return "-"
    if size < 1000:
        return f"{size} B"
    value = float(size)
    for unit in ("kB", "MB", "GB", "TB"):
        value /= 1000
        if round(value, 1) < 1000 or unit == "TB":  # 999,950 B is 1.0 MB, not 1000.0 kB
            return f"{value:.1f} {unit}"
    raise AssertionError("unreachable")


def format_days(count: int) -> str:
    """A whole number of days: ``1 day``, ``0 days``, ``12 days``."""
    return f"{count} day" if count in (1, -1) else f"{count} days"


def format_age(age: timedelta) -> str:
    """``3 days``, ``5 hours``, ``12 minutes``: how people say how old something is.

    Days from two days on, hours from two hours on, minutes below that (a negative age, from
    a clock running behind, is ``0 minutes``).
    """
    seconds = int(age.total_seconds())
    if seconds >= 2 * 86400:
        return f"{seconds // 86400} days"
    if seconds >= 2 * 3600:
        return f"{seconds // 3600} hours"
    minutes = max(seconds // 60, 0)
    return f"{minutes} minute{'s' if minutes != 1 else ''}"

"""The one error the rpm database readers raise."""

from __future__ import annotations


class RpmdbError(ValueError):
    """An rpm database file that cannot be read (the message says what is wrong)."""

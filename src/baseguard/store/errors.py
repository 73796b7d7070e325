"""The store's error: one class, with a hint, like every baseguard error."""

from __future__ import annotations

from baseguard.errors import BaseguardError


class StoreError(BaseguardError):
    """The store could not be opened, migrated, read or written."""

"""The monitoring error family."""

from __future__ import annotations

from baseguard.errors import BaseguardError


class MonitorError(BaseguardError):
    """Monitoring could not do its work (a bad notify config, a broker that cannot be
    reached, a channel that refused a message)."""


class NotifyError(MonitorError):
    """A notification channel could not deliver a message."""

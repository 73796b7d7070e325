"""Continuous monitoring: re-matching, tag following, patch-SLA clocks, alerts, the queue.

``baseguard watch`` runs one :func:`~baseguard.monitor.cycle.run_cycle` on a schedule;
``baseguard worker`` runs the Dramatiq workers of :mod:`baseguard.monitor.tasks`. Each
module is usable on its own (see docs/monitoring.md); none is imported here, so importing
the package stays cheap.
"""

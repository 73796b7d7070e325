"""The SARIF 2.1.0 frame every baseguard SARIF document shares.

``baseguard scan -o sarif`` (:mod:`baseguard.report.sarif`) and ``baseguard check -o sarif``
(:mod:`baseguard.gate.sarif`) build their own rules and results; this module wraps them in
one run: the ``$schema`` and ``version``, the ``baseguard`` driver with its rules, the
results, ``columnKind``, one successful invocation with its notifications, and the run's
properties.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
SARIF_VERSION = "2.1.0"


def accepted_suppression(justification: str) -> dict[str, Any]:
    """A ``suppressions`` entry for a result accepted outside the tool (VEX, exception)."""
    return {"kind": "external", "status": "accepted", "justification": justification}


def render_document(
    *,
    rules: list[dict[str, Any]],
    results: list[dict[str, Any]],
    warnings: Iterable[str],
    properties: Mapping[str, Any],
    automation_id: str | None = None,
    exit_code: int | None = None,
) -> str:
    """The SARIF 2.1.0 JSON text of one baseguard run.

    ``warnings`` become the invocation's ``toolExecutionNotifications``; ``automation_id``
    (``automationDetails.id``) and ``exit_code`` are written only when given.
    """
    from baseguard import __version__

    invocation: dict[str, Any] = {"executionSuccessful": True}
    if exit_code is not None:
        invocation["exitCode"] = exit_code
    invocation["toolExecutionNotifications"] = [
        {"level": "warning", "message": {"text": text}} for text in warnings
    ]
    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": "baseguard",
                "version": __version__,
                "semanticVersion": __version__,
                "rules": rules,
            }
        },
    }
    if automation_id is not None:
        run["automationDetails"] = {"id": automation_id}
    run["results"] = results
    run["columnKind"] = "utf16CodeUnits"
    run["invocations"] = [invocation]
    run["properties"] = dict(properties)
    doc = {"$schema": SCHEMA_URI, "version": SARIF_VERSION, "runs": [run]}
    return json.dumps(doc, indent=2) + "\n"

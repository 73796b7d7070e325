"""``-o json``: the whole scan result for machines (suppressed findings always included), on
one line."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from baseguard.report.base import RenderOptions, ScanFormat

if TYPE_CHECKING:
    from baseguard.matching.findings import ScanResult


class JsonFormat(ScanFormat):
    name = "json"
    description = "baseguard's scan result as JSON (findings, suppressed, warnings, DB age)"

    def render(self, result: ScanResult, options: RenderOptions) -> str:
        # Compact: the C encoder (indent makes json use its pure-Python one, 3-5x slower on
        # thousands of findings). `jq .` shows it indented.
        return json.dumps(result.to_dict(), separators=(",", ":")) + "\n"

"""baseguard's own JSON: :meth:`Analysis.to_dict`, the richest form (read back losslessly)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from baseguard.sbom.base import SbomFormat, render_json

if TYPE_CHECKING:
    from baseguard.analysis.analyze import Analysis


class NativeJson(SbomFormat):
    """``Analysis.to_dict()`` as JSON. ``now`` and ``serial`` are unused: the analysis
    carries its own ``analyzedAt``."""

    name = "json"
    media_type = "application/vnd.baseguard.analysis+json"
    suffix = ".json"

    def write(self, analysis: Analysis, *, now: datetime, serial: str | None = None) -> str:
        return render_json(analysis.to_dict(), expand=3)

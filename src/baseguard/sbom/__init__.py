"""SBOMs: write an :class:`~baseguard.analysis.analyze.Analysis` as CycloneDX 1.6 JSON,
SPDX 2.3 JSON or baseguard's own JSON, and read SBOMs (ours, syft's, trivy's) back.

Adding a format is one module with an :class:`SbomFormat` subclass and one line in
:data:`SBOM_FORMATS`; the CLI builds its ``-o`` choices from that dict. Reading lives in
:mod:`baseguard.sbom.read` (imported on demand: writing does not need it).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from baseguard.sbom.base import SbomError, SbomFormat
from baseguard.sbom.cyclonedx import CycloneDxJson
from baseguard.sbom.native import NativeJson
from baseguard.sbom.spdx import SpdxJson

if TYPE_CHECKING:
    from baseguard.analysis.analyze import Analysis

SBOM_FORMATS: dict[str, type[SbomFormat]] = {
    CycloneDxJson.name: CycloneDxJson,
    SpdxJson.name: SpdxJson,
    NativeJson.name: NativeJson,
}


def get_format(name: str) -> SbomFormat:
    """The format registered as ``name``, or :class:`SbomError` listing the choices."""
    try:
        return SBOM_FORMATS[name]()
    except KeyError:
        raise SbomError(
            f"unknown SBOM format {name!r}",
            hint=f"choose one of: {', '.join(SBOM_FORMATS)}",
        ) from None


def write_sbom(
    analysis: Analysis,
    format_name: str,
    *,
    now: datetime | None = None,
    serial: str | None = None,
) -> str:
    """``analysis`` as a document in ``format_name`` (now = current UTC time if None)."""
    return get_format(format_name).write(analysis, now=now or datetime.now(UTC), serial=serial)


__all__ = [
    "SBOM_FORMATS",
    "SbomError",
    "SbomFormat",
    "get_format",
    "write_sbom",
]

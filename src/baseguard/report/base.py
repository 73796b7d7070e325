"""The scan output format family: one small interface and a registry keyed by ``-o`` name.

Formats are imported only when chosen (the registry holds ``module:Class`` strings), so
``baseguard scan`` starts without loading rich tables or SARIF code it will not use. Adding a
format is one module and one line in :data:`SCAN_FORMATS`.
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from baseguard.errors import UsageError

if TYPE_CHECKING:
    from baseguard.matching.findings import ScanResult

#: ``-o`` name -> ``module:Class`` of its :class:`ScanFormat`.
SCAN_FORMATS: dict[str, str] = {
    "table": "baseguard.report.scan_table:TableFormat",
    "json": "baseguard.report.scan_json:JsonFormat",
    "sarif": "baseguard.report.sarif:SarifFormat",
    "cyclonedx-vex": "baseguard.report.cyclonedx_vex:CycloneDxVexFormat",
    "markdown": "baseguard.report.markdown:MarkdownFormat",
}


@dataclass
class RenderOptions:
    """How to render: suppressed findings shown or not, colour, width (table only)."""

    show_suppressed: bool = False
    color: bool = False
    width: int = 120


class ScanFormat(ABC):
    """One ``baseguard scan -o`` format."""

    name: ClassVar[str]
    #: One line for ``--help``.
    description: ClassVar[str]

    @abstractmethod
    def render(self, result: ScanResult, options: RenderOptions) -> str:
        """The whole document as text."""


def scan_format(name: str) -> ScanFormat:
    """An instance of the format registered as ``name``."""
    try:
        target = SCAN_FORMATS[name]
    except KeyError:
        raise UsageError(
            f"unknown output format {name!r}",
            hint=f"choose one of: {', '.join(SCAN_FORMATS)}",
        ) from None
    module_name, _, class_name = target.partition(":")
    cls: type[ScanFormat] = getattr(importlib.import_module(module_name), class_name)
    return cls()


def severity_color(label: str) -> str:
    """The rich style a severity is shown in."""
    return {
        "CRITICAL": "bold white on red",
        "HIGH": "bold red",
        "MEDIUM": "yellow",
        "LOW": "green",
        "NEGLIGIBLE": "dim",
    }.get(label.upper(), "dim")


def target_label(result: ScanResult) -> str:
    """What was scanned, in a few words: the image name or reference, and its distro."""
    target = result.target
    name = target.get("name") or target.get("reference") or "the input"
    distro = (result.distro or {}).get("display")
    return f"{name} ({distro})" if distro and distro != "unknown" else str(name)


def fixed_text(versions: list[str]) -> str:
    return ", ".join(versions) if versions else "no fix yet"

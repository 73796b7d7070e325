"""Matching: an analysis against the vulnerability database, with VEX applied.

``match(analysis, db, vex=[...])`` returns a :class:`ScanResult`; ``load_vex(path)`` reads an
OpenVEX, CSAF or CycloneDX VEX document.
"""

from __future__ import annotations

from baseguard.matching.findings import Finding, ScanResult
from baseguard.matching.matcher import match
from baseguard.matching.vex import VexDocument, VexError, load_vex

__all__ = ["Finding", "ScanResult", "VexDocument", "VexError", "load_vex", "match"]

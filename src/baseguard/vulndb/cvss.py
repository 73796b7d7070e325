"""CVSS base scores from vectors (through the ``cvss`` library) and their severity labels.

Scores are cached per vector: a few thousand distinct vectors cover hundreds of thousands
of advisories, and CVSS v4 scoring is not cheap.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

from cvss import CVSS2, CVSS3, CVSS4


@lru_cache(maxsize=65536)
def base_score(kind: str, vector: str) -> float | None:
    """The base score of an OSV severity entry (``CVSS_V2``/``CVSS_V3``/``CVSS_V4``), or
    None when the type is not CVSS or the vector does not parse."""
    text = vector.strip()
    try:
        if text.startswith("CVSS:4."):
            return float(CVSS4(text).base_score)
        if text.startswith("CVSS:3."):
            return float(CVSS3(text).base_score)
        if kind == "CVSS_V2" and not text.startswith("CVSS:"):
            return float(CVSS2(text).base_score)
    except Exception:
        return None
    return None


def best_score(entries: Iterable[tuple[str, str]]) -> float | None:
    """Highest v3/v4 score of the entries; v2 only when there is no v3 or v4 vector."""
    modern: list[float] = []
    legacy: list[float] = []
    for kind, vector in entries:
        score = base_score(kind, vector)
        if score is None:
            continue
        (legacy if kind == "CVSS_V2" else modern).append(score)
    if modern:
        return max(modern)
    return max(legacy) if legacy else None


def label_for_score(score: float) -> str:
    """The CVSS v3 qualitative rating; 0.0 ("None") is NEGLIGIBLE."""
    if score >= 9.0:
        return "CRITICAL"
    if score >= 7.0:
        return "HIGH"
    if score >= 4.0:
        return "MEDIUM"
    if score >= 0.1:
        return "LOW"
    return "NEGLIGIBLE"

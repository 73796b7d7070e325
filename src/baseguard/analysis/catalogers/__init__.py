"""Catalogers, one module per package kind, registered by name.

Adding one is one module and one line in :data:`CATALOGERS`.
"""

from __future__ import annotations

from baseguard.analysis.catalogers.base import Cataloger

CATALOGERS: dict[str, type[Cataloger]] = {}


def default_catalogers() -> list[Cataloger]:
    return [cls() for cls in CATALOGERS.values()]

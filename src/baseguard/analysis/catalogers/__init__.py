"""Catalogers, one module per package kind, registered by name.

Adding one is one module and one line in :data:`CATALOGERS`.
"""

from __future__ import annotations

from baseguard.analysis.catalogers.apk import ApkCataloger
from baseguard.analysis.catalogers.base import Cataloger
from baseguard.analysis.catalogers.dpkg import DpkgCataloger
from baseguard.analysis.catalogers.golang import GoBinaryCataloger
from baseguard.analysis.catalogers.java import JavaArchiveCataloger
from baseguard.analysis.catalogers.npm import NpmCataloger
from baseguard.analysis.catalogers.python import PythonCataloger
from baseguard.analysis.catalogers.rpm import RpmCataloger

CATALOGERS: dict[str, type[Cataloger]] = {}
CATALOGERS["apk"] = ApkCataloger
CATALOGERS["dpkg"] = DpkgCataloger
CATALOGERS["rpm"] = RpmCataloger
CATALOGERS["python"] = PythonCataloger
CATALOGERS["npm"] = NpmCataloger
CATALOGERS["golang"] = GoBinaryCataloger
CATALOGERS["java"] = JavaArchiveCataloger


def default_catalogers() -> list[Cataloger]:
    return [cls() for cls in CATALOGERS.values()]

"""Ecosystem and package names as the vulnerability index keys them.

Feeds normalise what they import and :class:`~baseguard.vulndb.store.VulnDB` normalises
what it is asked for with the same two functions, so that ``Alpine:3.20`` finds
``Alpine:v3.20`` and ``Zope.Interface`` finds ``zope-interface``. Kept apart from the feeds
(which bring YAML, archives and CVSS scoring with them): a scan needs these and no feed.
"""

from __future__ import annotations

import re
from functools import lru_cache

_ECOSYSTEMS = {
    e.lower(): e
    for e in (
        "PyPI",
        "npm",
        "Go",
        "Maven",
        "crates.io",
        "RubyGems",
        "NuGet",
        "Packagist",
        "Hex",
        "Pub",
        "SwiftURL",
        "Hackage",
        "CRAN",
        "Bioconductor",
        "GitHub Actions",
        "Wolfi",
        "Chainguard",
        "Alpine",
        "Debian",
        "Ubuntu",
        "Linux",
        "Android",
        "OSS-Fuzz",
        "Rocky Linux",
        "AlmaLinux",
        "openSUSE",
        "SUSE",
        "Red Hat",
        "Photon OS",
        "Mageia",
        "Bitnami",
        "MinimOS",
    )
}
_ECOSYSTEMS["pip"] = "PyPI"
_ECOSYSTEMS["golang"] = "Go"
_ECOSYSTEMS["cargo"] = "crates.io"
_ECOSYSTEMS["gem"] = "RubyGems"

#: Debian codenames and the release numbers OSV uses for them.
DEBIAN_RELEASES = {
    "hamm": "2",
    "slink": "2.1",
    "potato": "2.2",
    "woody": "3.0",
    "sarge": "3.1",
    "etch": "4",
    "lenny": "5",
    "squeeze": "6",
    "wheezy": "7",
    "jessie": "8",
    "stretch": "9",
    "buster": "10",
    "bullseye": "11",
    "bookworm": "12",
    "trixie": "13",
    "forky": "14",
    "duke": "15",
    "sid": "unstable",
    "unstable": "unstable",
}

_ALPINE_RELEASE = re.compile(r"^v?(\d+)\.(\d+)(?:\.\d+)?$")
_PEP503 = re.compile(r"[-_.]+")


@lru_cache(maxsize=4096)
def normalize_ecosystem(value: str) -> str:
    """OSV's spelling of an ecosystem, with the release as baseguard indexes it.

    ``pypi`` -> ``PyPI``; ``Alpine:3.20``/``Alpine:v3.20.3`` -> ``Alpine:v3.20``;
    ``Alpine:edge`` stays; ``Debian:bookworm``/``Debian:12.4`` -> ``Debian:12``;
    ``Debian:sid`` -> ``Debian:unstable``; ``Ubuntu:22.04:LTS`` -> ``Ubuntu:22.04``
    (``Ubuntu:Pro:18.04:LTS`` -> ``Ubuntu:Pro:18.04``). Unknown names are kept as given.
    """
    text = value.strip()
    base, sep, release = text.partition(":")
    canonical = _ECOSYSTEMS.get(base.strip().lower(), base.strip())
    if not sep:
        return canonical
    release = release.strip()
    if canonical == "Alpine":
        match = _ALPINE_RELEASE.match(release)
        if match:
            release = f"v{match.group(1)}.{match.group(2)}"
        elif release.lower() == "edge":
            release = "edge"
    elif canonical == "Debian":
        lowered = release.lower()
        if lowered in DEBIAN_RELEASES:
            release = DEBIAN_RELEASES[lowered]
        else:
            release = release.split(".")[0] if release[:1].isdigit() else release
    elif canonical == "Ubuntu":
        parts = [p for p in release.split(":") if p and p.upper() != "LTS"]
        release = ":".join(parts)
    return f"{canonical}:{release}" if release else canonical


def normalize_pypi(name: str) -> str:
    """PEP 503: lower-case, runs of ``-``, ``_`` and ``.`` become one ``-``."""
    return _PEP503.sub("-", name).lower()


def normalize_package(ecosystem: str, name: str) -> str:
    """The package name as the index keys it: PEP 503 for PyPI, lower case for NuGet and
    Packagist (case-insensitive registries), unchanged elsewhere."""
    base = ecosystem.partition(":")[0]
    if base == "PyPI":
        return normalize_pypi(name)
    if base in ("NuGet", "Packagist"):
        return name.lower()
    return name

"""Which advisory ecosystem each package is matched in, under which name and version.

Precision before recall: distro packages are matched only against their own distro release's
data, by *source* package name (apk origin, deb ``Source``, rpm source RPM) and source
version; language packages against their ecosystem (PyPI names normalised per PEP 503, npm
names with their scope, Go module paths, Maven ``group:artifact``). Never CPEs. A package we
cannot place, or a release the database has no data for, becomes a warning that names it:
never a silent miss.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from packageurl import PackageURL

from baseguard.analysis.distro import DEBIAN_CODENAMES, Distro
from baseguard.analysis.packages import Package
from baseguard.vulndb.names import normalize_pypi

#: Package types matched against a distro's data, and the distro ids they belong to.
DISTRO_TYPES: dict[str, tuple[str, ...]] = {
    "apk": ("alpine", "wolfi", "chainguard"),
    "deb": ("debian", "ubuntu"),
    "rpm": ("rocky", "almalinux"),
}

#: Language package types and their OSV ecosystem.
LANGUAGE_ECOSYSTEMS: dict[str, str] = {
    "pypi": "PyPI",
    "npm": "npm",
    "golang": "Go",
    "maven": "Maven",
}

_DEBIAN_RELEASES = {codename: number for number, codename in DEBIAN_CODENAMES.items()}
#: Go versions that name no release: a build from a working tree, a local replacement.
_GO_UNVERSIONED = ("", "(devel)")


def distro_ecosystems(distro: Distro) -> list[str]:
    """The OSV ecosystem names a distro release's advisories are filed under, most specific
    first (``Ubuntu:22.04:LTS`` before ``Ubuntu:22.04``). Empty when we know none."""
    did = (distro.id or "").lower()
    version = distro.version_id or ""
    if did == "alpine":
        match = re.match(r"(\d+)\.(\d+)", version)
        return [f"Alpine:v{match.group(1)}.{match.group(2)}"] if match else []
    if did == "wolfi" or distro.variant == "wolfi":
        return ["Wolfi"]
    if did == "chainguard" or distro.variant == "chainguard":
        return ["Chainguard"]
    if did == "debian":
        major = version.split(".")[0] if version else ""
        if not major.isdigit():
            major = _DEBIAN_RELEASES.get((distro.codename or "").lower(), "")
        return [f"Debian:{major}"] if major else []
    if did == "ubuntu":
        match = re.match(r"(\d+\.\d+)", version)
        if not match:
            return []
        release = match.group(1)
        year, _, month = release.partition(".")
        lts = month == "04" and int(year) % 2 == 0
        return [f"Ubuntu:{release}:LTS", f"Ubuntu:{release}"] if lts else [f"Ubuntu:{release}"]
    if did == "rocky":
        major = version.split(".")[0]
        return [f"Rocky Linux:{major}"] if major.isdigit() else []
    if did == "almalinux":
        major = version.split(".")[0]
        return [f"AlmaLinux:{major}"] if major.isdigit() else []
    return []


def distro_label(distro: Distro) -> str:
    """``alpine 3.21`` — how a warning names a release."""
    parts = [p for p in (distro.id, distro.version_id or distro.codename) if p]
    return " ".join(parts) if parts else "an unidentified distribution"


@dataclass(slots=True)
class Target:
    """One package to look up: in which ecosystem, under which names, at which version."""

    package: Package
    ecosystem: str
    names: tuple[str, ...]
    version: str
    distro: bool


@dataclass
class Plan:
    """Targets grouped per ecosystem (one batched lookup each), and what could not be placed."""

    targets: dict[str, list[Target]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def names(self, ecosystem: str) -> list[str]:
        seen: dict[str, None] = {}
        for target in self.targets.get(ecosystem, []):
            for name in target.names:
                seen.setdefault(name, None)
        return list(seen)


def language_name(pkg: Package) -> str:
    """The name a language package is filed under in its ecosystem (from its purl when the
    name alone does not say: Go module paths and Maven ``group:artifact`` are split across
    purl fields)."""
    if pkg.type == "pypi":
        return normalize_pypi(pkg.name)
    if pkg.type == "golang" and ("/" in pkg.name or pkg.name == "stdlib"):
        return pkg.name
    if pkg.type == "maven" and ":" in pkg.name:
        return pkg.name
    if pkg.type == "npm" and pkg.name.startswith("@"):
        return pkg.name
    if pkg.type not in ("golang", "maven", "npm"):
        return pkg.name
    try:
        purl = PackageURL.from_string(pkg.purl) if pkg.purl else None
    except ValueError:
        purl = None
    if purl is None or not purl.namespace:
        return pkg.name
    sep = ":" if pkg.type == "maven" else "/"
    return f"{purl.namespace}{sep}{purl.name}"


def language_version(pkg: Package) -> str | None:
    """The version compared against the ecosystem's ranges; None when there is none."""
    version = pkg.version.strip()
    if pkg.type == "golang":
        if version in _GO_UNVERSIONED:
            return None
        if version.startswith("go"):  # stdlib as the toolchain names it: go1.22.5
            version = version[2:]
        return version[1:] if version.startswith("v") else version
    return version or None


def plan(distro: Distro, packages: Iterable[Package], available: set[str]) -> Plan:
    """Place every package in the ecosystem it is matched in, given the ecosystems the
    database holds (``available``). Packages that cannot be placed are counted in warnings."""
    result = Plan()
    release_ecos = [e for e in distro_ecosystems(distro) if e in available]
    missing_distro: dict[str, int] = {}
    foreign: dict[str, int] = {}
    missing_language: dict[str, int] = {}
    unversioned: dict[str, int] = {}
    unknown_type: dict[str, int] = {}
    did = (distro.id or "").lower()
    variant = (distro.variant or "").lower()
    for pkg in packages:
        if pkg.type in DISTRO_TYPES:
            owners = DISTRO_TYPES[pkg.type]
            if did not in owners and variant not in owners:
                foreign[pkg.type] = foreign.get(pkg.type, 0) + 1
                continue
            if not release_ecos:
                missing_distro[pkg.type] = missing_distro.get(pkg.type, 0) + 1
                continue
            name = pkg.source_name or pkg.name
            version = pkg.source_version or pkg.version
            for eco in release_ecos:
                result.targets.setdefault(eco, []).append(
                    Target(pkg, eco, (name,), version, distro=True)
                )
        elif pkg.type in LANGUAGE_ECOSYSTEMS:
            eco = LANGUAGE_ECOSYSTEMS[pkg.type]
            if eco not in available:
                missing_language[pkg.type] = missing_language.get(pkg.type, 0) + 1
                continue
            lang_version = language_version(pkg)
            if lang_version is None:
                unversioned[pkg.type] = unversioned.get(pkg.type, 0) + 1
                continue
            name = language_name(pkg)
            names = (name,) if name == pkg.name else (name, pkg.name)
            result.targets.setdefault(eco, []).append(
                Target(pkg, eco, names, lang_version, distro=False)
            )
        else:
            unknown_type[pkg.type] = unknown_type.get(pkg.type, 0) + 1

    label = distro_label(distro)
    for ptype, count in sorted(missing_distro.items()):
        known = distro_ecosystems(distro)
        if known:
            where = " or ".join(known)
            result.warnings.append(
                f"no vulnerability data for {label} ({where}) in the database; "
                f"{_count(count, ptype)} {_were(count)} not matched"
            )
        else:
            result.warnings.append(
                f"no vulnerability data source is known for {label}; "
                f"{_count(count, ptype)} {_were(count)} not matched"
            )
    for ptype, count in sorted(foreign.items()):
        result.warnings.append(
            f"{_count(count, ptype)} found in an image detected as {label}; "
            f"{_were(count)} not matched (their distro release is unknown)"
        )
    for ptype, count in sorted(missing_language.items()):
        eco = LANGUAGE_ECOSYSTEMS[ptype]
        result.warnings.append(
            f"no vulnerability data for {eco} in the database; "
            f"{_count(count, ptype)} {_were(count)} not matched"
        )
    for ptype, count in sorted(unversioned.items()):
        result.warnings.append(
            f"{_count(count, ptype)} {'has' if count == 1 else 'have'} no release version "
            f"(devel build or local replacement) and {_were(count)} not matched"
        )
    for ptype, count in sorted(unknown_type.items()):
        result.warnings.append(
            f"{_count(count, ptype)} of a type baseguard does not match {_were(count)} not matched"
        )
    return result


def _count(n: int, ptype: str) -> str:
    return f"{n} {ptype} package{'s' if n != 1 else ''}"


def _were(n: int) -> str:
    return "was" if n == 1 else "were"

"""Alpine secdb (``v<X.Y>/{main,community}.json``) and the Wolfi / Chainguard
``security.json`` files in the same shape.

Each ``secfixes`` entry says "this package version fixed these issues"; a version of ``"0"``
says the package was never affected. Every issue becomes one advisory per file (id = the
CVE, other ids such as ``XSA-182`` or ``TALOS-2017-0394`` as aliases) with one
:class:`~baseguard.vulndb.model.Affected` per package: ``introduced 0, fixed <version>``,
or ``not_affected``.

Real files have quirks, all handled here: several ids in one string (``"CVE-2016-6258
XSA-182"``), notes in parentheses (``"CVE-2018-14881 (BGP)"``), ``CVE_2019-2426`` and
``CVE 2018-16859`` spellings, placeholders (``"CVE-????-?????  XSA-284"``), suffixes
(``CVE-2017-8073.patch``), non-CVE ids alone (``XSA-207``, ``ALPINE-13661``, ``GHSA-…``,
``wnpa-sec-2017-18``), null or empty lists, and a ``distroversion`` that disagrees with the
file's place (the release in the path wins). When one issue is listed under several fixed
versions of a package, the earliest is kept.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

from baseguard.vulndb.feeds.base import (
    MAX_DOCUMENT_BYTES,
    AdvisoryFeed,
    MalformedRecord,
    Source,
    load_document,
    read_source_file,
)
from baseguard.vulndb.model import FIXED, INTRODUCED, Advisory, Affected, Range
from baseguard.vulndb.names import normalize_ecosystem
from baseguard.vulndb.store import VulnDbError

_CVE = re.compile(r"CVE[-_ ](\d{4})-(\d{4,})", re.IGNORECASE)
_OTHER_ID = re.compile(r"^[A-Za-z][A-Za-z0-9]*(?:-[A-Za-z0-9]+)+$")
_NOTE = re.compile(r"\([^)]*\)")
_RELEASE = re.compile(r"^v\d+\.\d+$|^edge$")


def parse_secfix(entry: str) -> tuple[list[str], list[str]]:
    """Split one secfixes string into (primary ids, aliases).

    CVEs are the primary ids when there are any; otherwise the first other id is.
    """
    text = _NOTE.sub(" ", entry)
    cves = list(dict.fromkeys(f"CVE-{y}-{n}" for y, n in _CVE.findall(text)))
    rest = _CVE.sub(" ", text)
    others: list[str] = []
    for token in rest.split():
        token = token.strip(",;:")
        if token.lower().endswith(".patch"):
            token = token[: -len(".patch")]
        if _OTHER_ID.match(token) and token not in others:
            others.append(token)
    if cves:
        return cves, others
    if others:
        return others[:1], others[1:]
    return [], []


def earliest(versions: list[str]) -> str:
    """The earliest of several apk versions in apk's own order (the first given when one
    does not parse)."""
    from baseguard.vulndb.versions import VersionError, compare

    best = versions[0]
    try:
        for version in versions[1:]:
            if compare("apk", version, best) < 0:
                best = version
    except VersionError:
        return versions[0]
    return best


@dataclass
class _Entry:
    fixed: list[str] = field(default_factory=list)
    not_affected: bool = False


class SecdbFeed(AdvisoryFeed):
    """The secdb reader; subclasses say which distribution a file belongs to."""

    #: ``Advisory.source`` for the records.
    source_label: ClassVar[str]
    #: Fixed ecosystem (Wolfi, Chainguard), or None to take ``Alpine:v<X.Y>`` per file.
    ecosystem: ClassVar[str | None] = None
    reference: ClassVar[str | None] = None

    def ecosystem_for(self, source: Source, doc: dict[str, Any]) -> str:
        if self.ecosystem is not None:
            return self.ecosystem
        return "Alpine"

    def iter_advisories(self, source: Source) -> Iterator[Advisory]:
        path = source.path
        data = read_source_file(path, MAX_DOCUMENT_BYTES)
        try:
            doc = load_document(data, path.name, max_bytes=MAX_DOCUMENT_BYTES)
        except MalformedRecord as exc:
            raise VulnDbError(f"{source.location}: {exc}") from None
        # An empty repository says "packages": "" (or null) in real files.
        packages = doc.get("packages") if isinstance(doc, dict) else None
        if isinstance(doc, dict) and packages in (None, ""):
            packages = []
        if not isinstance(doc, dict) or not isinstance(packages, list):
            raise VulnDbError(
                f"{source.location}: not a secdb file (no 'packages' list)",
                hint="the file should look like https://secdb.alpinelinux.org/v3.20/main.json",
            )
        ecosystem = self.ecosystem_for(source, doc)
        issues: dict[str, dict[str, _Entry]] = {}
        aliases: dict[str, list[str]] = {}
        for index, item in enumerate(packages):
            pkg = item.get("pkg") if isinstance(item, dict) else None
            name = pkg.get("name") if isinstance(pkg, dict) else None
            if not isinstance(pkg, dict) or not isinstance(name, str) or not name:
                self.stats.skip(f"{path.name}: packages[{index}]", "no package name")
                continue
            secfixes = pkg.get("secfixes") or {}
            if not isinstance(secfixes, dict):
                self.stats.skip(f"{path.name}: {name}", "secfixes is not a mapping")
                continue
            for version, ids in secfixes.items():
                where = f"{path.name}: {name} {version}"
                if not isinstance(ids, list):
                    self.stats.skip(where, "the fixed issues are not a list")
                    continue
                version = str(version).strip()
                for raw in ids:
                    if not isinstance(raw, str):
                        self.stats.skip(where, f"{raw!r} is not a string")
                        continue
                    primary, others = parse_secfix(raw)
                    if not primary:
                        self.stats.skip(where, f"no vulnerability id in {raw!r}")
                        continue
                    for vuln_id in primary:
                        entry = issues.setdefault(vuln_id, {}).setdefault(name, _Entry())
                        if version == "0":
                            entry.not_affected = True
                        elif version not in entry.fixed:
                            entry.fixed.append(version)
                        known = aliases.setdefault(vuln_id, [])
                        known.extend(o for o in others if o not in known and o != vuln_id)
        for vuln_id, packages in issues.items():
            affected: list[Affected] = []
            for name, entry in packages.items():
                if entry.fixed:
                    if entry.not_affected:
                        self.stats.note(
                            f"{path.name}: {name} {vuln_id}",
                            "listed as fixed and as never affected; the fix is kept",
                        )
                    fixed = earliest(entry.fixed)
                    affected.append(
                        Affected(
                            ecosystem=ecosystem,
                            package=name,
                            ranges=[Range("ECOSYSTEM", [(INTRODUCED, "0"), (FIXED, fixed)])],
                        )
                    )
                else:
                    affected.append(Affected(ecosystem=ecosystem, package=name, not_affected=True))
            self.stats.records += 1
            yield Advisory(
                id=vuln_id,
                source=self.source_label,
                aliases=aliases.get(vuln_id, []),
                affected=affected,
                references=[self.reference.format(id=vuln_id)] if self.reference else [],
            )


class AlpineSecdbFeed(SecdbFeed):
    """Alpine's ``secdb.alpinelinux.org/v<X.Y>/{main,community}.json``."""

    name = "alpine"
    source_label = "alpine-secdb"
    reference = "https://security.alpinelinux.org/vuln/{id}"

    def ecosystem_for(self, source: Source, doc: dict[str, Any]) -> str:
        from_path = next(
            (p for p in reversed(source.path.parent.parts) if _RELEASE.match(p)), None
        ) or next((p for p in source.name.split("/") if _RELEASE.match(p)), None)
        declared = doc.get("distroversion")
        release = from_path or (str(declared) if declared else None)
        if not release:
            raise VulnDbError(
                f"{source.location}: cannot tell the Alpine release",
                hint="put the file at alpine/v<X.Y>/main.json in the mirror",
            )
        if declared and from_path and str(declared) != from_path:
            self.stats.note(
                source.path.name,
                f"says distroversion {declared} but sits under {from_path}; {from_path} is used",
            )
        return normalize_ecosystem(f"Alpine:{release}")


class WolfiSecdbFeed(SecdbFeed):
    """Wolfi's ``packages.wolfi.dev/os/security.json``."""

    name = "wolfi"
    source_label = "wolfi"
    ecosystem = "Wolfi"


class ChainguardSecdbFeed(SecdbFeed):
    """Chainguard's ``packages.cgr.dev/chainguard/security.json``."""

    name = "chainguard"
    source_label = "chainguard"
    ecosystem = "Chainguard"

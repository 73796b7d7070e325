"""The Debian security tracker's JSON (``security-tracker.debian.org/tracker/data/json``).

Shape: ``{source package: {issue id: {"description", "releases": {codename: {"status",
"fixed_version", "urgency", …}}}}}``. Package names are *source* package names. Per release:

* ``resolved`` with ``fixed_version`` ``"0"`` - the release's package was never affected
  (the tracker's ``<not-affected>``): ``Affected(not_affected=True)``;
* ``resolved`` with a version - ``introduced 0, fixed <version>``;
* ``open`` or ``undetermined`` - ``introduced 0`` and no fix yet;
* ``urgency`` becomes ``Affected.severity``: ``unimportant`` -> NEGLIGIBLE, ``low`` /
  ``medium`` / ``high`` (a trailing ``*`` or ``**`` only says the urgency was not set by the
  security team) -> LOW / MEDIUM / HIGH; ``not yet assigned`` and ``end-of-life`` -> None.

Codenames become OSV's ``Debian:<number>`` (``sid`` -> ``Debian:unstable``); unknown
codenames are skipped with a note. The file is streamed one source package at a time.
An issue that names several source packages is one advisory; the store merges the parts.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from baseguard.vulndb.feeds.base import (
    AdvisoryFeed,
    Source,
    iter_json_object,
    maybe_gunzip,
)
from baseguard.vulndb.model import (
    FIXED,
    INTRODUCED,
    Advisory,
    Affected,
    Range,
    label_for_word,
    severity_rank,
)
from baseguard.vulndb.names import DEBIAN_RELEASES
from baseguard.vulndb.store import VulnDbError

MAX_PACKAGE_BYTES = 128 * 1024 * 1024
MAX_DESCRIPTION = 500
TRACKER_URL = "https://security-tracker.debian.org/tracker/{id}"


def release_affected(package: str, codename: str, info: dict[str, Any]) -> Affected | str:
    """One release's statement as an :class:`Affected`, or a reason it cannot be used."""
    number = DEBIAN_RELEASES.get(codename.lower())
    if number is None:
        return f"unknown release {codename!r}"
    ecosystem = f"Debian:{number}"
    status = info.get("status")
    fixed = info.get("fixed_version")
    severity = label_for_word(info.get("urgency"))
    if status == "resolved":
        if fixed is None or str(fixed).strip() == "":
            return "resolved without a fixed version"
        fixed = str(fixed).strip()
        if fixed == "0":
            return Affected(ecosystem, package, not_affected=True, severity=severity)
        return Affected(
            ecosystem,
            package,
            ranges=[Range("ECOSYSTEM", [(INTRODUCED, "0"), (FIXED, fixed)])],
            severity=severity,
        )
    if status in ("open", "undetermined"):
        return Affected(
            ecosystem,
            package,
            ranges=[Range("ECOSYSTEM", [(INTRODUCED, "0")])],
            severity=severity,
        )
    return f"unknown status {status!r}"


class DebianTrackerFeed(AdvisoryFeed):
    """Debian's security tracker, one advisory per (issue, source package) part."""

    name = "debian"
    source_label = "debian"

    def iter_advisories(self, source: Source) -> Iterator[Advisory]:
        path = source.path
        try:
            raw = path.open("rb")
        except OSError as exc:
            raise VulnDbError(f"cannot read {path}: {exc}") from exc
        with raw, maybe_gunzip(raw) as stream:
            for package, issues in iter_json_object(
                stream, source.location, max_item_bytes=MAX_PACKAGE_BYTES
            ):
                if not isinstance(issues, dict):
                    self.stats.skip(f"{package}", "not an object of issues")
                    continue
                for vuln_id, issue in issues.items():
                    advisory = self._issue(package, vuln_id, issue)
                    if advisory is not None:
                        self.stats.records += 1
                        yield advisory

    def _issue(self, package: str, vuln_id: str, issue: Any) -> Advisory | None:
        where = f"{package} {vuln_id}"
        if not isinstance(issue, dict):
            self.stats.skip(where, "not an object")
            return None
        releases = issue.get("releases")
        if releases in (None, [], {}):
            return None  # the tracker lists the issue but no release carries the package
        if not isinstance(releases, dict):
            self.stats.skip(where, "'releases' is not an object")
            return None
        affected: list[Affected] = []
        label = "UNKNOWN"
        for codename, info in releases.items():
            if not isinstance(info, dict):
                self.stats.skip(f"{where} {codename}", "not an object")
                continue
            result = release_affected(package, str(codename), info)
            if isinstance(result, str):
                self.stats.note(f"{where} {codename}", result)
                continue
            affected.append(result)
            if result.severity and severity_rank(result.severity) > severity_rank(label):
                label = result.severity
        if not affected:
            return None
        affected.sort(key=lambda a: a.ecosystem)
        description = issue.get("description")
        summary = " ".join(description.split()) if isinstance(description, str) else ""
        if len(summary) > MAX_DESCRIPTION:
            summary = summary[: MAX_DESCRIPTION - 1] + "…"
        specific: dict[str, Any] = {}
        if isinstance(issue.get("debianbug"), int):
            specific["debianbug"] = issue["debianbug"]
        if isinstance(issue.get("scope"), str):
            specific["scope"] = issue["scope"]
        return Advisory(
            id=str(vuln_id),
            source=self.source_label,
            summary=summary,
            severity_label=label,
            affected=affected,
            references=[TRACKER_URL.format(id=vuln_id)],
            database_specific=specific,
        )

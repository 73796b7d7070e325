"""CISA's Known Exploited Vulnerabilities catalog (``known_exploited_vulnerabilities.json``).

Rows are ``(cveID, entry)`` where ``entry`` keeps the catalog's own field names
(``dateAdded``, ``dueDate``, ``knownRansomwareCampaignUse``, ``vendorProject``, ``product``,
``vulnerabilityName``, ``requiredAction``, ``shortDescription``, ``notes``, ``cwes``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from baseguard.vulndb.feeds.base import (
    MAX_DOCUMENT_BYTES,
    Feed,
    MalformedRecord,
    Source,
    load_json,
    read_source_file,
)
from baseguard.vulndb.store import VulnDbError

_CVE = re.compile(r"^CVE-\d{4}-\d{4,}$")
#: Entries longer than this (JSON characters per field) are trimmed to their first part.
MAX_FIELD = 2000


class KevFeed(Feed):
    """The KEV catalog; fills the ``kev`` table."""

    name = "kev"

    def iter_entries(self, source: Source) -> Iterator[tuple[str, dict[str, Any]]]:
        data = read_source_file(source.path, MAX_DOCUMENT_BYTES)
        try:
            doc = load_json(data, max_bytes=MAX_DOCUMENT_BYTES)
        except MalformedRecord as exc:
            raise VulnDbError(f"{source.location}: {exc}") from None
        entries = doc.get("vulnerabilities") if isinstance(doc, dict) else None
        if not isinstance(entries, list):
            raise VulnDbError(
                f"{source.location}: not the KEV catalog (no 'vulnerabilities' list)",
                hint="expected CISA's known_exploited_vulnerabilities.json",
            )
        for index, entry in enumerate(entries):
            cve = entry.get("cveID") if isinstance(entry, dict) else None
            if not isinstance(cve, str) or not _CVE.match(cve.strip()):
                self.stats.skip(f"vulnerabilities[{index}]", "no valid cveID")
                continue
            assert isinstance(entry, dict)
            kept: dict[str, Any] = {}
            for key, value in entry.items():
                if key == "cveID":
                    continue
                if isinstance(value, str):
                    kept[key] = value[:MAX_FIELD]
                elif isinstance(value, list):
                    kept[key] = [str(v)[:MAX_FIELD] for v in value[:50]]
                elif isinstance(value, int | float | bool) or value is None:
                    kept[key] = value
            self.stats.records += 1
            yield cve.strip(), kept

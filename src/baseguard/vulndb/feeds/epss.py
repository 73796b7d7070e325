"""FIRST EPSS scores: ``epss_scores-current.csv.gz`` (or plain CSV).

The file starts with a comment line (``#model_version:v2025.03.14,score_date:…``), then a
``cve,epss,percentile`` header and one row per CVE. Rows that do not parse are skipped.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterator

from baseguard.vulndb.feeds.base import Feed, Source, maybe_gunzip
from baseguard.vulndb.store import VulnDbError

MAX_LINE = 4096


class EpssFeed(Feed):
    """EPSS scores; fills the ``epss`` table."""

    name = "epss"

    def __init__(self) -> None:
        super().__init__()
        #: The ``#model_version…`` comment, when the file has one.
        self.model: str | None = None

    def iter_scores(self, source: Source) -> Iterator[tuple[str, float, float]]:
        path = source.path
        try:
            raw = path.open("rb")
        except OSError as exc:
            raise VulnDbError(f"cannot read {path}: {exc}") from exc
        with raw, maybe_gunzip(raw) as binary:
            text = io.TextIOWrapper(binary, encoding="utf-8", errors="replace", newline="")
            try:
                yield from self._rows(text, source)
            except (OSError, EOFError) as exc:
                raise VulnDbError(f"cannot read {source.location}: {exc}") from exc

    def _rows(self, text: io.TextIOWrapper, source: Source) -> Iterator[tuple[str, float, float]]:
        columns: dict[str, int] | None = None
        number = 0
        while line := text.readline(MAX_LINE + 1):
            number += 1
            if len(line) > MAX_LINE:
                while line and not line.endswith("\n"):  # drop the rest, a bounded read at a time
                    line = text.readline(MAX_LINE + 1)
                self.stats.skip(f"line {number}", "line too long")
                continue
            stripped = line.strip()
            if not stripped:
                continue
            if stripped.startswith("#"):
                self.model = self.model or stripped.lstrip("#")
                continue
            row = next(csv.reader([stripped]))
            if columns is None:
                lowered = [c.strip().lower() for c in row]
                if "cve" not in lowered or "epss" not in lowered:
                    raise VulnDbError(
                        f"{source.location}: line {number} is not an EPSS header "
                        "(cve,epss,percentile)"
                    )
                columns = {name: lowered.index(name) for name in lowered}
                continue
            try:
                cve = row[columns["cve"]].strip()
                score = float(row[columns["epss"]])
                percentile = float(row[columns["percentile"]]) if "percentile" in columns else 0.0
            except (IndexError, ValueError):
                self.stats.skip(f"line {number}", "not cve,epss,percentile")
                continue
            if not cve.startswith("CVE-") or not all(
                math.isfinite(v) and 0.0 <= v <= 1.0 for v in (score, percentile)
            ):
                self.stats.skip(f"line {number}", "not a CVE with scores between 0 and 1")
                continue
            self.stats.records += 1
            yield cve, score, percentile
        if columns is None:
            raise VulnDbError(f"{source.location}: no EPSS rows (empty file?)")

"""The Prometheus exposition: parsed by prometheus_client and by a strict line check."""

from __future__ import annotations

import math
import re
from datetime import timedelta
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from baseguard.catalog.model import CatalogEntry
from baseguard.monitor.metrics import MetricsSnapshot, collect, metrics_text, render
from baseguard.monitor.rematch import rematch_all
from baseguard.store import Store
from baseguard.vulndb.store import VulnDB
from tests.monitor.builders import T0, build_db, osv_record, pypi_analysis, write_mirror
from tests.store.builders import digest_of

SAMPLE = re.compile(
    r'^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*"'
    r'(,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*")*\})? (NaN|[+-]Inf|-?[0-9.eE+-]+)$'
)


def strict_check(text: str) -> dict[str, str]:
    """Every line is HELP, TYPE or a sample of a family whose TYPE came first."""
    assert text.endswith("\n")
    types: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("# HELP "):
            continue
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            assert kind in ("gauge", "counter", "histogram", "summary", "untyped")
            assert name not in types, f"{name} typed twice"
            types[name] = kind
            continue
        assert SAMPLE.match(line), line
        name = line.split("{")[0].split(" ")[0]
        family = re.sub(r"_(bucket|sum|count)$", "", name) if name not in types else name
        assert family in types, f"sample {name} before its TYPE"
    return types


def values(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def test_render_of_an_empty_snapshot_parses() -> None:
    text = render(MetricsSnapshot())
    types = strict_check(text)
    assert types["baseguard_scan_age_seconds"] == "histogram"
    got = values(text)
    assert got[("baseguard_catalog_coverage_ratio", ())] == 0
    assert math.isnan(got[("baseguard_vulndb_age_seconds", ())])


def test_metrics_from_a_store(store: Store, tmp_path: Path) -> None:
    entry = CatalogEntry.from_dict(
        {
            "id": "app",
            "provider": "internal",
            "repository": "registry.example/app",
            "tags": ["1"],
            "lifecycle": {"state": "approved"},
        }
    )
    store.upsert_catalog_entry(entry.to_dict(), "alice")
    store.save_analysis(pypi_analysis(digest_of(1), [("requests", "2.25.0")]), "ci")
    store.save_analysis(
        pypi_analysis(digest_of(2), [("flask", "1.0")], reference="docker.io/library/x:1"), "ci"
    )
    store.save_analysis(pypi_analysis(digest_of(3), [], reference="registry.example/app:2"), "ci")
    mirror = write_mirror(
        tmp_path / "m",
        [
            osv_record("GHSA-1", "requests", fixed="2.31.0", aliases=["CVE-2021-44228"]),
            osv_record("GHSA-2", "flask", severity="HIGH"),
        ],
        kev=["CVE-2021-44228"],
    )
    db_path = build_db(mirror, tmp_path / "v.sqlite", T0)
    with VulnDB.open(db_path) as db:
        rematch_all(store, db, now=T0)
    text = metrics_text(store, now=T0 + timedelta(hours=2), vulndb_path=db_path)
    strict_check(text)
    got = values(text)
    assert got[("baseguard_images", ())] == 3
    assert got[("baseguard_images_in_catalog", ())] == 1  # app:1 matches; app:2 is not a tag
    assert got[("baseguard_catalog_coverage_ratio", ())] == 1 / 3
    assert got[("baseguard_catalog_entries", (("state", "approved"),))] == 1
    assert got[("baseguard_findings", (("severity", "critical"),))] == 1
    assert got[("baseguard_findings", (("severity", "high"),))] == 1
    assert got[("baseguard_findings_fixable", ())] == 1
    assert got[("baseguard_findings_kev", ())] == 1
    assert got[("baseguard_scan_age_seconds_count", ())] == 3
    assert got[("baseguard_scan_age_seconds_bucket", (("le", "3600"),))] == 0
    assert got[("baseguard_scan_age_seconds_bucket", (("le", "21600"),))] == 3
    assert got[("baseguard_vulndb_age_seconds", ())] == 7200
    assert got[("baseguard_last_rematch_timestamp_seconds", ())] > 0


def test_sla_breaches_are_counted_by_severity(store: Store) -> None:
    from baseguard.monitor.sla import SlaClock

    clock = SlaClock(
        "python",
        "stable",
        "CVE-1",
        "openssl",
        "CRITICAL",
        timedelta(hours=24),
        T0,
        "sha256:" + "a" * 64,
        T0 + timedelta(hours=30),
        "sha256:" + "b" * 64,
        T0,
    )
    text = render(collect(store, now=T0, clocks=[clock]))
    got = values(text)
    assert got[("baseguard_sla_breaches", (("severity", "critical"),))] == 1
    assert got[("baseguard_sla_clocks", (("status", "breached"),))] == 1


def test_label_values_are_escaped() -> None:
    text = render(MetricsSnapshot(entries_by_state={'we"ird\nstate': 1}))
    strict_check(text)
    assert 'state="we\\"ird\\nstate"' in text

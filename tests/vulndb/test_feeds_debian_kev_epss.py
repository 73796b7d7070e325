"""The Debian security tracker feed (streamed), CISA KEV and EPSS."""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path
from typing import Any

import pytest

from baseguard.vulndb.feeds.base import Source, iter_json_object
from baseguard.vulndb.feeds.debian import DebianTrackerFeed
from baseguard.vulndb.feeds.epss import EpssFeed
from baseguard.vulndb.feeds.kev import KevFeed
from baseguard.vulndb.model import Advisory, Affected, label_for_word
from baseguard.vulndb.store import VulnDbError
from tests.conftest import realdata_path
from tests.vulndb.feed_builders import FIXTURES

PROVIDERS = ("feeds", "fixtures", "vunnel", "tests", "unit", "providers")


def tracker(path: Path) -> tuple[DebianTrackerFeed, list[Advisory]]:
    feed = DebianTrackerFeed()
    return feed, list(feed.iter_advisories(Source("debian", "debian", path, str(path))))


def by_release(advisories: list[Advisory], vuln_id: str, package: str) -> dict[str, Affected]:
    (advisory,) = [a for a in advisories if a.id == vuln_id and a.affected[0].package == package]
    return {a.ecosystem: a for a in advisory.affected}


def test_real_tracker_resolved_open_and_not_affected() -> None:
    _, advisories = tracker(
        realdata_path(*PROVIDERS, "debian", "test-fixtures", "input", "debian.json")
    )
    resolved = by_release(advisories, "CVE-2008-7220", "prototypejs")
    assert set(resolved) == {"Debian:8", "Debian:9", "Debian:10", "Debian:unstable"}
    assert resolved["Debian:10"].ranges[0].events == [("introduced", "0"), ("fixed", "1.6.0.2-1")]
    assert resolved["Debian:10"].severity == "HIGH"  # "high**"
    never = by_release(advisories, "CVE-2007-2383", "prototypejs")
    assert all(a.not_affected for a in never.values())
    assert never["Debian:9"].severity == "NEGLIGIBLE"  # urgency "unimportant"
    sope = by_release(advisories, "CVE-2025-53603", "sope")
    assert sope["Debian:12"].ranges[0].events[-1] == ("fixed", "5.8.0-1+deb12u1")
    advisory = next(a for a in advisories if a.id == "CVE-2008-7220")
    assert advisory.source == "debian"
    assert advisory.references == ["https://security-tracker.debian.org/tracker/CVE-2008-7220"]
    assert advisory.database_specific["debianbug"] == 555217
    assert "Prototype JavaScript framework" in advisory.summary


def test_real_tracker_open_issue_has_no_fix_and_keeps_its_urgency() -> None:
    path = realdata_path(
        "feeds", "fixtures", "osv.dev", "vulnfeeds", "test_data", "debian",
        "debian_security_tracker_mock.json",
    )  # fmt: skip
    _, advisories = tracker(path)
    open_issue = by_release(advisories, "CVE-2016-1585", "apparmor")
    bookworm = open_issue["Debian:12"]
    assert bookworm.ranges[0].events == [("introduced", "0")]
    assert bookworm.severity == "NEGLIGIBLE"
    assert not bookworm.not_affected
    assert by_release(advisories, "CVE-2014-1424", "apparmor")["Debian:12"].not_affected


def test_empty_release_list_is_not_an_error() -> None:
    feed, advisories = tracker(
        realdata_path(*PROVIDERS, "debian", "test-fixtures", "input", "debian.json")
    )
    assert not [a for a in advisories if a.affected[0].package == "chromium-browser"]
    assert feed.stats.skipped == 0


def test_unknown_codename_and_status_are_noted_not_imported(tmp_path: Path) -> None:
    doc = {
        "pkg": {
            "CVE-2024-1": {
                "releases": {
                    "bookworm": {"status": "open", "urgency": "medium"},
                    "hamster": {"status": "open", "urgency": "low"},
                    "trixie": {"status": "weird"},
                    "sid": {"status": "undetermined", "urgency": "not yet assigned"},
                }
            }
        }
    }
    path = tmp_path / "tracker.json"
    path.write_text(json.dumps(doc))
    feed, (advisory,) = tracker(path)
    assert [a.ecosystem for a in advisory.affected] == ["Debian:12", "Debian:unstable"]
    assert advisory.severity_label == "MEDIUM"
    assert advisory.affected[1].severity is None
    assert len(feed.stats.problems) == 2


def test_gzipped_tracker_is_read(tmp_path: Path) -> None:
    real = realdata_path(*PROVIDERS, "debian", "test-fixtures", "input", "debian.json")
    path = tmp_path / "tracker.json.gz"
    path.write_bytes(gzip.compress(real.read_bytes()))
    assert len(tracker(path)[1]) == len(tracker(real)[1])


@pytest.mark.parametrize("chunk", [1, 2, 3, 7, 64, 4096])
def test_streamed_object_matches_json_load_at_any_chunk_size(chunk: int) -> None:
    real = realdata_path(*PROVIDERS, "debian", "test-fixtures", "input", "debian.json")
    data = real.read_bytes()
    streamed = dict(iter_json_object(io.BytesIO(data), "t", chunk_size=chunk))
    assert streamed == json.loads(data)


@pytest.mark.parametrize("text", ['{"a": 1, "b": [true, null, 2.5e3], "c": "é\\u00e9"}', "{}"])
def test_streamed_object_handles_scalars_and_empty_objects(text: str) -> None:
    for chunk in (1, 5, 1000):
        stream = io.BytesIO(text.encode())
        assert dict(iter_json_object(stream, "t", chunk_size=chunk)) == json.loads(text)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"[1, 2]", "expected a JSON object"),
        (b'{"a": {"b": 1}', "ends before the object is closed"),
        (b'{"a": {"b": ', "invalid JSON"),
        (b'{"a": 1 "b": 2}', "expected ','"),
        (b'{"a": ' + b"[" * 10000 + b"]" * 10000 + b"}", "nested too deeply"),
        (b'{"a": "\xff\xfe"}', "not UTF-8"),
    ],
)
def test_broken_tracker_fails_with_the_file_named(
    tmp_path: Path, content: bytes, message: str
) -> None:
    path = tmp_path / "tracker.json"
    path.write_bytes(content)
    with pytest.raises(VulnDbError, match=message) as caught:
        tracker(path)
    assert str(path) in caught.value.message


def test_value_over_the_item_limit_is_refused() -> None:
    big = b'{"a": "' + b"x" * 5000 + b'"}'
    with pytest.raises(VulnDbError, match="larger than"):
        list(iter_json_object(io.BytesIO(big), "t", max_item_bytes=1000, chunk_size=100))


@pytest.mark.parametrize(
    ("urgency", "label"),
    [
        ("high**", "HIGH"),
        ("medium*", "MEDIUM"),
        ("low", "LOW"),
        ("unimportant", "NEGLIGIBLE"),
        ("not yet assigned", None),
        ("end-of-life", None),
        (None, None),
    ],
)
def test_urgency_labels(urgency: Any, label: str | None) -> None:
    assert label_for_word(urgency) == label


def test_kev_entries_keep_the_catalog_fields() -> None:
    feed = KevFeed()
    path = FIXTURES / "kev.json"
    rows = dict(feed.iter_entries(Source("kev", "kev", path, str(path))))
    assert set(rows) == {"CVE-2021-44228", "CVE-2014-0160", "CVE-2023-4863"}
    log4shell = rows["CVE-2021-44228"]
    assert log4shell["dateAdded"] == "2021-12-10"
    assert log4shell["dueDate"] == "2021-12-24"
    assert log4shell["knownRansomwareCampaignUse"] == "Known"
    assert log4shell["cwes"] == ["CWE-20", "CWE-400", "CWE-502"]
    assert feed.stats.skipped == 1


def test_kev_file_without_vulnerabilities_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "kev.json"
    path.write_text('{"title": "something else"}')
    with pytest.raises(VulnDbError, match="not the KEV catalog"):
        list(KevFeed().iter_entries(Source("kev", "kev", path, str(path))))


@pytest.mark.parametrize("compress", [False, True])
def test_epss_rows_plain_and_gzipped(tmp_path: Path, compress: bool) -> None:
    data = (FIXTURES / "epss.csv").read_bytes()
    path = tmp_path / ("epss.csv.gz" if compress else "epss.csv")
    path.write_bytes(gzip.compress(data) if compress else data)
    feed = EpssFeed()
    rows = {cve: (s, p) for cve, s, p in feed.iter_scores(Source("epss", "epss", path, "x"))}
    assert rows["CVE-2021-44228"] == (0.94358, 0.99955)
    assert len(rows) == 5
    assert feed.stats.skipped == 3
    assert feed.model is not None and feed.model.startswith("model_version:v2025.03.14")


def test_epss_without_header_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "epss.csv"
    path.write_text("hello,world\n1,2\n")
    with pytest.raises(VulnDbError, match="EPSS header"):
        list(EpssFeed().iter_scores(Source("epss", "epss", path, str(path))))


def test_epss_line_without_end_is_read_a_bounded_piece_at_a_time(tmp_path: Path) -> None:
    path = tmp_path / "epss.csv"
    path.write_bytes(b"cve,epss,percentile\nCVE-2024-0001,0.1,0.2\n" + b"9" * 5_000_000)
    feed = EpssFeed()
    rows = list(feed.iter_scores(Source("epss", "epss", path, str(path))))
    assert rows == [("CVE-2024-0001", 0.1, 0.2)]
    assert feed.stats.skipped == 1

"""The OSV feed: real PyPI records, severities, ranges, archives, and hostile input."""

from __future__ import annotations

import io
import json
import struct
import tarfile
import tracemalloc
import zipfile
from pathlib import Path

import pytest

from baseguard.vulndb.feeds.base import (
    MAX_RECORD_BYTES,
    MalformedRecord,
    Source,
    load_yaml,
)
from baseguard.vulndb.feeds.osv import OsvFeed, _zip64_sizes, osv_to_advisory
from baseguard.vulndb.names import normalize_ecosystem, normalize_package
from baseguard.vulndb.store import VulnDbError
from tests.conftest import realdata_path
from tests.vulndb.feed_builders import osv_record, write_zip


def read(source: Path) -> tuple[OsvFeed, list[str]]:
    feed = OsvFeed()
    ids = [a.id for a in feed.iter_advisories(Source("osv", "osv/test", source, str(source)))]
    return feed, ids


def test_real_pypi_record_keeps_aliases_ranges_versions_and_scores_cvss() -> None:
    path = realdata_path("feeds", "osv-pypi", "sample", "vulns", "urllib3", "PYSEC-2023-192.yaml")
    advisory = osv_to_advisory(load_yaml(path.read_bytes()))
    assert advisory.id == "PYSEC-2023-192"
    assert advisory.aliases == ["CVE-2023-43804", "GHSA-v845-jxx5-vc9f"]
    assert advisory.cve_ids == ["CVE-2023-43804"]
    assert advisory.cvss_score == 8.1
    assert advisory.severity_label == "HIGH"
    assert advisory.modified == "2023-10-10T14:28:19.389317Z"
    (affected,) = advisory.affected
    assert (affected.ecosystem, affected.package) == ("PyPI", "urllib3")
    assert [r.type for r in affected.ranges] == ["ECOSYSTEM"]  # the GIT range is dropped
    assert affected.ranges[0].events == [
        ("introduced", "2.0.0"),
        ("fixed", "2.0.6"),
        ("introduced", "0"),
        ("fixed", "1.26.17"),
    ]
    assert "1.10" in affected.versions and "1.1" in affected.versions  # strings, not floats


def test_ghsa_word_severity_is_used_when_there_is_no_vector() -> None:
    record = osv_record(
        "GHSA-aaaa-bbbb-cccc", "demo", database_specific={"severity": "MODERATE", "cwe_ids": []}
    )
    advisory = osv_to_advisory(record)
    assert advisory.cvss_score is None
    assert advisory.severity_label == "MEDIUM"
    assert advisory.database_specific["severity"] == "MODERATE"


def test_cvss_v4_vector_is_scored_and_the_highest_score_wins() -> None:
    record = osv_record(
        "GHSA-dddd-eeee-ffff",
        "demo",
        severity=[
            {"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:U/C:L/I:N/A:N"},
            {
                "type": "CVSS_V4",
                "score": "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N",
            },
        ],
        database_specific={"severity": "LOW"},
    )
    advisory = osv_to_advisory(record)
    assert advisory.cvss_score == 9.3
    assert advisory.severity_label == "CRITICAL"


def test_unparseable_vector_leaves_the_score_empty() -> None:
    record = osv_record("X-1", "demo", severity=[{"type": "CVSS_V3", "score": "CVSS:3.1/AV:Q"}])
    advisory = osv_to_advisory(record)
    assert advisory.cvss_score is None
    assert advisory.severity_label == "UNKNOWN"


def test_git_only_affected_entries_are_dropped_and_upstream_is_kept() -> None:
    record = osv_record("DLA-1-1", "linux", ecosystem="Debian:11", upstream=["CVE-2023-1"])
    record["affected"].append(
        {
            "package": {"ecosystem": "GIT", "name": "https://example.org/x.git"},
            "ranges": [{"type": "GIT", "events": [{"introduced": "abc"}, {"fixed": "def"}]}],
        }
    )
    advisory = osv_to_advisory(record)
    assert [(a.ecosystem, a.package) for a in advisory.affected] == [("Debian:11", "linux")]
    assert advisory.database_specific["upstream"] == ["CVE-2023-1"]


def test_large_database_specific_values_are_dropped() -> None:
    record = osv_record("X-2", "demo", database_specific={"small": 1, "huge": "x" * 5000})
    assert osv_to_advisory(record).database_specific == {"small": 1}


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("pypi", "PyPI"),
        ("PyPI", "PyPI"),
        ("Alpine:v3.20", "Alpine:v3.20"),
        ("Alpine:3.20", "Alpine:v3.20"),
        ("Alpine:v3.20.3", "Alpine:v3.20"),
        ("Alpine:edge", "Alpine:edge"),
        ("Debian:12", "Debian:12"),
        ("Debian:12.4", "Debian:12"),
        ("Debian:bookworm", "Debian:12"),
        ("Debian:sid", "Debian:unstable"),
        ("Ubuntu:22.04:LTS", "Ubuntu:22.04"),
        ("Ubuntu:Pro:18.04:LTS", "Ubuntu:Pro:18.04"),
        ("crates.io", "crates.io"),
        ("Wolfi", "Wolfi"),
        ("SomethingNew:1", "SomethingNew:1"),
    ],
)
def test_ecosystem_names_are_normalised(given: str, expected: str) -> None:
    assert normalize_ecosystem(given) == expected


def test_pypi_names_are_normalised_per_pep_503_and_others_are_not() -> None:
    assert normalize_package("PyPI", "Zope.Interface_x") == "zope-interface-x"
    assert normalize_package("npm", "@Scope/Pkg") == "@Scope/Pkg"
    assert normalize_package("NuGet", "Newtonsoft.Json") == "newtonsoft.json"


def test_real_pypa_snapshot_tarball_is_streamed(tmp_path: Path) -> None:
    (tarball,) = realdata_path("feeds", "osv-pypi").glob("*.tar.gz")
    feed, ids = read(tarball)
    assert feed.stats.records == 2661
    assert len(set(ids)) == 2661
    assert "PYSEC-2023-192" in ids
    # triage/false_positives.yaml is the one YAML file that is not an OSV record
    assert feed.stats.skipped == 1
    assert "false_positives.yaml" in feed.stats.problems[0]


def test_zip_bomb_member_is_skipped_with_bounded_memory(tmp_path: Path) -> None:
    path = tmp_path / "all.zip"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("GOOD-1.json", json.dumps(osv_record("GOOD-1", "a")))
        # 200 MiB of spaces: a valid-looking JSON prefix that decompresses far past the cap
        with archive.open("BOMB-1.json", "w", force_zip64=True) as member:
            member.write(b'{"id": "BOMB-1", "x": "')
            block = b" " * (1 << 20)
            for _ in range(200):
                member.write(block)
        archive.writestr("GOOD-2.json", json.dumps(osv_record("GOOD-2", "b")))
    assert path.stat().st_size < 2 * 1024 * 1024
    tracemalloc.start()
    try:
        feed, ids = read(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert ids == ["GOOD-1", "GOOD-2"]
    assert feed.stats.skipped == 1
    assert "BOMB-1.json" in feed.stats.problems[0]
    assert peak < 3 * MAX_RECORD_BYTES


def test_zip_member_that_lies_about_its_size_is_capped(tmp_path: Path) -> None:
    path = tmp_path / "all.zip"
    write_zip(
        path,
        {
            "LIAR-1.json": b"[" * 10 + b" " * (MAX_RECORD_BYTES + 10) + b"]" * 10,
            "OK-1.json": osv_record("OK-1", "ok"),
        },
    )
    # rewrite the declared size (local header and central directory) to claim 100 bytes:
    # inflating stops at the cap whatever the member claims
    data = bytearray(path.read_bytes())
    info = zipfile.ZipFile(io.BytesIO(bytes(data))).infolist()[0]
    real = info.file_size.to_bytes(4, "little")
    fake = (100).to_bytes(4, "little")
    assert data.count(real) == 2
    path.write_bytes(bytes(data).replace(real, fake))
    tracemalloc.start()
    try:
        feed, ids = read(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert ids == ["OK-1"]
    assert feed.stats.skipped == 1 and "LIAR-1.json" in feed.stats.problems[0]
    assert peak < 3 * MAX_RECORD_BYTES


def test_member_shorter_than_declared_is_damage(tmp_path: Path) -> None:
    path = write_zip(tmp_path / "all.zip", {"A-1.json": osv_record("A-1", "a")})
    data = bytearray(path.read_bytes())
    info = zipfile.ZipFile(io.BytesIO(bytes(data))).infolist()[0]
    real = info.file_size.to_bytes(4, "little")
    path.write_bytes(bytes(data).replace(real, (info.file_size + 5).to_bytes(4, "little")))
    with pytest.raises(VulnDbError, match="damaged"):
        read(path)


def test_yaml_alias_bomb_is_skipped(tmp_path: Path) -> None:
    lines = ['id: "BOMB"', "a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for level in range(1, 10):
        prev = f"*a{level - 1}"
        lines.append(f"a{level}: &a{level} [{', '.join([prev] * 10)}]")
    lines.append("affected: *a9")
    (tmp_path / "BOMB.yaml").write_text("\n".join(lines) + "\n")
    (tmp_path / "OK.yaml").write_text(
        "id: OK-1\naffected:\n- package: {ecosystem: PyPI, name: ok}\n"
        "  ranges: [{type: ECOSYSTEM, events: [{introduced: '0'}, {fixed: '1.10'}]}]\n"
    )
    feed, ids = read(tmp_path)
    assert ids == ["OK-1"]
    assert feed.stats.skipped == 1
    assert "alias bomb" in feed.stats.problems[0]


def test_yaml_versions_stay_strings(tmp_path: Path) -> None:
    doc = load_yaml(b"fixed: 1.10\nn: 2\nwhen: 2023-10-10T14:28:19Z\nflag: true\n")
    assert doc == {"fixed": "1.10", "n": "2", "when": "2023-10-10T14:28:19Z", "flag": True}


def test_yaml_python_tags_are_refused() -> None:
    with pytest.raises(MalformedRecord):
        load_yaml(b"!!python/object/apply:os.system ['true']\n")


def test_deeply_nested_json_record_is_skipped(tmp_path: Path) -> None:
    deep = b'{"id": "DEEP", "x": ' + b"[" * 10000 + b"]" * 10000 + b"}"
    write_zip(tmp_path / "z" / "all.zip", {"DEEP.json": deep, "OK.json": osv_record("OK", "ok")})
    (tmp_path / "loose").mkdir()
    (tmp_path / "loose" / "DEEP.json").write_bytes(deep)
    feed, ids = read(tmp_path / "z" / "all.zip")
    assert ids == ["OK"]
    assert feed.stats.skipped == 1
    assert "nested too deeply" in feed.stats.problems[0]
    feed, ids = read(tmp_path / "loose")
    assert ids == [] and feed.stats.skipped == 1


def test_records_in_hidden_directories_and_other_files_are_ignored(tmp_path: Path) -> None:
    (tmp_path / ".github").mkdir()
    (tmp_path / ".github" / "ci.yaml").write_text("on: push\n")
    (tmp_path / "README.md").write_text("hello")
    (tmp_path / "A-1.json").write_text(json.dumps(osv_record("A-1", "a")))
    feed, ids = read(tmp_path)
    assert ids == ["A-1"] and feed.stats.skipped == 0


def test_truncated_zip_is_an_error_naming_the_file(tmp_path: Path) -> None:
    path = write_zip(tmp_path / "all.zip", {"A-1.json": osv_record("A-1", "a")})
    path.write_bytes(path.read_bytes()[:-30])
    with pytest.raises(VulnDbError, match=r"all\.zip"):
        read(path)


def test_corrupt_member_data_is_an_error(tmp_path: Path) -> None:
    record = json.dumps(osv_record("A-1", "a")).encode()
    path = tmp_path / "all.zip"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as archive:
        archive.writestr("A-1.json", record)
    data = path.read_bytes().replace(b'"A-1"', b'"B-1"', 1)  # CRC no longer matches
    path.write_bytes(data)
    with pytest.raises(VulnDbError, match="damaged"):
        read(path)


def test_truncated_tarball_is_an_error(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for n in range(50):
            data = json.dumps(osv_record(f"A-{n}", "a", details="x" * 2000)).encode()
            info = tarfile.TarInfo(f"vulns/a/A-{n}.json")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    path = tmp_path / "snapshot.tar.gz"
    path.write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    with pytest.raises(VulnDbError, match=r"snapshot\.tar\.gz"):
        read(path)


def test_zip64_dump_with_more_than_65535_members_is_read(tmp_path: Path) -> None:
    path = tmp_path / "all.zip"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as archive:
        for n in range(66000):
            archive.writestr(f"notes/{n}.txt", b"")
        archive.writestr("LAST-1.json", json.dumps(osv_record("LAST-1", "z")))
        with archive.open("BIG-1.json", "w", force_zip64=True) as member:
            member.write(json.dumps(osv_record("BIG-1", "y")).encode())
    feed, ids = read(path)
    assert ids == ["LAST-1", "BIG-1"]
    assert feed.stats.skipped == 0


def test_zip64_extra_field_supplies_large_sizes_and_offsets() -> None:
    big = 0xFFFFFFFF
    extra = struct.pack("<HHQQQ", 0x0001, 24, 5_000_000_000, 4_000_000_000, 6_000_000_000)
    other = struct.pack("<HH4s", 0x5455, 4, b"time")
    assert _zip64_sizes(other + extra, big, big, big) == (
        5_000_000_000,
        4_000_000_000,
        6_000_000_000,
    )
    only_offset = struct.pack("<HHQ", 0x0001, 8, 7_000_000_000)
    assert _zip64_sizes(only_offset, 10, 20, big) == (10, 20, 7_000_000_000)


def test_member_with_another_compression_method_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "all.zip"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_BZIP2) as archive:
        archive.writestr("A-1.json", json.dumps(osv_record("A-1", "a")))
    with pytest.raises(VulnDbError, match="compression method 12"):
        read(path)

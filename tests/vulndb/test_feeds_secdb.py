"""Alpine secdb and Wolfi / Chainguard security.json, with the quirks of the real files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from baseguard.vulndb.feeds.base import Source
from baseguard.vulndb.feeds.secdb import (
    AlpineSecdbFeed,
    ChainguardSecdbFeed,
    SecdbFeed,
    WolfiSecdbFeed,
    earliest,
    parse_secfix,
)
from baseguard.vulndb.model import Advisory
from baseguard.vulndb.store import VulnDbError
from tests.conftest import realdata_path


def read(feed: SecdbFeed, path: Path, name: str = "alpine/v3.20/main") -> dict[str, Advisory]:
    advisories = list(feed.iter_advisories(Source(feed.name, name, path, str(path))))
    by_id = {a.id: a for a in advisories}
    assert len(by_id) == len(advisories)  # one advisory per issue per file
    return by_id


def secdb_file(tmp_path: Path, packages: object, release: str = "v3.20") -> Path:
    path = tmp_path / "alpine" / release / "main.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps({"distroversion": release, "reponame": "main", "packages": packages})
    )
    return path


@pytest.mark.parametrize(
    ("entry", "ids", "aliases"),
    [
        ("CVE-2017-5373", ["CVE-2017-5373"], []),
        ("CVE-2016-6258 XSA-182", ["CVE-2016-6258"], ["XSA-182"]),
        ("CVE-2018-8897  XSA-260", ["CVE-2018-8897"], ["XSA-260"]),
        ("CVE-2017-2887 TALOS-2017-0394", ["CVE-2017-2887"], ["TALOS-2017-0394"]),
        ("CVE-2016-10134 ZBX-11023", ["CVE-2016-10134"], ["ZBX-11023"]),
        ("CVE-2018-14881 (BGP)", ["CVE-2018-14881"], []),
        (
            "CVE-2018-10103 (SMB - partially fixed, but SMB printing disabled)",
            ["CVE-2018-10103"],
            [],
        ),
        ("CVE_2019-2426", ["CVE-2019-2426"], []),
        ("CVE 2018-16859", ["CVE-2018-16859"], []),
        ("CVE-2017-8073.patch", ["CVE-2017-8073"], []),
        ("CVE-2017-17434-1", ["CVE-2017-17434"], []),
        ("CVE-????-?????  XSA-284", ["XSA-284"], []),
        ("XSA-207", ["XSA-207"], []),
        ("wnpa-sec-2017-18", ["wnpa-sec-2017-18"], []),
        ("ALPINE-13661", ["ALPINE-13661"], []),
        ("GHSA-jq35-85cj-fj4p", ["GHSA-jq35-85cj-fj4p"], []),
        (
            "CVE-2017-5753 CVE-2017-5715 CVE-2017-5754 XSA-254 XPTI",
            ["CVE-2017-5753", "CVE-2017-5715", "CVE-2017-5754"],
            ["XSA-254"],
        ),
        ("see the release notes", [], []),
    ],
)
def test_real_secfix_spellings_are_understood(
    entry: str, ids: list[str], aliases: list[str]
) -> None:
    assert parse_secfix(entry) == (ids, aliases)


def test_earliest_apk_version_wins() -> None:
    assert earliest(["1.2.10-r0", "1.2.9-r3"]) == "1.2.9-r3"
    assert earliest(["3.1.4-r5", "3.1.4-r10"]) == "3.1.4-r5"
    assert earliest(["2.0_rc1-r0", "2.0-r0"]) == "2.0_rc1-r0"
    assert earliest(["1.1.1a-r0", "1.1.1-r0"]) == "1.1.1-r0"


def test_earliest_orders_odd_real_spellings_as_the_matcher_does() -> None:
    # Spellings seen in the real secdb (10.2.26.r0, 1.0.4.-r0) are ordered by the same apk
    # comparison the matcher uses, not dropped in favour of whichever fix was listed first.
    assert earliest(["10.2.27-r0", "10.2.26.r0"]) == "10.2.26.r0"
    assert earliest(["1.0.5-r0", "1.0.4.-r0"]) == "1.0.4.-r0"
    assert earliest(["1.0.5-r0", "garbage!!"]) == "1.0.5-r0"  # unparseable: the first given


def test_real_alpine_320_openssl_fix_and_busybox_not_affected() -> None:
    path = realdata_path("feeds", "alpine-secdb-current", "v3.20", "main.json")
    advisories = read(AlpineSecdbFeed(), path)
    advisory = advisories["CVE-2024-5535"]
    assert advisory.source == "alpine-secdb"
    (affected,) = advisory.affected
    assert (affected.ecosystem, affected.package) == ("Alpine:v3.20", "openssl")
    assert affected.ranges[0].events == [("introduced", "0"), ("fixed", "3.3.1-r1")]
    (busybox,) = advisories["CVE-2021-42373"].affected
    assert busybox.package == "busybox" and busybox.not_affected and not busybox.ranges


def test_real_xen_entries_give_cves_with_xsa_aliases() -> None:
    path = realdata_path("feeds", "alpine-secdb", "v3.5", "main.json")
    advisories = read(AlpineSecdbFeed(), path, "alpine/v3.5/main")
    assert advisories["CVE-2016-6258"].aliases == ["XSA-182"]
    assert advisories["CVE-2016-6258"].affected[0].ecosystem == "Alpine:v3.5"
    assert "XSA-207" in advisories  # an XSA with no CVE is its own advisory


def test_real_null_fix_list_is_counted_and_skipped() -> None:
    path = realdata_path("feeds", "alpine-secdb", "v3.6", "main.json")
    feed = AlpineSecdbFeed()
    advisories = read(feed, path, "alpine/v3.6/main")
    assert feed.stats.skipped == 1
    assert "heimdal 7.4.0-r0" in feed.stats.problems[0]
    assert "CVE-2017-17439" in advisories  # heimdal's other fixes are kept


def test_real_empty_repository_has_no_advisories() -> None:
    path = realdata_path("feeds", "alpine-secdb", "v3.3", "community.json")
    feed = AlpineSecdbFeed()
    assert read(feed, path, "alpine/v3.3/community") == {}
    assert feed.stats.skipped == 0


def test_yaml_and_json_secdb_agree() -> None:
    folder = realdata_path("feeds", "alpine-secdb", "v3.10")
    from_json = read(AlpineSecdbFeed(), folder / "main.json", "alpine/v3.10/main")
    from_yaml = read(AlpineSecdbFeed(), folder / "main.yaml", "alpine/v3.10/main")
    assert from_json.keys() == from_yaml.keys()
    assert [a.to_dict() for a in from_json.values()] == [a.to_dict() for a in from_yaml.values()]


def test_release_comes_from_the_path_when_distroversion_disagrees(tmp_path: Path) -> None:
    real = realdata_path("feeds", "fixtures", "vuln-list-update", "alpine", "testdata")
    path = tmp_path / "alpine" / "v3.11" / "main.json"
    path.parent.mkdir(parents=True)
    doc = json.loads((real / "311-main.json").read_text())
    doc["distroversion"] = "v3.3"  # the real 311-community.json says v3.3
    path.write_text(json.dumps(doc))
    feed = AlpineSecdbFeed()
    advisories = read(feed, path, "alpine/v3.11/main")
    assert {a.ecosystem for adv in advisories.values() for a in adv.affected} == {"Alpine:v3.11"}
    assert any("distroversion v3.3" in p for p in feed.stats.problems)


def test_same_issue_fixed_twice_keeps_the_earliest_and_fix_beats_zero(tmp_path: Path) -> None:
    path = secdb_file(
        tmp_path,
        [
            {
                "pkg": {
                    "name": "demo",
                    "secfixes": {
                        "1.2.10-r0": ["CVE-2024-0001"],
                        "1.2.9-r1": ["CVE-2024-0001", "CVE-2024-0002"],
                        "0": ["CVE-2024-0002", "CVE-2024-0003"],
                    },
                }
            },
            {"pkg": {"name": "other", "secfixes": {"2.0-r0": ["CVE-2024-0001"]}}},
        ],
    )
    feed = AlpineSecdbFeed()
    advisories = read(feed, path)
    first = advisories["CVE-2024-0001"]
    assert [(a.package, a.ranges[0].events[-1][1]) for a in first.affected] == [
        ("demo", "1.2.9-r1"),
        ("other", "2.0-r0"),
    ]
    (second,) = advisories["CVE-2024-0002"].affected
    assert not second.not_affected and second.ranges[0].events[-1] == ("fixed", "1.2.9-r1")
    assert advisories["CVE-2024-0003"].affected[0].not_affected


def test_real_wolfi_and_chainguard_security_json() -> None:
    providers = realdata_path("feeds", "fixtures", "vunnel", "tests", "unit", "providers")
    wolfi = read(
        WolfiSecdbFeed(), providers / "wolfi/test-fixtures/input/secdb/security.json", "wolfi"
    )
    assert wolfi
    assert {a.source for a in wolfi.values()} == {"wolfi"}
    assert {x.ecosystem for a in wolfi.values() for x in a.affected} == {"Wolfi"}
    assert "GHSA-jq35-85cj-fj4p" in wolfi
    chainguard = read(
        ChainguardSecdbFeed(),
        providers / "chainguard/test-fixtures/input/secdb/security.json",
        "chainguard",
    )
    (bind,) = [x for x in chainguard["CVE-2022-2795"].affected if x.package == "bind"]
    assert bind.ecosystem == "Chainguard"
    assert bind.ranges[0].events == [("introduced", "0"), ("fixed", "9.18.10-r0")]


@pytest.mark.parametrize(
    "content",
    [
        b"{not json",
        b'{"packages": 5}',
        b"[1, 2]",
        b'{"packages": [' + b"[" * 5000 + b"]" * 5000 + b"]}",
    ],
)
def test_unreadable_secdb_file_fails_the_source(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "alpine" / "v3.20" / "main.json"
    path.parent.mkdir(parents=True)
    path.write_bytes(content)
    with pytest.raises(VulnDbError, match=r"main\.json"):
        read(AlpineSecdbFeed(), path)

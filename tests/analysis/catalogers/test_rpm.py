"""The rpm database in its three backends, the header parser, purls and hostile files.

data/rpm/ holds databases made by the real tools (make_fixtures.sh): ``rpmdb.sqlite`` as
rpm 4.18 wrote it, and the same headers in Berkeley DB hash files written by libdb's
db5.3_load (little-endian 4 KiB pages, big-endian 512-byte pages). Where ``rpm`` is
installed the tests also ask it to read those files and compare. ndb files are built
from the format (Debian's rpm has no ndb backend).
"""

from __future__ import annotations

import shutil
import struct
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from baseguard.analysis.catalogers import CATALOGERS
from baseguard.analysis.catalogers.base import CatalogContext, CatalogResult
from baseguard.analysis.catalogers.rpm import RpmCataloger, parse_source_rpm
from baseguard.analysis.catalogers.rpmdb import (
    HeaderError,
    RpmdbError,
    detect_format,
    parse_header,
    read_rpmdb,
)
from baseguard.analysis.catalogers.rpmdb import header as tags
from baseguard.analysis.catalogers.rpmdb.bdb import read_bdb
from baseguard.analysis.catalogers.rpmdb.ndb import read_ndb
from baseguard.analysis.catalogers.rpmdb.sqlite import read_sqlite
from baseguard.analysis.distro import Distro
from baseguard.analysis.packages import Package
from baseguard.image.fs import ImageFS
from tests.analysis.catalogers.layering import DIGESTS, with_layers
from tests.analysis.catalogers.rpm_builders import (
    DATA,
    bdb_page,
    build_bdb,
    build_header,
    build_ndb,
    expected_rows,
    fixture_blobs,
    package_header,
    sqlite_fixture_bytes,
)
from tests.analysis.fs_builders import build_fs, link

RHEL = Distro(id="rhel", version_id="9.4")
SQLITE_PATH = "var/lib/rpm/rpmdb.sqlite"


def _catalog(fs: ImageFS, distro: Distro = RHEL) -> CatalogResult:
    return RpmCataloger().catalog(fs, CatalogContext(distro=distro, architecture="amd64"))


def _by_name(result: CatalogResult) -> dict[str, Package]:
    return {p.name: p for p in result.packages}


def _rows(result: CatalogResult) -> set[tuple[str, str, str, str, str]]:
    return {
        (
            p.name,
            p.version,
            p.architecture or "",
            str(p.metadata.get("sourceRpm", "")),
            " ".join(p.licenses),
        )
        for p in result.packages
    }


# -- the real databases ---------------------------------------------------------------------


def test_registered_under_its_name_and_captures_every_backend() -> None:
    assert CATALOGERS["rpm"] is RpmCataloger
    assert "usr/lib/sysimage/rpm/rpmdb.sqlite" in RpmCataloger.capture
    assert "var/lib/rpm/Packages" in RpmCataloger.capture
    assert "usr/lib/sysimage/rpm/Packages.db" in RpmCataloger.capture


def test_sqlite_database_written_by_rpm_matches_rpm_qa() -> None:
    result = _catalog(build_fs({SQLITE_PATH: sqlite_fixture_bytes()}))
    assert result.issues == []
    assert _rows(result) == expected_rows()
    assert {p.metadata["backend"] for p in result.packages} == {"sqlite"}
    assert result.packages[0].locations == ["/var/lib/rpm/rpmdb.sqlite"]


@pytest.mark.parametrize("name", ["Packages-le4096.bdb", "Packages-be512.bdb"])
def test_berkeley_db_written_by_libdb_matches_rpm_qa(name: str) -> None:
    fs = build_fs({"var/lib/rpm/Packages": (DATA / name).read_bytes()})
    result = _catalog(fs)
    assert result.issues == []
    assert _rows(result) == expected_rows()
    assert {p.metadata["backend"] for p in result.packages} == {"bdb"}


def test_ndb_database_matches_rpm_qa(tmp_path: Path) -> None:
    fs = build_fs({"usr/lib/sysimage/rpm/Packages.db": build_ndb(fixture_blobs(tmp_path))})
    result = _catalog(fs)
    assert result.issues == []
    assert _rows(result) == expected_rows()
    assert result.packages[0].locations == ["/usr/lib/sysimage/rpm/Packages.db"]


def _rpm_qa(dbpath: Path, *extra: str) -> set[tuple[str, str, str, str, str]]:
    out = subprocess.run(
        [
            "rpm",
            "-qa",
            "--dbpath",
            str(dbpath),
            *extra,
            "--qf",
            "%{NAME}\\t%{EVR}\\t%{ARCH}\\t%{SOURCERPM}\\t%{LICENSE}\\n",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rows = set()
    for line in out.splitlines():
        name, evr, arch, srpm, license_ = line.split("\t")
        rows.add((name, evr, arch, srpm, license_))
    return rows


@pytest.mark.skipif(shutil.which("rpm") is None, reason="needs rpm (apt-get install rpm)")
def test_live_rpm_reads_the_sqlite_fixture_as_we_do(tmp_path: Path) -> None:
    (tmp_path / "rpmdb.sqlite").write_bytes(sqlite_fixture_bytes())
    ours = _rows(_catalog(build_fs({SQLITE_PATH: sqlite_fixture_bytes()})))
    assert _rpm_qa(tmp_path) == ours


@pytest.mark.skipif(shutil.which("rpm") is None, reason="needs rpm (apt-get install rpm)")
@pytest.mark.parametrize("name", ["Packages-le4096.bdb", "Packages-be512.bdb"])
def test_live_rpm_reads_the_bdb_fixtures_as_we_do(tmp_path: Path, name: str) -> None:
    data = (DATA / name).read_bytes()
    (tmp_path / "Packages").write_bytes(data)
    ours = _rows(_catalog(build_fs({"var/lib/rpm/Packages": data})))
    assert _rpm_qa(tmp_path, "--define", "_db_backend bdb_ro") == ours


# -- fields and purls -------------------------------------------------------------------------


def test_epoch_is_in_the_version_and_an_epoch_qualifier_in_the_purl() -> None:
    libs = _by_name(_catalog(build_fs({SQLITE_PATH: sqlite_fixture_bytes()})))["openssl-libs"]
    assert libs.version == "1:3.0.7-27.el9"
    assert libs.purl == (
        "pkg:rpm/redhat/openssl-libs@3.0.7-27.el9?arch=x86_64&distro=rhel-9.4&epoch=1"
    )
    assert libs.metadata["epoch"] == 1
    assert libs.metadata["release"] == "27.el9"


def test_source_comes_from_sourcerpm_with_the_binary_epoch() -> None:
    packages = _by_name(_catalog(build_fs({SQLITE_PATH: sqlite_fixture_bytes()})))
    assert (packages["openssl-libs"].source_name, packages["openssl-libs"].source_version) == (
        "openssl",
        "1:3.0.7-27.el9",
    )
    assert (packages["tzdata"].source_name, packages["tzdata"].source_version) == (
        "tzdata",
        "2024a-1.el9",
    )


def test_package_without_epoch_has_no_epoch_qualifier() -> None:
    tzdata = _by_name(_catalog(build_fs({SQLITE_PATH: sqlite_fixture_bytes()})))["tzdata"]
    assert tzdata.purl == "pkg:rpm/redhat/tzdata@2024a-1.el9?arch=noarch&distro=rhel-9.4"
    assert tzdata.licenses == ["Public Domain"]


def test_requires_resolve_to_installed_providers() -> None:
    packages = _by_name(_catalog(build_fs({SQLITE_PATH: sqlite_fixture_bytes()})))
    # openssl-libs requires itself (dropped), ca-certificates, libc.so.6 and /bin/sh (no
    # provider installed: dropped) and rpmlib() features (dropped).
    assert packages["openssl-libs"].depends == ["ca-certificates"]
    assert packages["ca-certificates"].depends == ["openssl-libs"]  # libssl.so.3()(64bit)
    assert packages["tzdata"].depends == ["openssl"]
    assert packages["openssl"].depends == []


def test_file_requires_resolve_to_the_owning_package() -> None:
    bash = package_header("bash", "5.1.8", "9.el9", files=["/usr/bin/bash", "/bin/sh"])
    tool = package_header("tool", "1", "1", requires=["/bin/sh", "/nonexistent"])
    fs = build_fs({"var/lib/rpm/Packages.db": build_ndb([bash, tool])})
    assert _by_name(_catalog(fs))["tool"].depends == ["bash"]


@pytest.mark.parametrize(
    ("distro", "prefix"),
    [
        (Distro(id="rhel", version_id="9.4"), "pkg:rpm/redhat/curl@"),
        (Distro(id="fedora", version_id="40"), "pkg:rpm/fedora/curl@"),
        (Distro(id="amzn", version_id="2023"), "pkg:rpm/amzn/curl@"),
        (Distro(id="rocky", version_id="9.3"), "pkg:rpm/rocky/curl@"),
        (Distro(id="ol", version_id="9.3"), "pkg:rpm/oracle/curl@"),
        (Distro(), "pkg:rpm/curl@"),
    ],
)
def test_namespace_is_the_vendor(distro: Distro, prefix: str) -> None:
    fs = build_fs({"var/lib/rpm/Packages.db": build_ndb([package_header("curl", "8", "1")])})
    purl = _catalog(fs, distro).packages[0].purl
    assert purl.startswith(prefix)
    if distro.id:
        assert purl.endswith(f"distro={distro.id}-{distro.version_id}")


def test_gpg_pubkey_entries_are_not_packages() -> None:
    key = package_header("gpg-pubkey", "fd431d51", "4ae0493b", arch="(none)", license="pubkey")
    fs = build_fs({"var/lib/rpm/Packages.db": build_ndb([key, package_header("a", "1", "1")])})
    assert [p.name for p in _catalog(fs).packages] == ["a"]


def test_none_placeholders_are_treated_as_missing() -> None:
    header = package_header("a", "1", "1", arch="(none)", license="(none)", source_rpm="(none)")
    pkg = _catalog(build_fs({"var/lib/rpm/Packages.db": build_ndb([header])})).packages[0]
    assert pkg.architecture == "amd64"  # the image's
    assert pkg.licenses == []
    assert (pkg.source_name, pkg.source_version) == ("a", "1-1")


def test_parse_source_rpm() -> None:
    assert parse_source_rpm("openssl-3.0.7-27.el9.src.rpm") == ("openssl", "3.0.7-27.el9")
    assert parse_source_rpm("python3.11-3.11.7-1.el9.nosrc.rpm") == ("python3.11", "3.11.7-1.el9")
    assert parse_source_rpm("weird.src.rpm") is None
    assert parse_source_rpm("openssl-3.0.7-27.el9.x86_64.rpm") is None


# -- which database, which layer ---------------------------------------------------------------


def test_sqlite_is_preferred_over_a_leftover_berkeley_db() -> None:
    other = build_ndb([package_header("stale", "1", "1")])
    fs = build_fs({SQLITE_PATH: sqlite_fixture_bytes(), "var/lib/rpm/Packages.db": other})
    assert "stale" not in _by_name(_catalog(fs))


def test_var_lib_rpm_symlink_to_sysimage_is_read_once() -> None:
    fs = build_fs(
        {
            "usr/lib/sysimage/rpm/rpmdb.sqlite": sqlite_fixture_bytes(),
            "var/lib/rpm": link("../../usr/lib/sysimage/rpm"),
        }
    )
    result = _catalog(fs)
    assert len(result.packages) == 4
    assert result.packages[0].locations == ["/usr/lib/sysimage/rpm/rpmdb.sqlite"]


def test_layer_is_the_lowest_layer_of_the_packages_files() -> None:
    base = package_header("base", "1", "1", files=["/usr/bin/base", "/etc/base.conf"])
    added = package_header("added", "1", "1", files=["/usr/bin/added"])
    meta = package_header("meta", "1", "1")
    tree: dict[str, str | bytes] = {
        "var/lib/rpm/Packages.db": build_ndb([base, added, meta]),
        "usr/bin/base": "x",
        "etc/base.conf": "x",
        "usr/bin/added": "x",
    }
    layers = {"var/lib/rpm/Packages.db": 1, "usr/bin/added": 1, "etc/base.conf": 1}
    packages = _by_name(_catalog(with_layers(build_fs(tree), layers, 2)))
    assert packages["base"].layer == DIGESTS[0]
    assert packages["added"].layer == DIGESTS[1]
    assert packages["meta"].layer == DIGESTS[1]  # no files: the database's layer


# -- the header parser ----------------------------------------------------------------------


def test_header_round_trip_of_every_type() -> None:
    blob = build_header(
        [
            (tags.NAME, tags.STRING, "n"),
            (tags.EPOCH, tags.INT32, [7]),
            (tags.SIZE, tags.INT32, [1, 2]),
            (tags.DIRINDEXES, tags.INT16, [3, 4]),
            (tags.BASENAMES, tags.STRING_ARRAY, ["a", "b"]),
            (tags.LICENSE, tags.I18NSTRING, "MIT"),
            (9999, tags.BIN, b"\x01\x02"),
        ]
    )
    header = parse_header(blob, None)
    assert header.string(tags.NAME) == "n"
    assert header.int(tags.EPOCH) == 7
    assert header.ints(tags.SIZE) == [1, 2]
    assert header.ints(tags.DIRINDEXES) == [3, 4]
    assert header.strings(tags.BASENAMES) == ["a", "b"]
    assert header.string(tags.LICENSE) == "MIT"
    assert header.binary[9999] == b"\x01\x02"


def test_later_entries_override_earlier_ones() -> None:
    blob = build_header([(tags.NAME, tags.STRING, "old"), (tags.NAME, tags.STRING, "new")])
    assert parse_header(blob).string(tags.NAME) == "new"


def test_files_join_dirnames_and_basenames_and_skip_bad_indexes() -> None:
    blob = build_header(
        [
            (tags.DIRINDEXES, tags.INT32, [0, 1, 5]),
            (tags.BASENAMES, tags.STRING_ARRAY, ["a", "b", "c"]),
            (tags.DIRNAMES, tags.STRING_ARRAY, ["/usr/bin/", "/etc/"]),
        ]
    )
    assert parse_header(blob).files() == ["/usr/bin/a", "/etc/b"]
    old = build_header([(tags.OLDFILENAMES, tags.STRING_ARRAY, ["/bin/x"])])
    assert parse_header(old).files() == ["/bin/x"]


def _corrupt(blob: bytes, offset: int, fmt: str, value: int) -> bytes:
    out = bytearray(blob)
    struct.pack_into(fmt, out, offset, value)
    return bytes(out)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda b: b[:5], "shorter than its 8-byte preamble"),
        (lambda b: _corrupt(b, 0, ">I", 0), "0 index entries"),
        (lambda b: _corrupt(b, 0, ">I", 0x10000), "65536 index entries"),
        (lambda b: _corrupt(b, 4, ">I", 0x7FFFFFFF), r"data store \(at most"),
        (lambda b: b[:-3], "need"),
        (lambda b: _corrupt(b, 8 + 8, ">i", 10_000), "outside the"),
        (lambda b: _corrupt(b, 8 + 8, ">i", -1), "outside the"),
        (lambda b: _corrupt(b, 8 + 16 + 12, ">I", 1 << 30), "strings cannot fit"),
        (lambda b: _corrupt(b, 8 + 32 + 12, ">I", 1 << 28), "integers run past"),
    ],
)
def test_header_inconsistencies_raise_header_error(
    mutate: Callable[[bytes], bytes], message: str
) -> None:
    blob = build_header(
        [
            (tags.NAME, tags.STRING, "name"),
            (tags.BASENAMES, tags.STRING_ARRAY, ["a"]),
            (tags.DIRINDEXES, tags.INT32, [0]),
        ]
    )
    parse_header(blob)  # the unmodified blob is fine
    with pytest.raises(HeaderError, match=message):
        parse_header(mutate(blob))


def test_unterminated_string_raises_header_error() -> None:
    blob = build_header([(tags.NAME, tags.STRING, "name")]).replace(b"name\0", b"namex")
    with pytest.raises(HeaderError, match="not terminated"):
        parse_header(blob)


def test_bad_header_is_an_issue_and_other_packages_are_kept() -> None:
    good = package_header("good", "1", "1")
    fs = build_fs({"var/lib/rpm/Packages.db": build_ndb([b"\0\0\0\x01\0\0\0\0", good])})
    result = _catalog(fs)
    assert [p.name for p in result.packages] == ["good"]
    assert len(result.issues) == 1
    assert result.issues[0].path == "/var/lib/rpm/Packages.db"
    assert "package header 1" in result.issues[0].message


def test_header_without_name_is_an_issue() -> None:
    blob = build_header([(tags.VERSION, tags.STRING, "1")])
    result = _catalog(build_fs({"var/lib/rpm/Packages.db": build_ndb([blob])}))
    assert result.packages == []
    assert "has no name or version" in result.issues[0].message


# -- containers: detection and hostile files --------------------------------------------------


def test_format_detection() -> None:
    assert detect_format(sqlite_fixture_bytes()) == "sqlite"
    assert detect_format((DATA / "Packages-be512.bdb").read_bytes()) == "bdb"
    assert detect_format(build_ndb([])) == "ndb"
    assert detect_format(b"hello") is None


def test_not_a_database_is_one_issue_naming_the_file() -> None:
    result = _catalog(build_fs({"var/lib/rpm/Packages": b"not an rpm database at all"}))
    assert result.packages == []
    assert [str(i) for i in result.issues] == [
        "rpm: /var/lib/rpm/Packages: not an rpm database: neither SQLite, ndb nor Berkeley DB"
    ]


def test_sqlite_without_packages_table_is_rejected(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "x.sqlite"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE other (x)")
    conn.commit()
    conn.close()
    with pytest.raises(RpmdbError, match="no Packages table"):
        read_sqlite(path.read_bytes())


def test_sqlite_with_packages_view_is_rejected(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "x.sqlite"
    conn = sqlite3.connect(path)
    conn.execute("CREATE VIEW Packages AS SELECT 1 AS hnum, x'00' AS blob")
    conn.commit()
    conn.close()
    with pytest.raises(RpmdbError, match="no Packages table"):
        read_sqlite(path.read_bytes())


def test_sqlite_damaged_pages_are_rejected() -> None:
    data = bytearray(sqlite_fixture_bytes())
    data[4096:] = b"\xff" * (len(data) - 4096)
    with pytest.raises(RpmdbError, match="unreadable SQLite database"):
        read_sqlite(bytes(data))


def test_sqlite_non_blob_rows_are_reported(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "x.sqlite"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE Packages (hnum INTEGER PRIMARY KEY, blob BLOB)")
    conn.execute("INSERT INTO Packages VALUES (1, 'text'), (2, ?)", (b"\x00",))
    conn.commit()
    conn.close()
    blobs, errors = read_sqlite(path.read_bytes())
    assert blobs == [b"\x00"]
    assert errors == ["row 1: blob is str, not bytes"]


def test_ndb_bad_checksum_loses_only_that_package(tmp_path: Path) -> None:
    blobs = fixture_blobs(tmp_path)
    data = bytearray(build_ndb(blobs))
    first_blob = 4096 + 16 + 100  # inside package 1's blob
    data[first_blob] ^= 0xFF
    good, errors = read_ndb(bytes(data))
    assert len(good) == len(blobs) - 1
    assert errors == ["package 1: blob checksum (Adler-32) does not match"]


def test_ndb_bad_slot_magic_rejects_the_file() -> None:
    data = bytearray(build_ndb([package_header("a", "1", "1")]))
    data[48:52] = b"XXXX"
    with pytest.raises(RpmdbError, match="no Slot magic"):
        read_ndb(bytes(data))


def test_ndb_slot_pages_past_the_end_are_rejected() -> None:
    data = bytearray(build_ndb([]))
    struct.pack_into("<I", data, 12, 1_000_000)
    with pytest.raises(RpmdbError, match="truncated"):
        read_ndb(bytes(data))


def test_ndb_blob_past_the_end_is_reported() -> None:
    data = build_ndb([package_header("a", "1", "1")])
    blobs, errors = read_ndb(data[:-32])
    assert blobs == []
    assert errors == ["package 1: blob runs past the end of the file (truncated)"]


def test_bdb_inline_values_and_rpm_bookkeeping_key() -> None:
    small = package_header("tiny", "1", "1")
    big = package_header("big", "2", "1", files=[f"/usr/share/f{i}" for i in range(40)])
    data = build_bdb(
        [(b"\0\0\0\0", b"\x05\0\0\0"), (b"\x01\0\0\0", small), (b"\x02\0\0\0", big)],
        inline_limit=len(small),
    )
    blobs, errors = read_bdb(data)
    assert errors == []
    assert [parse_header(b).string(tags.NAME) for b in blobs] == ["tiny", "big"]


def test_bdb_overflow_chain_loop_is_reported_not_followed_forever() -> None:
    big = package_header("big", "2", "1", files=[f"/usr/share/f{i}" for i in range(40)])
    data = bytearray(build_bdb([(b"\x01\0\0\0", big)]))
    assert len(data) == 4 * 512  # metadata, hash page, two overflow pages
    # Point the last overflow page back at the first and claim more bytes than it holds.
    struct.pack_into("<I", data, 3 * 512 + 16, 2)
    item = struct.unpack_from("<H", data, 512 + 26 + 2)[0]
    struct.pack_into("<I", data, 512 + item + 8, len(big) + 100)
    blobs, errors = read_bdb(bytes(data))
    assert blobs == []
    assert errors == ["page 1: overflow chain loops back to page 2"]


def test_bdb_forged_lengths_cannot_multiply_work() -> None:
    big = package_header("big", "2", "1", files=[f"/usr/share/f{i}" for i in range(40)])
    data = bytearray(build_bdb([(b"\x01\0\0\0", big)]))
    hash_page = 512
    item = struct.unpack_from("<H", data, hash_page + 26 + 2)[0]
    struct.pack_into("<I", data, hash_page + item + 8, 1 << 31)
    blobs, errors = read_bdb(bytes(data))
    assert blobs == []
    assert "exceeds what the file can hold" in errors[0]


def test_bdb_metadata_claiming_more_pages_than_the_file_is_reported() -> None:
    data = bytearray(build_bdb([(b"\x01\0\0\0", package_header("a", "1", "1"))]))
    struct.pack_into("<I", data, 32, 0xFFFFFFF0)
    blobs, errors = read_bdb(bytes(data))
    assert len(blobs) == 1
    assert "truncated" in errors[0]


def test_bdb_item_offsets_out_of_order_are_reported() -> None:
    data = bytearray(build_bdb([(b"\x01\0\0\0", b"\x01" * 10)]))
    struct.pack_into("<H", data, 512 + 26, 3)  # key offset inside the page header
    blobs, errors = read_bdb(bytes(data))
    assert blobs == []
    assert errors and "out of order" in errors[0]


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        ((12, "<I", 0x053162), "btree"),
        ((12, "<I", 0x12345678), "not a Berkeley DB hash file"),
        ((20, "<I", 1000), "unexpected page size"),
        ((24, "<B", 1), "encrypted"),
        ((25, "<B", 9), "not hash metadata"),
    ],
)
def test_bdb_metadata_problems_reject_the_file(patch: tuple[int, str, int], message: str) -> None:
    data = bytearray(build_bdb([]))
    offset, fmt, value = patch
    struct.pack_into(fmt, data, offset, value)
    with pytest.raises(RpmdbError, match=message):
        read_bdb(bytes(data))


def test_bdb_overflow_page_of_wrong_type_is_reported() -> None:
    big = package_header("big", "2", "1", files=[f"/usr/share/f{i}" for i in range(40)])
    data = bytearray(build_bdb([(b"\x01\0\0\0", big)]))
    data[2 * 512 : 3 * 512] = bdb_page(512, 2, 13)
    blobs, errors = read_bdb(bytes(data))
    assert blobs == []
    assert errors == ["page 1: overflow chain reaches page 2 of type 13"]


def test_read_rpmdb_reports_the_backend() -> None:
    kind, blobs, errors = read_rpmdb((DATA / "Packages-le4096.bdb").read_bytes())
    assert (kind, len(blobs), errors) == ("bdb", 4, [])


def test_a_flood_of_bad_headers_is_capped() -> None:
    blobs = [b"\0\0\0\x01\0\0\0\0"] * 100 + [package_header("good", "1", "1")]
    result = _catalog(build_fs({"var/lib/rpm/Packages.db": build_ndb(blobs)}))
    assert [p.name for p in result.packages] == ["good"]
    assert len(result.issues) == 21
    assert result.issues[-1].message == "80 more problem(s) not listed"


def test_sqlite_query_that_runs_past_its_step_budget_is_abandoned(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from baseguard.analysis.catalogers.rpmdb import sqlite

    monkeypatch.setattr(sqlite, "STEPS_PER_BYTE", 0)
    monkeypatch.setattr(sqlite, "MIN_STEPS", 1)
    monkeypatch.setattr(sqlite, "STEP_GRANULARITY", 1)
    with pytest.raises(RpmdbError, match="too many steps"):
        read_sqlite(sqlite_fixture_bytes())


def test_sqlite_schema_error_quoting_undecodable_bytes_is_an_rpmdb_error(
    tmp_path: Path,
) -> None:
    import sqlite3

    path = tmp_path / "x.sqlite"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE Packages (hnum INTEGER PRIMARY KEY, blob BLOB)")
    conn.execute("CREATE TABLE zz (a INT, b INT DEFAULT xxxx)")
    conn.commit()
    conn.close()
    data = bytearray(path.read_bytes())
    at = data.find(b"DEFAULT xxxx)")
    # SQLite's syntax error quotes the bad token, which is not UTF-8.
    data[at : at + 13] = b") " + b"\xe7" * 11
    with pytest.raises(RpmdbError, match="unreadable SQLite database"):
        read_sqlite(bytes(data))


@pytest.mark.timeout(120)  # a mutation that made a parser loop would run into this
@pytest.mark.parametrize("seed_name", ["le4096", "be512", "sqlite", "ndb"])
def test_mutated_databases_never_raise_and_never_hang(seed_name: str, tmp_path: Path) -> None:
    import random

    seeds: dict[str, Callable[[], bytes]] = {
        "le4096": lambda: (DATA / "Packages-le4096.bdb").read_bytes(),
        "be512": lambda: (DATA / "Packages-be512.bdb").read_bytes(),
        "sqlite": sqlite_fixture_bytes,
        "ndb": lambda: build_ndb(fixture_blobs(tmp_path)),
    }
    original = seeds[seed_name]()
    rng = random.Random(seed_name)
    for _ in range(60):
        data = bytearray(original)
        for _ in range(rng.randint(1, 12)):
            pos = rng.randrange(len(data))
            choice = rng.random()
            if choice < 0.6:
                data[pos] = rng.randrange(256)
            elif choice < 0.85:
                value = rng.choice([0, 1, 0xFFFF, 0x7FFFFFFF, 0xFFFFFFFF, rng.randrange(1 << 32)])
                data[pos : pos + 4] = value.to_bytes(4, rng.choice(["little", "big"]))
            else:
                del data[pos : pos + rng.randint(1, 64)]
        result = _catalog(build_fs({"var/lib/rpm/Packages": bytes(data)}))
        assert all(i.path == "/var/lib/rpm/Packages" for i in result.issues)

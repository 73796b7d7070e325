"""The strict tar header parser (tarscan) and the threaded layer pipeline that feeds it.

Headers are crafted field by field here (not with ``tarfile``, which refuses to write most
malformed ones); real tarballs are compared member by member against ``tarfile``.
"""

from __future__ import annotations

import gzip
import io
import os
import random
import tarfile
import threading
from collections.abc import Callable, Iterator, Mapping

import pytest

from baseguard.errors import DigestMismatchError, LayerError, LimitExceededError
from baseguard.image import blobstream
from baseguard.image.fs import FileType
from baseguard.image.layers import Limits, build_fs
from baseguard.image.tarscan import (
    TarFormatError,
    TarMember,
    TarScanner,
    parse_number,
    parse_pax,
)
from tests.conftest import realdata_path
from tests.image.layer_builders import (
    MemoryBlobStore,
    TarBuilder,
    compress,
    gzip_zeros_after,
    image_from_blobs,
    make_image,
    many_members_tar,
    tar_header,
    zstd_zeros_after,
)

MiB = 1 << 20
ZERO_BLOCK = bytes(512)
END = ZERO_BLOCK * 2


# -- crafting ----------------------------------------------------------------------------------


def octal(value: int, width: int) -> bytes:
    return b"%0*o\0" % (width - 1, value)


def header(
    name: bytes | str = b"f",
    *,
    size: int | bytes = 0,
    kind: bytes = b"0",
    mode: bytes | None = None,
    uid: bytes | None = None,
    gid: bytes | None = None,
    mtime: bytes | None = None,
    linkname: bytes = b"",
    magic: bytes = b"ustar\x0000",
    prefix: bytes = b"",
    tail: bytes = b"",
    chksum: bytes | None = None,
    signed: bool = False,
) -> bytes:
    """One 512-byte header with every field settable (raw bytes or defaults)."""
    raw_name = name.encode("utf-8", "surrogateescape") if isinstance(name, str) else name
    fields = [
        raw_name.ljust(100, b"\0"),
        mode if mode is not None else octal(0o644, 8),
        uid if uid is not None else octal(0, 8),
        gid if gid is not None else octal(0, 8),
        size if isinstance(size, bytes) else octal(size, 12),
        mtime if mtime is not None else octal(1_700_000_000, 12),
        b" " * 8,
        kind,
        linkname.ljust(100, b"\0"),
        magic.ljust(8, b"\0"),
        b"root".ljust(32, b"\0"),
        b"root".ljust(32, b"\0"),
        octal(0, 8),
        octal(0, 8),
        prefix.ljust(155, b"\0"),
    ]
    block = bytearray(b"".join(fields).ljust(512, b"\0"))
    if tail:
        block[512 - len(tail) :] = tail
    assert len(block) == 512
    if chksum is None:
        total = sum(b - 256 if signed and b >= 128 else b for b in block)
        chksum = b"%06o\0 " % total
    block[148:156] = chksum
    return bytes(block)


def member(name: str = "f", data: bytes = b"", **kwargs: object) -> bytes:
    pad = -len(data) % 512
    return header(name, size=len(data), **kwargs) + data + bytes(pad)  # type: ignore[arg-type]


def pax_record(key: str, value: bytes | str) -> bytes:
    raw = value.encode("utf-8", "surrogateescape") if isinstance(value, str) else value
    body = b" " + key.encode() + b"=" + raw + b"\n"
    length = len(body) + 1
    while len(str(length).encode()) + len(body) != length:
        length += 1
    return str(length).encode() + body


def pax(records: Mapping[str, bytes | str] | bytes, kind: bytes = b"x") -> bytes:
    data = (
        records
        if isinstance(records, bytes)
        else b"".join(pax_record(k, v) for k, v in records.items())
    )
    return member("././@PaxHeader", data, kind=kind)


def gnu_long(kind: bytes, value: bytes) -> bytes:
    return member("././@LongLink", value + b"\0", kind=kind, magic=b"ustar  \0")


def feeder(data: bytes, size: int) -> Callable[[], bytes]:
    """A ``fill`` function handing ``data`` out in chunks of ``size``."""
    pieces = iter([data[i : i + size] for i in range(0, len(data), size)])
    return lambda: next(pieces, b"")


def iter_feeder(pieces: list[bytes]) -> Callable[[], bytes]:
    it = iter(pieces)
    return lambda: next(it, b"")


def scan(data: bytes, chunk: int = 4096, **kwargs: int) -> list[TarMember]:
    return list(TarScanner(feeder(data, chunk), **kwargs))


def one(data: bytes, **kwargs: int) -> TarMember:
    members = scan(data, **kwargs)
    assert len(members) == 1, members
    return members[0]


def error_of(data: bytes, chunk: int = 4096, **kwargs: int) -> str:
    with pytest.raises(TarFormatError) as info:
        scan(data, chunk, **kwargs)
    return str(info.value)


def fields(m: TarMember) -> tuple[object, ...]:
    return (m.name, m.type, m.mode, m.uid, m.gid, m.size, m.linkname, m.offset_data)


# -- number fields -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        (b"0000644\0", 0o644),
        (b"644\0\0\0\0\0", 0o644),
        (b"  644 \0\0", 0o644),
        (b"0000644 ", 0o644),
        (b"\0\0\0\0\0\0\0\0", 0),
        (b"        ", 0),
        (b"17\0garbage", 0o17),  # the field ends at its first NUL, as in tarfile
        (b"\x80" + (2**40).to_bytes(11, "big"), 2**40),
        (b"\xff" * 7 + b"\xfe", -2),
    ],
)
def test_number_fields_in_octal_and_base_256_are_read(raw: bytes, value: int) -> None:
    assert parse_number(raw) == value


@pytest.mark.parametrize("raw", [b"0000649\0", b"-000001\0", b"+000001\0", b"0_644\0\0\0", b"x"])
def test_number_fields_that_are_not_plain_octal_are_refused(raw: bytes) -> None:
    with pytest.raises(ValueError):
        parse_number(raw)


def test_malformed_number_field_makes_the_header_invalid() -> None:
    data = member("a", b"1") + header("b", mode=b"0000x44\0") + END
    assert "invalid tar header at offset 1024" in error_of(data)


# -- ustar / v7 / GNU / pax headers ------------------------------------------------------------


def test_ustar_member_fields_and_data_offset_are_read() -> None:
    data = member("etc/app.conf", b"x=1\n", mode=octal(0o4750, 8), uid=octal(1000, 8)) + END
    m = one(data)
    assert fields(m) == ("etc/app.conf", b"0", 0o4750, 1000, 0, 4, "", 512)
    assert m.mtime == 1_700_000_000 and m.offset == 0 and not m.sparse


def test_ustar_prefix_is_joined_to_the_name() -> None:
    m = one(member("file.txt", b"x", prefix=b"usr/share/deep") + END)
    assert m.name == "usr/share/deep/file.txt"


def test_gnu_header_bytes_where_ustar_keeps_its_prefix_are_not_a_prefix() -> None:
    # GNU headers keep atime/ctime where ustar has the prefix; they must not become a path.
    m = one(member("file.txt", b"x", magic=b"ustar  \0", prefix=b"12345670123\0") + END)
    assert m.name == "file.txt"


def test_v7_header_without_magic_is_read() -> None:
    m = one(member("old", b"abc", magic=b"", kind=b"\0") + END)
    assert (m.name, m.type, m.size) == ("old", b"\0", 3)


def test_v7_regular_member_with_a_trailing_slash_is_a_directory() -> None:
    m = one(header("olddir/", kind=b"\0", magic=b"") + END)
    assert (m.name, m.type) == ("olddir", b"5")


def test_directory_names_lose_their_trailing_slashes() -> None:
    assert one(header("etc//", kind=b"5") + END).name == "etc"


def test_signed_checksum_of_old_tars_is_accepted() -> None:
    m = one(member("caf\u00e9", b"x", signed=True) + END)
    assert m.name == "caf\u00e9"


def test_bad_checksum_is_an_invalid_header_naming_the_offset() -> None:
    data = member("a", b"1") + header("b", chksum=b"0000001\0") + END
    assert "invalid tar header at offset 1024 (bad checksum)" in error_of(data)


def test_garbage_first_block_is_invalid() -> None:
    assert "invalid tar header at offset 0" in error_of(b"\xff" * 512 + END)


def test_base_256_size_is_read() -> None:
    big = 9 << 30
    data = header("huge", size=b"\x80" + big.to_bytes(11, "big")) + END
    m = next(TarScanner(feeder(data, 512)))
    assert (m.size, m.data_size) == (big, big)


def test_gnu_long_name_and_long_link_replace_the_header_names() -> None:
    long_name = b"usr/" + b"deep/" * 40 + b"file"
    long_link = b"target/" * 30
    data = (
        gnu_long(b"L", long_name)
        + gnu_long(b"K", long_link)
        + header("short", kind=b"2", linkname=b"x", magic=b"ustar  \0")
        + END
    )
    m = one(data)
    assert (m.name, m.linkname, m.type) == (long_name.decode(), long_link.decode(), b"2")
    assert m.offset == 0 and m.offset_data == len(data) - 1024


def test_later_long_name_wins_like_gos_archive_tar() -> None:
    data = gnu_long(b"L", b"first") + gnu_long(b"L", b"second") + member("x", b"") + END
    assert one(data).name == "second"


def test_pax_records_override_header_fields() -> None:
    payload = b"p" * 700
    data = (
        pax(
            {
                "path": "pax/" + "long/" * 40 + "name",
                "linkpath": "ignored-for-files",
                "uid": "70000",
                "gid": "80000",
                "mtime": "1700000123.987654321",
                "size": str(len(payload)),
                "SCHILY.xattr.user.x": b"\x00\xff binary",
                "comment": "caf\u00e9",
            }
        )
        + header("short", size=0)
        + payload
        + bytes(-len(payload) % 512)
        + END
    )
    m = one(data)
    assert m.name == "pax/" + "long/" * 40 + "name"
    assert (m.uid, m.gid, m.mtime, m.size, m.data_size) == (70000, 80000, 1700000123, 700, 700)
    assert m.offset == 0 and m.offset_data == 1536


def test_pax_size_decides_where_the_next_header_is() -> None:
    data = pax({"size": "600"}) + header("a", size=0) + b"d" * 600 + bytes(424)
    data += member("b", b"next") + END
    assert [m.name for m in scan(data)] == ["a", "b"]


def test_pax_mtime_that_is_not_a_number_becomes_zero() -> None:
    assert one(pax({"mtime": "inf"}) + member("t") + END).mtime == 0


def test_pax_negative_mtime_is_kept() -> None:
    assert one(pax({"mtime": "-5.5"}) + member("t") + END).mtime == -5


def test_later_pax_header_replaces_an_earlier_one() -> None:
    data = pax({"path": "first", "uid": "7"}) + pax({"path": "second"}) + member("h") + END
    m = one(data)
    assert (m.name, m.uid) == ("second", 0)


def test_gnu_long_name_wins_over_pax_path() -> None:
    data = pax({"path": "from-pax"}) + gnu_long(b"L", b"from-gnu") + member("h") + END
    assert one(data).name == "from-gnu"


def test_global_pax_header_changes_no_member() -> None:
    data = pax({"path": "evil", "uid": "0"}, kind=b"g") + member("a", uid=octal(5, 8)) + END
    m = one(data)
    assert (m.name, m.uid) == ("a", 5)


def test_global_pax_header_at_the_end_of_the_archive_is_accepted() -> None:
    assert [m.name for m in scan(member("a") + pax({"comment": "x"}, kind=b"g") + END)] == ["a"]


def test_solaris_x_header_is_read_like_a_pax_header() -> None:
    assert one(pax({"path": "solaris"}, kind=b"X") + member("h") + END).name == "solaris"


def test_pax_path_may_carry_a_nul_byte_for_the_indexer_to_refuse() -> None:
    assert one(pax({"path": "etc/pass\x00wd"}) + member("h") + END).name == "etc/pass\x00wd"


def test_non_utf8_names_keep_their_bytes_as_surrogate_escapes() -> None:
    m = one(member("caf\udce9/men\udcfc", b"x") + END)
    assert m.name.encode("utf-8", "surrogateescape") == b"caf\xe9/men\xfc"
    assert one(pax({"path": b"raw\xff"}) + member("h") + END).name == "raw\udcff"


# -- pax records -------------------------------------------------------------------------------


def test_pax_records_parse_with_values_holding_spaces_equals_and_newlines() -> None:
    data = pax_record("comment", "a b=c\nd") + pax_record("path", "x")
    assert parse_pax(data) == {"comment": b"a b=c\nd", "path": b"x"}


@pytest.mark.parametrize(
    "data",
    [
        b"12 path=abc",  # no newline
        b"11 path=abc\n",  # length one short
        b"13 path=abc\n",  # length past the data
        b"9 pathabc\n",  # no =
        b"8 =value\n",  # empty keyword
        b"x2 path=a\n",  # length not decimal
        b"-9 path=\n",
        b"path=abc\n",
        b"11 path=abc\n\0\0\0",  # padding inside the declared size
    ],
)
def test_malformed_pax_records_are_refused(data: bytes) -> None:
    with pytest.raises(ValueError):
        parse_pax(data)
    message = error_of(pax(data) + member("h") + END)
    assert "invalid pax header at offset 0" in message


@pytest.mark.parametrize(
    ("key", "value"),
    [("size", "12a"), ("size", "١٢"), ("uid", "x"), ("gid", "1.5"), ("uid", "")],
)
def test_pax_numbers_that_are_not_decimal_are_refused(key: str, value: str) -> None:
    assert "invalid pax header" in error_of(pax({key: value}) + member("h") + END)


def test_negative_pax_size_is_refused() -> None:
    assert "member 'neg' has a negative size" in error_of(pax({"size": "-1"}) + member("neg"))


def test_negative_base_256_size_is_refused() -> None:
    data = header("neg", size=b"\xff" * 12) + END
    assert "member 'neg' has a negative size" in error_of(data)


# -- limits on extended headers ----------------------------------------------------------------


def test_oversized_extended_header_is_refused_before_its_data_is_read() -> None:
    handed = []
    blocks = [header("././@LongLink", size=2 * MiB, kind=b"L")] + [b"n" * 512] * 8

    def fill() -> bytes:
        if not blocks:
            raise AssertionError("the scanner read the oversized header's data")
        handed.append(blocks[0])
        return blocks.pop(0)

    with pytest.raises(TarFormatError) as info:
        list(TarScanner(fill))
    assert "extended (pax or long-name) header of 2097152 bytes" in str(info.value)
    assert len(handed) == 1


def test_extended_header_limit_is_configurable() -> None:
    data = pax({"comment": "x" * 600}) + member("h") + END
    assert one(data).name == "h"
    assert "larger than the 512 bytes accepted" in error_of(data, max_meta=512)


def test_endless_chain_of_extended_headers_nests_too_deeply() -> None:
    data = gnu_long(b"L", b"n") * 40 + member("f") + END
    assert "tar headers nest too deeply" in error_of(data)
    assert one(gnu_long(b"L", b"n") * 5 + member("f") + END).name == "n"


def test_extended_header_followed_by_the_end_marker_is_corrupt() -> None:
    assert "followed by the end of the archive" in error_of(pax({"path": "p"}) + END)


def test_extended_header_followed_by_the_end_of_the_stream_is_corrupt() -> None:
    assert "ends after an extended header" in error_of(gnu_long(b"L", b"name"))


def test_extended_header_cut_inside_its_data_is_truncated() -> None:
    data = pax({"path": "p" * 600})
    assert "ends inside an extended header" in error_of(data[:700])


# -- data, padding and the end of the archive --------------------------------------------------


def test_data_is_skipped_by_size_with_padding() -> None:
    data = member("a", b"A" * 513) + member("b", b"B" * 512) + member("c") + END
    assert [(m.name, m.offset_data) for m in scan(data)] == [("a", 512), ("b", 2048), ("c", 3072)]


def test_header_only_types_skip_no_data_whatever_their_size_says() -> None:
    data = header("l", kind=b"2", size=600, linkname=b"t") + member("next", b"x") + END
    assert [m.name for m in scan(data)] == ["l", "next"]
    assert scan(data)[0].data_size == 0


def test_unknown_types_skip_their_data() -> None:
    data = member("vol", b"V" * 700, kind=b"V") + member("next") + END
    assert [(m.name, m.type) for m in scan(data)] == [("vol", b"V"), ("next", b"0")]


def test_two_zero_blocks_end_the_archive() -> None:
    scanner = TarScanner(feeder(member("a") + END, 512))
    assert [m.name for m in scanner] == ["a"]
    assert scanner.end_reason == "eof"


def test_bytes_after_the_end_marker_are_not_parsed() -> None:
    scanner = TarScanner(feeder(member("a") + ZERO_BLOCK + b"\xff" * 1024, 512))
    assert [m.name for m in scanner] == ["a"]
    assert scanner.end_reason == "eof"
    assert scanner.offset == 1024


def test_stream_ending_on_a_block_boundary_without_end_marker_is_empty() -> None:
    scanner = TarScanner(feeder(member("a", b"x" * 512), 512))
    assert [m.name for m in scanner] == ["a"]
    assert scanner.end_reason == "empty"


def test_empty_stream_is_refused() -> None:
    assert "empty" in error_of(b"")


@pytest.mark.parametrize("cut", [1, 100, 511])
def test_stream_cut_inside_a_header_is_truncated(cut: int) -> None:
    data = member("a", b"x" * 512) + member("b")
    assert "ends inside a header" in error_of(data[: 1024 + cut], chunk=300)


@pytest.mark.parametrize("cut", [513, 1111, 1112, 1535])
def test_stream_cut_inside_data_or_padding_is_truncated(cut: int) -> None:
    data = member("a", b"x" * 600) + END
    assert "member 'a' ends early (truncated)" in error_of(data[:cut], chunk=300)


def test_nul_names_and_links_cut_at_the_first_nul_like_tarfile() -> None:
    m = one(header(b"name\0junk", kind=b"2", linkname=b"to\0junk") + END)
    assert (m.name, m.linkname) == ("name", "to")


# -- sparse members ----------------------------------------------------------------------------


def test_old_gnu_sparse_member_reports_its_real_size_and_skips_extension_blocks() -> None:
    stored = b"S" * 100
    tail = bytearray(30)
    tail[0] = 1  # isextended, at byte 482
    tail[1:13] = octal(5000, 12)  # realsize, at 483
    head = header("sp", kind=b"S", size=len(stored), magic=b"ustar  \0", tail=bytes(tail))
    extension = bytearray(512)
    extension[504] = 1
    last = bytes(512)
    data = head + bytes(extension) + last + stored + bytes(412) + member("after") + END
    first, after = scan(data, chunk=700)
    assert (first.name, first.type, first.size, first.data_size) == ("sp", b"S", 5000, 100)
    assert first.sparse and first.offset_data == 1536
    assert after.name == "after"


def test_pax_sparse_member_reports_its_real_size() -> None:
    stored = b"s" * 30
    data = pax({"GNU.sparse.major": "1", "GNU.sparse.minor": "0", "GNU.sparse.realsize": "9999"})
    data += member("sp", stored) + member("after") + END
    first, after = scan(data)
    assert first.sparse and (first.size, first.data_size) == (9999, 30)
    assert after.name == "after"


# -- reading data and chunk boundaries ---------------------------------------------------------


def test_read_data_returns_the_members_bytes_across_chunks_and_the_rest_is_skipped() -> None:
    payload = bytes(range(256)) * 5
    data = member("a", payload) + member("b", b"bee") + END
    for chunk in (1, 7, 511, 512, 513, 4096):
        scanner = TarScanner(feeder(data, chunk))
        a = next(scanner)
        assert scanner.read_data(10) == payload[:10]
        assert scanner.read_data(100) == payload[10:110]
        b = next(scanner)
        assert (a.name, b.name) == ("a", "b")
        assert scanner.read_data(1000) == b"bee"
        assert scanner.read_data(5) == b""
        assert list(scanner) == []


def test_read_data_of_a_truncated_member_is_an_error() -> None:
    scanner = TarScanner(feeder(member("a", b"x" * 100)[:600], 512))
    next(scanner)
    with pytest.raises(TarFormatError, match="ends early"):
        scanner.read_data(100)


def _feature_tar() -> bytes:
    return (
        member("a", b"A" * 700)
        + pax({"path": "p/" + "q" * 200, "size": "1000"})
        + header("x", size=0)
        + b"P" * 1000
        + bytes(24)
        + gnu_long(b"L", b"l" * 300)
        + member("s", b"S" * 5)
        + header("dir/", kind=b"5")
        + member("z", b"")
        + END
    )


def test_results_do_not_depend_on_how_the_stream_is_chunked() -> None:
    data = _feature_tar()
    expected = [fields(m) for m in scan(data, chunk=len(data))]
    assert [e[0] for e in expected] == ["a", "p/" + "q" * 200, "l" * 300, "dir", "z"]
    rng = random.Random(7)
    for _ in range(40):
        sizes = iter(rng.choice([1, 3, 100, 511, 512, 513, 1500]) for _ in range(10**6))
        pos = 0
        pieces = []
        while pos < len(data):
            step = next(sizes)
            pieces.append(data[pos : pos + step])
            pos += step
        assert [fields(m) for m in TarScanner(iter_feeder(pieces))] == expected


# -- differential: the same members as tarfile -------------------------------------------------


def tarfile_members(data: bytes) -> list[tuple[object, ...]]:
    with tarfile.open(
        fileobj=io.BytesIO(data), mode="r|", encoding="utf-8", errors="surrogateescape"
    ) as tf:
        return [
            (ti.name, ti.type, ti.mode, ti.uid, ti.gid, ti.size, ti.linkname, ti.offset_data)
            for ti in tf
        ]


def assert_same_as_tarfile(data: bytes) -> int:
    expected = tarfile_members(data)
    for chunk in (512, 65536, 1 << 20):
        assert [fields(m) for m in scan(data, chunk=chunk)] == expected
    return len(expected)


@pytest.mark.realdata
@pytest.mark.parametrize(
    "name",
    [
        "alpine-minirootfs-3.10.9-x86_64.tar.gz",
        "alpine-minirootfs-3.18.9-x86_64.tar.gz",
        "alpine-minirootfs-3.20.3-aarch64.tar.gz",
        "alpine-minirootfs-3.20.3-x86_64.tar.gz",
    ],
)
def test_alpine_minirootfs_members_match_tarfile(name: str) -> None:
    data = gzip.decompress(realdata_path("images", "alpine-minirootfs", name).read_bytes())
    assert assert_same_as_tarfile(data) > 400


@pytest.mark.realdata
def test_docker_archive_layer_members_match_tarfile() -> None:
    path = realdata_path("images", "docker-archive", "alpine-310.tar.gz")
    with tarfile.open(path) as outer:
        name = next(n for n in outer.getnames() if n.endswith("/layer.tar"))
        fobj = outer.extractfile(name)
        assert fobj is not None
        layer = fobj.read()
    assert assert_same_as_tarfile(layer) > 400


@pytest.mark.parametrize("fmt", [tarfile.USTAR_FORMAT, tarfile.GNU_FORMAT, tarfile.PAX_FORMAT])
def test_tarfile_written_archives_of_each_format_match_tarfile(fmt: int) -> None:
    deep = "usr/share/" + "deep/" * 30
    builder = (
        TarBuilder(fmt)
        .dir("etc", mode=0o750, uid=3, gid=4)
        .file("etc/passwd", b"root:x:0:0\n", mode=0o600)
        .symlink("bin", "usr/bin")
        .hardlink("etc/passwd-", "etc/passwd")
        .device("dev/null", "char", 1, 3)
        .fifo("run/pipe")
        .file("big", os.urandom(70_000), uid=70_000 if fmt != tarfile.USTAR_FORMAT else 7)
    )
    if fmt != tarfile.USTAR_FORMAT:
        builder.file(deep + "file.txt", b"deep").symlink(deep + "link", "t/" * 70)
        builder.file("caf\u00e9/na\u00efve", b"utf8")
    assert assert_same_as_tarfile(builder.build()) >= 7


# -- the threaded pipeline in build_fs ---------------------------------------------------------


def inflate_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "baseguard-inflate"]


#: Bytes one member of big_layer() takes: a header and 4000 bytes padded to 4096.
MEMBER = 512 + 4096


def big_layer(members: int = 3000) -> bytes:
    """Members of 4000 random bytes (so gzip cannot shrink them), written in ustar."""
    rng = random.Random(1)
    tar = TarBuilder(tarfile.USTAR_FORMAT)
    for i in range(members):
        tar.file(f"d/{i:05}", rng.randbytes(4000))
    return tar.build()


@pytest.fixture(params=[True, False], ids=["threaded", "inline"])
def threaded(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[bool]:
    """Run the test with the inflating worker thread forced on, then forced off."""
    monkeypatch.setattr(blobstream, "THREADED", request.param)
    assert inflate_threads() == []
    yield request.param
    assert inflate_threads() == []


@pytest.fixture
def worker_seen(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Records, each time a layer pump starts, whether it started a worker thread."""
    seen: list[bool] = []
    start = blobstream.Pump.start

    def spy(pump: blobstream.Pump) -> None:
        start(pump)
        worker = pump._thread
        seen.append(worker is not None and worker.ident is not None)

    monkeypatch.setattr(blobstream.Pump, "start", spy)
    return seen


@pytest.mark.parametrize("kind", ["gzip", "zstd", "tar"])
def test_indexing_leaves_no_thread_behind(
    kind: str, threaded: bool, worker_seen: list[bool]
) -> None:
    image, _ = make_image(big_layer(300), TarBuilder().file("x", b"1").build(), compression=kind)
    fs = build_fs(image)
    assert len(fs) == 302
    assert worker_seen == [threaded, threaded]


def test_thread_is_used_only_with_enough_cpus_and_a_big_enough_blob(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(blobstream, "THREADED", None)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3})
    assert blobstream.use_thread(blobstream.PIPELINE_MIN_BLOB)
    assert not blobstream.use_thread(blobstream.PIPELINE_MIN_BLOB - 1)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1})
    assert not blobstream.use_thread(1 << 30)


@pytest.mark.timeout(30)
def test_stopping_early_with_the_worker_far_ahead_does_not_deadlock(
    threaded: bool, worker_seen: list[bool]
) -> None:
    image, store = make_image(big_layer(), compression="gzip")
    with pytest.raises(LimitExceededError):
        build_fs(image, limits=Limits(max_files=10))
    assert worker_seen == [threaded]
    # The worker ran ahead by a few chunks at most, not through the layer.
    assert store.bytes_read < 2 * MiB < len(store.blobs[image.layers[0].digest])


def test_corrupt_tar_inside_good_gzip_stops_the_worker(threaded: bool) -> None:
    tar = big_layer(200)
    at = 21 * MEMBER  # the 22nd member's header
    damaged = tar[:at] + b"\xff" * 512 + tar[at + 512 :]
    image = image_from_blobs([compress(damaged, "gzip")])
    with pytest.raises(LayerError, match=f"invalid tar header at offset {at}"):
        build_fs(image)


def test_worker_errors_arrive_after_the_chunks_before_them(threaded: bool) -> None:
    # A tar header error early in the stream wins over gzip damage far behind it.
    tar = big_layer(400)
    bad = tar[:MEMBER] + b"\xff" * 512 + tar[MEMBER + 512 :]
    blob = bytearray(compress(bad, "gzip"))
    blob[-2000:-1000] = bytes(1000)
    with pytest.raises(LayerError) as info:
        build_fs(image_from_blobs([bytes(blob)]))
    assert f"invalid tar header at offset {MEMBER}" in info.value.message


def test_gzip_damage_behind_good_members_is_reported_after_them(threaded: bool) -> None:
    blob = bytearray(compress(big_layer(400), "gzip"))
    blob[-2000:-1000] = bytes(1000)
    with pytest.raises(LayerError) as info:
        build_fs(image_from_blobs([bytes(blob)]))
    assert "gzip" in info.value.message


@pytest.mark.timeout(30)
@pytest.mark.parametrize("kind", ["gzip", "zstd"])
def test_bomb_stops_early_in_either_mode(kind: str, threaded: bool) -> None:
    bomb = gzip_zeros_after if kind == "gzip" else zstd_zeros_after
    image = image_from_blobs([bomb(TarBuilder().file("a", b"1").build(), 256 * MiB)])
    with pytest.raises(LimitExceededError, match="decompress to more than"):
        build_fs(image, limits=Limits(max_uncompressed_bytes=4 * MiB))
    assert image.blobs.bytes_read < 256 << 10  # type: ignore[union-attr]


class ExplodingBlobStore(MemoryBlobStore):
    """Blob reads fail with ``error`` after ``after`` bytes."""

    def __init__(self, error: BaseException, after: int) -> None:
        super().__init__()
        self.error = error
        self.after = after

    def open_blob(self, digest: str) -> io.BytesIO:
        fh = super().open_blob(digest)
        store = self

        class Exploding(io.BytesIO):
            def read(self, size: int | None = -1) -> bytes:
                if fh.tell() >= store.after:
                    raise store.error
                return fh.read(-1 if size is None else size)

        return Exploding()


def test_read_error_while_inflating_is_a_layer_error(threaded: bool) -> None:
    store = ExplodingBlobStore(OSError("disk on fire"), after=200_000)
    image, _ = make_image(big_layer(), compression="gzip", store=store)
    with pytest.raises(LayerError, match="cannot read the layer blob: disk on fire"):
        build_fs(image)


def test_unexpected_error_while_inflating_reaches_the_caller_unchanged(threaded: bool) -> None:
    store = ExplodingBlobStore(RuntimeError("store bug"), after=200_000)
    image, _ = make_image(big_layer(), compression="gzip", store=store)
    with pytest.raises(RuntimeError, match="store bug"):
        build_fs(image)


def test_progress_is_reported_on_the_calling_thread(threaded: bool) -> None:
    image, _ = make_image(big_layer(1000), compression="gzip")
    threads = set()
    build_fs(image, progress=lambda done, total: threads.add(threading.get_ident()))
    assert threads == {threading.get_ident()}


def test_interrupt_raised_by_the_progress_callback_stops_the_worker(threaded: bool) -> None:
    image, _ = make_image(big_layer(), compression="gzip")

    def interrupt(done: int, total: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        build_fs(image, progress=interrupt)


def outcome(blob: bytes, **kwargs: object) -> tuple[object, ...]:
    """What build_fs makes of one blob: its index, warnings and captures, or its error."""
    try:
        fs = build_fs(image_from_blobs([blob]), **kwargs)  # type: ignore[arg-type]
    except (LayerError, DigestMismatchError) as exc:
        return (type(exc).__name__, exc.message)
    return ("ok", sorted(fs.entries.items()), fs.warnings, fs.captured, fs.uncompressed_size)


def test_threaded_and_inline_give_the_same_result_on_mutated_layers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    source = (
        TarBuilder()
        .dir("etc")
        .file("etc/a", b"a" * 700)
        .symlink("l", "etc/a")
        .hardlink("h", "etc/a")
        .file("x/" * 60 + "y", b"q" * 100)
        .whiteout("zz")
        .device("dev/null")
        .build()
    )
    rng = random.Random(11)
    kinds = {"ok": 0, "error": 0}
    for _ in range(150):
        data = bytearray(source)
        for _ in range(rng.randint(1, 3)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        if rng.random() < 0.2:
            data = data[: rng.randrange(len(data))]
        blob = compress(bytes(data), rng.choice(["tar", "gzip", "zstd"]))
        results = []
        for mode in (True, False):
            monkeypatch.setattr(blobstream, "THREADED", mode)
            results.append(outcome(blob, capture=["**"], limits=Limits(max_files=40)))
        assert results[0] == results[1]
        kinds["ok" if results[0][0] == "ok" else "error"] += 1
    assert kinds["ok"] > 20 and kinds["error"] > 20, kinds


def test_offsets_read_back_through_the_layer_reader_for_every_compression() -> None:
    rng = random.Random(3)
    files = {f"f/{i}": rng.randbytes(rng.randrange(0, 3000)) for i in range(200)}
    tar = TarBuilder()
    for name, content in files.items():
        tar.file(name, content)
    layer = tar.build()
    for kind in ("gzip", "zstd", "tar"):
        image, _ = make_image(layer, compression=kind)
        fs = build_fs(image)
        assert fs.read_many(list(files)) == files
        assert all(fs.entries[name].type is FileType.REGULAR for name in files)


def test_plain_tar_header_stream_indexes_like_before() -> None:
    image = image_from_blobs([many_members_tar(2000)])
    assert len(build_fs(image)) == 2001
    image = image_from_blobs([tar_header("only", 0) + END])
    assert list(build_fs(image).entries) == ["only"]


def test_member_names_are_cleaned_exactly_like_clean_path() -> None:
    from baseguard.image.fs import clean_path
    from baseguard.image.layers import _clean_name

    names = [
        "./usr/bin/x",
        "usr/bin/x",
        "/etc/passwd",
        "./",
        ".",
        "..",
        "./..",
        "a/../b",
        "a/./b",
        "a//b",
        "a/b/",
        ".hidden",
        "dir/.hidden",
        ".wh.x",
        "a\\b",
        "a/b\\c",
        "a/..",
        "a/.",
        "",
        "...",
        "a/...",
        "./.wh..wh..opq",
    ]
    for name in names:
        assert _clean_name(name) == clean_path(name), name


def test_paths_with_dots_inside_components_stay_as_they_are() -> None:
    fs = build_fs(image_from_blobs([TarBuilder().file("./a.b/c..d/e.", b"1").build()]))
    assert list(fs.entries) == ["a.b", "a.b/c..d", "a.b/c..d/e."]


# -- what the index makes of the formats --------------------------------------------------------


def _old_gnu_sparse(name: str, stored: bytes, real: int) -> bytes:
    tail = bytearray(30)
    tail[1:13] = octal(real, 12)  # realsize, at 483; isextended (482) stays 0
    head = header(name, kind=b"S", size=len(stored), magic=b"ustar  \0", tail=bytes(tail))
    return head + stored + bytes(-len(stored) % 512)


@pytest.mark.parametrize("form", ["old-gnu", "pax-1.0"])
def test_sparse_members_are_indexed_with_their_size_but_never_read(form: str) -> None:
    if form == "old-gnu":
        sparse = _old_gnu_sparse("var/log/lastlog", b"x" * 100, 300_000)
    else:
        keys = {"GNU.sparse.major": "1", "GNU.sparse.minor": "0", "GNU.sparse.realsize": "300000"}
        sparse = pax(keys) + member("var/log/lastlog", b"x" * 100)
    fs = build_fs(image_from_blobs([compress(sparse + member("ok", b"1") + END, "gzip")]))
    entry = fs.entries["var/log/lastlog"]
    assert (entry.type, entry.size, entry.location) == (FileType.REGULAR, 300_000, -1)
    assert fs.read_bytes("var/log/lastlog") == b""
    assert fs.read_bytes("ok") == b"1"
    assert sum("sparse file; its content is not read" in w for w in fs.warnings) == 1


def test_global_pax_header_does_not_rename_the_members_of_a_layer() -> None:
    layer = pax({"path": "etc/shadow"}, kind=b"g") + member("a", b"A") + member("b", b"B") + END
    fs = build_fs(image_from_blobs([layer]))
    assert sorted(fs.entries) == ["a", "b"]


def test_pax_and_gnu_long_names_reach_the_index() -> None:
    deep = "usr/" + "deep/" * 40
    layer = pax({"path": deep + "p"}) + member("x", b"P") + gnu_long(b"L", (deep + "g").encode())
    layer += member("y", b"G", magic=b"ustar  \0") + END
    fs = build_fs(image_from_blobs([compress(layer, "zstd")]))
    assert fs.read_many([deep + "p", deep + "g"]) == {deep + "p": b"P", deep + "g": b"G"}

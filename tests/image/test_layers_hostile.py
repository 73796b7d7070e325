"""build_fs against hostile layers: escapes, links, devices, damage, bombs and odd names.

Every case is either neutralised with a warning that names the image, layer, member and
rule, or rejected with an error naming the image and layer. Nothing is ever written.
"""

from __future__ import annotations

import os
import random
import tarfile
from pathlib import Path

import pytest

from baseguard.errors import DigestMismatchError, LayerError, LimitExceededError
from baseguard.image.fs import FileType, ImageFS, SymlinkLoopError
from baseguard.image.layers import Limits, build_fs
from tests.image.layer_builders import (
    REFERENCE,
    TarBuilder,
    compress,
    gzip_zeros_after,
    image_from_blobs,
    make_image,
    many_members_tar,
    sha256,
    tar_header,
    zstd_zeros_after,
)

GiB = 1 << 30
MiB = 1 << 20


def fs_of(*tars: bytes, compression: str = "gzip", **kwargs: object) -> ImageFS:
    image, _ = make_image(*tars, compression=compression)
    return build_fs(image, **kwargs)  # type: ignore[arg-type]


def one_warning(fs: ImageFS, needle: str) -> str:
    hits = [w for w in fs.warnings if needle in w]
    assert len(hits) == 1, fs.warnings
    return hits[0]


def snapshot(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


# -- names that escape -----------------------------------------------------------------------


def test_dotdot_escape_is_skipped_with_a_warning_naming_image_layer_member_and_rule() -> None:
    tar = TarBuilder().file("../../escape.txt", b"evil").file("ok", b"fine").build()
    image, _ = make_image(tar)
    fs = build_fs(image)
    assert sorted(fs.entries) == ["ok"]
    warning = one_warning(fs, "escape.txt")
    assert warning.startswith(f"{REFERENCE}: layer 0 ({image.layers[0].digest[:19]})")
    assert "'../../escape.txt'" in warning
    assert "climbs out of the image root" in warning


def test_dotdot_in_the_middle_that_climbs_out_is_skipped() -> None:
    fs = fs_of(TarBuilder().file("a/../../b", b"x").file("a/../c", b"c").build())
    assert sorted(fs.entries) == ["c"]
    one_warning(fs, "'a/../../b'")


def test_absolute_names_are_made_relative_and_noted_once() -> None:
    tar = TarBuilder().file("/etc/passwd", b"root:x:0:0\n").file("/etc/group", b"root:x:0:\n")
    fs = fs_of(tar.build())
    assert sorted(fs.entries) == ["etc", "etc/group", "etc/passwd"]
    warning = one_warning(fs, "absolute")
    assert "2 member name(s)" in warning and "'/etc/passwd'" in warning
    assert "leading / was stripped" in warning


def test_layer_reading_writes_nothing_even_for_escaping_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    before_tmp = snapshot(tmp_path)
    tar = (
        TarBuilder()
        .file("../escaped.txt", b"evil")
        .file(f"{tmp_path}/absolute.txt", b"abs")
        .symlink("link-out", str(tmp_path / "linked.txt"))
        .file("link-out", b"through the link")
        .hardlink("hard-out", "../../escaped.txt")
        .symlink("dir-out", "../..")
        .file("dir-out/via-dir.txt", b"via")
        .symlink("host-dir", str(tmp_path))
        .file("host-dir/through.txt", b"through")
        .build()
    )
    for kind in ("gzip", "zstd", "tar"):
        fs = fs_of(tar, compression=kind)
        assert fs.read_optional("link-out") == b"through the link"
        assert fs.read_optional(f"{tmp_path}/absolute.txt") == b"abs"
        assert fs.read_optional("via-dir.txt") == b"via"
        assert "host-dir/through.txt" not in fs.entries
    assert snapshot(tmp_path) == before_tmp
    assert not (tmp_path / "through.txt").exists()
    assert not (tmp_path / "escaped.txt").exists()
    assert not (tmp_path / "linked.txt").exists()
    assert not (tmp_path.parent / "escaped.txt").exists()
    assert os.listdir(work) == []


# -- symlinks --------------------------------------------------------------------------------


def test_symlinks_pointing_outside_are_confined_to_the_image_root(tmp_path: Path) -> None:
    secret = tmp_path / "host-secret.txt"
    secret.write_bytes(b"HOST SECRET")
    tar = (
        TarBuilder()
        .symlink("abs", "/etc/passwd")
        .symlink("rel", "../../../../../../../etc/passwd")
        .symlink("host", str(secret))
        .file("etc/passwd", b"image passwd\n")
        .build()
    )
    fs = fs_of(tar)
    assert fs.entries["abs"].type is FileType.SYMLINK
    assert fs.read_bytes("abs") == b"image passwd\n"
    assert fs.read_bytes("rel") == b"image passwd\n"
    assert fs.resolve("host") is None
    assert fs.read_optional("host") is None
    with pytest.raises(FileNotFoundError):
        fs.read_bytes("host")


def test_host_etc_passwd_is_never_read_through_a_symlink() -> None:
    host = Path("/etc/passwd")
    if not host.exists():
        pytest.skip("this host has no /etc/passwd to compare with")
    fs = fs_of(TarBuilder().symlink("p", "/etc/passwd").symlink("q", "../etc/passwd").build())
    assert fs.read_optional("p") is None
    assert fs.read_optional("q") is None
    assert fs.read_many(["p", "q", "/etc/passwd"]) == {}


@pytest.mark.timeout(10)
def test_symlink_cycles_are_detected_not_followed_forever() -> None:
    tar = (
        TarBuilder()
        .symlink("a", "b")
        .symlink("b", "a")
        .symlink("self", "self")
        .symlink("deep", "deep/deep")
        .symlink("up", "./up/../up")
        .build()
    )
    fs = fs_of(tar)
    for path in ("a", "self", "deep", "up/x"):
        with pytest.raises(SymlinkLoopError):
            fs.resolve(path)
        assert fs.lookup(path) is None
        assert fs.read_optional(path) is None
    assert fs.symlink_target("a") is None


def test_member_written_through_a_symlink_to_outside_lands_inside_the_root() -> None:
    lower = TarBuilder().dir("etc").symlink("up", "../../..").symlink("abs", "/etc").build()
    upper = (
        TarBuilder()
        .file("up/planted", b"p")
        .file("abs/cron.d/job", b"j")
        .symlink("dangling", "/nowhere")
        .file("dangling/x", b"x")
        .build()
    )
    fs = fs_of(lower, upper)
    assert sorted(fs.entries) == [
        "abs",
        "dangling",
        "etc",
        "etc/cron.d",
        "etc/cron.d/job",
        "planted",
        "up",
    ]
    assert fs.read_bytes("up/planted") == b"p"
    assert fs.entries["etc/cron.d/job"].layer == 1
    assert "parent is not a directory" in one_warning(fs, "'dangling/x'")


def test_member_whose_parent_is_a_symlink_loop_is_skipped() -> None:
    lower = TarBuilder().symlink("a", "b").symlink("b", "a").build()
    upper = TarBuilder().file("a/file", b"x").build()
    fs = fs_of(lower, upper)
    assert sorted(fs.entries) == ["a", "b"]
    warning = one_warning(fs, "'a/file'")
    assert "layer 1" in warning and "parent is not a directory" in warning


def test_member_whose_parent_is_a_regular_file_is_skipped() -> None:
    fs = fs_of(TarBuilder().file("f", b"file").build(), TarBuilder().file("f/g", b"g").build())
    assert sorted(fs.entries) == ["f"]
    assert fs.read_bytes("f") == b"file"
    one_warning(fs, "'f/g'")


# -- hard links ------------------------------------------------------------------------------


def test_hard_link_outside_the_root_is_skipped_with_a_warning() -> None:
    tar = TarBuilder().hardlink("shadow", "../../../etc/shadow").file("ok", b"1").build()
    fs = fs_of(tar)
    assert sorted(fs.entries) == ["ok"]
    warning = one_warning(fs, "'shadow'")
    assert "outside the image root" in warning and "layer 0" in warning


def test_hard_link_to_a_missing_target_is_skipped_with_a_warning() -> None:
    fs = fs_of(TarBuilder().hardlink("bin/alias", "bin/nothing").build())
    assert "bin/alias" not in fs.entries
    assert "'bin/nothing' is not in the image" in one_warning(fs, "'bin/alias'")


def test_hard_link_to_a_directory_is_skipped() -> None:
    fs = fs_of(TarBuilder().dir("d").hardlink("h", "d").build())
    assert sorted(fs.entries) == ["d"]
    assert "is a directory" in one_warning(fs, "'h'")


def test_hard_link_to_a_target_whited_out_in_the_same_layer_is_skipped() -> None:
    lower = TarBuilder().file("t", b"lower").build()
    upper = TarBuilder().whiteout("t").hardlink("h", "t").build()
    fs = fs_of(lower, upper)
    assert sorted(fs.entries) == []
    one_warning(fs, "'h'")


# -- special files ---------------------------------------------------------------------------


def test_devices_and_fifos_are_recorded_with_their_type_but_never_read() -> None:
    tar = (
        TarBuilder()
        .device("dev/null", "char", 1, 3)
        .device("dev/sda", "block", 8, 0)
        .fifo("run/pipe")
        .symlink("null-link", "/dev/null")
        .build()
    )
    fs = fs_of(tar, capture=["**"])
    assert fs.entries["dev/null"].type is FileType.CHAR_DEVICE
    assert fs.entries["dev/sda"].type is FileType.BLOCK_DEVICE
    assert fs.entries["run/pipe"].type is FileType.FIFO
    assert fs.captured == {}
    for path in ("dev/null", "dev/sda", "run/pipe", "null-link"):
        with pytest.raises(FileNotFoundError):
            fs.read_bytes(path)
    assert fs.reader.read_many([fs.entries["dev/null"], fs.entries["run/pipe"]], 10) == {}
    assert "char special file recorded, never read" in one_warning(fs, "'dev/null'")
    one_warning(fs, "'run/pipe'")


def test_unsupported_member_types_are_skipped() -> None:
    ti = tarfile.TarInfo("weird")
    ti.type = b"V"  # GNU volume header
    fs = fs_of(TarBuilder().member(ti).file("ok", b"1").build())
    assert sorted(fs.entries) == ["ok"]
    assert "unsupported tar member type" in one_warning(fs, "'weird'")


def test_repeated_warnings_are_summarised_after_twenty() -> None:
    tar = TarBuilder()
    for i in range(25):
        tar.fifo(f"pipes/{i}")
    fs = fs_of(tar.build())
    assert len(fs.entries) == 26
    assert sum("never read" in w for w in fs.warnings) == 20
    assert any("5 more members broke the same rule (device)" in w for w in fs.warnings)


# -- damaged layers --------------------------------------------------------------------------


def _layer_error(blob: bytes, **kwargs: object) -> LayerError:
    image = image_from_blobs([compress(TarBuilder().file("ok", b"1").build(), "gzip"), blob])
    with pytest.raises(LayerError) as info:
        build_fs(image, **kwargs)  # type: ignore[arg-type]
    assert not isinstance(info.value, LimitExceededError)
    message = info.value.message
    assert message.startswith(f"{REFERENCE}: layer 1 ({image.layers[1].digest})")
    return info.value


def _content_tar() -> bytes:
    tar = TarBuilder()
    for i in range(20):
        tar.file(f"data/{i}.bin", bytes([i]) * 3000 + os.urandom(1000))
    return tar.build()


@pytest.mark.parametrize("kind", ["gzip", "zstd", "tar"])
def test_truncated_layer_is_a_layer_error(kind: str) -> None:
    blob = compress(_content_tar(), kind)
    error = _layer_error(blob[: len(blob) // 2])
    assert "truncated or corrupt" in error.message


def test_tar_cut_inside_a_header_is_truncated() -> None:
    tar = TarBuilder().file("a", b"x" * 512).file("b", b"y").build()
    # a's header and data fill 1024 bytes; cut 100 bytes into b's header.
    error = _layer_error(tar[: 1024 + 100])
    assert "truncated or corrupt" in error.message
    assert "inside a header" in error.message


def test_tar_without_an_end_marker_on_a_block_boundary_is_accepted_with_a_warning() -> None:
    tar = TarBuilder().file("a", b"x" * 512).build()
    image = image_from_blobs([tar[:1024]])
    fs = build_fs(image)
    assert fs.read_bytes("a") == b"x" * 512
    one_warning(fs, "no end-of-archive marker")


def test_corrupt_gzip_is_a_layer_error() -> None:
    blob = bytearray(compress(_content_tar(), "gzip"))
    for i in range(200, 260):
        blob[i] ^= 0x5A
    error = _layer_error(bytes(blob))
    assert "truncated or corrupt" in error.message
    assert "gzip" in error.message


def test_garbage_after_the_gzip_stream_is_corrupt() -> None:
    blob = compress(TarBuilder().file("a", b"1").build(), "gzip") + b"GARBAGE!"
    assert "trailing garbage" in _layer_error(blob).message


def test_garbage_tar_header_after_the_first_member_is_corrupt() -> None:
    tar = TarBuilder().file("a", b"1").build()
    blob = tar[:1024] + b"\xff" * 512 + bytes(1024)
    error = _layer_error(blob)
    assert "invalid tar header at offset 1024" in error.message


def test_blob_that_is_not_a_tar_at_all_is_corrupt() -> None:
    assert "truncated or corrupt" in _layer_error(b"this is plainly not a tar stream\n").message


def test_empty_blob_is_corrupt() -> None:
    assert "truncated or corrupt" in _layer_error(b"").message


def test_blob_that_does_not_match_its_digest_is_rejected() -> None:
    good = compress(TarBuilder().file("a", b"1").build(), "gzip")
    other = compress(TarBuilder().file("a", b"2").build(), "gzip")
    image = image_from_blobs([good, other], digests=[sha256(good), "sha256:" + "ab" * 32])
    with pytest.raises(DigestMismatchError) as info:
        build_fs(image)
    assert info.value.message.startswith(f"{REFERENCE}: layer 1 ({image.layers[1].digest})")
    assert f"got {sha256(other)}" in info.value.message


def test_tampered_gzip_is_reported_as_a_digest_mismatch_not_only_as_corrupt() -> None:
    blob = compress(_content_tar(), "gzip")
    damaged = blob[:300] + bytes(40) + blob[340:]
    image = image_from_blobs([damaged], digests=[sha256(blob)])
    with pytest.raises(DigestMismatchError) as info:
        build_fs(image)
    assert "does not match its digest" in info.value.message
    assert "truncated or corrupt" in info.value.message


def test_oversized_extended_header_is_refused_before_it_is_read() -> None:
    ti = tarfile.TarInfo("p")
    ti.pax_headers = {"comment": "x" * (2 * MiB)}
    error = _layer_error(TarBuilder().member(ti, b"").build())
    assert "extended (pax or long-name) header" in error.message


def test_endless_chain_of_long_name_headers_is_corrupt() -> None:
    longname = tar_header("././@LongLink", 10, tarfile.GNUTYPE_LONGNAME) + b"n" * 10 + bytes(502)
    blob = longname * 5000 + tar_header("f", 0) + bytes(1024)
    assert "nest too deeply" in _layer_error(blob).message


def test_negative_size_is_corrupt() -> None:
    ti = tarfile.TarInfo("neg")
    ti.pax_headers = {"size": "-1"}
    assert "negative size" in _layer_error(TarBuilder().member(ti).build()).message


# -- bombs and limits ------------------------------------------------------------------------


@pytest.mark.timeout(30)
def test_gzip_bomb_of_one_gib_of_zeros_stops_at_the_byte_limit_early() -> None:
    # A small member, then 1 GiB of zeros: tar sees the end marker; the zeros go on.
    blob = gzip_zeros_after(TarBuilder().file("a", b"1").build(), GiB)
    assert len(blob) < 2 * MiB
    image = image_from_blobs([blob])
    store = image.blobs
    with pytest.raises(LimitExceededError) as info:
        build_fs(image, limits=Limits(max_uncompressed_bytes=8 * MiB))
    assert store.bytes_read < 256 << 10  # type: ignore[union-attr]
    message = info.value.message
    assert message.startswith(f"{REFERENCE}: layer 0 ({image.layers[0].digest})")
    assert "limit max_uncompressed_bytes = 8388608" in message
    assert info.value.hint is not None and "Limits.max_uncompressed_bytes" in info.value.hint


@pytest.mark.timeout(30)
def test_zstd_bomb_of_one_gib_of_zeros_stops_at_the_byte_limit_early() -> None:
    blob = zstd_zeros_after(TarBuilder().file("a", b"1").build(), GiB)
    assert len(blob) < MiB
    image = image_from_blobs([blob])
    with pytest.raises(LimitExceededError) as info:
        build_fs(image, limits=Limits(max_uncompressed_bytes=8 * MiB))
    assert "max_uncompressed_bytes" in info.value.message
    assert image.blobs.bytes_read < 256 << 10  # type: ignore[union-attr]


@pytest.mark.timeout(30)
def test_member_holding_a_gib_of_zeros_is_refused_at_its_header() -> None:
    # One member that honestly holds 1 GiB of zeros, under a 64 MiB limit: it declares
    # more than the limit, so it is refused at its header before any data is read.
    blob = gzip_zeros_after(tar_header("zeros", GiB), GiB + 1024)
    image = image_from_blobs([blob])
    with pytest.raises(LimitExceededError) as info:
        build_fs(image, limits=Limits(max_uncompressed_bytes=64 * MiB))
    assert "member 'zeros' declares 1073741824 bytes" in info.value.message
    assert image.blobs.bytes_read < 256 << 10  # type: ignore[union-attr]


@pytest.mark.timeout(30)
def test_bytes_limit_counts_across_layers() -> None:
    t = TarBuilder().file("a", os.urandom(600 << 10)).build()
    image, _ = make_image(t, t, compression="zstd")
    with pytest.raises(LimitExceededError) as info:
        build_fs(image, limits=Limits(max_uncompressed_bytes=1 * MiB))
    assert "layer 1" in info.value.message


@pytest.mark.timeout(30)
def test_tar_of_a_hundred_thousand_members_stops_at_max_files() -> None:
    tar = many_members_tar(100_000)
    image = image_from_blobs([tar])
    with pytest.raises(LimitExceededError) as info:
        build_fs(image, limits=Limits(max_files=1000))
    assert "more than 1000 files" in info.value.message
    assert "stopped at member 'm/0001000'" in info.value.message
    assert "limit max_files = 1000" in info.value.message
    assert info.value.hint is not None and "Limits.max_files" in info.value.hint
    assert image.blobs.bytes_read < 2 * MiB  # type: ignore[union-attr]


def test_max_files_counts_across_layers() -> None:
    t = many_members_tar(600)
    image, _ = make_image(t, t, compression="gzip")
    with pytest.raises(LimitExceededError) as info:
        build_fs(image, limits=Limits(max_files=1000))
    assert "layer 1" in info.value.message


def test_many_members_under_the_limit_are_indexed() -> None:
    fs = build_fs(image_from_blobs([many_members_tar(5000)]))
    assert len(fs) == 5001


def test_huge_single_member_is_refused_at_its_header_with_default_limits() -> None:
    blob = tar_header("huge.img", 100 * GiB) + bytes(1024)
    image = image_from_blobs([blob])
    with pytest.raises(LimitExceededError) as info:
        build_fs(image)
    assert "member 'huge.img' declares 107374182400 bytes" in info.value.message
    assert "max_uncompressed_bytes" in info.value.message


def test_member_declaring_more_data_than_the_stream_has_is_truncated() -> None:
    error = _layer_error(tar_header("short", 1 * MiB) + b"only a little" + bytes(1024))
    assert "truncated or corrupt" in error.message


# -- odd names -------------------------------------------------------------------------------


def test_member_name_with_a_nul_byte_is_skipped() -> None:
    ti = tarfile.TarInfo("placeholder")
    ti.pax_headers = {"path": "etc/pass\x00wd"}
    ti.size = 1
    fs = fs_of(TarBuilder().member(ti, b"x").file("ok", b"1").build())
    assert sorted(fs.entries) == ["ok"]
    assert "NUL byte" in one_warning(fs, "pass\\x00wd")


def test_symlink_target_with_a_nul_byte_is_skipped() -> None:
    ti = tarfile.TarInfo("lnk")
    ti.type = tarfile.SYMTYPE
    ti.pax_headers = {"linkpath": "/etc\x00/passwd"}
    fs = fs_of(TarBuilder().member(ti).build())
    assert "lnk" not in fs.entries
    one_warning(fs, "'lnk'")


def test_non_utf8_member_name_is_kept_with_its_bytes_escaped() -> None:
    fs = fs_of(TarBuilder(tarfile.GNU_FORMAT).file("caf\udce9/men\udcfc", b"raw").build())
    assert "caf\udce9/men\udcfc" in fs.entries
    assert fs.read_bytes("caf\udce9/men\udcfc") == b"raw"
    assert "caf\udce9/men\udcfc".encode("utf-8", "surrogateescape") == b"caf\xe9/men\xfc"
    assert "not valid UTF-8" in one_warning(fs, "men")


def test_whiteout_naming_the_parent_directory_is_ignored() -> None:
    lower = TarBuilder().file("etc/keep", b"k").build()
    upper = TarBuilder().file("etc/.wh..", b"").build()
    fs = fs_of(lower, upper)
    assert sorted(fs.entries) == ["etc", "etc/keep"]
    one_warning(fs, "whiteout names no file")


def test_pax_mtime_of_infinity_does_not_break_indexing() -> None:
    ti = tarfile.TarInfo("t")
    ti.pax_headers = {"mtime": "inf"}
    fs = fs_of(TarBuilder().member(ti, b"").build())
    assert fs.entries["t"].mtime == 0


# -- fuzzing ---------------------------------------------------------------------------------


def _header_offsets(tar: bytes) -> list[int]:
    out = []
    for off in range(0, len(tar), 512):
        block = tar[off : off + 512]
        if len(block) < 512 or block == bytes(512):
            continue
        try:
            stored = int(block[148:156].split(b"\0")[0].strip() or b"0", 8)
        except ValueError:
            continue
        if stored == sum(block[:148]) + 256 + sum(block[156:]):
            out.append(off)
    return out


def _reseal(data: bytearray, offsets: list[int]) -> None:
    """Recompute the header checksums so mutations reach the field parsers."""
    for off in offsets:
        data[off + 148 : off + 156] = b" " * 8
        data[off + 148 : off + 156] = b"%06o\x00 " % sum(data[off : off + 512])


@pytest.mark.timeout(120)
def test_mutated_headers_only_ever_raise_baseguard_errors() -> None:
    pax = tarfile.TarInfo("p")
    pax.pax_headers = {"comment": "h\u00e9llo", "uid": "5", "path": "long/" * 30 + "x"}
    sources = [
        TarBuilder()
        .dir("etc")
        .file("etc/a", b"a" * 700)
        .symlink("l", "etc/a")
        .hardlink("h", "etc/a")
        .member(pax, b"pp")
        .whiteout("zz")
        .device("dev/null")
        .opaque("etc")
        .build(),
        TarBuilder(tarfile.GNU_FORMAT)
        .file("x/" * 60 + "y", b"q" * 100)
        .symlink("s", "t/" * 70)
        .hardlink("x/" * 60 + "z", "x/" * 60 + "y")
        .build(),
    ]
    offsets = [_header_offsets(s) for s in sources]
    assert all(len(o) >= 3 for o in offsets)
    rng = random.Random(20261127)
    outcomes = {"ok": 0, "error": 0}
    for i in range(1500):
        k = i % 2
        data = bytearray(sources[k])
        for _ in range(rng.randint(1, 4)):
            pos = rng.choice(offsets[k]) + rng.randrange(512)
            r = rng.random()
            if r < 0.5:
                data[pos] = rng.randrange(256)
            elif r < 0.75:
                data[pos] = rng.choice(b"01234567 \0/.")
            else:
                data[pos] = rng.choice(b"0123456LKxgSV")
        _reseal(data, offsets[k])
        if rng.random() < 0.1:
            data = data[: rng.randrange(len(data))]
        blob = compress(bytes(data), rng.choice(["tar", "gzip", "zstd"]))
        try:
            fs = build_fs(
                image_from_blobs([blob]),
                limits=Limits(max_uncompressed_bytes=16 * MiB),
                capture=["**"],
            )
            fs.read_many([e.path for e in fs])
            for e in fs:
                fs.lookup(e.path)
            outcomes["ok"] += 1
        except (LayerError, DigestMismatchError):
            outcomes["error"] += 1
    # Both kinds of outcome must occur, or the mutations are not reaching the parser.
    assert outcomes["ok"] > 300 and outcomes["error"] > 300, outcomes

"""build_fs: merging layers (whiteouts, hard links, symlinks), capture, and lazy reads."""

from __future__ import annotations

import hashlib
import random
import tarfile
import threading
from pathlib import Path

import pytest

from baseguard.errors import DigestMismatchError, UsageError
from baseguard.image import layers
from baseguard.image.blobstream import detect_compression
from baseguard.image.fs import FileEntry, FileType, ImageFS
from baseguard.image.layers import Limits, build_fs
from baseguard.image.model import Descriptor, Image, ImageConfig, Layer
from baseguard.image.readback import LayerReader
from tests.conftest import realdata_path
from tests.image.layer_builders import (
    MEDIA_TYPES,
    REFERENCE,
    MemoryBlobStore,
    TarBuilder,
    compress,
    image_from_blobs,
    make_image,
    many_members_tar,
    sha256,
)

COMPRESSIONS = ["gzip", "zstd", "tar"]


def fs_of(*tars: bytes, compression: str = "gzip", **kwargs: object) -> ImageFS:
    image, _ = make_image(*tars, compression=compression)
    return build_fs(image, **kwargs)  # type: ignore[arg-type]


class FailingReader:
    """A ContentReader that must not be used (captured bytes should be served instead)."""

    def read(self, entry: FileEntry, limit: int) -> bytes:
        raise AssertionError(f"reader used for {entry.path}")

    def read_many(self, entries: list[FileEntry], limit: int) -> dict[str, bytes]:
        raise AssertionError("reader used")


# -- entries and metadata ------------------------------------------------------------------


def test_regular_file_metadata_is_recorded() -> None:
    tar = TarBuilder().file("etc/app.conf", b"x=1\n", mode=0o640, uid=1000, gid=1001).build()
    entry = fs_of(tar).entries["etc/app.conf"]
    assert entry.type is FileType.REGULAR
    assert (entry.mode, entry.uid, entry.gid, entry.size) == (0o640, 1000, 1001, 4)
    assert entry.layer == 0
    assert entry.mtime == 1_700_000_000
    assert entry.location > 0 and entry.location % 512 == 0


def test_setuid_setgid_and_sticky_bits_are_kept() -> None:
    tar = (
        TarBuilder()
        .file("usr/bin/su", b"\x7fELF", mode=0o4755)
        .file("usr/bin/wall", b"\x7fELF", mode=0o2755)
        .dir("tmp", mode=0o1777)
        .build()
    )
    fs = fs_of(tar)
    assert fs.entries["usr/bin/su"].is_setuid
    assert not fs.entries["usr/bin/su"].is_setgid
    assert fs.entries["usr/bin/wall"].is_setgid
    assert fs.entries["tmp"].mode == 0o1777


def test_dot_slash_names_and_trailing_slashes_are_normalised() -> None:
    tar = TarBuilder().dir("./etc/").file("./etc/hosts", b"127.0.0.1 localhost\n").build()
    fs = fs_of(tar)
    assert sorted(fs.entries) == ["etc", "etc/hosts"]
    assert fs.warnings == []


def test_directories_implied_by_children_exist_with_layer_minus_one() -> None:
    fs = fs_of(TarBuilder().file("a/b/c.txt", b"c").build())
    assert fs.entries["a"].type is FileType.DIRECTORY
    assert fs.entries["a/b"].type is FileType.DIRECTORY
    assert fs.entries["a"].layer == -1 and fs.entries["a/b"].layer == -1
    assert fs.layer_of("a/b") is None


def test_explicit_directory_keeps_its_own_metadata() -> None:
    fs = fs_of(TarBuilder().dir("srv", mode=0o700, uid=33, gid=33).file("srv/x", b"").build())
    assert (fs.entries["srv"].mode, fs.entries["srv"].uid, fs.entries["srv"].layer) == (
        0o700,
        33,
        0,
    )


def test_root_directory_member_is_not_an_entry() -> None:
    fs = fs_of(TarBuilder().dir("./").file("f", b"1").build())
    assert sorted(fs.entries) == ["f"]


@pytest.mark.parametrize("kind", COMPRESSIONS)
def test_each_compression_indexes_and_reads_back(kind: str) -> None:
    tar = TarBuilder().file("etc/os-release", b"ID=test\n").file("bin/tool", b"T" * 5000).build()
    fs = fs_of(tar, compression=kind)
    assert fs.read_bytes("etc/os-release") == b"ID=test\n"
    assert fs.read_bytes("bin/tool") == b"T" * 5000
    assert fs.uncompressed_size == len(tar)


@pytest.mark.parametrize(
    ("blob", "kind"),
    [(b"\x1f\x8b\x08\x00", "gzip"), (b"\x28\xb5\x2f\xfd\x00", "zstd"), (b"etc/\x00\x00", "tar")],
)
def test_compression_is_detected_by_magic_bytes(blob: bytes, kind: str) -> None:
    assert detect_compression(blob) == kind


def test_media_type_that_lies_about_compression_is_read_by_content() -> None:
    tar = TarBuilder().file("f", b"content").build()
    image = image_from_blobs([compress(tar, "zstd")], media_types=[MEDIA_TYPES["gzip"]])
    fs = build_fs(image)
    assert fs.read_bytes("f") == b"content"
    assert len(fs.warnings) == 1
    assert "says gzip but the content is zstd" in fs.warnings[0]


def test_multi_member_gzip_is_read_to_the_end() -> None:
    tar = TarBuilder().file("a", b"A" * 3000).file("b", b"B" * 3000).build()
    blob = compress(tar[:2048], "gzip") + compress(tar[2048:], "gzip")
    fs = build_fs(image_from_blobs([blob], diff_ids=[sha256(tar)]))
    assert fs.read_bytes("b") == b"B" * 3000


def test_empty_layer_gives_no_entries() -> None:
    fs = fs_of(TarBuilder().build())
    assert len(fs) == 0
    assert fs.warnings == []


def test_layer_digests_and_uncompressed_size_are_recorded() -> None:
    t0 = TarBuilder().file("a", b"1" * 100).build()
    t1 = TarBuilder().file("b", b"2" * 100).build()
    image, _ = make_image(t0, t1, compression=["gzip", "zstd"])
    fs = build_fs(image)
    assert fs.layer_digests == [image.layers[0].digest, image.layers[1].digest]
    assert fs.uncompressed_size == len(t0) + len(t1)


@pytest.mark.parametrize("workers", [1, 2])
def test_progress_reports_compressed_bytes_up_to_the_total(
    workers: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(layers, "LAYER_WORKERS", workers)
    t0 = TarBuilder().file("a", random.Random(0).randbytes(3 << 20)).build()
    t1 = TarBuilder().file("b", b"b").build()
    image, store = make_image(t0, t1)
    calls: list[tuple[int, int]] = []
    threads = set()

    def record(done: int, total: int) -> None:
        calls.append((done, total))
        threads.add(threading.get_ident())

    build_fs(image, progress=record)
    total = sum(len(b) for b in store.blobs.values())
    assert calls[-1] == (total, total)
    assert all(t == total for _, t in calls)
    dones = [d for d, _ in calls]
    assert dones == sorted(dones)
    assert threads == {threading.get_ident()}  # layers read on other threads report here
    if workers == 1:
        assert len(calls) >= 3  # mid-layer reports for the 3 MiB layer, one per layer end


def test_diff_id_mismatch_is_an_error() -> None:
    tar = TarBuilder().file("a", b"1").build()
    blob = compress(tar, "gzip")
    image = image_from_blobs([blob], diff_ids=["sha256:" + "0" * 64])
    with pytest.raises(DigestMismatchError) as info:
        build_fs(image)
    assert "diff_id" in info.value.message
    assert "layer 0" in info.value.message
    assert REFERENCE in info.value.message


def test_missing_diff_id_is_not_required() -> None:
    tar = TarBuilder().file("a", b"1").build()
    fs = build_fs(image_from_blobs([compress(tar, "zstd")], diff_ids=None))
    assert fs.read_bytes("a") == b"1"


def test_image_with_a_root_dir_and_no_blobs_is_indexed_from_the_directory(
    tmp_path: Path,
) -> None:
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "os-release").write_text("ID=dir\n")
    image = Image(REFERENCE, "dir", ImageConfig(), [], None, root_dir=tmp_path)
    fs = build_fs(image)
    assert fs.read_text("etc/os-release") == "ID=dir\n"


# -- whiteouts -----------------------------------------------------------------------------


def test_whiteout_deletes_a_file_from_a_lower_layer() -> None:
    lower = TarBuilder().file("etc/a", b"a").file("etc/b", b"b").build()
    upper = TarBuilder().whiteout("etc/a").build()
    fs = fs_of(lower, upper)
    assert "etc/a" not in fs.entries
    assert fs.read_bytes("etc/b") == b"b"
    assert not any(".wh." in p for p in fs.entries)


def test_whiteout_of_a_directory_deletes_its_whole_subtree() -> None:
    lower = TarBuilder().file("a/b/c", b"c").file("a/b/d/e", b"e").file("a/keep", b"k").build()
    upper = TarBuilder().whiteout("a/b").build()
    fs = fs_of(lower, upper)
    assert sorted(fs.entries) == ["a", "a/keep"]


def test_whiteout_does_not_hide_a_file_from_its_own_layer() -> None:
    lower = TarBuilder().file("x", b"old").build()
    # The new file comes first in the tar, the whiteout after it: only the lower x goes.
    upper = TarBuilder().file("x", b"new").whiteout("x").build()
    fs = fs_of(lower, upper)
    assert fs.read_bytes("x") == b"new"
    assert fs.entries["x"].layer == 1


def test_file_whited_out_then_recreated_comes_from_the_latest_layer() -> None:
    l0 = TarBuilder().file("x", b"zero").build()
    l1 = TarBuilder().whiteout("x").build()
    l2 = TarBuilder().file("x", b"two").build()
    image, _ = make_image(l0, l1, l2)
    fs = build_fs(image)
    assert fs.read_bytes("x") == b"two"
    assert fs.layer_of("x") == image.layers[2].digest


def test_whiteout_of_a_missing_path_changes_nothing() -> None:
    fs = fs_of(TarBuilder().file("a", b"1").build(), TarBuilder().whiteout("nope").build())
    assert sorted(fs.entries) == ["a"]


@pytest.mark.parametrize("marker_first", [True, False])
def test_opaque_directory_hides_lower_children_but_keeps_its_own_layer(
    marker_first: bool,
) -> None:
    lower = TarBuilder().file("etc/a", b"a").file("etc/sub/b", b"b").file("other/o", b"o").build()
    upper = TarBuilder().dir("etc")
    if marker_first:
        upper.opaque("etc").file("etc/c", b"c")
    else:
        upper.file("etc/c", b"c").opaque("etc")
    fs = fs_of(lower, upper.build())
    assert sorted(fs.entries) == ["etc", "etc/c", "other", "other/o"]
    assert fs.entries["etc"].layer == 1


def test_opaque_directory_in_a_later_layer_hides_files_of_every_lower_layer() -> None:
    l0 = TarBuilder().file("d/zero", b"0").build()
    l1 = TarBuilder().file("d/one", b"1").build()
    l2 = TarBuilder().opaque("d").file("d/two", b"2").build()
    fs = fs_of(l0, l1, l2)
    assert sorted(fs.entries) == ["d", "d/two"]


def test_whiteout_inside_a_symlinked_directory_applies_to_the_target() -> None:
    lower = TarBuilder().file("usr/lib/libx.so", b"x").symlink("lib", "usr/lib").build()
    upper = TarBuilder().whiteout("lib/libx.so").build()
    fs = fs_of(lower, upper)
    assert "usr/lib/libx.so" not in fs.entries
    assert fs.entries["lib"].type is FileType.SYMLINK


# -- overriding ----------------------------------------------------------------------------


def test_later_layer_overrides_a_file_and_is_credited_with_it() -> None:
    l0 = TarBuilder().file("etc/motd", b"old", mode=0o644).build()
    l1 = TarBuilder().file("etc/motd", b"new!", mode=0o600).build()
    image, _ = make_image(l0, l1)
    fs = build_fs(image)
    assert fs.read_bytes("etc/motd") == b"new!"
    assert fs.entries["etc/motd"].mode == 0o600
    assert fs.layer_of("etc/motd") == image.layers[1].digest


def test_file_replacing_a_directory_removes_the_directory_subtree() -> None:
    l0 = TarBuilder().file("opt/app/bin/run", b"r").file("opt/app/lib/x", b"x").build()
    l1 = TarBuilder().file("opt/app", b"now a file").build()
    fs = fs_of(l0, l1)
    assert sorted(fs.entries) == ["opt", "opt/app"]
    assert fs.read_bytes("opt/app") == b"now a file"


def test_symlink_replacing_a_directory_removes_the_directory_subtree() -> None:
    l0 = TarBuilder().file("lib/old.so", b"o").file("usr/lib/new.so", b"n").build()
    l1 = TarBuilder().symlink("lib", "usr/lib").build()
    fs = fs_of(l0, l1)
    assert "lib/old.so" not in fs.entries
    assert fs.lookup("lib/new.so") is not None
    assert fs.read_bytes("lib/new.so") == b"n"


def test_directory_over_directory_keeps_lower_children() -> None:
    l0 = TarBuilder().dir("var", mode=0o755).file("var/log/syslog", b"s").build()
    l1 = TarBuilder().dir("var", mode=0o750).file("var/new", b"n").build()
    fs = fs_of(l0, l1)
    assert sorted(fs.entries) == ["var", "var/log", "var/log/syslog", "var/new"]
    assert fs.entries["var"].mode == 0o750


def test_directory_replacing_a_file_is_a_directory() -> None:
    l0 = TarBuilder().file("conf", b"file").build()
    l1 = TarBuilder().dir("conf").file("conf/a", b"a").build()
    fs = fs_of(l0, l1)
    assert fs.entries["conf"].type is FileType.DIRECTORY
    assert fs.read_bytes("conf/a") == b"a"


# -- hard links ----------------------------------------------------------------------------


def test_hard_link_becomes_a_regular_file_with_its_target_content() -> None:
    tar = (
        TarBuilder()
        .file("usr/bin/gzip", b"GZIP" * 100, mode=0o755)
        .hardlink("usr/bin/gunzip", "usr/bin/gzip", mode=0o755)
    )
    fs = fs_of(tar.build())
    link = fs.entries["usr/bin/gunzip"]
    target = fs.entries["usr/bin/gzip"]
    assert link.type is FileType.REGULAR
    assert (link.location, link.layer, link.size) == (target.location, 0, 400)
    assert fs.read_bytes("usr/bin/gunzip") == b"GZIP" * 100


def test_hard_link_to_a_file_in_a_lower_layer_reads_from_that_layer() -> None:
    l0 = TarBuilder().file("bin/real", b"real content").build()
    l1 = TarBuilder().file("filler", b"f" * 3000).hardlink("bin/alias", "bin/real").build()
    fs = fs_of(l0, l1, compression="zstd")
    assert fs.entries["bin/alias"].layer == 0
    assert fs.read_bytes("bin/alias") == b"real content"


def test_hard_link_keeps_the_mode_from_its_own_header() -> None:
    tar = (
        TarBuilder()
        .file("bin/tool", b"t", mode=0o755)
        .hardlink("bin/tool-suid", "bin/tool", mode=0o4755)
    )
    fs = fs_of(tar.build())
    assert fs.entries["bin/tool-suid"].is_setuid


def test_hard_link_survives_its_target_being_overwritten_later_in_the_layer() -> None:
    tar = TarBuilder().file("a", b"first").hardlink("b", "a").file("a", b"second version").build()
    fs = fs_of(tar, compression="tar")
    assert fs.read_bytes("b") == b"first"
    assert fs.read_bytes("a") == b"second version"


# -- symlinks ------------------------------------------------------------------------------


def _links_tar() -> bytes:
    return (
        TarBuilder()
        .file("bin/busybox", b"BUSYBOX", mode=0o755)
        .symlink("bin/sh", "busybox")
        .symlink("bin/ash", "/bin/busybox")
        .symlink("usr/bin/sh", "../../bin/sh")
        .file("usr/lib/os-release", b"ID=x\n")
        .symlink("lib", "usr/lib")
        .symlink("etc/os-release", "../lib/os-release")
        .build()
    )


def test_relative_symlink_resolves_beside_itself() -> None:
    fs = fs_of(_links_tar())
    assert fs.entries["bin/sh"].type is FileType.SYMLINK
    assert fs.entries["bin/sh"].linkname == "busybox"
    assert fs.symlink_target("bin/sh") == "bin/busybox"


def test_absolute_symlink_resolves_from_the_image_root() -> None:
    fs = fs_of(_links_tar())
    assert fs.resolve("bin/ash") == "bin/busybox"
    assert fs.read_bytes("bin/ash") == b"BUSYBOX"


def test_chained_symlinks_resolve_to_the_final_file() -> None:
    fs = fs_of(_links_tar())
    assert fs.resolve("usr/bin/sh") == "bin/busybox"
    assert fs.read_bytes("usr/bin/sh") == b"BUSYBOX"


def test_symlinked_directory_in_the_middle_of_a_path_is_followed() -> None:
    fs = fs_of(_links_tar())
    assert fs.resolve("lib/os-release") == "usr/lib/os-release"
    assert fs.read_text("etc/os-release") == "ID=x\n"


def test_member_written_through_a_lower_symlinked_directory_lands_in_the_target() -> None:
    lower = TarBuilder().dir("usr/lib").symlink("lib", "usr/lib").build()
    upper = TarBuilder().file("lib/libz.so.1", b"zlib").build()
    fs = fs_of(lower, upper)
    assert "lib/libz.so.1" not in fs.entries
    assert fs.entries["usr/lib/libz.so.1"].layer == 1
    assert fs.read_bytes("lib/libz.so.1") == b"zlib"
    assert fs.entries["lib"].type is FileType.SYMLINK


# -- capture -------------------------------------------------------------------------------


def test_capture_keeps_the_bytes_of_matching_files_only() -> None:
    tar = (
        TarBuilder()
        .file("etc/os-release", b"ID=cap\n")
        .file("usr/lib/python3.11/site-packages/req-2.0.dist-info/METADATA", b"Name: req\n")
        .file("METADATA", b"top\n")
        .file("etc/passwd", b"root:x:0:0\n")
        .build()
    )
    fs = fs_of(tar, capture=["etc/os-release", "**/*.dist-info/METADATA", "**/METADATA"])
    assert fs.captured == {
        "etc/os-release": b"ID=cap\n",
        "usr/lib/python3.11/site-packages/req-2.0.dist-info/METADATA": b"Name: req\n",
        "METADATA": b"top\n",
    }


def test_captured_files_are_read_without_touching_the_layers() -> None:
    tar = TarBuilder().file("etc/os-release", b"ID=cap\n").symlink("os", "etc/os-release")
    fs = fs_of(tar.build(), capture=["etc/os-release"])
    fs.reader = FailingReader()
    assert fs.read_bytes("os") == b"ID=cap\n"
    assert fs.read_many(["os", "etc/os-release"]) == {
        "os": b"ID=cap\n",
        "etc/os-release": b"ID=cap\n",
    }


def test_capture_takes_the_latest_layer_and_whiteouts_remove_captures() -> None:
    l0 = TarBuilder().file("etc/os-release", b"old").file("etc/gone", b"g").build()
    l1 = TarBuilder().file("etc/os-release", b"new").whiteout("etc/gone").build()
    fs = fs_of(l0, l1, capture=["etc/*"])
    assert fs.captured == {"etc/os-release": b"new"}


def test_capture_is_dropped_when_an_uncaptured_file_replaces_it() -> None:
    l0 = TarBuilder().file("etc/conf", b"small").build()
    l1 = TarBuilder().file("etc/conf", b"x" * 200).build()
    image, _ = make_image(l0, l1)
    fs = build_fs(image, capture=["etc/conf"], limits=Limits(max_capture_file=100))
    assert "etc/conf" not in fs.captured
    assert fs.read_bytes("etc/conf") == b"x" * 200


def test_capture_skips_files_over_max_capture_file_and_reads_them_lazily() -> None:
    tar = TarBuilder().file("big.json", b"{" + b" " * 1000 + b"}").file("small.json", b"{}")
    image, _ = make_image(tar.build())
    fs = build_fs(image, capture=["*.json"], limits=Limits(max_capture_file=100))
    assert sorted(fs.captured) == ["small.json"]
    assert any("'big.json'" in w and "max_capture_file" in w for w in fs.warnings)
    assert fs.read_bytes("big.json").startswith(b"{   ")


def test_capture_stops_at_max_capture_total() -> None:
    tar = TarBuilder()
    for i in range(5):
        tar.file(f"data/{i}.txt", bytes([65 + i]) * 40)
    image, _ = make_image(tar.build())
    fs = build_fs(image, capture=["data/*.txt"], limits=Limits(max_capture_total=100))
    assert sorted(fs.captured) == ["data/0.txt", "data/1.txt"]
    assert sum("max_capture_total" in w for w in fs.warnings) == 3
    assert fs.read_bytes("data/4.txt") == b"E" * 40


def test_capture_follows_a_hard_link_to_a_captured_file() -> None:
    tar = TarBuilder().file("etc/a.conf", b"A").hardlink("etc/b.conf", "etc/a.conf").build()
    fs = fs_of(tar, capture=["etc/*.conf"])
    assert fs.captured == {"etc/a.conf": b"A", "etc/b.conf": b"A"}


# -- lazy reading --------------------------------------------------------------------------


def test_nothing_is_read_again_until_content_is_asked_for() -> None:
    image, store = make_image(TarBuilder().file("a", b"1").build(), TarBuilder().build())
    fs = build_fs(image)
    assert len(store.opened) == 2
    assert fs.read_bytes("a") == b"1"
    assert len(store.opened) == 3


@pytest.mark.parametrize("kind", COMPRESSIONS)
def test_read_many_makes_one_pass_per_layer_in_offset_order(kind: str) -> None:
    l0 = TarBuilder()
    for i in range(6):
        l0.file(f"l0/{i}", f"zero-{i}".encode() * (i + 1))
    l1 = TarBuilder().file("l1/a", b"one-a").file("l1/b", b"one-b")
    image, store = make_image(l0.build(), l1.build(), compression=kind)
    fs = build_fs(image)
    opened = len(store.opened)
    wanted = ["l1/b", "l0/5", "l0/0", "l1/a", "l0/3"]
    got = fs.read_many(wanted)
    assert got == {
        "l1/b": b"one-b",
        "l0/5": b"zero-5" * 6,
        "l0/0": b"zero-0",
        "l1/a": b"one-a",
        "l0/3": b"zero-3" * 4,
    }
    assert len(store.opened) - opened == 2


def test_read_many_reads_hard_linked_paths_once() -> None:
    tar = TarBuilder().file("a", b"shared").hardlink("b", "a").hardlink("c", "a").build()
    fs = fs_of(tar)
    assert fs.read_many(["a", "b", "c"]) == {"a": b"shared", "b": b"shared", "c": b"shared"}


def test_read_limit_truncates_content() -> None:
    fs = fs_of(TarBuilder().file("f", b"0123456789").build(), compression="zstd")
    assert fs.read_bytes("f", limit=4) == b"0123"
    assert fs.read_many(["f"], limit=3) == {"f": b"012"}


def test_uncompressed_layer_is_read_by_seeking_past_earlier_files() -> None:
    tar = TarBuilder().file("big", b"B" * (4 << 20)).file("small", b"tiny").build()
    image, store = make_image(tar, compression="tar")
    fs = build_fs(image)
    before = store.bytes_read
    assert fs.read_bytes("small") == b"tiny"
    assert store.bytes_read - before < 64 << 10


def test_layer_reader_detects_compression_when_not_told() -> None:
    tar = TarBuilder().file("x/y", b"why").build()
    image, _ = make_image(tar, compression="zstd")
    fs = build_fs(image)
    reader = LayerReader(image)
    assert reader.read(fs.entries["x/y"], 100) == b"why"


def test_layer_reader_gives_empty_bytes_for_a_file_without_a_location() -> None:
    image, _ = make_image(TarBuilder().file("a", b"1").build())
    reader = LayerReader(image, ["gzip"])
    entry = FileEntry("ghost", FileType.REGULAR, size=10, layer=0, location=-1)
    assert reader.read_many([entry], 100) == {"ghost": b""}


# -- real data -----------------------------------------------------------------------------


@pytest.mark.realdata
def test_alpine_minirootfs_indexes_as_a_one_layer_image() -> None:
    path = realdata_path("images", "alpine-minirootfs", "alpine-minirootfs-3.20.3-x86_64.tar.gz")
    blob = path.read_bytes()
    digest = "sha256:" + hashlib.sha256(blob).hexdigest()
    store = MemoryBlobStore()
    store.add(blob)
    image = Image(
        reference="alpine-minirootfs:3.20.3",
        source="file",
        config=ImageConfig(os="linux", architecture="amd64"),
        layers=[Layer(0, Descriptor(MEDIA_TYPES["gzip"], digest, len(blob)))],
        blobs=store,
    )
    fs = build_fs(image, capture=["etc/os-release", "lib/apk/db/installed"])
    # 518 members: the root "./", 96 directories, 87 files and 334 symlinks.
    assert len(fs) == 517
    kinds = [e.type for e in fs]
    assert kinds.count(FileType.REGULAR) == 87
    assert kinds.count(FileType.SYMLINK) == 334
    assert kinds.count(FileType.DIRECTORY) == 96
    assert fs.entries["bin/sh"].linkname == "/bin/busybox"
    assert fs.symlink_target("bin/sh") == "bin/busybox"
    assert "VERSION_ID=3.20.3" in fs.read_text("etc/os-release").splitlines()
    assert b"P:musl\n" in fs.captured["lib/apk/db/installed"]
    busybox = fs.read_bytes("bin/sh")
    assert busybox[:4] == b"\x7fELF" and len(busybox) == fs.entries["bin/busybox"].size
    assert fs.warnings == []
    assert fs.layer_digests == [digest]
    assert fs.uncompressed_size > 7_000_000


def test_tar_formats_gnu_and_ustar_are_read() -> None:
    long_name = "usr/share/" + "deep/" * 30 + "file.txt"
    for fmt in (tarfile.GNU_FORMAT, tarfile.USTAR_FORMAT, tarfile.PAX_FORMAT):
        name = long_name if fmt != tarfile.USTAR_FORMAT else "usr/share/file.txt"
        fs = fs_of(TarBuilder(fmt).file(name, b"fmt").build())
        assert fs.read_bytes(name) == b"fmt"


# -- hang guards: quadratic behaviour would run into the timeout (speed itself is measured in
# benchmarks/index_layers.py, not asserted here) ------------------------------------------------


@pytest.mark.timeout(60)
def test_ten_thousand_members_index() -> None:
    image = image_from_blobs([many_members_tar(10_000)])
    fs = build_fs(image)
    assert len(fs) == 10_001


@pytest.mark.timeout(60)
def test_whiting_out_a_thousand_directories_stays_linear() -> None:
    lower = TarBuilder(tarfile.USTAR_FORMAT)
    for d in range(1000):
        for f in range(20):
            lower.file(f"d{d}/f{f}")
    upper = TarBuilder(tarfile.USTAR_FORMAT)
    for d in range(1000):
        if d % 2:
            upper.whiteout(f"d{d}")
        else:
            upper.opaque(f"d{d}").file(f"d{d}/new")
    image, _ = make_image(lower.build(), upper.build(), compression="tar")
    fs = build_fs(image)
    assert len(fs) == 1000  # 500 opaque dirs, each with its one new file


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("max_files", 0),
        ("max_uncompressed_bytes", -5),
        ("max_capture_file", True),
        ("max_capture_total", 1.5),
    ],
)
def test_limits_must_be_positive_whole_numbers(field: str, value: object) -> None:
    with pytest.raises(UsageError) as info:
        Limits(**{field: value})  # type: ignore[arg-type]
    assert info.value.message == f"Limits.{field} must be a positive whole number, not {value!r}"
    assert info.value.hint
    assert Limits(**{field: 1}).__dict__[field] == 1  # type: ignore[arg-type]

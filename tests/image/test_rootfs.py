"""build_fs_from_dir: a host directory as an image, never escaping it through symlinks."""

from __future__ import annotations

import os
import socket
import stat
from pathlib import Path

import pytest

from baseguard.errors import ImageError, LayerError, LimitExceededError
from baseguard.image.fs import FileEntry, FileType
from baseguard.image.layers import Limits
from baseguard.image.rootfs import DirReader, build_fs_from_dir, open_beneath


def make_root(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "bin").mkdir()
    (root / "usr" / "lib").mkdir(parents=True)
    (root / "etc" / "os-release").write_text("ID=dirtest\nVERSION_ID=1.0\n")
    (root / "etc" / "passwd").write_text("root:x:0:0:image:/root:/bin/sh\n")
    busybox = root / "bin" / "busybox"
    busybox.write_bytes(b"\x7fELF busybox")
    busybox.chmod(0o4755)
    (root / "bin" / "sh").symlink_to("busybox")
    (root / "lib").symlink_to("usr/lib")
    (root / "usr" / "lib" / "libc.so").write_bytes(b"libc")
    return root


def test_entries_are_recorded_with_types_modes_and_layer_zero(tmp_path: Path) -> None:
    fs = build_fs_from_dir(make_root(tmp_path))
    assert sorted(fs.entries) == [
        "bin",
        "bin/busybox",
        "bin/sh",
        "etc",
        "etc/os-release",
        "etc/passwd",
        "lib",
        "usr",
        "usr/lib",
        "usr/lib/libc.so",
    ]
    busybox = fs.entries["bin/busybox"]
    assert busybox.type is FileType.REGULAR
    assert busybox.mode == 0o4755 and busybox.is_setuid
    assert busybox.size == len(b"\x7fELF busybox")
    assert busybox.layer == 0
    assert fs.entries["bin/sh"].type is FileType.SYMLINK
    assert fs.entries["bin/sh"].linkname == "busybox"
    assert fs.entries["usr/lib"].type is FileType.DIRECTORY
    assert all(e.layer == 0 for e in fs)
    assert fs.uncompressed_size == sum(e.size for e in fs if e.type is FileType.REGULAR)
    assert fs.warnings == []


def test_files_and_symlinks_read_inside_the_root(tmp_path: Path) -> None:
    fs = build_fs_from_dir(make_root(tmp_path))
    assert fs.read_bytes("bin/sh") == b"\x7fELF busybox"
    assert fs.read_bytes("lib/libc.so") == b"libc"
    assert fs.read_many(["etc/os-release", "lib/libc.so"], limit=4) == {
        "etc/os-release": b"ID=d",
        "lib/libc.so": b"libc",
    }


def test_symlink_to_host_etc_shadow_resolves_inside_the_image_root(tmp_path: Path) -> None:
    root = make_root(tmp_path)
    (root / "etc" / "shadow").write_bytes(b"image shadow")
    (root / "leak").symlink_to("/etc/shadow")
    (root / "leak-rel").symlink_to("../../../../../../etc/shadow")
    fs = build_fs_from_dir(root)
    assert fs.read_bytes("leak") == b"image shadow"
    assert fs.read_bytes("leak-rel") == b"image shadow"


def test_symlink_to_a_host_file_missing_from_the_image_reads_nothing(tmp_path: Path) -> None:
    secret = tmp_path / "host-secret"
    secret.write_bytes(b"HOST SECRET")
    root = make_root(tmp_path)
    (root / "leak").symlink_to("/etc/shadow")
    (root / "leak-abs").symlink_to(secret)
    (root / "leak-up").symlink_to("../host-secret")
    fs = build_fs_from_dir(root)
    for path in ("leak", "leak-abs", "leak-up"):
        assert fs.read_optional(path) is None
    assert fs.read_many(["leak", "leak-abs", "leak-up"]) == {}


def test_symlinked_host_directory_is_recorded_not_descended(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "passwd").write_text("OUTSIDE\n")
    root = make_root(tmp_path)
    (root / "hostetc").symlink_to(outside)
    (root / "imgetc").symlink_to("/etc")
    fs = build_fs_from_dir(root)
    assert fs.entries["hostetc"].type is FileType.SYMLINK
    assert not any(p.startswith("hostetc/") for p in fs.entries)
    assert fs.read_optional("hostetc/passwd") is None
    assert fs.read_bytes("imgetc/passwd") == b"root:x:0:0:image:/root:/bin/sh\n"


def test_file_swapped_for_a_symlink_after_indexing_is_not_followed(tmp_path: Path) -> None:
    secret = tmp_path / "host-secret"
    secret.write_bytes(b"HOST SECRET")
    root = make_root(tmp_path)
    fs = build_fs_from_dir(root)
    target = root / "etc" / "passwd"
    target.unlink()
    target.symlink_to(secret)
    with pytest.raises(LayerError) as info:
        fs.read_bytes("etc/passwd")
    assert "/etc/passwd" in info.value.message
    assert "HOST SECRET" not in info.value.message


def test_directory_swapped_for_a_symlink_after_indexing_is_not_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "os-release").write_text("ID=outside\n")
    root = make_root(tmp_path)
    fs = build_fs_from_dir(root)
    (root / "etc").rename(root / "etc.orig")
    (root / "etc").symlink_to(outside)
    with pytest.raises(LayerError):
        fs.read_bytes("etc/os-release")


def test_open_beneath_refuses_unclean_paths(tmp_path: Path) -> None:
    root = make_root(tmp_path)
    for bad in ("../root/etc/passwd", "etc/../etc/passwd", "/etc/passwd", "etc//passwd"):
        with pytest.raises(OSError):
            open_beneath(root, bad)


@pytest.mark.timeout(10)
def test_fifo_is_recorded_and_never_opened(tmp_path: Path) -> None:
    root = make_root(tmp_path)
    os.mkfifo(root / "pipe")
    fs = build_fs_from_dir(root, capture=["**"])
    assert fs.entries["pipe"].type is FileType.FIFO
    assert "pipe" not in fs.captured
    with pytest.raises(FileNotFoundError):
        fs.read_bytes("pipe")
    assert any("/pipe: fifo special file recorded, never read" in w for w in fs.warnings)
    # Even a reader told it is a regular file refuses without blocking on the fifo.
    with pytest.raises(LayerError):
        DirReader(root).read(FileEntry("pipe", FileType.REGULAR, size=1), 10)


def test_device_file_is_recorded_and_never_opened(tmp_path: Path) -> None:
    root = make_root(tmp_path)
    try:
        os.mknod(root / "null", 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    except PermissionError:
        pytest.skip("creating device nodes needs CAP_MKNOD")
    fs = build_fs_from_dir(root)
    assert fs.entries["null"].type is FileType.CHAR_DEVICE
    with pytest.raises(FileNotFoundError):
        fs.read_bytes("null")


def test_socket_is_skipped_with_a_warning(tmp_path: Path) -> None:
    root = make_root(tmp_path)
    sock = socket.socket(socket.AF_UNIX)
    try:
        sock.bind(str(root / "sock"))
        fs = build_fs_from_dir(root)
    finally:
        sock.close()
    assert "sock" not in fs.entries
    assert any("/sock: socket or unknown file type; skipped" in w for w in fs.warnings)


def test_capture_reads_matching_files_while_walking(tmp_path: Path) -> None:
    root = make_root(tmp_path)
    (root / "etc" / "big.conf").write_bytes(b"b" * 500)
    fs = build_fs_from_dir(
        root, capture=["etc/*", "**/libc.so"], limits=Limits(max_capture_file=100)
    )
    assert fs.captured == {
        "etc/os-release": b"ID=dirtest\nVERSION_ID=1.0\n",
        "etc/passwd": b"root:x:0:0:image:/root:/bin/sh\n",
        "usr/lib/libc.so": b"libc",
    }
    assert any("big.conf" in w and "max_capture_file" in w for w in fs.warnings)
    assert fs.read_bytes("etc/big.conf") == b"b" * 500


def test_capture_total_is_capped(tmp_path: Path) -> None:
    root = tmp_path / "r"
    root.mkdir()
    for i in range(4):
        (root / f"{i}.txt").write_bytes(b"x" * 40)
    fs = build_fs_from_dir(root, capture=["*.txt"], limits=Limits(max_capture_total=100))
    assert len(fs.captured) == 2
    assert sum("max_capture_total" in w for w in fs.warnings) == 2


def test_max_files_is_enforced(tmp_path: Path) -> None:
    root = tmp_path / "many"
    root.mkdir()
    for i in range(50):
        (root / f"f{i}").write_bytes(b"")
    with pytest.raises(LimitExceededError) as info:
        build_fs_from_dir(root, limits=Limits(max_files=20))
    assert "limit max_files = 20" in info.value.message
    assert str(root) in info.value.message


def test_max_uncompressed_bytes_caps_file_content(tmp_path: Path) -> None:
    root = tmp_path / "big"
    root.mkdir()
    (root / "a").write_bytes(b"a" * 600)
    (root / "b").write_bytes(b"b" * 600)
    with pytest.raises(LimitExceededError) as info:
        build_fs_from_dir(root, limits=Limits(max_uncompressed_bytes=1000))
    assert "max_uncompressed_bytes" in info.value.message


def test_root_that_is_not_a_directory_is_an_image_error(tmp_path: Path) -> None:
    with pytest.raises(ImageError):
        build_fs_from_dir(tmp_path / "missing")


def test_root_given_through_a_symlink_is_walked(tmp_path: Path) -> None:
    root = make_root(tmp_path)
    alias = tmp_path / "alias"
    alias.symlink_to(root)
    fs = build_fs_from_dir(alias)
    assert fs.read_text("etc/os-release").startswith("ID=dirtest")


def test_entries_are_sorted_for_deterministic_output(tmp_path: Path) -> None:
    fs = build_fs_from_dir(make_root(tmp_path))
    assert list(fs.entries) == sorted(fs.entries)

"""ImageFS: path cleaning, confined symlink resolution, globbing, lookups and reads."""

from __future__ import annotations

import pytest

from baseguard.image.fs import (
    MAX_SYMLINK_HOPS,
    FileEntry,
    FileType,
    ImageFS,
    MemoryReader,
    SymlinkLoopError,
    clean_path,
    glob_regex,
)


def entry(
    path: str, kind: FileType = FileType.REGULAR, linkname: str = "", layer: int = 0
) -> FileEntry:
    return FileEntry(path, kind, linkname=linkname, layer=layer)


def make_fs(*entries: FileEntry, contents: dict[str, bytes] | None = None) -> ImageFS:
    return ImageFS(
        entries={e.path: e for e in entries},
        reader=MemoryReader(contents or {}),
        layer_digests=["sha256:" + "0" * 64, "sha256:" + "1" * 64],
    )


D = FileType.DIRECTORY
L = FileType.SYMLINK


def sample() -> ImageFS:
    return make_fs(
        entry("bin", D),
        entry("bin/busybox"),
        entry("bin/sh", L, "busybox"),
        entry("etc", D),
        entry("etc/os-release"),
        entry("etc/apk", D),
        entry("etc/apk/repositories", layer=1),
        entry("usr", D),
        entry("usr/lib", D),
        entry("usr/lib/os-release", layer=1),
        entry("lib", L, "usr/lib"),
        contents={
            "bin/busybox": b"BB",
            "etc/os-release": b"ID=a\n",
            "usr/lib/os-release": b"ID=u\n",
        },
    )


# -- clean_path --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("etc/passwd", "etc/passwd"),
        ("./etc/passwd", "etc/passwd"),
        ("/etc/passwd", "etc/passwd"),
        ("etc//apk/./keys/", "etc/apk/keys"),
        ("a/b/../c", "a/c"),
        ("./", ""),
        ("../etc/passwd", None),
        ("a/../../b", None),
        ("/../x", None),
    ],
)
def test_clean_path(name: str, expected: str | None) -> None:
    assert clean_path(name) == expected


# -- glob --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "path", "matches"),
    [
        ("etc/**/os-release", "etc/os-release", True),
        ("etc/**/os-release", "etc/a/b/os-release", True),
        ("**/*.jar", "app.jar", True),
        ("**/*.jar", "opt/app/lib/app.jar", True),
        ("*.jar", "opt/app.jar", False),
        ("usr/lib/python3*/**/METADATA", "usr/lib/python3.11/site-packages/x/METADATA", True),
        ("usr/lib/python3*/**/METADATA", "usr/lib/python3.11/METADATA", True),
        ("a?c", "abc", True),
        ("a?c", "a/c", False),
        ("[!x]y", "/y", False),
        ("[!x]y", "zy", True),
        ("f[.]txt", "f.txt", True),
        ("a[b", "a[b", True),
        ("/etc/passwd", "etc/passwd", True),
        ("a/**", "a", False),
        ("a/**", "a/b/c", True),
        ("**", "anything/at/all", True),
    ],
)
def test_glob_regex(pattern: str, path: str, matches: bool) -> None:
    assert bool(glob_regex(pattern).fullmatch(path)) is matches


def test_glob_lists_sorted_paths_without_following_symlinks() -> None:
    fs = sample()
    assert fs.glob("**/os-release") == ["etc/os-release", "usr/lib/os-release"]
    assert fs.glob("etc/*") == ["etc/apk", "etc/os-release"]
    assert fs.glob("lib/*") == []


# -- resolution --------------------------------------------------------------------------------


def test_resolve_follows_relative_absolute_and_middle_symlinks() -> None:
    fs = make_fs(
        entry("bin", D),
        entry("bin/busybox"),
        entry("bin/sh", L, "busybox"),
        entry("bin/ash", L, "/bin/sh"),
        entry("usr", D),
        entry("usr/lib", D),
        entry("usr/lib/x"),
        entry("lib", L, "../../usr/lib"),
    )
    assert fs.resolve("bin/ash") == "bin/busybox"
    assert fs.resolve("/lib/x") == "usr/lib/x"
    assert fs.resolve("bin/ash", follow_final=False) == "bin/ash"
    assert fs.resolve("bin/../../../bin/sh") == "bin/busybox"


def test_dotdot_above_the_root_stays_at_the_root() -> None:
    fs = sample()
    assert fs.resolve("../../etc/os-release") == "etc/os-release"
    got = fs.get("bin/../../../bin/sh")
    assert got is not None and got.type is L


def test_dotdot_after_a_symlinked_directory_applies_to_its_target() -> None:
    fs = make_fs(
        entry("usr", D),
        entry("usr/lib", D),
        entry("usr/share", D),
        entry("usr/share/x"),
        entry("lib", L, "usr/lib"),
        entry("share", D),
    )
    # POSIX: lib/.. is usr (the target's parent), not the root.
    assert fs.resolve("lib/../share/x") == "usr/share/x"
    got = fs.get("lib/../share/x")
    assert got is not None and got.path == "usr/share/x"


def test_get_returns_none_when_a_parent_loops() -> None:
    fs = make_fs(entry("a", L, "b"), entry("b", L, "a"))
    assert fs.get("a/file") is None


def test_resolve_returns_none_for_missing_components() -> None:
    fs = sample()
    assert fs.resolve("etc/nothing") is None
    assert fs.resolve("bin/busybox/child") is None


def test_symlink_loop_raises_and_lookup_returns_none() -> None:
    fs = make_fs(entry("a", L, "b"), entry("b", L, "/a"))
    with pytest.raises(SymlinkLoopError) as info:
        fs.resolve("a")
    assert str(MAX_SYMLINK_HOPS) in info.value.message
    assert fs.lookup("a") is None
    assert not fs.exists("a")


def test_long_but_finite_chain_within_the_hop_limit_resolves() -> None:
    links = [entry(f"l{i}", L, f"l{i + 1}") for i in range(MAX_SYMLINK_HOPS - 1)]
    fs = make_fs(*links, entry(f"l{MAX_SYMLINK_HOPS - 1}"))
    assert fs.resolve("l0") == f"l{MAX_SYMLINK_HOPS - 1}"


def test_chain_one_hop_past_the_limit_is_treated_as_a_loop() -> None:
    links = [entry(f"l{i}", L, f"l{i + 1}") for i in range(MAX_SYMLINK_HOPS + 1)]
    fs = make_fs(*links, entry(f"l{MAX_SYMLINK_HOPS + 1}"))
    with pytest.raises(SymlinkLoopError):
        fs.resolve("l0")


def test_empty_symlink_target_names_nothing() -> None:
    fs = make_fs(entry("d", D), entry("d/f"), entry("d/empty", L, ""))
    assert fs.resolve("d/empty") is None
    assert fs.lookup("d/empty") is None
    assert fs.get("d/empty") is not None


def test_get_resolves_parents_but_not_the_final_symlink() -> None:
    fs = sample()
    got = fs.get("lib/os-release")
    assert got is not None and got.path == "usr/lib/os-release"
    sh = fs.get("bin/sh")
    assert sh is not None and sh.type is L
    assert fs.symlink_target("bin/sh") == "bin/busybox"
    assert fs.symlink_target("bin/busybox") is None


def test_listdir_resolves_and_lists_direct_children() -> None:
    fs = sample()
    assert fs.listdir("etc") == ["apk", "os-release"]
    assert fs.listdir("lib") == ["os-release"]
    assert fs.listdir("nothing") == []


# -- reads -------------------------------------------------------------------------------------


def test_read_bytes_follows_symlinks_and_respects_the_limit() -> None:
    fs = sample()
    assert fs.read_bytes("bin/sh") == b"BB"
    assert fs.read_bytes("lib/os-release", limit=2) == b"ID"
    assert fs.read_text("etc/os-release") == "ID=a\n"


def test_read_bytes_of_a_directory_or_missing_path_is_file_not_found() -> None:
    fs = sample()
    with pytest.raises(FileNotFoundError):
        fs.read_bytes("etc")
    with pytest.raises(FileNotFoundError):
        fs.read_bytes("etc/missing")
    assert fs.read_optional("etc/missing") is None


def test_read_many_keys_by_the_path_asked_and_prefers_captured_bytes() -> None:
    fs = sample()
    fs.captured["etc/os-release"] = b"captured"
    got = fs.read_many(["bin/sh", "bin/busybox", "etc/os-release", "nope", "etc"])
    assert got == {"bin/sh": b"BB", "bin/busybox": b"BB", "etc/os-release": b"captured"}


def test_layer_of_names_the_layer_digest() -> None:
    fs = sample()
    assert fs.layer_of("etc/apk/repositories") == "sha256:" + "1" * 64
    assert fs.layer_of("bin/busybox") == "sha256:" + "0" * 64
    assert fs.layer_of("missing") is None

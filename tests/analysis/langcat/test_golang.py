"""GoBinaryCataloger: modules from the build info of Go executables (ELF)."""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import zipfile
from pathlib import Path
from typing import Literal

import pytest

from baseguard.analysis.catalogers.elf import parse_elf
from baseguard.analysis.catalogers.golang import (
    BuildInfoError,
    GoBinaryCataloger,
    go_semver,
    parse_modinfo,
    read_buildinfo,
)
from baseguard.image.fs import FileEntry, ImageFS, MemoryReader
from tests.analysis.fs_builders import File, build_fs, exe
from tests.analysis.langcat.helpers import IndexedImage, run, tar_layer

MIN = GoBinaryCataloger.min_size
BASE = 0x400000
DATA = 0x1000
SENTINEL_START = b"0w\xaf\x0c\x92t\x08\x02A\xe1\xc1\x07\xe6\xd6\x18\xe6"
SENTINEL_END = b"\xf92C1\x86\x18 r\x00\x82B\x10A\x16\xd8\xf2"

MODINFO = (
    "path\tgithub.com/Acme/tool/cmd/tool\n"
    "mod\tgithub.com/Acme/tool\tv1.4.0\th1:main=\n"
    "dep\tgithub.com/BurntSushi/toml\tv1.3.2\th1:toml=\n"
    "dep\tgolang.org/x/sys\tv0.1.0\n"
    "=>\tgithub.com/fork/sys\tv0.2.0\th1:fork=\n"
    "dep\texample.com/local\tv0.0.0\n"
    "=>\t../local\t(devel)\t\n"
    "build\t-compiler=gc\n"
    'build\t-ldflags="-s -w -X main.version=1.4.0"\n'
    "build\tCGO_ENABLED=0\n"
    "build\tGOARCH=arm64\n"
    "build\tGOOS=linux\n"
    "build\tvcs.revision=0123456789abcdef\n"
)


def framed(mod: str) -> bytes:
    return SENTINEL_START + mod.encode() + SENTINEL_END


def uvarint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def inline_blob(version: str, mod: str) -> bytes:
    head = b"\xff Go buildinf:" + bytes([8, 0x2])
    raw = framed(mod) if mod else b""
    return (
        head.ljust(32, b"\x00") + uvarint(len(version)) + version.encode() + uvarint(len(raw)) + raw
    )


def pointer_blob(version: str, mod: str, ptr: int, big: bool) -> bytes:
    """Go < 1.18: pointers to string headers, which point at the bytes (all at DATA)."""
    order: Literal["big", "little"] = "big" if big else "little"

    def p(n: int) -> bytes:
        return n.to_bytes(ptr, order)

    vbytes, mbytes = version.encode(), framed(mod)
    hdr_v, hdr_m = 32, 32 + 2 * ptr
    str_v = hdr_m + 2 * ptr
    str_m = str_v + len(vbytes)
    addr = BASE + DATA
    head = b"\xff Go buildinf:" + bytes([ptr, 0x1 if big else 0x0])
    head += p(addr + hdr_v) + p(addr + hdr_m)
    head = head.ljust(32, b"\x00")
    head += p(addr + str_v) + p(len(vbytes)) + p(addr + str_m) + p(len(mbytes))
    return head + vbytes + mbytes


def make_elf(
    blob: bytes,
    *,
    is64: bool = True,
    big: bool = False,
    sections: bool = True,
    section_name: bytes = b".go.buildinfo",
    size: int = MIN,
    machine: int = 183,
) -> bytes:
    """A minimal ELF: one RW PT_LOAD over the whole file, ``blob`` at file offset DATA,
    and (optionally) section headers naming it."""
    e = ">" if big else "<"
    body = bytearray(max(size, DATA + len(blob) + 512))
    body[DATA : DATA + len(blob)] = blob
    names = b"\x00" + section_name + b"\x00.shstrtab\x00"
    names_off = DATA + len(blob) + 16
    body[names_off : names_off + len(names)] = names
    ehsize, phsize, shsize = (64, 56, 64) if is64 else (52, 32, 40)
    shoff = (names_off + len(names) + 15) & ~15
    if sections:
        body.extend(b"\x00" * max(0, shoff + 3 * shsize - len(body)))
    total = len(body)
    ident = b"\x7fELF" + bytes([2 if is64 else 1, 2 if big else 1, 1]) + b"\x00" * 9
    header = ident + struct.pack(
        e + ("HHIQQQIHHHHHH" if is64 else "HHIIIIIHHHHHH"),
        2,
        machine,
        1,
        BASE,
        ehsize,
        shoff if sections else 0,
        0,
        ehsize,
        phsize,
        1,
        shsize,
        3 if sections else 0,
        2 if sections else 0,
    )
    if is64:
        phdr = struct.pack(e + "IIQQQQQQ", 1, 6, 0, BASE, BASE, total, total, 0x1000)
    else:
        phdr = struct.pack(e + "8I", 1, 0, BASE, BASE, total, total, 6, 0x1000)
    body[0 : len(header)] = header
    body[ehsize : ehsize + len(phdr)] = phdr
    if sections:

        def sh(name: int, stype: int, addr: int, off: int, sz: int) -> bytes:
            if is64:
                return struct.pack(e + "IIQQQQIIQQ", name, stype, 3, addr, off, sz, 0, 0, 16, 0)
            return struct.pack(e + "10I", name, stype, 3, addr, off, sz, 0, 0, 16, 0)

        table = (
            sh(0, 0, 0, 0, 0)
            + sh(1, 1, BASE + DATA, DATA, len(blob))
            + sh(2 + len(section_name), 3, 0, names_off, len(names))
        )
        body[shoff : shoff + len(table)] = table
    return bytes(body)


def go_fs(files: dict[str, bytes]) -> ImageFS:
    return build_fs({path: exe(data) for path, data in files.items()})


def test_inline_build_info_gives_main_deps_replacements_and_stdlib() -> None:
    fs = go_fs({"usr/local/bin/tool": make_elf(inline_blob("go1.22.5", MODINFO))})
    result = run(GoBinaryCataloger(), fs)
    assert result.issues == []
    pkgs = {p.name: p for p in result.packages}
    assert sorted(pkgs) == [
        "example.com/local",
        "github.com/Acme/tool",
        "github.com/BurntSushi/toml",
        "github.com/fork/sys",
        "stdlib",
    ]
    main = pkgs["github.com/Acme/tool"]
    assert (main.version, main.type, main.cataloger) == ("v1.4.0", "golang", "golang")
    assert main.purl == "pkg:golang/github.com/Acme/tool@v1.4.0"
    assert main.architecture == "arm64"
    assert main.locations == ["/usr/local/bin/tool"]
    assert main.depends == [
        "example.com/local",
        "github.com/BurntSushi/toml",
        "github.com/fork/sys",
        "stdlib",
    ]
    assert main.metadata["goVersion"] == "go1.22.5"
    assert main.metadata["h1Digest"] == "h1:main="
    settings = main.metadata["buildSettings"]
    assert settings["-ldflags"] == "-s -w -X main.version=1.4.0"
    assert settings["vcs.revision"] == "0123456789abcdef"
    toml = pkgs["github.com/BurntSushi/toml"]
    assert toml.purl == "pkg:golang/github.com/BurntSushi/toml@v1.3.2"
    assert toml.metadata["h1Digest"] == "h1:toml="
    fork = pkgs["github.com/fork/sys"]
    assert (fork.version, fork.purl) == ("v0.2.0", "pkg:golang/github.com/fork/sys@v0.2.0")
    assert fork.metadata["replaces"] == "golang.org/x/sys@v0.1.0"
    local = pkgs["example.com/local"]
    assert (local.version, local.purl) == ("", "pkg:golang/example.com/local")
    assert local.metadata["replacedBy"] == "../local"
    std = pkgs["stdlib"]
    assert (std.version, std.purl, std.licenses) == (
        "1.22.5",
        "pkg:golang/stdlib@1.22.5",
        ["BSD-3-Clause"],
    )


def test_devel_main_module_keeps_its_version_but_not_in_the_purl() -> None:
    mod = "path\texample.com/app\nmod\texample.com/app\t(devel)\t\n"
    fs = go_fs({"app": make_elf(inline_blob("go1.20", mod))})
    pkgs = {p.name: p for p in run(GoBinaryCataloger(), fs).packages}
    assert pkgs["example.com/app"].version == "(devel)"
    assert pkgs["example.com/app"].purl == "pkg:golang/example.com/app"
    assert pkgs["stdlib"].purl == "pkg:golang/stdlib@1.20.0"


def test_binary_without_module_info_yields_only_stdlib() -> None:
    fs = go_fs({"old": make_elf(inline_blob("go1.21.3", ""))})
    [std] = run(GoBinaryCataloger(), fs).packages
    assert (std.name, std.version, std.architecture) == ("stdlib", "1.21.3", "arm64")


@pytest.mark.parametrize(("is64", "big", "ptr"), [(True, False, 8), (False, True, 4)])
def test_pre_1_18_pointer_format(is64: bool, big: bool, ptr: int) -> None:
    mod = "path\texample.com/old\nmod\texample.com/old\tv0.9.0\t\ndep\tgithub.com/a/b\tv1.0.0\t\n"
    machine = 62 if is64 else 8
    data = make_elf(pointer_blob("go1.16.15", mod, ptr, big), is64=is64, big=big, machine=machine)
    pkgs = {p.name: p for p in run(GoBinaryCataloger(), go_fs({"bin/old": data})).packages}
    assert sorted(pkgs) == ["example.com/old", "github.com/a/b", "stdlib"]
    assert pkgs["example.com/old"].version == "v0.9.0"
    assert pkgs["stdlib"].version == "1.16.15"
    assert pkgs["github.com/a/b"].architecture == ("amd64" if is64 else "mips")


def test_stripped_section_headers_fall_back_to_the_data_segment() -> None:
    data = make_elf(inline_blob("go1.22.1", MODINFO), sections=False)
    assert parse_elf(data).sections == []
    pkgs = run(GoBinaryCataloger(), go_fs({"bin/stripped": data})).packages
    assert {p.name for p in pkgs} >= {"github.com/Acme/tool", "stdlib"}


def test_misaligned_magic_is_not_build_info() -> None:
    blob = b"\x00" * 8 + inline_blob("go1.22.1", MODINFO)
    data = make_elf(blob, section_name=b".data")
    assert read_buildinfo(data) is None


def test_non_go_elf_non_elf_small_and_shared_objects_yield_nothing() -> None:
    go = make_elf(inline_blob("go1.22.5", MODINFO))
    fs = build_fs(
        {
            "bin/c-program": exe(make_elf(b"no build info here", section_name=b".data")),
            "bin/script": exe(b"#!/bin/sh\n" + b"#" * MIN),
            "bin/tiny-go": exe(go[: MIN // 2] if len(go) > MIN // 2 else go, mode=0o755),
            "lib/libgo.so.1": exe(go),
            "data/not-executable": File(go, 0o644),
        }
    )
    result = run(GoBinaryCataloger(), fs)
    assert (result.packages, result.issues) == ([], [])


class CountingReader(MemoryReader):
    def __init__(self, contents: dict[str, bytes]) -> None:
        super().__init__(contents)
        self.calls: list[list[str]] = []

    def read_many(self, entries: list[FileEntry], limit: int) -> dict[str, bytes]:
        self.calls.append(sorted(e.path for e in entries))
        return super().read_many(entries, limit)


def test_candidates_are_read_in_one_read_many_call() -> None:
    go = make_elf(inline_blob("go1.22.5", MODINFO))
    fs = go_fs({"a/one": go, "b/two": go, "c/small": b"\x7fELF" + b"\0" * 100})
    assert isinstance(fs.reader, MemoryReader)
    reader = CountingReader(fs.reader.contents)
    fs.reader = reader
    result = run(GoBinaryCataloger(), fs)
    assert reader.calls == [["a/one", "b/two"]]
    assert {p.locations[0] for p in result.packages} == {"/a/one", "/b/two"}


def test_truncated_build_info_is_an_issue() -> None:
    head = b"\xff Go buildinf:" + bytes([8, 0x2])
    blob = head.ljust(32, b"\x00") + uvarint(1 << 40)
    fs = go_fs({"bin/broken": make_elf(blob), "bin/ok": make_elf(inline_blob("go1.22.5", ""))})
    result = run(GoBinaryCataloger(), fs)
    assert [p.name for p in result.packages] == ["stdlib"]
    [issue] = result.issues
    assert issue.path == "/bin/broken"
    assert "runs past the end of the file" in issue.message
    with pytest.raises(BuildInfoError):
        read_buildinfo(make_elf(blob))


@pytest.mark.parametrize("cut", [0, 4, 20, 60, 100, 200, DATA + 20])
def test_truncated_elf_never_raises(cut: int) -> None:
    data = make_elf(inline_blob("go1.22.5", MODINFO))
    assert read_buildinfo(data) is not None
    assert read_buildinfo(data[:cut]) is None


def test_oversized_executable_is_reported_not_read() -> None:
    class Small(GoBinaryCataloger):
        max_size = MIN + 10

    big = make_elf(inline_blob("go1.22.5", ""), size=MIN + 4096)
    result = run(Small(), go_fs({"bin/huge": big}))
    assert result.packages == []
    assert [i.path for i in result.issues] == ["/bin/huge"]


def test_dependency_count_is_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("baseguard.analysis.catalogers.golang.MAX_DEPS", 2)
    result = run(GoBinaryCataloger(), go_fs({"bin/t": make_elf(inline_blob("go1.22.5", MODINFO))}))
    assert (
        len([p for p in result.packages if p.name not in ("stdlib", "github.com/Acme/tool")]) == 2
    )
    [issue] = result.issues
    assert issue.message == "3 dependencies is more than 2; only the first 2 are reported"


@pytest.mark.parametrize(
    ("tag", "semver"),
    [
        ("go1.22.5", "1.22.5"),
        ("go1.20", "1.20.0"),
        ("go1", "1.0.0"),
        ("go1.21rc2", "1.21.0-rc.2"),
        ("go1.18beta1", "1.18.0-beta.1"),
        ("go1.22.5 X:boringcrypto", "1.22.5"),
        ("devel go1.23-abcdef Tue Jan 1", None),
    ],
)
def test_go_semver(tag: str, semver: str | None) -> None:
    assert go_semver(tag) == semver


def test_modinfo_parses_quoted_build_keys_and_values() -> None:
    info = parse_modinfo(
        "go1.22.0",
        'build\t"we ird"="a\\tb"\nbuild\tDefaultGODEBUG=panicnil=1\nbuild\tnoequals\nbogus\n',
    )
    assert info.settings == [("we ird", "a\tb"), ("DefaultGODEBUG", "panicnil=1")]


# -- a real Go toolchain ---------------------------------------------------------------------


def _proxy_module(proxy: Path, path: str, version: str, files: dict[str, str]) -> None:
    vdir = proxy / path / "@v"
    vdir.mkdir(parents=True, exist_ok=True)
    gomod = f"module {path}\n\ngo 1.17\n"
    with (vdir / "list").open("a") as fh:
        fh.write(version + "\n")
    (vdir / f"{version}.info").write_text(json.dumps({"Version": version}))
    (vdir / f"{version}.mod").write_text(gomod)
    with zipfile.ZipFile(vdir / f"{version}.zip", "w") as z:
        z.writestr(f"{path}@{version}/go.mod", gomod)
        for name, text in files.items():
            z.writestr(f"{path}@{version}/{name}", text)


@pytest.fixture(scope="module")
def real_go_binary(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A Go program built offline (a file:// module proxy) with a dependency, a module
    replacement and a directory replacement; returns it and `go version -m`'s output."""
    go = shutil.which("go")
    if go is None:
        pytest.skip("needs the Go toolchain (apt-get install golang-go)")
    tmp = tmp_path_factory.mktemp("go")
    proxy = tmp / "proxy"
    _proxy_module(
        proxy, "example.com/dep", "v1.2.3", {"dep.go": "package dep\nfunc X() int { return 1 }\n"}
    )
    _proxy_module(
        proxy, "example.com/fork", "v1.5.0", {"o.go": "package orig\nfunc Y() int { return 2 }\n"}
    )
    app = tmp / "app"
    (app / "local").mkdir(parents=True)
    (app / "go.mod").write_text(
        "module github.com/Acme/app\n\ngo 1.17\n\n"
        "require (\n\texample.com/dep v1.2.3\n\texample.com/orig v1.0.0\n"
        "\texample.com/local v0.0.0\n)\n\n"
        "replace example.com/orig v1.0.0 => example.com/fork v1.5.0\n\n"
        "replace example.com/local => ./local\n"
    )
    (app / "local" / "go.mod").write_text("module example.com/local\n\ngo 1.17\n")
    (app / "local" / "l.go").write_text("package local\nfunc Z() int { return 3 }\n")
    (app / "main.go").write_text(
        'package main\n\nimport (\n\t"os"\n\n\t"example.com/dep"\n\t"example.com/local"\n'
        '\t"example.com/orig"\n)\n\nfunc main() { os.Exit(dep.X() + orig.Y() + local.Z() - 6) }\n'
    )
    env = {
        **os.environ,
        "GOPROXY": f"file://{proxy}",
        "GOSUMDB": "off",
        "GOFLAGS": "-mod=mod",
        "GOCACHE": str(tmp / "cache"),
        "GOPATH": str(tmp / "gopath"),
        "GOTOOLCHAIN": "local",
        "CGO_ENABLED": "0",
    }
    out = app / "app"
    subprocess.run(
        [go, "build", "-buildvcs=false", "-o", str(out), "."],
        cwd=app,
        env=env,
        check=True,
        capture_output=True,
        timeout=300,
    )
    shown = subprocess.run(
        [go, "version", "-m", str(out)], env=env, check=True, capture_output=True, text=True
    ).stdout
    return out, shown


def test_real_go_binary_matches_go_version_m(
    real_go_binary: tuple[Path, str], tmp_path: Path
) -> None:
    binary, shown = real_go_binary
    go_version = shown.splitlines()[0].split(": ", 1)[1].strip()
    layer = tar_layer(tmp_path / "l.tar", {"usr/bin/app": (binary.read_bytes(), 0o755)})
    indexed = IndexedImage(tmp_path, [layer], ())
    try:
        result = run(GoBinaryCataloger(), indexed.fs)
    finally:
        indexed.close()
    assert result.issues == []
    pkgs = {p.name: p for p in result.packages}
    assert sorted(pkgs) == [
        "example.com/dep",
        "example.com/fork",
        "example.com/local",
        "github.com/Acme/app",
        "stdlib",
    ]
    main = pkgs["github.com/Acme/app"]
    assert (main.version, main.purl) == ("(devel)", "pkg:golang/github.com/Acme/app")
    assert main.metadata["goVersion"] == go_version
    assert main.architecture == "amd64"
    assert main.layer == indexed.image.layers[0].digest
    dep = pkgs["example.com/dep"]
    assert dep.purl == "pkg:golang/example.com/dep@v1.2.3"
    assert dep.metadata["h1Digest"] in shown
    assert pkgs["example.com/fork"].metadata["replaces"] == "example.com/orig@v1.0.0"
    assert pkgs["example.com/local"].metadata["replacedBy"] == "./local"
    assert pkgs["stdlib"].version == go_semver(go_version)
    for line in shown.splitlines():
        if line.strip().startswith("build\t"):
            key, _, value = line.strip().split("\t", 1)[1].partition("=")
            assert main.metadata["buildSettings"].get(key, "") == value


class _CountingReader:
    """Wraps an ImageFS reader and counts second-pass reads."""

    def __init__(self, inner: object) -> None:
        self.inner = inner
        self.calls = 0

    def read(self, entry: FileEntry, limit: int) -> bytes:
        self.calls += 1
        return self.inner.read(entry, limit)  # type: ignore[attr-defined, no-any-return]

    def read_many(self, entries: list[FileEntry], limit: int) -> dict[str, bytes]:
        self.calls += 1
        return self.inner.read_many(entries, limit)  # type: ignore[attr-defined, no-any-return]


def test_layers_stream_past_the_inspector_once_and_later_layers_still_win(
    tmp_path: Path,
) -> None:
    """Build info read while indexing: same packages, no second pass, deletions honoured."""
    from baseguard.image.layers import build_fs as index_layers
    from baseguard.image.source import open_image
    from baseguard.image.write import write_oci_layout

    tool = make_elf(inline_blob("go1.22.5", MODINFO))
    gone = make_elf(inline_blob("go1.21.0", MODINFO))
    base = tar_layer(
        tmp_path / "base.tar", {"usr/bin/tool": (tool, 0o755), "usr/bin/gone": (gone, 0o755)}
    )
    top = tar_layer(tmp_path / "top.tar", {"usr/bin/.wh.gone": b""})
    write_oci_layout(tmp_path / "layout", [base, top])
    with open_image(f"oci:{tmp_path / 'layout'}") as image:
        cataloger = GoBinaryCataloger()
        fs = index_layers(image, inspectors=[cataloger.inspector()])
        counting = _CountingReader(fs.reader)
        fs.reader = counting  # type: ignore[assignment]
        inspected = run(cataloger, fs)
        plain = run(GoBinaryCataloger(), index_layers(image))
    assert counting.calls == 0
    assert [p.to_dict() for p in inspected.packages] == [p.to_dict() for p in plain.packages]
    assert {p.locations[0] for p in inspected.packages} == {"/usr/bin/tool"}
    assert "stdlib" in {p.name for p in inspected.packages}

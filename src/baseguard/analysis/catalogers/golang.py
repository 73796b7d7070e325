"""Go modules compiled into executables, from the build info the Go toolchain embeds.

Every Go binary built in module mode (Go >= 1.13) carries a build-info blob: the
``\\xff Go buildinf:`` header (pointer size, flags), the toolchain version and the module
info text (``path``, ``mod``, ``dep``, ``=>`` replacements, ``build`` settings). Go >= 1.18
stores both strings inline after the header (varint-length-prefixed); older toolchains
store pointers to Go string headers, which are followed through the ELF load segments.
The blob is the ``.go.buildinfo`` section, or near the start of the first writable segment
when the section headers were stripped.

Which files are read: regular files with an executable bit, at least :attr:`min_size`
bytes (the Go runtime alone makes even an empty ``main`` about 750 KB, so smaller files
cannot be Go programs) and not named like shared objects (``*.so``, ``*.so.*``: pip-installed
extension modules are executable and numerous). They are read with one ``read_many`` per
batch (one pass over each layer), and anything that is not a Go ELF is dropped after a
header check.

Each binary yields its main module (version ``(devel)`` kept as built; the purl then has no
version, as no released version is meant), every dependency (a replaced module is reported
as its replacement; a module replaced by a local directory keeps its path with no version)
and ``stdlib`` at the toolchain version. purls: ``pkg:golang/github.com/foo/bar@v1.2.3``
(namespace is the module path up to the last ``/``; case is kept, since module paths are
case-sensitive) and ``pkg:golang/stdlib@1.22.5`` (the Go tag as semver, like the Go
vulnerability database and syft).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from baseguard.analysis.catalogers.base import CatalogContext, Cataloger, CatalogResult
from baseguard.analysis.catalogers.elf import ElfError, ElfFile, is_elf, parse_elf
from baseguard.analysis.catalogers.langutil import image_path, read_in_batches
from baseguard.analysis.packages import Package, make_purl
from baseguard.image.fs import FileEntry, FileType, ImageFS

BUILDINFO_MAGIC = b"\xff Go buildinf:"
HEADER_SIZE = 32
ALIGN = 16
#: How far into the data segment the header is searched for when there is no section.
SEARCH_LIMIT = 64 << 10
#: Longest version or module-info string accepted.
MAX_STRING = 16 << 20
#: Dependencies accepted from one binary (real programs have hundreds).
MAX_DEPS = 20_000
FLAG_BIG_ENDIAN = 0x1
FLAG_INLINE = 0x2
DEVEL = "(devel)"

_SHARED_OBJECT_RE = re.compile(r"\.so(?:\.[^/]*)?$")
_GO_TAG_RE = re.compile(r"^go(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:(rc|beta)(\d+))?$")
_QUOTED_RE = re.compile(r'"(?:[^"\\]|\\.)*"')


class BuildInfoError(ValueError):
    """The build-info header was found but its contents are malformed."""


@dataclass
class GoModule:
    path: str
    version: str = ""
    sum: str = ""
    replace: GoModule | None = None


@dataclass
class BuildInfo:
    """What ``go version -m`` shows for a binary."""

    go_version: str
    path: str = ""
    main: GoModule | None = None
    deps: list[GoModule] = field(default_factory=list)
    settings: list[tuple[str, str]] = field(default_factory=list)

    def setting(self, key: str) -> str | None:
        for k, v in self.settings:
            if k == key:
                return v
        return None


# -- reading the blob ----------------------------------------------------------------------


def read_buildinfo(data: bytes) -> tuple[str, str] | None:
    """The Go version and raw module info of an ELF Go binary; ``None`` if it is not one.

    Raises :class:`BuildInfoError` when a build-info header is present but unreadable.
    """
    if not is_elf(data):
        return None
    try:
        elf = parse_elf(data)
    except ElfError:
        return None
    found = _find_header(elf)
    if found is None:
        return None
    offset = found
    ptr_size, flags = data[offset + 14], data[offset + 15]
    try:
        if flags & FLAG_INLINE:
            version, pos = _varint_string(data, offset + HEADER_SIZE)
            mod, _ = _varint_string(data, pos)
        else:
            version, mod = _pointer_strings(elf, offset, ptr_size, flags)
    except (ElfError, IndexError) as exc:
        raise BuildInfoError(f"Go build info is truncated or malformed: {exc}") from None
    return version.decode("utf-8", "replace"), _strip_sentinels(mod).decode("utf-8", "replace")


def _find_header(elf: ElfFile) -> int | None:
    """The file offset of the 16-byte-aligned build-info header, if any."""
    data = elf.data
    sec = elf.section(".go.buildinfo")
    if sec is not None and sec.size:
        start, end = sec.offset, sec.offset + min(sec.size, SEARCH_LIMIT)
    else:
        seg = elf.first_writable_segment()
        if seg is None or not seg.filesz:
            return None
        start, end = seg.offset, seg.offset + min(seg.filesz, SEARCH_LIMIT)
    end = min(end, len(data))
    pos = start
    while True:
        i = data.find(BUILDINFO_MAGIC, pos, end)
        if i < 0 or end - i < HEADER_SIZE:
            return None
        if (i - start) % ALIGN == 0:
            return i
        pos = i + 1


def _varint_string(data: bytes, pos: int) -> tuple[bytes, int]:
    length, shift = 0, 0
    while True:
        if pos >= len(data) or shift > 63:
            raise BuildInfoError("string length runs past the end of the file")
        byte = data[pos]
        pos += 1
        length |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            break
    if length > MAX_STRING or pos + length > len(data):
        raise BuildInfoError(f"string of {length} bytes runs past the end of the file")
    return data[pos : pos + length], pos + length


def _pointer_strings(elf: ElfFile, offset: int, ptr_size: int, flags: int) -> tuple[bytes, bytes]:
    """Go < 1.18: two pointers to Go string headers (data pointer, length)."""
    if ptr_size not in (4, 8):
        raise BuildInfoError(f"pointer size {ptr_size} is neither 4 nor 8")
    order: Literal["big", "little"] = "big" if flags & FLAG_BIG_ENDIAN else "little"

    def ptr(raw: bytes, at: int) -> int:
        return int.from_bytes(raw[at : at + ptr_size], order)

    def string_at(addr: int) -> bytes:
        header = elf.read_at(addr, 2 * ptr_size)
        target, length = ptr(header, 0), ptr(header, ptr_size)
        if length > MAX_STRING:
            raise BuildInfoError(f"string of {length} bytes is implausibly long")
        return elf.read_at(target, length) if length else b""

    data = elf.data
    version = string_at(ptr(data, offset + 16))
    mod = string_at(ptr(data, offset + 16 + ptr_size))
    return version, mod


def _strip_sentinels(mod: bytes) -> bytes:
    """Module info is framed by two 16-byte sentinels; without them it is not module info."""
    if len(mod) >= 33 and mod[-17] == 0x0A:
        return mod[16:-16]
    return b""


# -- parsing the module info ------------------------------------------------------------------


def parse_modinfo(go_version: str, text: str) -> BuildInfo:
    """Parse the module info text (lenient: unknown or short lines are skipped)."""
    info = BuildInfo(go_version=go_version)
    last: GoModule | None = None
    for line in text.splitlines():
        word, _, rest = line.partition("\t")
        fields = rest.split("\t")
        if word == "go" and rest:
            info.go_version = info.go_version or rest
        elif word == "path":
            info.path = rest
        elif word in ("mod", "dep") and fields[0]:
            last = _module(fields)
            if word == "mod":
                info.main = last
            else:
                info.deps.append(last)
        elif word == "=>" and last is not None and fields[0]:
            last.replace = _module(fields)
            last = None
        elif word == "build" and rest:
            setting = _parse_setting(rest)
            if setting is not None:
                info.settings.append(setting)
    return info


def _module(fields: list[str]) -> GoModule:
    """``path [version [sum]]`` fields of a mod/dep/=> line."""
    padded = [*fields, "", ""]
    return GoModule(padded[0], padded[1], padded[2])


def _unquote(text: str) -> str:
    try:
        value = json.loads(text)
    except ValueError:
        return text[1:-1]
    return value if isinstance(value, str) else text


def _parse_setting(kv: str) -> tuple[str, str] | None:
    if kv.startswith('"'):
        m = _QUOTED_RE.match(kv)
        if m is None or kv[m.end() : m.end() + 1] != "=":
            return None
        key, raw = _unquote(m.group(0)), kv[m.end() + 1 :]
    else:
        key, sep, raw = kv.partition("=")
        if not sep or not key:
            return None
    value = _unquote(raw) if raw.startswith('"') and raw.endswith('"') and len(raw) > 1 else raw
    return key, value


def go_semver(go_version: str) -> str | None:
    """A Go release tag as semver without ``v``: go1.22.5 -> 1.22.5, go1.20 -> 1.20.0,
    go1.21rc2 -> 1.21.0-rc.2; ``None`` for development toolchains."""
    tag = go_version.split(" ", 1)[0].split("+", 1)[0]
    m = _GO_TAG_RE.match(tag)
    if m is None:
        return None
    major, minor, patch, pre, num = m.groups()
    out = f"{major}.{minor or 0}.{patch or 0}"
    return f"{out}-{pre}.{num}" if pre else out


def is_local_path(path: str) -> bool:
    """A ``replace`` target that is a directory, not a module path (``./x``, ``../x``, ``/x``)."""
    return (
        path in (".", "..")
        or path.startswith(("./", "../", "/", ".\\", "..\\"))
        or (len(path) > 1 and path[1] == ":")
    )


def golang_purl(module_path: str, version: str) -> str:
    """``pkg:golang/<path up to last />/<last segment>@<version>`` (no version for devel)."""
    namespace, _, name = module_path.rpartition("/")
    keep = version if version and version != DEVEL else ""
    return make_purl("golang", name, keep, namespace=namespace or None)


# -- the cataloger ---------------------------------------------------------------------------


#: What one executable told us: (build info or None, ELF architecture, error message).
_Inspected = tuple[tuple[str, str] | None, str | None, str | None]


def _examine(data: bytes) -> _Inspected:
    try:
        found = read_buildinfo(data)
    except BuildInfoError as exc:
        return None, None, str(exc)
    if found is None:
        return None, None, None
    try:
        arch: str | None = parse_elf(data).architecture
    except ElfError:
        arch = None
    return found, arch, None


class _GoInspector:
    """Keeps, per (layer, data offset), what each candidate executable said."""

    def __init__(self, cataloger: GoBinaryCataloger) -> None:
        self.cataloger = cataloger
        self.results: dict[tuple[int, int], _Inspected] = {}

    def wants(self, entry: FileEntry) -> bool:
        return self.cataloger.wants(entry)

    def inspect(self, entry: FileEntry, data: bytes) -> None:
        self.results[(entry.layer, entry.location)] = _examine(data)


class GoBinaryCataloger(Cataloger):
    """Go modules and toolchain version from the build info in Go executables."""

    name: ClassVar[str] = "golang"
    #: Smaller executables are not read (no Go program is this small).
    min_size: ClassVar[int] = 256 << 10
    #: Bigger executables are not read (reported as an issue).
    max_size: ClassVar[int] = 1 << 30
    #: Bytes of binaries held in memory at once.
    batch_bytes: ClassVar[int] = 256 << 20

    def candidates(self, fs: ImageFS) -> list[FileEntry]:
        """Executables worth reading: see the module docstring."""
        return [
            e
            for e in fs
            if e.type is FileType.REGULAR
            and e.mode & 0o111
            and e.size >= self.min_size
            and not _SHARED_OBJECT_RE.search(e.path.rpartition("/")[2])
        ]

    def inspector(self) -> _GoInspector:
        """Read build info from executables as the layers stream past (no second pass)."""
        self._inspected = _GoInspector(self)
        return self._inspected

    def wants(self, entry: FileEntry) -> bool:
        return (
            entry.mode & 0o111 != 0
            and self.min_size <= entry.size <= self.max_size
            and not _SHARED_OBJECT_RE.search(entry.path.rpartition("/")[2])
        )

    def catalog(self, fs: ImageFS, ctx: CatalogContext) -> CatalogResult:
        result = CatalogResult()
        inspected = getattr(self, "_inspected", None)
        seen = inspected.results if inspected is not None else {}
        wanted = []
        known: list[tuple[FileEntry, _Inspected]] = []
        for entry in self.candidates(fs):
            if entry.size > self.max_size:
                result.issues.append(
                    self.issue(
                        entry.path,
                        f"executable of {entry.size} bytes is larger than {self.max_size}; "
                        "not checked for Go build info",
                    )
                )
            elif (entry.layer, entry.location) in seen:
                known.append((entry, seen[(entry.layer, entry.location)]))
            else:
                wanted.append(entry)
        for entry, data in read_in_batches(
            fs, wanted, limit=self.max_size, max_batch_bytes=self.batch_bytes
        ):
            known.append((entry, _examine(data)))
        for entry, (found, arch_guess, error) in sorted(known, key=lambda k: k[0].path):
            if error is not None:
                result.issues.append(self.issue(entry.path, error))
                continue
            if found is None:
                continue
            info = parse_modinfo(*found)
            if len(info.deps) > MAX_DEPS:
                result.issues.append(
                    self.issue(
                        entry.path,
                        f"{len(info.deps)} dependencies is more than {MAX_DEPS}; "
                        f"only the first {MAX_DEPS} are reported",
                    )
                )
                del info.deps[MAX_DEPS:]
            arch = info.setting("GOARCH") or arch_guess
            result.packages.extend(self.packages_of(fs, entry.path, info, arch))
        return result

    def packages_of(
        self, fs: ImageFS, path: str, info: BuildInfo, arch: str | None
    ) -> list[Package]:
        """The packages one binary's build info describes."""
        layer = fs.layer_of(path)
        where = [image_path(path)]
        main_path = info.main.path if info.main else info.path
        common: dict[str, Any] = {"goVersion": info.go_version, "mainModule": main_path}

        def pkg(name: str, version: str, purl: str, **meta: Any) -> Package:
            return Package(
                name=name,
                version=version,
                type="golang",
                purl=purl,
                architecture=arch,
                layer=layer,
                locations=list(where),
                cataloger=self.name,
                metadata={**common, **{k: v for k, v in meta.items() if v}},
            )

        out: list[Package] = []
        dep_names: list[str] = []
        for dep in info.deps:
            meta: dict[str, Any] = {"h1Digest": dep.sum}
            name, version = dep.path, dep.version
            if dep.replace is not None:
                meta["replaces"] = f"{dep.path}@{dep.version}" if dep.version else dep.path
                if is_local_path(dep.replace.path):
                    # Replaced by a directory: the module's version no longer applies.
                    version = ""
                    meta["replacedBy"] = dep.replace.path
                else:
                    name, version = dep.replace.path, dep.replace.version
                    meta["h1Digest"] = dep.replace.sum
            dep_names.append(name)
            out.append(pkg(name, version, golang_purl(name, version), **meta))
        semver = go_semver(info.go_version)
        if semver is not None:
            dep_names.append("stdlib")
            out.append(pkg("stdlib", semver, make_purl("golang", "stdlib", semver)))
            out[-1].licenses = ["BSD-3-Clause"]
        if info.main is not None:
            settings = dict(info.settings)
            main = pkg(
                info.main.path,
                info.main.version,
                golang_purl(info.main.path, info.main.version),
                h1Digest=info.main.sum,
                buildSettings=dict(sorted(settings.items())),
            )
            main.depends = sorted(set(dep_names))
            out.append(main)
        return out
